"""Fault injection on the public tracking legs, through the real handlers on the moto server.

- Projection (the processes table's stream → `record_process_events` → events + `project_copy`):
  the AWS calls that projecting a movement makes are listed on a clean run; then, for each call and
  each kind of fault (the call fails before it reaches AWS, or AWS did it and its answer was lost),
  a fresh process is moved, the fault is injected once and the stream is delivered until it drains
  (the stream consumer retries the failed record). The public record must end exactly as a clean
  run's, and the digest of the movement's window must be on the notices queue: no notice lost.
  A record delivered twice, and the events delivered newest first, end the same way too.
- Notices (the AvisosQueue → `run_notices` → `fan_out`): the AWS calls of one page with two
  confirmed followers are listed, each fails once (both kinds) and the page is delivered again until
  it succeeds: each follower got exactly one digest of the window.

The moto server runs in this process: the notices queue (whose first message is delayed until the
window closes) and SES's sent mail are read from moto's backends directly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client
from moto.sqs.models import sqs_backends

import app as app_module
from chalicelib.config import ENV_QUEUE_AVISOS
from chalicelib.domain.following import window_of
from chalicelib.domain.nup import parse_nup
from chalicelib.domain.structures import Structure
from infra.local.resources import client
from infra.local.worker import LambdaContext, Worker
from tests import servers
from tests.fakes import FakeClock
from tests.faults import aws_calls
from tests.integration.conftest import Api, Stack, queue_urls
from tests.integration.test_following import World, address, mails_to

WHO = {"x-usuario": "maria.silva"}
CPF = "529.982.247-25"
T0 = datetime(2026, 3, 10, 12, 0, 5, tzinfo=UTC)


def queued(url: str) -> list[dict[str, Any]]:
    """Every message on the queue, delayed ones included (moto's backend, in this process)."""
    name = url.rsplit("/", 1)[-1]
    found: list[dict[str, Any]] = []
    for _, regions in sqs_backends.items():
        for region, backend in regions.items():
            queue = backend.queues.get(name) if region == servers.REGION else None
            if queue is not None:
                found += [json.loads(m.body) for m in list(queue._messages)]
    return found


# --- projection ---------------------------------------------------------------------------------------


class Projection:
    def __init__(self, stack: Stack, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
        stack.services.registry.save(
            Structure(id="102", name="Divisão", acronym="DIV", agency_id="", parent_id="101")
        )
        self.stack, self.api = stack, api
        self.clock = FakeClock(T0)
        # One clock for the copies and the projection: every run's record is the same but for its NUP.
        monkeypatch.setattr(stack.services.processes, "_clock", self.clock)
        monkeypatch.setattr(stack.services.tracking, "_clock", self.clock)
        sqs = client("sqs", stack.endpoint, servers.REGION)
        self.urls = queue_urls()
        self.worker = Worker.for_stack(app_module.app, sqs, self.urls, stage=stack.settings.stage,
                                       region=servers.REGION, log=lambda _: None)  # fmt: skip
        self.source = next(s for s in self.worker.streams if s.table.logical_id == "ProcessosTable")
        self._consumer = self.worker._stream_consumers["ProcessosTable"]
        self.handler = self._consumer._handler
        self.context = LambdaContext(self.worker.function_name("record_process_events"), servers.REGION)
        self.arm: Callable[[bool], list[str]] = lambda on: []

        def armed(event: dict[str, Any], context: Any) -> Any:
            self.arm(True)
            try:
                return self.handler(event, context)
            finally:
                self.arm(False)

        monkeypatch.setattr(self._consumer, "_handler", armed)

    def captured(self) -> list[dict[str, Any]]:
        """The stream's new records, as Lambda would pass them, taken off the stream unhandled."""
        taken: list[dict[str, Any]] = []

        def take(event: dict[str, Any], context: Any) -> dict[str, Any]:
            taken.extend(event["Records"])
            return {"batchItemFailures": []}

        armed = self._consumer._handler
        self._consumer._handler = take
        try:
            self.drain()
        finally:
            self._consumer._handler = armed
        return taken

    def deliver(self, records: list[dict[str, Any]]) -> None:
        """Each record in its own invocation of the real stream handler, in the order given."""
        for record in records:
            assert self.handler({"Records": [record]}, self.context) == {"batchItemFailures": []}

    def drain(self, rounds: int = 12) -> None:
        for _ in range(rounds):
            result = self.worker.poll_stream(self.source)
            assert result.discarded == 0, result
            if result.delivered == 0 and result.retried == 0:
                return
        raise AssertionError("the stream never drained")

    def created(self, project: bool = True) -> str:
        """A público process created at T0 (projected unless told not to); the clock then moves to
        the next window, so every run's movements fall in the same windows."""
        self.clock.current = T0
        body = {"unidade": "101", "tipo": "Requerimento", "especificacao": "Pedido de certidão",
                "interessados": [{"nome": "João da Silva", "documento": CPF}], "nivelAcesso": 1}  # fmt: skip
        response = self.api.call("POST", "/processos", self.stack.tokens["ms-admin"], body, headers=WHO)
        assert response.status_code == 201, response.body
        if project:
            self.drain()
        self.clock.advance(seconds=self.stack.settings.notice_window_seconds)
        return parse_nup(response.json["nup"]).digits

    def move(self, nup: str) -> int:
        """Sends the process to another unit (not yet projected); the movement's digest window."""
        body = {"unidadeOrigem": "101", "unidadesDestino": ["102"], "manterAberto": False}
        response = self.api.call("POST", f"/processos/{nup}/envios", self.stack.tokens["ms-admin"], body,
                                 headers=WHO)  # fmt: skip
        assert response.status_code in (200, 201), response.body
        return window_of(self.clock.now(), self.stack.settings.notice_window_seconds)

    def public(self, nup: str) -> dict[str, Any]:
        """The citizen's lookup, whole, with the NUP made anonymous (the rest is the same each run)."""
        response = self.api.call("GET", f"/publico/processos/{nup}")
        assert response.status_code == 200, response.body
        text = response.body.decode()
        return dict(json.loads(text.replace(nup, "<nup>").replace(parse_nup(nup).masked, "<nup>")))

    def digests(self, nup: str, window: int) -> int:
        wanted = {"nup": nup, "janela": window, "apos": None}
        return sum(1 for m in queued(self.urls[ENV_QUEUE_AVISOS]) if m == wanted)

    @contextmanager
    def faults(self, at: int | None = None, lost_answer: bool = False) -> Iterator[list[str]]:
        """`aws_calls` armed only while the stream handler runs; yields the calls it made."""
        with aws_calls(at, lost_answer, armed=False) as arm:
            self.arm = arm
            try:
                yield arm(False)
            finally:
                self.arm = lambda on: []


@pytest.fixture
def projection(stack: Stack, api: Api, monkeypatch: pytest.MonkeyPatch) -> Projection:
    return Projection(stack, api, monkeypatch)


def clean_reference(projection: Projection) -> tuple[dict[str, Any], list[str]]:
    nup = projection.created()
    window = projection.move(nup)
    with projection.faults() as calls:
        projection.drain()
    reference = projection.public(nup)
    assert [a["unidade"] for a in reference["andamentos"]] == ["PROT", "PROT"]
    assert projection.digests(nup, window) == 1
    return reference, calls


@pytest.mark.parametrize("lost_answer", [False, True], ids=["call-fails", "answer-lost"])
def test_every_aws_call_of_the_projection_failing_once_loses_nothing(
    projection: Projection, lost_answer: bool
) -> None:
    reference, calls = clean_reference(projection)
    # The event kept, the copy and its history read, the digest queued, the record saved.
    assert any(c.endswith("SendMessage") for c in calls), calls
    assert len(calls) >= 5, calls

    for at in range(1, len(calls) + 1):
        nup = projection.created()
        window = projection.move(nup)
        with projection.faults(at, lost_answer) as seen:
            projection.drain()
        where = f"call {at} ({seen[at - 1]}) failing"
        assert seen[:at] == calls[:at], where  # the fault hit the call it meant to
        assert projection.public(nup) == reference, where
        assert projection.digests(nup, window) >= 1, f"{where}: the notice of the movement is lost"


def test_a_record_delivered_twice_or_events_newest_first_leave_the_same_record(
    projection: Projection,
) -> None:
    reference, _ = clean_reference(projection)

    nup = projection.created()
    window = projection.move(nup)
    records = projection.captured()
    assert len(records) >= 1
    projection.deliver(records + records)  # the stream delivers the move's records twice
    assert projection.public(nup) == reference
    assert projection.digests(nup, window) == 1  # the duplicate published nothing new

    nup = projection.created(project=False)
    window = projection.move(nup)
    records = projection.captured()
    assert [r["dynamodb"]["NewImage"]["seq"]["N"] for r in records if history(r)] == ["1", "2"]
    projection.deliver(list(reversed(records)))  # the move's event first, the creation's last
    assert projection.public(nup) == reference
    assert projection.digests(nup, window) == 1


def history(record: dict[str, Any]) -> bool:
    image = record["dynamodb"].get("NewImage") or {}
    return record["eventName"] == "INSERT" and str(image.get("sk", {}).get("S", "")).startswith("H#")


# --- notices ------------------------------------------------------------------------------------------


@pytest.fixture
def world(stack: Stack, api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    stack.services.registry.save(
        Structure(id="102", name="Divisão de Atendimento", acronym="DIV", agency_id="", parent_id="101")
    )
    clock = FakeClock(datetime.now(UTC))
    monkeypatch.setattr(stack.services.tracking, "_clock", clock)
    with Client(app_module.app, stage_name="local") as lambdas:
        yield World(stack, api, lambdas, clock)


def page_until_done(world: World, body: str, deadline_seconds: float = 15.0) -> int:
    """The queue's redelivery of the page's message until a run succeeds; how many runs it took."""
    deadline = time.monotonic() + deadline_seconds
    runs = 0
    while True:
        runs += 1
        if not world.invoke_notices([body]):
            return runs
        assert time.monotonic() < deadline, f"the page of {body} never succeeded ({runs} runs)"
        time.sleep(0.25)


def digests_to(email: str) -> int:
    return sum(1 for m in mails_to(email) if "confirm" not in str(m["Subject"]).lower())


class Followed:
    """A público process with two confirmed followers; each `next_window()` moves it in a window of
    its own (so each fault point has its own notices to send) and gives that window's page message."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.nup = world.new_process()
        self.followers = [address(), address()]
        for email in self.followers:
            world.confirmed(self.nup, email)
        assert self.digests() == [0, 0]

    def next_window(self) -> str:
        self.world.clock.advance(seconds=self.world.stack.settings.notice_window_seconds)
        return json.dumps({"nup": self.nup, "janela": self.world.move(self.nup), "apos": None})

    def digests(self) -> list[int]:
        return [digests_to(e) for e in self.followers]

    def clean_run(self) -> list[str]:
        """One page delivered without faults: the AWS calls it makes."""
        body = self.next_window()
        with aws_calls(armed=False) as arm:
            arm(True)
            assert self.world.invoke_notices([body]) == []
            calls = list(arm(False))
        assert self.digests() == [1, 1]
        return calls

    def faulty_run(self, at: int, lost_answer: bool) -> tuple[str, list[int]]:
        """The page with call `at` failing once, then delivered again until it succeeds: what the
        failing call was and how many digests of the window each follower got."""
        before = self.digests()
        body = self.next_window()
        with aws_calls(at, lost_answer, armed=False) as arm:
            arm(True)
            failed = self.world.invoke_notices([body])
            seen = list(arm(False))
        # The fault fails the page, except where it hits the record of a sent e-mail's completion:
        # that e-mail is reported done (store/once.py), so nothing is retried and nothing resent.
        completion = at >= 2 and seen[at - 2].endswith("SendEmail")
        assert failed == ([] if completion else [body]), (at, seen)
        if failed:
            page_until_done(self.world, body)
        return seen[at - 1], [now - then for now, then in zip(self.digests(), before, strict=True)]


def in_doubt(calls: list[str], at: int, lost_answer: bool) -> bool:
    """The one point where the e-mail left but nothing can know it: SES sent it and its answer was
    lost. (A sent e-mail whose completion was not recorded is reported done: see store/once.py.)"""
    return lost_answer and calls[at - 1].endswith("SendEmail")


@pytest.mark.parametrize("lost_answer", [False, True], ids=["call-fails", "answer-lost"])
def test_every_aws_call_of_a_notices_page_failing_once_sends_each_follower_one_digest(
    world: World, lost_answer: bool
) -> None:
    followed = Followed(world)
    calls = followed.clean_run()
    # The record, the followers, then per follower: suppressed?, the idempotency record, SES, done.
    assert sum(c.endswith("SendEmail") for c in calls) == 2, calls
    assert len(calls) >= 8, calls

    wrong: dict[str, list[int]] = {}
    for at in range(1, len(calls) + 1):
        failing, got = followed.faulty_run(at, lost_answer)
        assert failing == calls[at - 1], (at, failing, calls)  # the fault hit the call it meant to
        # In doubt: at least once, never lost; at most the follower in doubt gets the digest again.
        ok = (min(got) == 1 and sum(got) <= 3) if in_doubt(calls, at, lost_answer) else got == [1, 1]
        if not ok:
            wrong[f"call {at} ({failing})"] = got
    assert wrong == {}, f"digests per follower when a call fails: {wrong}"


def test_the_sent_digest_whose_completion_was_not_recorded_is_not_sent_again(world: World) -> None:
    followed = Followed(world)
    calls = followed.clean_run()
    at = next(n for n in range(2, len(calls) + 1) if calls[n - 2].endswith("SendEmail"))
    failing, got = followed.faulty_run(at, lost_answer=False)
    assert failing.endswith("UpdateItem"), failing
    assert got == [1, 1]
