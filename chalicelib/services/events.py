"""Receives the processes pillar's events. For now it keeps them (the tracking pillar's input);
a redelivered event is recognised and changes nothing."""

from __future__ import annotations

from chalicelib.domain.events import ProcessEvent
from chalicelib.services.ports import Clock, EventRepository


class EventLog:
    def __init__(self, events: EventRepository, clock: Clock) -> None:
        self._events = events
        self._clock = clock

    def record(self, event: ProcessEvent) -> bool:
        """Keeps the event; False when it was already kept (a redelivery)."""
        return self._events.add(event, self._clock.now())
