"""PublicTracking with small in-memory fakes: projection (enqueue before write, convergence, retries,
the restricted opt-in), outside records, lookup and search validation."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.errors import BatchTooLarge, Conflict, InvalidInput, NotFound
from chalicelib.domain.history import HistoryEntry
from chalicelib.domain.nup import Nup
from chalicelib.domain.processes import AccessLevel, Interested, Process
from chalicelib.domain.structures import Structure
from chalicelib.domain.tracking import (
    OutsideMovement,
    OutsideRecord,
    PublicRecord,
    SearchHit,
    SearchQuery,
)
from chalicelib.services.ports import Page
from chalicelib.services.registry import Registry
from chalicelib.services.tracking import Outcome, PublicTracking
from tests.fakes import FakeClock, InMemoryStructures, InMemoryTramites
from tests.unit.test_bus_states import NUP as BUS_NUP
from tests.unit.test_bus_states import reach

NUP = Nup.issue("25000", 1, 2026).digits
OTHER_NUP = Nup.issue("30000", 7, 2026).digits
WINDOW = 600
T0 = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)


class FakeRecords:
    def __init__(self, log: list[str]) -> None:
        self.rows: dict[str, PublicRecord] = {}
        self.log = log
        self.conflicts = 0  # saves to fail, as if another writer got in first

    def get(self, nup: str, *, consistent: bool = True) -> PublicRecord | None:
        return self.rows.get(nup)

    def save(self, record: PublicRecord, previous: PublicRecord | None) -> PublicRecord:
        current = self.rows.get(record.nup)
        if self.conflicts or (current.version if current else 0) != record.version:
            self.conflicts = max(0, self.conflicts - 1)
            raise Conflict("changed")
        stored = replace(record, version=record.version + 1)
        self.rows[record.nup] = stored
        self.log.append(f"save {record.nup}")
        return stored

    def search(self, query: SearchQuery, cursor: str | None, limit: int) -> Page[SearchHit]:
        return Page([])


class FakeNotices:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.digests: list[tuple[str, int, int]] = []

    def schedule_digest(self, nup: str, window: int, delay_seconds: int) -> None:
        self.digests.append((nup, window, delay_seconds))
        self.log.append(f"digest {nup}")

    def continue_digest(self, nup: str, window: int, after: str) -> None:
        raise AssertionError("tracking never continues a digest")


class FakePublication:
    def __init__(self) -> None:
        self.opt_in: dict[str, bool] = {}

    def publishes_restricted(self, agency_id: str) -> bool:
        return self.opt_in.get(agency_id, False)

    def set_publishes_restricted(self, agency_id: str, value: bool, at: datetime) -> None:
        self.opt_in[agency_id] = value


class FakeProcesses:
    """Only what the projection reads: the copy and its history (paged, two entries a page)."""

    def __init__(self) -> None:
        self.copies: dict[tuple[str, str], Process] = {}
        self.histories: dict[tuple[str, str], list[HistoryEntry]] = {}

    def get(self, agency_id: str, nup: str) -> Process | None:
        return self.copies.get((agency_id, nup))

    def history(self, agency_id: str, nup: str, cursor: str | None, limit: int) -> Page[HistoryEntry]:
        entries = self.histories.get((agency_id, nup), [])
        start = int(cursor or 0)
        end = start + min(limit, 2)
        return Page(entries[start:end], str(end) if end < len(entries) else None)


@dataclass
class World:
    tracking: PublicTracking
    records: FakeRecords
    notices: FakeNotices
    publication: FakePublication
    processes: FakeProcesses
    clock: FakeClock
    log: list[str]
    tramites: InMemoryTramites

    def copy(self, level: AccessLevel, moves: int) -> None:
        process = Process(nup=NUP, agency_id="100", opening_unit_id="101", process_type="Requerimento",
                          specification="Pedido", interested=(Interested("Ana Lúcia", "52998224725"),),
                          access_level=level, legal_basis=None if level is AccessLevel.PUBLICO else 1,
                          created_at=T0, updated_at=T0)  # fmt: skip
        self.processes.copies[("100", NUP)] = process
        self.processes.histories[("100", NUP)] = [
            HistoryEntry(
                nup=NUP,
                seq=i + 1,
                at=T0 + timedelta(minutes=i),
                unit_id="101",
                user="ana",
                operation="05" if i == 0 else "02",
                description="x",
                previous_hash="",
            )
            for i in range(moves)
        ]


@pytest.fixture
def world() -> World:
    log: list[str] = []
    structures = InMemoryStructures()
    registry = Registry(structures, cache_seconds=0)
    registry.save(Structure(id="100", name="Ministério da Saúde", acronym="MS", agency_id=""))
    registry.save(Structure(id="101", name="Protocolo", acronym="PROT", agency_id="", parent_id="100",
                            protocol_code="25000"))  # fmt: skip
    registry.save(Structure(id="200", name="Instituto", acronym="INSS", agency_id=""))
    registry.save(Structure(id="201", name="Protocolo do INSS", acronym="PINSS", agency_id="", parent_id="200",
                            protocol_code="30000"))  # fmt: skip
    records, notices, publication, processes = (
        FakeRecords(log),
        FakeNotices(log),
        FakePublication(),
        FakeProcesses(),
    )
    clock = FakeClock(datetime(2026, 3, 10, 12, 3, 20, tzinfo=UTC))
    tramites = InMemoryTramites()
    tracking = PublicTracking(records, processes, registry, publication, notices,  # type: ignore[arg-type]
                              tramites=tramites, clock=clock, window_seconds=WINDOW)  # fmt: skip
    return World(tracking, records, notices, publication, processes, clock, log, tramites)


# --- projection --------------------------------------------------------------------------------------


def test_projection_schedules_the_digest_before_it_saves_the_record(world: World) -> None:
    world.copy(AccessLevel.PUBLICO, moves=5)
    assert world.tracking.project_copy("100", NUP) is True
    assert world.log == [f"digest {NUP}", f"save {NUP}"]
    window = int(world.clock.now().timestamp()) // WINDOW
    # 12:03:20 is 200 s into a 600 s window: it closes in 400 s, plus the 30 s margin.
    assert world.notices.digests == [(NUP, window, 430)]
    stored = world.records.rows[NUP]
    assert len(stored.movements) == 5  # the whole history, read across pages
    assert {m.window for m in stored.movements} == {window}


def test_a_duplicate_or_late_event_writes_nothing_and_schedules_nothing(world: World) -> None:
    world.copy(AccessLevel.PUBLICO, moves=3)
    world.tracking.project_copy("100", NUP)
    world.log.clear()
    world.clock.advance(minutes=30)
    assert world.tracking.project_copy("100", NUP) is False
    assert world.log == []


def test_a_new_movement_goes_to_the_current_window_and_old_ones_keep_theirs(world: World) -> None:
    world.copy(AccessLevel.PUBLICO, moves=2)
    world.tracking.project_copy("100", NUP)
    first = int(world.clock.now().timestamp()) // WINDOW
    world.clock.advance(minutes=30)
    world.copy(AccessLevel.PUBLICO, moves=3)
    world.tracking.project_copy("100", NUP)
    second = int(world.clock.now().timestamp()) // WINDOW
    assert [m.window for m in world.records.rows[NUP].movements] == [first, first, second]
    assert world.notices.digests[-1][:2] == (NUP, second)


def test_a_conflicting_save_is_retried_from_a_fresh_read(world: World) -> None:
    world.copy(AccessLevel.PUBLICO, moves=1)
    world.records.conflicts = 2
    assert world.tracking.project_copy("100", NUP) is True
    assert world.records.rows[NUP].version == 1


def test_the_projection_gives_up_after_five_conflicts(world: World) -> None:
    world.copy(AccessLevel.PUBLICO, moves=1)
    world.records.conflicts = 5
    with pytest.raises(Conflict):
        world.tracking.project_copy("100", NUP)
    assert NUP not in world.records.rows


def test_a_process_turning_secret_disappears_and_schedules_nothing(world: World) -> None:
    world.copy(AccessLevel.PUBLICO, moves=2)
    world.tracking.project_copy("100", NUP)
    digests = len(world.notices.digests)
    world.copy(AccessLevel.SIGILOSO, moves=3)
    assert world.tracking.project_copy("100", NUP) is True
    assert len(world.notices.digests) == digests
    with pytest.raises(NotFound):
        world.tracking.lookup(NUP)


def test_restricted_processes_appear_from_the_next_event_after_the_opt_in(world: World) -> None:
    world.copy(AccessLevel.RESTRITO, moves=2)
    world.tracking.project_copy("100", NUP)
    with pytest.raises(NotFound):
        world.tracking.lookup(NUP)
    assert world.tracking.set_publishes_restricted("100", True) is True
    with pytest.raises(NotFound):  # not before the agency's next event
        world.tracking.lookup(NUP)
    world.copy(AccessLevel.RESTRITO, moves=3)
    world.tracking.project_copy("100", NUP)
    record = world.tracking.lookup(NUP)
    assert record.current is not None
    assert record.current.process_type is None
    assert len(record.movements) == 3


# --- lookup ------------------------------------------------------------------------------------------


def test_unknown_and_secret_nups_answer_exactly_the_same(world: World) -> None:
    world.copy(AccessLevel.SIGILOSO, moves=1)
    world.tracking.project_copy("100", NUP)
    with pytest.raises(NotFound) as secret:
        world.tracking.lookup(NUP)
    with pytest.raises(NotFound) as unknown:
        world.tracking.lookup(OTHER_NUP)
    assert (secret.value.detail, secret.value.fields) == (unknown.value.detail, unknown.value.fields)


def test_a_wrong_check_digit_is_invalid_input_saying_so(world: World) -> None:
    wrong = NUP[:15] + ("00" if NUP[15:] != "00" else "01")
    with pytest.raises(InvalidInput, match="dígitos verificadores"):
        world.tracking.lookup(wrong)


def test_the_masked_form_finds_the_same_record(world: World) -> None:
    world.copy(AccessLevel.PUBLICO, moves=1)
    world.tracking.project_copy("100", NUP)
    assert world.tracking.lookup(Nup.issue("25000", 1, 2026).masked).nup == NUP


# --- outside records ---------------------------------------------------------------------------------


def outside(
    nup: str = NUP, *items: tuple[str, int], level: AccessLevel = AccessLevel.PUBLICO
) -> OutsideRecord:
    return OutsideRecord(nup=nup, level=level, produced_on=date(2026, 3, 10), process_type="Requerimento",
                         specification="Pedido", movements=tuple(
                             OutsideMovement(item_id, T0 + timedelta(minutes=m), "PROT", "02") for item_id, m in items
                         ))  # fmt: skip


def test_outside_records_are_stored_per_item_and_resending_changes_nothing(world: World) -> None:
    batch: list[Any] = [outside(NUP, ("a", 1)), InvalidInput("bad", []), outside(OTHER_NUP, ("x", 1))]
    results = world.tracking.submit("100", batch)
    assert [r.outcome for r in results] == [Outcome.STORED, Outcome.REFUSED, Outcome.REFUSED]
    assert results[2].errors[0].field == "registros.2.nup"
    assert OTHER_NUP not in world.records.rows
    digests = len(world.notices.digests)
    again = world.tracking.submit("100", [outside(NUP, ("a", 1))])
    assert [r.outcome for r in again] == [Outcome.UNCHANGED]
    assert len(world.notices.digests) == digests
    more = world.tracking.submit("100", [outside(NUP, ("b", 2))])
    assert [r.outcome for r in more] == [Outcome.STORED]
    assert [m.item_id for m in world.records.rows[NUP].movements] == ["a", "b"]


def test_a_batch_over_one_hundred_is_refused_whole(world: World) -> None:
    with pytest.raises(BatchTooLarge):
        world.tracking.submit("100", [outside(NUP, (str(i), 1)) for i in range(101)])
    assert world.records.rows == {}


def test_dates_in_the_future_or_before_the_production_date_are_refused(world: World) -> None:
    future = outside(NUP, ("a", 60 * 24 * 400))
    early = replace(outside(NUP, ("a", 1)), produced_on=date(2026, 3, 11))
    results = world.tracking.submit("100", [future, early])
    assert [r.outcome for r in results] == [Outcome.REFUSED, Outcome.REFUSED]
    assert results[0].errors[0].field == "registros.0.andamentos.0.data"


def test_a_nup_hosted_here_takes_no_outside_records_from_its_agency(world: World) -> None:
    world.copy(AccessLevel.PUBLICO, moves=1)
    world.tracking.project_copy("100", NUP)
    [result] = world.tracking.submit("100", [outside(NUP, ("a", 1))])
    assert result.outcome is Outcome.REFUSED


# --- search ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "limit", "field"),
    [
        (SearchQuery(), 20, "nome"),
        (SearchQuery(name_prefix="an"), 20, "nome"),
        (
            SearchQuery(agency_id="100", produced_from=date(2026, 3, 2), produced_to=date(2026, 3, 1)),
            20,
            "de",
        ),
        (SearchQuery(agency_id="100"), 51, "limite"),
    ],
)
def test_a_search_needs_a_criterion_three_letters_a_sane_range_and_limit(
    world: World, query: SearchQuery, limit: int, field: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        world.tracking.search(query, None, limit)
    assert [f.field for f in error.value.fields] == [field]


@pytest.mark.parametrize(("state", "accepted"), [(3, False), (5, True), (6, True), (8, False)])
def test_a_nup_the_bus_delivered_to_an_agency_takes_its_records(
    world: World, state: int, accepted: bool
) -> None:
    # The trâmite goes from agency 100 to agency 200 (the INSS here, whose protocol code is not the
    # NUP's): once the INSS sent the recibo de conclusão (5, 6) it holds the process and may report it.
    tramite = reach(state)
    world.tramites.rows[tramite.idt] = tramite  # as the bus left it
    digits = Nup.issue(BUS_NUP[:5], int(BUS_NUP[6:12]), int(BUS_NUP[13:17])).digits
    [result] = world.tracking.submit("200", [outside(digits, ("a", 1))])
    assert (result.outcome is Outcome.STORED) is accepted, result.errors
    [sent] = world.tracking.submit("100", [outside(digits, ("b", 1))])  # the sender held it too
    assert sent.outcome is Outcome.STORED
