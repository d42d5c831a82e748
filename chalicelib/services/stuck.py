"""Trâmites stuck in an open state: no state change for longer than a threshold per state. The
operator CLI lists them (`python -m infra.ops tramites stuck`); the bus's schedule counts them on
every run and publishes the counts as a metric, which the stuck-trâmite alarms watch.

Index Queries only, never a Scan of the trâmites table:

* states 1 to 4: the automatic-cancel index (sparse: exactly the trâmites in 1-4, keyed by their
  deadline, i.e. their last state change plus the bus's deadline in days): one Query for all;
* states 5 and 8 (waiting for the sender to fetch the receipt or acknowledge the refusal): the
  pendências index (keyed by the agency the trâmite waits for, oldest change first): one Query per
  agency of the registry (listed by the registry's agencies-only index: its units are never read),
  stopping at the first recent change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Protocol

from chalicelib.domain.bus import AUTO_CANCEL_DAYS, AUTO_CANCEL_STATES, Tramite, TramiteState
from chalicelib.services.ports import Clock, StructureQuery, TramiteRepository
from chalicelib.services.registry import Registry

OPEN_STATES = tuple(s for s in TramiteState if not s.final)  # 1, 2, 3, 4, 5, 8
SENDER_STATES = frozenset({TramiteState.RECIBO_ENVIADO, TramiteState.RECUSADO})
PAGE = 100

# What the schedule counts as stuck, per state: a day with no state change. Every party's step is
# automatic (SEI's bus module polls its pendências every few minutes; the platform's bus worker does a
# hosted agency's step within seconds), so a day means a broken system, not a slow clerk; and in states
# 1-4 it leaves the operator 7 of the 8 days before the bus cancels the trâmite by itself. One entry per
# state, so a state can be given its own threshold.
STUCK_AFTER: Mapping[TramiteState, timedelta] = MappingProxyType(
    {state: timedelta(days=1) for state in OPEN_STATES}
)


class StepProgress(Protocol):
    """Progress of a long read (the CLI's `[n/total]` line): one step per agency read."""

    def step(self, note: str = "") -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Stuck:
    at: datetime  # when the search ran ("now")
    tramites: tuple[Tramite, ...]  # oldest state change first
    counts: Mapping[TramiteState, int]  # every state searched, 0 included

    def changed_before(self, older_than: timedelta) -> datetime:
        return self.at - older_than


class StuckTramites:
    def __init__(
        self,
        tramites: TramiteRepository,
        registry: Registry,
        clock: Clock,
        *,
        auto_cancel_days: int = AUTO_CANCEL_DAYS,
        page_size: int = PAGE,
    ) -> None:
        self._tramites = tramites
        self._registry = registry
        self._clock = clock
        self._auto_cancel_days = auto_cancel_days
        self._page_size = page_size

    def find(
        self,
        older_than: Mapping[TramiteState, timedelta] = STUCK_AFTER,
        progress: Callable[[int], StepProgress] | None = None,
    ) -> Stuck:
        """The trâmites in each state of `older_than` whose last state change is older than that
        state's threshold. `progress(total)` follows the per-agency reads (states 5 and 8)."""
        final = sorted(s.value for s in older_than if s.final)
        if final:
            raise ValueError(f"state(s) {', '.join(map(str, final))} are final: nothing stays stuck there")
        now = self._clock.now()
        cutoffs = {state: now - threshold for state, threshold in older_than.items()}
        found: dict[str, Tramite] = {}
        in_index = {s: c for s, c in cutoffs.items() if s in AUTO_CANCEL_STATES}
        if in_index:
            for tramite in self._in_states_1_to_4(max(in_index.values())):
                cutoff = in_index.get(tramite.state)
                if cutoff is not None and tramite.updated_at <= cutoff:
                    found[tramite.idt] = tramite
        for_senders = {s: c for s, c in cutoffs.items() if s in SENDER_STATES}
        if for_senders:
            for tramite in self._waiting_for_senders(for_senders, progress):
                found[tramite.idt] = tramite
        tramites = tuple(sorted(found.values(), key=lambda t: t.updated_at))
        counted = Counter(t.state for t in tramites)
        return Stuck(now, tramites, {s: counted.get(s, 0) for s in sorted(older_than)})

    def _in_states_1_to_4(self, changed_before: datetime) -> Iterator[Tramite]:
        # The index key is the deadline: last change + the deadline's days. So "changed at or before
        # X" is "due at or before X + days".
        due_before = changed_before + timedelta(days=self._auto_cancel_days)
        cursor: str | None = None
        while True:
            page = self._tramites.due_for_auto_cancel(due_before, cursor, self._page_size)
            yield from page.items
            cursor = page.cursor
            if cursor is None:
                return

    def _agencies(self) -> list[str]:
        return [s.id for s in self._registry.each(StructureQuery(agencies_only=True), self._page_size)]

    def _waiting_for_senders(
        self, cutoffs: Mapping[TramiteState, datetime], progress: Callable[[int], StepProgress] | None
    ) -> Iterator[Tramite]:
        latest = max(cutoffs.values())  # past it, nothing of any wanted state is old enough
        agencies = self._agencies()
        steps = progress(len(agencies)) if progress is not None else None
        try:
            for agency in agencies:
                cursor: str | None = None
                while True:
                    page = self._tramites.pending_for(agency, cursor, self._page_size)
                    recent = False
                    for tramite in page.items:  # oldest change first: stop at the first recent one
                        if tramite.updated_at >= latest:
                            recent = True
                            break
                        cutoff = cutoffs.get(tramite.state)
                        if cutoff is not None and tramite.updated_at < cutoff:
                            yield tramite
                    if recent or page.cursor is None:
                        break
                    cursor = page.cursor
                if steps is not None:
                    steps.step()
        finally:
            if steps is not None:
                steps.close()
