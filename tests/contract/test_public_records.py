"""The public base's repository against DynamoDB on moto and Amazon's DynamoDB Local (strict): one
GetItem per lookup, versioned saves, the name index kept with the record, and every search index
with date ranges and cursors."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from pynamodb.connection import Connection

from chalicelib.domain.errors import Conflict, InvalidInput
from chalicelib.domain.nup import Nup
from chalicelib.domain.processes import AccessLevel
from chalicelib.domain.tracking import (
    Agency,
    PublicInterested,
    PublicMovement,
    PublicPart,
    PublicRecord,
    SearchQuery,
    Source,
)
from chalicelib.store.models import PublicNameItem, PublicRecordItem, bind_models
from chalicelib.store.publication import DynamoPublicationRepository
from chalicelib.store.tracking import DynamoPublicRecordRepository
from tests import servers

pytestmark = pytest.mark.xdist_group("contract")

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MS = Agency("100", "MS", "Ministério da Saúde")
INSS = Agency("200", "INSS", "Instituto Nacional do Seguro Social")


@pytest.fixture(params=["moto", "dynamodb_local"])
def repository(request: pytest.FixtureRequest) -> DynamoPublicRecordRepository:
    endpoint = request.getfixturevalue(f"{request.param}_endpoint")
    stage = f"t{uuid.uuid4().hex[:10]}"
    servers.create_tables(endpoint, stage)
    bind_models(servers.settings_for(endpoint, stage))
    return DynamoPublicRecordRepository(Connection(region=servers.REGION, host=endpoint))


def nup(sequence: int) -> str:
    return Nup.issue("25000", sequence, 2026).digits


def record(
    sequence: int,
    *,
    agency: Agency = MS,
    names: tuple[str, ...] = ("Ana Lúcia",),
    kind: str = "Requerimento",
    on: date = date(2026, 3, 1),
    level: AccessLevel = AccessLevel.PUBLICO,
    published: bool = True,
    moves: int = 1,
) -> PublicRecord:
    full = published and level is AccessLevel.PUBLICO
    part = PublicPart(
        agency=agency, source=Source.PLATFORM, level=level, published=published,
        last_at=T0 + timedelta(minutes=moves), process_type=kind if full else None,
        specification="Pedido" if full else None, produced_on=on if full else None,
        interested=tuple(PublicInterested(n, "***.982.247-**") for n in names) if full else (),
        movements=tuple(PublicMovement(T0 + timedelta(minutes=i), "PROT", "05", window=7)
                        for i in range(moves)) if published else (),
    )  # fmt: skip
    return PublicRecord(nup(sequence)).with_part(part)


def name_items(repository: DynamoPublicRecordRepository, number: str) -> list[str]:
    found = PublicNameItem.scan((PublicNameItem.nup == number) & PublicNameItem.pk.startswith("N#"))
    return sorted(i.pk for i in found)


def test_save_then_get_round_trips_the_record(repository: DynamoPublicRecordRepository) -> None:
    assert repository.get(nup(1)) is None
    stored = repository.save(record(1, moves=50), None)
    assert stored.version == 1
    assert repository.get(nup(1)) == stored


def test_a_stale_version_is_a_conflict_and_the_right_one_wins(
    repository: DynamoPublicRecordRepository,
) -> None:
    first = repository.save(record(1), None)
    with pytest.raises(Conflict):
        repository.save(record(1), None)  # a second creator
    second = repository.save(replace(record(1, moves=2), version=first.version), first)
    with pytest.raises(Conflict):
        repository.save(replace(record(1, moves=3), version=first.version), first)
    assert repository.get(nup(1)) == second


def test_names_are_indexed_only_while_public_and_follow_the_interessados(
    repository: DynamoPublicRecordRepository,
) -> None:
    first = repository.save(record(1, names=("Ana Lúcia", "Bruno")), None)
    assert name_items(repository, nup(1)) == [f"N#{nup(1)}#ana lucia", f"N#{nup(1)}#bruno"]
    second = repository.save(replace(record(1, names=("Bruno", "Carla")), version=1), first)
    assert name_items(repository, nup(1)) == [f"N#{nup(1)}#bruno", f"N#{nup(1)}#carla"]
    hidden = repository.save(
        replace(record(1, level=AccessLevel.SIGILOSO, published=False), version=2), second
    )
    assert name_items(repository, nup(1)) == []
    item = PublicRecordItem.get(f"R#{nup(1)}")
    # PynamoDB types a null=True attribute as its value type; here they are absent
    search_fields: tuple[str | None, ...] = (item.busca_orgao, item.busca_tipo, item.busca_data, item.resumo)
    assert search_fields == (None, None, None, None)
    assert repository.search(SearchQuery(agency_id="100"), None, 10).items == []
    repository.save(replace(record(1, names=("Bruno",)), version=hidden.version), hidden)
    assert name_items(repository, nup(1)) == [f"N#{nup(1)}#bruno"]


def test_a_restricted_record_is_in_no_index(repository: DynamoPublicRecordRepository) -> None:
    repository.save(record(1, level=AccessLevel.RESTRITO), None)
    assert repository.search(SearchQuery(agency_id="100"), None, 10).items == []
    assert repository.search(SearchQuery(name_prefix="ana"), None, 10).items == []
    assert repository.get(nup(1)) is not None


def collect(repository: DynamoPublicRecordRepository, query: SearchQuery, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = repository.search(query, cursor, limit)
        pages.append([hit.nup for hit in page.items])
        cursor = page.cursor
        if cursor is None:
            return pages


@pytest.fixture
def base(repository: DynamoPublicRecordRepository) -> DynamoPublicRecordRepository:
    rows = [
        record(1, names=("Ana Lúcia",), on=date(2026, 3, 1)),
        record(2, names=("Ana Maria", "Ânderson"), on=date(2026, 3, 2), kind="Licitação"),
        record(3, names=("Anabela",), on=date(2026, 3, 3)),
        record(4, names=("Bruno",), on=date(2026, 3, 4), agency=INSS),
        record(5, names=("ANA PAULA",), on=date(2026, 3, 5), agency=INSS, kind="Licitação"),
    ]
    for row in rows:
        repository.save(row, None)
    return repository


def test_search_by_name_prefix_is_accent_and_case_insensitive_with_cursor_pages(
    base: DynamoPublicRecordRepository,
) -> None:
    pages = collect(base, SearchQuery(name_prefix="ana"), 2)
    assert pages == [[nup(1), nup(2)], [nup(5), nup(3)]]  # "ana lucia", "ana maria", "ana paula", "anabela"
    assert collect(base, SearchQuery(name_prefix="and"), 10) == [[nup(2)]]
    assert collect(base, SearchQuery(name_prefix="ana ", agency_id="200"), 10) == [[nup(5)]]
    assert collect(base, SearchQuery(name_prefix="ana", produced_from=date(2026, 3, 2),
                                     produced_to=date(2026, 3, 3)), 10) == [[nup(2), nup(3)]]  # fmt: skip


def test_search_by_agency_and_by_type_newest_first_within_a_date_range(
    base: DynamoPublicRecordRepository,
) -> None:
    assert collect(base, SearchQuery(agency_id="100"), 2) == [[nup(3), nup(2)], [nup(1)]]
    ranged = SearchQuery(agency_id="100", produced_from=date(2026, 3, 2), produced_to=date(2026, 3, 2))
    assert collect(base, ranged, 10) == [[nup(2)]]
    assert collect(base, SearchQuery(agency_id="100", produced_to=date(2026, 3, 1)), 10) == [[nup(1)]]
    assert collect(base, SearchQuery(process_type="licitação"), 1) == [[nup(5)], [nup(2)]]
    assert collect(base, SearchQuery(process_type="licitação", agency_id="100"), 10) == [[nup(2)]]
    hit = base.search(SearchQuery(process_type="licitação", produced_from=date(2026, 3, 5)), None, 5).items[0]
    assert (hit.agency, hit.process_type, hit.produced_on) == (INSS, "Licitação", date(2026, 3, 5))


def test_a_cursor_from_another_query_is_refused(base: DynamoPublicRecordRepository) -> None:
    cursor = base.search(SearchQuery(agency_id="100"), None, 1).cursor
    with pytest.raises(InvalidInput):
        base.search(SearchQuery(agency_id="200"), cursor, 1)


def test_the_publication_choice_defaults_to_no_and_is_kept(repository: DynamoPublicRecordRepository) -> None:
    publication = DynamoPublicationRepository()
    assert publication.publishes_restricted("100") is False
    publication.set_publishes_restricted("100", True, T0)
    assert publication.publishes_restricted("100") is True
    assert publication.publishes_restricted("200") is False
