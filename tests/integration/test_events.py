"""Events out of the processes pillar: every history entry reaches the event log through the
table's stream, once, even when the consumer fails or the stream delivers twice."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.processes import AccessLevel, Interested, Metadata
from chalicelib.services.processes import Actor
from infra.local.worker import Worker
from tests.integration.conftest import Stack, drain

METADATA = Metadata("Tipo", "Especificação", (Interested("Fulano de Tal"),), AccessLevel.PUBLICO)


def make_moves(stack: Stack) -> str:
    processes = stack.services.processes
    actor = Actor("100", "ana")
    process = processes.create(actor, "101", METADATA)
    processes.send(actor, process.nup, from_unit="101", to_units=["102"], keep_open=False, return_by=None)
    processes.conclude(actor, process.nup, "102")
    return process.nup


def test_every_history_entry_becomes_one_event(stack: Stack, worker: Worker) -> None:
    nup = make_moves(stack)
    drain(worker)
    events = stack.services.events._events.for_process("100", nup)
    history, _ = stack.services.processes.history("100", nup, None, 50)
    assert [(e.seq, e.hash, e.operation) for e in events] == [
        (h.seq, h.hash, h.operation) for h in history.items
    ]
    assert [e.unit_id for e in events] == ["101", "101", "102"]


def test_a_consumer_failure_loses_nothing_and_duplicates_nothing(
    stack: Stack, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: the event store fails once in the middle of a batch; the stream redelivers."""
    nup = make_moves(stack)
    repository = stack.services.events._events
    original = repository.add
    calls: list[int] = []

    def flaky(event: Any, received_at: Any) -> bool:
        calls.append(event.seq)
        if event.seq == 2 and calls.count(2) == 1:
            raise ConnectionError("injected: the event store is unreachable")
        return original(event, received_at)

    monkeypatch.setattr(repository, "add", flaky)
    drain(worker)
    assert calls.count(2) == 2  # failed once, delivered again
    assert calls.count(1) == 1  # the record before the failure was not redelivered
    assert [e.seq for e in repository.for_process("100", nup)] == [1, 2, 3]


def test_a_redelivered_event_changes_nothing(stack: Stack, worker: Worker) -> None:
    nup = make_moves(stack)
    drain(worker)
    log = stack.services.events
    first = log._events.for_process("100", nup)
    assert all(log.record(event) is False for event in first)  # the stream delivering them again
    assert log._events.for_process("100", nup) == first
