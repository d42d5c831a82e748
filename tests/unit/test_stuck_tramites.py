"""The stuck-trâmite search (services/stuck.py) on in-memory fakes: each state with its own
threshold, both indexes read page by page, and the per-agency reads reported as progress."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from chalicelib.domain.bus import (
    Actor,
    Address,
    Tramite,
    TramiteState,
    complete_upload,
    fetch_components,
    fetch_metadata,
    refuse,
    start,
)
from chalicelib.domain.bus.refusal import Refusal, RefusalReason
from chalicelib.domain.structures import Structure
from chalicelib.services.ports import Page, StructureQuery
from chalicelib.services.registry import Registry
from chalicelib.services.stuck import OPEN_STATES, STUCK_AFTER, StuckTramites
from tests.fakes import FakeClock, InMemoryStructures, InMemoryTramites

RECEIVER = Actor("200", "cliente-inss")


class Steps:
    def __init__(self) -> None:
        self.total: int | None = None
        self.done = 0
        self.closed = False

    def __call__(self, total: int) -> Steps:
        self.total = total
        return self

    def step(self, note: str = "") -> None:
        self.done += 1

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tramites() -> InMemoryTramites:
    return InMemoryTramites()


@pytest.fixture
def search(tramites: InMemoryTramites, clock: FakeClock) -> StuckTramites:
    structures = InMemoryStructures()
    registry = Registry(structures)
    for agency in ("100", "200", "300"):
        registry.save(Structure(id=agency, name=f"Órgão {agency}", acronym=f"O{agency}", agency_id=""))
    return StuckTramites(tramites, registry, clock, page_size=2)


def started(tramites: InMemoryTramites, idt: str, hours_ago: float, clock: FakeClock) -> Tramite:
    at = clock.now() - timedelta(hours=hours_ago)
    return tramites.add(
        start(
            idt=idt,
            nre=f"NRE-{idt}",
            nup="23037001462202165",
            sender=Address("1", "100"),
            receiver=Address("1", "200"),
            sender_agency_id="100",
            receiver_agency_id="200",
            by=Actor("100", "cliente-ms"),
            at=at,
        )
    )


def refused(tramites: InMemoryTramites, idt: str, hours_ago: float, clock: FakeClock) -> Tramite:
    at = clock.now() - timedelta(hours=hours_ago)
    tramite = started(tramites, idt, hours_ago, clock)
    moves: tuple[Callable[[Tramite], Tramite], ...] = (
        lambda t: complete_upload(t, at),
        lambda t: fetch_metadata(t, RECEIVER, at),
        lambda t: fetch_components(t, RECEIVER, at),
        lambda t: refuse(t, RECEIVER, at, Refusal(RefusalReason.OUTRO, "Processo enviado ao órgão errado.")),
    )
    for move in moves:
        tramite = tramites.save(move(tramite))
    return tramite


def test_each_state_has_its_own_threshold(
    search: StuckTramites, tramites: InMemoryTramites, clock: FakeClock
) -> None:
    for number in range(5):  # five in state 1, over the page size: the index is read page by page
        started(tramites, f"T-1-{number}", 30, clock)
    started(tramites, "T-1-novo", 5, clock)
    refused(tramites, "T-8-velho", 30, clock)
    refused(tramites, "T-8-novo", 5, clock)

    loose = search.find(
        {TramiteState.INICIADO: timedelta(hours=48), TramiteState.RECUSADO: timedelta(hours=1)}
    )
    assert loose.counts == {TramiteState.INICIADO: 0, TramiteState.RECUSADO: 2}
    strict = search.find(
        {TramiteState.INICIADO: timedelta(hours=1), TramiteState.RECUSADO: timedelta(hours=48)}
    )
    assert strict.counts == {TramiteState.INICIADO: 6, TramiteState.RECUSADO: 0}
    assert [t.updated_at for t in strict.tramites] == sorted(t.updated_at for t in strict.tramites)


def test_the_default_covers_every_open_state_zeros_included(
    search: StuckTramites, tramites: InMemoryTramites, clock: FakeClock
) -> None:
    started(tramites, "T-1", 30, clock)
    refused(tramites, "T-8", 30, clock)
    steps = Steps()
    found = search.find(progress=steps)
    assert set(STUCK_AFTER) == set(OPEN_STATES)
    assert found.counts == {
        TramiteState.INICIADO: 1,
        TramiteState.COMPONENTES_ENVIADOS: 0,
        TramiteState.METADADOS_RECEBIDOS: 0,
        TramiteState.COMPONENTES_RECEBIDOS: 0,
        TramiteState.RECIBO_ENVIADO: 0,
        TramiteState.RECUSADO: 1,
    }
    assert (steps.total, steps.done, steps.closed) == (3, 3, True)  # one read per agency


def test_a_final_state_is_refused(search: StuckTramites) -> None:
    with pytest.raises(ValueError, match="final"):
        search.find({TramiteState.CANCELADO: timedelta(hours=1)})


def test_the_agencies_are_listed_without_reading_their_units(
    tramites: InMemoryTramites, clock: FakeClock
) -> None:
    """Every run reads the registry for its agencies: thousands of units must not be read with them."""

    class CountingStructures(InMemoryStructures):
        read = 0

        def search(self, query: StructureQuery, cursor: str | None, limit: int) -> Page[Structure]:
            page = super().search(query, cursor, limit)
            self.read += len(page.items)
            return page

    structures = CountingStructures()
    registry = Registry(structures)
    for agency in ("100", "200"):
        registry.save(Structure(id=agency, name=f"Órgão {agency}", acronym=f"O{agency}", agency_id=""))
        for number in range(15):
            registry.save(Structure(id=f"{agency}{number:02d}", name=f"Unidade {number}", acronym=f"U{number}",
                                    agency_id="", parent_id=agency))  # fmt: skip
    refused(tramites, "T-8", 30, clock)
    steps = Steps()
    found = StuckTramites(tramites, registry, clock, page_size=2).find(progress=steps)
    assert found.counts[TramiteState.RECUSADO] == 1
    assert steps.total == 2
    assert structures.read == 2
