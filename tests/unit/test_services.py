"""Registry and Credentials use cases, on in-memory fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.credentials import Scope
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from chalicelib.domain.structures import Structure
from chalicelib.services.credentials import Credentials
from chalicelib.services.ports import StructureQuery
from chalicelib.services.registry import Registry
from tests.fakes import FakeClock, InMemoryClients, InMemoryStructures, RecordingOutbox, secret_of

World = tuple[Registry, Credentials, InMemoryClients, RecordingOutbox, FakeClock]


@pytest.fixture
def world() -> World:
    registry = Registry(InMemoryStructures())
    clients, outbox, clock = InMemoryClients(), RecordingOutbox(), FakeClock()
    registry.save(Structure(id="100", name="Ministério da Saúde", acronym="MS", agency_id="",
                            contact_email="ti@ms.example.gov.br"))  # fmt: skip
    registry.save(Structure(id="101", name="Protocolo Central", acronym="PROT", agency_id="", parent_id="100",
                            protocol_code="25000"))  # fmt: skip
    return registry, Credentials(clients, registry, clock, outbox), clients, outbox, clock


def test_a_unit_inherits_its_agency_from_the_parent(world: World) -> None:
    registry, *_ = world
    unit = registry.save(Structure(id="102", name="Arquivo", acronym="ARQ", agency_id="", parent_id="101"))
    assert unit.agency_id == "100"


def test_a_protocol_code_cannot_be_taken_twice(world: World) -> None:
    registry, *_ = world
    with pytest.raises(Conflict, match="25000"):
        registry.save(Structure(id="103", name="Outro", acronym="OUT", agency_id="", parent_id="100",
                                protocol_code="25000"))  # fmt: skip
    assert registry.search(StructureQuery(acronym="OUT")).items == []


def test_moving_a_unit_under_its_own_child_is_refused(world: World) -> None:
    registry, *_ = world
    registry.save(Structure(id="102", name="Arquivo", acronym="ARQ", agency_id="", parent_id="101"))
    current = registry.get("101")
    with pytest.raises(InvalidInput, match="circular"):
        registry.save(current.changed(parent_id="102"))
    assert registry.get("101").parent_id == "100"


def test_import_saves_parents_first_and_reports_what_changed(world: World) -> None:
    registry, *_ = world
    rows = [
        Structure(id="202", name="Gabinete", acronym="GAB", agency_id="", parent_id="200"),
        Structure(id="200", name="INSS", acronym="INSS", agency_id=""),
        Structure(
            id="100",
            name="Ministério da Saúde",
            acronym="MS",
            agency_id="100",
            contact_email="ti@ms.example.gov.br",
        ),
    ]
    seen: list[str] = []
    result = registry.import_many(rows, progress=lambda n, s: seen.append(s.id))
    assert (result.created, result.updated, result.unchanged) == (2, 0, 1)
    assert seen == ["200", "202", "100"]
    assert registry.get("202").agency_id == "200"


class CountingStructures(InMemoryStructures):
    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    def get(self, structure_id: str) -> Structure | None:
        self.gets += 1
        return super().get(structure_id)


@pytest.mark.parametrize(("cache_seconds", "reads"), [(60, 1), (0, 3)])
def test_a_container_keeps_a_unit_it_looked_up_for_the_configured_time(
    cache_seconds: int, reads: int
) -> None:
    structures = CountingStructures()
    registry = Registry(structures, cache_seconds)
    registry.save(Structure(id="100", name="Ministério da Saúde", acronym="MS", agency_id=""))
    structures.gets = 0
    assert [registry.find("100") is not None for _ in range(3)] == [True, True, True]
    assert structures.gets == reads


def test_issued_token_authenticates_and_is_stored_only_as_a_hash(world: World) -> None:
    _, credentials, clients, outbox, _ = world
    issued = credentials.issue("100", "SEI do MS", frozenset({Scope.PROCESSOS}))
    caller = credentials.authenticate(f"Bearer {issued.token}")
    assert (caller.agency_id, caller.client_id, caller.scopes) == (
        "100",
        issued.client.id,
        frozenset({Scope.PROCESSOS}),
    )
    stored = clients.rows[issued.client.id]
    assert secret_of(issued.token) not in repr(stored)
    assert outbox.messages[-1].to == "ti@ms.example.gov.br"
    assert issued.token not in outbox.messages[-1].text


def test_rotation_invalidates_the_old_token_at_once(world: World) -> None:
    _, credentials, *_ = world
    old = credentials.issue("100", "SEI", frozenset({Scope.PROCESSOS}))
    new = credentials.rotate(old.client.id)
    with pytest.raises(Unauthenticated):
        credentials.authenticate(f"Bearer {old.token}")
    assert credentials.authenticate(f"Bearer {new.token}").client_id == old.client.id


def test_revocation_is_final_and_idempotent(world: World) -> None:
    _, credentials, _, outbox, _ = world
    issued = credentials.issue("100", "SEI", frozenset({Scope.PROCESSOS}))
    first = credentials.revoke(issued.client.id, reason="vazou")
    again = credentials.revoke(issued.client.id)
    assert first.revoked_at == again.revoked_at
    assert sum("revogado" in m.subject for m in outbox.messages) == 1
    with pytest.raises(Unauthenticated, match="revogado"):
        credentials.authenticate(f"Bearer {issued.token}")
    with pytest.raises(InvalidInput):
        credentials.rotate(issued.client.id)


def test_expired_token_is_refused(world: World) -> None:
    _, credentials, _, _, clock = world
    issued = credentials.issue(
        "100", "SEI", frozenset({Scope.BARRAMENTO}), expires_at=clock.now() + timedelta(days=1)
    )
    clock.advance(days=1)
    with pytest.raises(Unauthenticated, match="expirou"):
        credentials.authenticate(f"Bearer {issued.token}")


def test_another_agencys_client_is_not_found(world: World) -> None:
    registry, credentials, *_ = world
    registry.save(Structure(id="200", name="INSS", acronym="INSS", agency_id=""))
    issued = credentials.issue("200", "SUAP", frozenset({Scope.BARRAMENTO}))
    with pytest.raises(NotFound):
        credentials.revoke(issued.client.id, agency_id="100")
    assert credentials.authenticate(f"Bearer {issued.token}").agency_id == "200"


def test_tokens_are_issued_to_agencies_not_units(world: World) -> None:
    _, credentials, clients, *_ = world
    with pytest.raises(InvalidInput, match="unidades"):
        credentials.issue("101", "SEI", frozenset({Scope.PROCESSOS}))
    assert clients.rows == {}
