"""Events out of the processes pillar: every history entry, as the tracking pillar will read it.

An event is the history entry itself, delivered from the table's stream: it is written in the same
transaction as the change it records, so no change can happen without its event (no dual write).
The acting person is left out on purpose: events feed public tracking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ProcessEvent:
    nup: str
    seq: int
    at: datetime
    agency_id: str
    unit_id: str
    operation: str
    description: str
    access_level: int  # the process's effective level when it happened
    hash: str

    @property
    def key(self) -> str:
        """Unique per event: a redelivered event has the same key."""
        return f"{self.nup}#{self.seq}"
