"""One contract, every implementation: the in-memory fakes, DynamoDB on moto, and Amazon's
DynamoDB Local (strict: it rejects requests moto accepts)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from pynamodb.connection import Connection

from chalicelib.domain.credentials import ApiClient, Scope, hash_secret, new_client_id
from chalicelib.domain.errors import Conflict, InvalidInput
from chalicelib.domain.structures import Structure
from chalicelib.services.ports import ClientRepository, StructureQuery, StructureRepository
from chalicelib.store.clients import DynamoClientRepository
from chalicelib.store.models import bind_models
from chalicelib.store.structures import DynamoStructureRepository
from tests import servers
from tests.fakes import InMemoryClients, InMemoryStructures

pytestmark = pytest.mark.xdist_group("contract")


@dataclass
class Backend:
    structures: StructureRepository
    clients: ClientRepository


@pytest.fixture(params=["fake", "moto", "dynamodb_local"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "fake":
        yield Backend(InMemoryStructures(), InMemoryClients())
        return
    endpoint = request.getfixturevalue(f"{request.param}_endpoint")
    stage = f"t{uuid.uuid4().hex[:10]}"
    servers.create_tables(endpoint, stage)
    bind_models(servers.settings_for(endpoint, stage))
    connection = Connection(region=servers.REGION, host=endpoint)
    yield Backend(DynamoStructureRepository(connection), DynamoClientRepository())


def agency(sid: str, name: str, acronym: str, **extra: object) -> Structure:
    return Structure(id=sid, name=name, acronym=acronym, agency_id=sid, **extra)  # type: ignore[arg-type]


def unit(sid: str, name: str, acronym: str, agency_id: str, **extra: object) -> Structure:
    return Structure(id=sid, name=name, acronym=acronym, agency_id=agency_id, parent_id=agency_id, **extra)  # type: ignore[arg-type]


def name_of(repo: StructureRepository, structure_id: str) -> str:
    found = repo.get(structure_id)
    assert found is not None, f"structure {structure_id} not stored"
    return found.name


def test_put_then_get_round_trips_every_field(backend: Backend) -> None:
    assert backend.structures.get("100") is None
    original = unit("101", "Protocolo Central", "PROT", "100", protocol_code="25000", can_receive=False,
                    contact_email="ti@ms.example.gov.br")  # fmt: skip
    stored = backend.structures.put(original)
    assert stored.version == 1
    assert backend.structures.get("101") == original.changed(version=1)


def test_creating_an_existing_id_is_a_conflict(backend: Backend) -> None:
    backend.structures.put(agency("100", "Ministério da Saúde", "MS"))
    with pytest.raises(Conflict, match="já existe"):
        backend.structures.put(agency("100", "Outro nome", "OUT"))
    assert name_of(backend.structures, "100") == "Ministério da Saúde"


def test_a_stale_version_is_a_conflict_and_the_right_one_wins(backend: Backend) -> None:
    first = backend.structures.put(agency("100", "Ministério da Saúde", "MS"))
    second = backend.structures.put(first.changed(name="Ministério da Saúde (MS)"))
    assert second.version == 2
    with pytest.raises(Conflict, match="alterada por outra operação"):
        backend.structures.put(first.changed(name="Perdida"))
    assert name_of(backend.structures, "100") == "Ministério da Saúde (MS)"


def test_a_protocol_code_belongs_to_one_structure_until_released(backend: Backend) -> None:
    backend.structures.put(agency("100", "Ministério da Saúde", "MS"))
    holder = backend.structures.put(unit("101", "Protocolo", "PROT", "100", protocol_code="25000"))
    with pytest.raises(Conflict, match="25000"):
        backend.structures.put(unit("102", "Protocolo 2", "PROT2", "100", protocol_code="25000"))
    assert backend.structures.get("102") is None
    backend.structures.put(holder.changed(protocol_code="25001"))
    taken = backend.structures.put(unit("102", "Protocolo 2", "PROT2", "100", protocol_code="25000"))
    assert taken.protocol_code == "25000"


def seed_registry(repo: StructureRepository) -> None:
    repo.put(agency("100", "Ministério da Saúde", "MS"))
    repo.put(agency("200", "Instituto Nacional do Seguro Social", "INSS", can_receive=False))
    repo.put(agency("300", "Ministério da Educação", "MEC"))
    repo.put(unit("101", "Protocolo do Ministério", "PROT", "100"))
    repo.put(unit("301", "Protocolo da Educação", "PROT", "300"))
    repo.put(unit("302", "Secretaria Executiva", "SE", "300", active=False))


def ids(repo: StructureRepository, query: StructureQuery, limit: int = 50) -> list[str]:
    return [s.id for s in repo.search(query, None, limit).items]


def test_search_orders_by_name_ignoring_accents_and_filters(backend: Backend) -> None:
    seed_registry(backend.structures)
    repo = backend.structures
    assert ids(repo, StructureQuery()) == ["200", "300", "100", "301", "101", "302"]
    assert ids(repo, StructureQuery(acronym="prot")) == ["301", "101"]
    assert ids(repo, StructureQuery(agency_id="300")) == ["300", "301", "302"]
    assert ids(repo, StructureQuery(agency_id="300", acronym="PROT")) == ["301"]
    assert ids(repo, StructureQuery(name="EDUCAÇAO")) == ["300", "301"]
    assert ids(repo, StructureQuery(can_receive=False)) == ["200"]
    assert ids(repo, StructureQuery(active=False)) == ["302"]
    assert ids(repo, StructureQuery(agencies_only=True)) == ["200", "300", "100"]
    assert ids(repo, StructureQuery(agencies_only=True, acronym="mec")) == ["300"]
    assert ids(repo, StructureQuery(agencies_only=True, agency_id="100")) == ["100"]
    assert ids(repo, StructureQuery(agencies_only=True, can_receive=True)) == ["300", "100"]


def test_the_agencies_listing_follows_a_structure_that_moves_in_or_out_of_the_roots(backend: Backend) -> None:
    """Agencies only: an agency that becomes a unit of another leaves the listing, and back."""
    seed_registry(backend.structures)
    repo = backend.structures
    moved = repo.put(agency("400", "Fundação Nacional", "FUN"))
    moved = repo.put(moved.changed(parent_id="100", agency_id="100"))
    assert ids(repo, StructureQuery(agencies_only=True)) == ["200", "300", "100"]
    repo.put(moved.changed(parent_id=None, agency_id="400"))
    assert ids(repo, StructureQuery(agencies_only=True)) == ["400", "200", "300", "100"]


def test_pages_cover_every_row_once_in_order(backend: Backend) -> None:
    seed_registry(backend.structures)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = backend.structures.search(StructureQuery(name="e"), cursor, 2)
        assert len(page.items) <= 2
        seen += [s.id for s in page.items]
        cursor = page.cursor
        if cursor is None:
            break
    assert seen == ids(backend.structures, StructureQuery(name="e"))
    assert len(seen) == len(set(seen)) == 6


def test_a_cursor_only_works_for_its_own_query(backend: Backend) -> None:
    seed_registry(backend.structures)
    cursor = backend.structures.search(StructureQuery(), None, 2).cursor
    assert cursor is not None
    with pytest.raises(InvalidInput, match="Cursor"):
        backend.structures.search(StructureQuery(acronym="PROT"), cursor, 2)
    with pytest.raises(InvalidInput, match="Cursor"):
        backend.structures.search(StructureQuery(), "bm90LWEtY3Vyc29y", 2)


def test_next_id_never_repeats(backend: Backend) -> None:
    issued = [backend.structures.next_id() for _ in range(5)]
    assert len(set(issued)) == 5
    assert all(i.isdigit() for i in issued)


def client(agency_id: str, **extra: object) -> ApiClient:
    base = {"id": new_client_id(), "agency_id": agency_id, "name": "SEI", "token_hash": hash_secret("x"),
            "scopes": frozenset({Scope.PROCESSOS, Scope.ADMIN}), "created_at": datetime(2026, 1, 1, tzinfo=UTC)}  # fmt: skip
    return ApiClient(**{**base, **extra})  # type: ignore[arg-type]


def test_clients_round_trip_and_guard_their_version(backend: Backend) -> None:
    created = backend.clients.put(client("100", expires_at=datetime(2027, 1, 1, tzinfo=UTC)))
    assert backend.clients.get(created.id) == created
    revoked = backend.clients.put(created.revoked(datetime(2026, 2, 1, tzinfo=UTC)))
    stored = backend.clients.get(created.id)
    assert stored is not None
    assert stored.revoked_at == datetime(2026, 2, 1, tzinfo=UTC)
    with pytest.raises(Conflict):
        backend.clients.put(created)
    assert backend.clients.get(created.id) == revoked


def test_clients_list_per_agency_in_pages(backend: Backend) -> None:
    mine = {backend.clients.put(client("100")).id for _ in range(5)}
    backend.clients.put(client("200"))
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = backend.clients.list_by_agency("100", cursor, 2)
        seen += [c.id for c in page.items]
        cursor = page.cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(mine)
