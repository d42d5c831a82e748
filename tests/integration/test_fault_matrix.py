"""The fault matrix: every AWS call of every asynchronous handler, failing once with every kind of
fault, then redelivered as Lambda would; the invariants must hold after each.

For each leg (a scenario of the real system and the handler whose calls are faulted):
1. A clean run: the scenario's work is delivered by the local stack's worker (infra/local/worker.py,
   which plays SQS, the DynamoDB streams and the schedules against the app's own handlers) until
   nothing is left to deliver. The AWS calls the leg's handler made, in order, are the fault points;
   the end state is the reference.
2. For each fault point and each fault kind of tests/faults.py (throttled, timeout with the call done
   at AWS, crash after the call succeeded), the scenario runs again on fresh data with that call
   failing once. The worker redelivers as Lambda would: a failed SQS message comes back after its
   visibility timeout (`Harness.time_passes`), a failed stream batch is retried from its checkpoint,
   a schedule runs again at its next tick, and after a crash nothing is retried before the dead
   invocation's time ran out (so a Powertools in-progress record has expired, as on AWS).
3. The invariants (each scenario's `check`): the end state equals the reference (one process per
   trâmite at the receiver, one receipt, the history of each copy whole, no entry lost or twice, the
   sender locked/unlocked as it should be, the public record), every follower got one digest and every
   confirmation went once, nothing was discarded from a stream, and every dead-letter queue is empty.

One allowance, stated: when SES accepted an e-mail and the answer was lost (TIMEOUT or CRASH at
`SESv2.SendEmail`), nothing can know the e-mail left (SES has no idempotency token), so its recipient
may get it twice, never zero times, and nobody else is affected.

The matrix is printed ("N fault points × M fault kinds survived"); any violation fails the test with
the list of (leg, call, fault) that broke and how. `make test` runs the whole cross product; `make
faults` (PEN_FAULTS=record) runs it alone and records it in bench/results/faults.json and faults.md.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from moto.sqs.models import sqs_backends

import app as app_module
from bench import machine
from chalicelib.config import ENV_QUEUE_CORREIO_EVENTOS
from chalicelib.domain.following import address_key
from chalicelib.domain.nup import parse_nup
from chalicelib.domain.structures import Structure
from infra.local import worker as worker_module
from infra.local.resources import client
from infra.local.worker import Worker
from infra.resources import STACK
from tests import servers
from tests.fakes import FakeClock
from tests.faults import FAULTS, Crash, Fault, aws_calls
from tests.integration.conftest import Api, Stack
from tests.integration.test_documents import PDF
from tests.integration.test_following import address, link, mails_to
from tests.integration.test_hosted_bus import (
    _differences,
    _normalised,
    a_process,
    hosted,  # noqa: F401 (the fixture)
    send_hosted,
    snapshot,
)

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"
# PEN_FAULTS=record (`make faults`): the matrix's results are recorded in bench/results/faults.*.
RECORD = os.environ.get("PEN_FAULTS") == "record"
# The functions' timeout here: after a crash the harness waits this long before redelivering, as SQS
# (visibility timeout) and Lambda (stream retries) only retry once the dead invocation timed out.
LAMBDA_TIMEOUT_MS = 300
SENDS_EMAIL = "SESv2.SendEmail"
WHO = {"x-usuario": "maria.silva"}
CPF = "529.982.247-25"

# --- the harness: the worker with one handler's calls armed --------------------------------------------


@dataclass
class Pumped:
    """What delivering a scenario took: crashes, failed deliveries (redelivered), discarded records."""

    rounds: int = 0
    crashes: int = 0
    failures: int = 0
    discarded: int = 0


class Harness:
    def __init__(self, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
        self.stack = stack
        monkeypatch.setattr(
            worker_module, "LambdaContext", functools.partial(worker_module.LambdaContext,
                                                              timeout_ms=LAMBDA_TIMEOUT_MS)
        )  # fmt: skip
        self.sqs = client("sqs", stack.endpoint, servers.REGION)
        urls = {queue.env: os.environ[queue.env] for queue in STACK.queues}
        self.worker = Worker.for_stack(app_module.app, self.sqs, urls, stage=stack.settings.stage,
                                       region=servers.REGION, log=lambda _: None)  # fmt: skip
        self.target: str | None = None
        self._arm: Callable[[bool], list[str]] = lambda on: []
        plain = self.worker.handler
        monkeypatch.setattr(self.worker, "handler", lambda name: self._guarded(name, plain(name)))
        for source in self.worker.streams:
            consumer = self.worker._stream_consumers[source.table.logical_id]
            monkeypatch.setattr(consumer, "_handler", self._guarded(source.handler, consumer._handler))
        # Structure lookups are cached for a minute per container (services/registry.py): emptied before
        # each delivery and kept for its length, so every run of a leg makes the same calls however
        # long a run takes on a busy machine.
        self.registry = stack.services.registry
        monkeypatch.setattr(self.registry, "_cache_seconds", 3600.0)
        stage = stack.settings.stage
        self.queues = [STACK.name(stage, q.suffix) for q in STACK.queues]
        self.dead_letter_queues = [STACK.dlq_name(stage, q) for q in STACK.queues] + [
            STACK.stream_dlq_name(stage, t) for t in STACK.stream_consumers
        ]

    def _guarded(self, name: str, handler: Callable[[dict[str, Any], Any], Any]) -> Any:
        """The handler, with the fault injector armed while it runs if it is the leg's."""

        def invoke(event: dict[str, Any], context: Any) -> Any:
            if name != self.target:
                return handler(event, context)
            self._arm(True)
            try:
                return handler(event, context)
            finally:
                self._arm(False)

        return invoke

    @contextmanager
    def faults(self, target: str, at: int | None = None, fault: Fault | None = None) -> Iterator[list[str]]:
        """While inside: `target`'s AWS calls are listed (yielded) and call `at` fails once with `fault`."""
        self.registry._cache.clear()
        with aws_calls(at, armed=False, fault=fault) as arm:
            self.target, self._arm = target, arm
            try:
                yield arm(False)
            finally:
                self.target, self._arm = None, lambda on: []

    def pump(self, handlers: frozenset[str], schedule: str | None = None, max_rounds: int = 40) -> Pumped:
        """Delivers everything pending to `handlers`, as Lambda's event sources would, until a round
        delivers nothing: `schedule` runs until one run completes (a failed run is followed by the
        next tick); the stream and the queue of each handler are polled every round."""
        out = Pumped()
        schedule_due = schedule is not None
        for _ in range(max_rounds):
            out.rounds += 1
            busy = crashed = False
            if schedule is not None and schedule_due:
                busy = True
                try:
                    self.worker.run_schedule(schedule)
                    schedule_due = False
                except Crash:
                    crashed = True
                except Exception:
                    out.failures += 1
            for stream in [s for s in self.worker.streams if s.handler in handlers]:
                try:
                    polled = self.worker.poll_stream(stream)
                except Crash:
                    busy = crashed = True
                    continue
                out.discarded += polled.discarded
                out.failures += polled.retried
                busy = busy or polled.delivered > 0
            for source in [s for s in self.worker.sources if s.queue.handler in handlers]:
                try:
                    received = self.worker.poll(source, wait_seconds=0)
                except Crash:
                    busy = crashed = True
                    continue
                out.failures += received.failed
                busy = busy or received.received > 0
            if crashed:
                out.crashes += 1
                time.sleep(LAMBDA_TIMEOUT_MS / 1000)  # the dead invocation's time runs out first
            self.time_passes()
            if not busy:
                return out
        raise AssertionError(f"still delivering after {max_rounds} rounds: {out}")

    def _moto_queues(self, names: list[str]) -> Iterator[tuple[str, Any]]:
        for regions in sqs_backends.values():
            backend = regions.get(servers.REGION)
            if backend is None:
                continue
            for name in names:
                queue = backend.queues.get(name)
                if queue is not None:
                    yield name, queue

    def time_passes(self) -> None:
        """Every message of the stack's queues is due now: a failed one's visibility timeout is over,
        a delayed one's delay too (the notices' first page waits for its window to close)."""
        for _, queue in self._moto_queues(self.queues):
            for message in list(queue._messages):
                message.visible_at = 0.0
                message.delayed_until = 0.0

    def dead_letters(self) -> dict[str, int]:
        return {
            name: len(q._messages) for name, q in self._moto_queues(self.dead_letter_queues) if q._messages
        }


# --- scenarios: the work pending, its end state, its invariants ------------------------------------------


class Scenario:
    schedule: str | None = None
    handlers: frozenset[str] = frozenset()  # the handlers that play a part (their sources are polled)

    def prepare(self) -> Any:
        """Fresh data with the scenario's work pending (delivered by the next pump)."""
        raise NotImplementedError

    def end(self, case: Any) -> Any:
        """The end state to compare with the clean run's (anonymised: the same for every run)."""
        raise NotImplementedError

    def check(self, case: Any, end: Any) -> list[str]:
        """Invariants the end state itself must show (beyond equalling the reference)."""
        return []

    def mail(self, case: Any) -> dict[str, int]:
        """E-mails each party must have got exactly once: party -> how many it got."""
        return {}


class HostedTrip(Scenario):
    """A hosted agency (MS) sends a process to another hosted one (MGI): the trâmites stream
    (`forward_tramite_changes`) puts each state change on the bus queue, `run_bus_work` imports at
    the receiver, sends the receipt and concludes the sender's side (unlocked, concluded as sent)."""

    handlers = frozenset({"forward_tramite_changes", "run_bus_work"})

    def __init__(self, api: Api, stack: Stack, tokens: dict[str, str]) -> None:
        self.api, self.stack, self.tokens = api, stack, tokens

    def prepare(self) -> tuple[str, str]:
        nup = a_process(self.api, self.tokens["ms"], PDF)
        sent = send_hosted(self.api, self.tokens["ms"], nup)
        assert sent.status_code == 201, sent.body
        return nup, sent.json["tramites"][0]["idt"]

    def end(self, case: tuple[str, str]) -> Any:
        return _normalised(snapshot(self.stack, case[0]), case[0])

    def check(self, case: tuple[str, str], end: Any) -> list[str]:
        wrong = []
        if sorted(end["copies"]) != ["100", "400"]:
            wrong.append(f"copies at {sorted(end['copies'])}, not one at the sender and one at the receiver")
        if end["states"] != [[1, 2, 3, 4, 5, 6]] or end["receipts"] != [True]:
            wrong.append(
                f"states {end['states']}, receipts {end['receipts']}: not one trâmite with one receipt"
            )
        sender = end["copies"].get("100", {})
        if sender.get("locked") != 0 or sender.get("units") != []:
            wrong.append(
                f"the sender's copy is locked {sender.get('locked')} / open at {sender.get('units')}"
            )
        return wrong


class RefusedTrip(HostedTrip):
    """The receiver's reception rules refuse the espécie: `run_bus_work` refuses (state 8), the
    stream brings the refusal back and the sender's process is unlocked, still open where it was."""

    def __init__(self, api: Api, stack: Stack, tokens: dict[str, str]) -> None:
        super().__init__(api, stack, tokens)
        rules = api.call("PUT", "/orgaos/400/recebimento", tokens["mgi"], {"especies": [41]})
        assert rules.status_code == 200, rules.body

    def check(self, case: tuple[str, str], end: Any) -> list[str]:
        wrong = []
        if sorted(end["copies"]) != ["100"]:
            wrong.append(f"copies at {sorted(end['copies'])}: a refused trâmite imported something")
        if end["states"] != [[1, 2, 8, 9]]:
            wrong.append(f"states {end['states']}, not refused once")
        sender = end["copies"].get("100", {})
        if sender.get("locked") != 0 or sender.get("units") != ["101"]:
            wrong.append(
                f"the sender's copy is locked {sender.get('locked')} / open at {sender.get('units')}"
            )
        return wrong


class StalledTrip(HostedTrip):
    """A hosted agency sends to an agency with its own system (the INSS), which never takes it:
    past the deadline `cancel_stalled_tramites` cancels it (state 10), the stream brings the cancel
    to `run_bus_work`, which unlocks the sender's process, still open where it was."""

    schedule = "cancel_stalled_tramites"
    handlers = frozenset({"forward_tramite_changes", "run_bus_work", "cancel_stalled_tramites"})

    def __init__(self, api: Api, stack: Stack, tokens: dict[str, str], harness: Harness) -> None:
        super().__init__(api, stack, tokens)
        self.harness = harness
        self.bus = stack.services.bus
        self.real_clock = self.bus._clock

    def prepare(self) -> tuple[str, str]:
        self.bus._clock = self.real_clock
        nup = a_process(self.api, self.tokens["ms"], PDF)
        sent = send_hosted(self.api, self.tokens["ms"], nup, to="201")
        assert sent.status_code == 201, sent.body
        self.harness.pump(self.handlers)  # custody, then nothing: the INSS never fetches it
        self.bus._clock = FakeClock(self.real_clock.now() + timedelta(days=8, minutes=1))
        return nup, sent.json["tramites"][0]["idt"]

    def check(self, case: tuple[str, str], end: Any) -> list[str]:
        wrong = []
        if sorted(end["copies"]) != ["100"]:
            wrong.append(f"copies at {sorted(end['copies'])}")
        if end["states"] != [[1, 2, 10]]:
            wrong.append(f"states {end['states']}, not cancelled once")
        sender = end["copies"].get("100", {})
        if sender.get("locked") != 0 or sender.get("units") != ["101"]:
            wrong.append(
                f"the sender's copy is locked {sender.get('locked')} / open at {sender.get('units')}"
            )
        return wrong


@dataclass
class Followed:
    nup: str
    followers: list[str]
    newcomer: str


class Movement(Scenario):
    """A público process with two confirmed followers is moved to another unit while a third person
    asks to follow it: the processes stream (`record_process_events`) keeps the events and projects
    the public record, which queues the window's digest; `run_notices` sends it to each follower
    (SES); `send_mail` sends the newcomer's confirmation (the mail queue)."""

    T0 = datetime(2026, 3, 10, 12, 0, 5, tzinfo=UTC)
    handlers = frozenset({"record_process_events", "run_notices", "send_mail"})

    def __init__(self, api: Api, stack: Stack, harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
        self.api, self.stack, self.harness = api, stack, harness
        stack.services.registry.save(
            Structure(id="102", name="Divisão de Atendimento", acronym="DIV", agency_id="", parent_id="101")
        )
        self.clock = FakeClock(self.T0)
        services = stack.services
        for service in (services.processes, services.tracking, services.following):
            monkeypatch.setattr(service, "_clock", self.clock)  # every run's record the same but its NUP
        self.token = stack.tokens["ms-admin"]

    def prepare(self) -> Followed:
        self.clock.current = self.T0
        body = {"unidade": "101", "tipo": "Requerimento", "especificacao": "Pedido de certidão",
                "interessados": [{"nome": "João da Silva", "documento": CPF}], "nivelAcesso": 1}  # fmt: skip
        created = self.api.call("POST", "/processos", self.token, body, headers=WHO)
        assert created.status_code == 201, created.body
        nup = parse_nup(created.json["nup"]).digits
        self.harness.pump(self.handlers)  # projected, its first window's digest gone to nobody
        followers = [address(), address()]
        for email in followers:
            assert (
                self.api.call(
                    "POST", "/publico/acompanhamentos", body={"nup": nup, "email": email}
                ).status_code
                == 202
            )
            self.harness.pump(self.handlers)
            assert self.api.call("POST", link(mails_to(email)[-1], "confirmacao")).status_code == 200
        self.clock.advance(seconds=self.stack.settings.notice_window_seconds)
        moved = self.api.call("POST", f"/processos/{nup}/envios", self.token,
                              {"unidadeOrigem": "101", "unidadesDestino": ["102"], "manterAberto": False},
                              headers=WHO)  # fmt: skip
        assert moved.status_code in (200, 201), moved.body
        newcomer = address()
        asked = self.api.call("POST", "/publico/acompanhamentos", body={"nup": nup, "email": newcomer})
        assert asked.status_code == 202, asked.body
        return Followed(nup, followers, newcomer)

    def end(self, case: Followed) -> Any:
        response = self.api.call("GET", f"/publico/processos/{case.nup}")
        assert response.status_code == 200, response.body
        text = response.body.decode().replace(case.nup, "<nup>").replace(parse_nup(case.nup).masked, "<nup>")
        return json.loads(text)

    def check(self, case: Followed, end: Any) -> list[str]:
        units = [a["unidade"] for a in end["andamentos"]]
        return [] if units == ["PROT", "PROT"] else [f"public movements {units}"]

    def mail(self, case: Followed) -> dict[str, int]:
        def digests(email: str) -> int:
            return sum(1 for m in mails_to(email) if "confirm" not in str(m["Subject"]).lower())

        def confirmations(email: str) -> int:
            return sum(1 for m in mails_to(email) if "confirm" in str(m["Subject"]).lower())

        got = {f"digest to follower {n}": digests(e) for n, e in enumerate(case.followers, 1)}
        got["confirmation to the newcomer"] = confirmations(case.newcomer)
        return got


class Bounce(Scenario):
    """SES reports a permanent bounce (configuration set → SNS → the mail events queue):
    `record_mail_events` puts the address on the suppression list."""

    handlers = frozenset({"record_mail_events"})

    def __init__(self, stack: Stack, harness: Harness) -> None:
        self.stack, self.harness = stack, harness

    def prepare(self) -> str:
        email = f"devolvido.{uuid.uuid4().hex[:10]}@example.org"
        event = {"eventType": "Bounce", "bounce": {"bounceType": "Permanent",
                                                   "bouncedRecipients": [{"emailAddress": email}]}}  # fmt: skip
        envelope = {"Type": "Notification", "Message": json.dumps(event)}
        self.harness.sqs.send_message(QueueUrl=os.environ[ENV_QUEUE_CORREIO_EVENTOS],
                                      MessageBody=json.dumps(envelope))  # fmt: skip
        return email

    def end(self, case: str) -> Any:
        return {"suppressed": self.stack.services.following._subscriptions.suppressed(address_key(case))}

    def check(self, case: str, end: Any) -> list[str]:
        return [] if end["suppressed"] else ["the bounced address is not suppressed"]


# --- the matrix ------------------------------------------------------------------------------------------


@dataclass
class LegResult:
    leg: str
    handler: str
    calls: list[str]
    faults: list[str]
    violations: list[str] = field(default_factory=list)
    failed_runs: int = 0
    seconds: float = 0.0
    runs: int = 0


def run_matrix(harness: Harness, leg: str, handler: str, scenario: Scenario) -> LegResult:
    started = time.monotonic()
    case = scenario.prepare()
    with harness.faults(handler) as calls:
        clean = harness.pump(scenario.handlers, scenario.schedule)
    reference = scenario.end(case)
    assert calls, f"{leg}: {handler} made no AWS call"
    assert clean.failures == clean.crashes == clean.discarded == 0, clean
    assert scenario.check(case, reference) == [], scenario.check(case, reference)
    assert set(scenario.mail(case).values()) <= {1}, scenario.mail(case)
    result = LegResult(leg, handler, list(calls), [f.name for f in FAULTS])

    for at, call in enumerate(result.calls, start=1):
        for fault in FAULTS:
            result.runs += 1
            where = f"{leg}: call {at} ({call}) {fault}"
            case = scenario.prepare()
            with harness.faults(handler, at, fault) as seen:
                harness.pump(scenario.handlers, scenario.schedule)
            wrong = violations(harness, scenario, case, reference, seen=seen, at=at, fault=fault)
            if seen[at - 1 : at] != [call]:
                wrong.append(f"the fault missed its call: the calls were {seen}")
            result.violations += [f"{where}: {v}" for v in wrong]
            result.failed_runs += bool(wrong)
    result.seconds = round(time.monotonic() - started, 1)
    return result


def violations(
    harness: Harness, scenario: Scenario, case: Any, reference: Any, *, seen: list[str], at: int, fault: Fault
) -> list[str]:
    """What went wrong in the run where call `at` failed with `fault` (empty: it survived)."""
    call = seen[at - 1] if len(seen) >= at else "?"
    wrong = []
    end = scenario.end(case)
    if end != reference:
        wrong.append(f"end state differs: {_differences(end, reference)}")
    wrong += scenario.check(case, end)
    mail = scenario.mail(case)
    # The one point in doubt: SES accepted the e-mail and nothing can know it; at least once, at most twice.
    in_doubt = fault.after and call == SENDS_EMAIL
    allowed = {1, 2} if in_doubt else {1}
    wrong += [f"{who}: {n} e-mails" for who, n in mail.items() if n not in allowed]
    if in_doubt and sum(mail.values()) > len(mail) + 1:
        wrong.append(f"more than the e-mail in doubt went twice: {mail}")
    if dead := harness.dead_letters():
        wrong.append(f"dead letters: {dead}")
    return wrong


def record(result: LegResult) -> None:
    """Merges the leg into bench/results/faults.json (under a lock: the legs run in parallel) and
    rewrites faults.md from it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(Path(tempfile.gettempdir()) / "pen-faults.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = RESULTS / "faults.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        legs = data.get("legs", {})
        legs[result.leg] = {
            "handler": result.handler,
            "fault_points": len(result.calls),
            "fault_kinds": result.faults,
            "runs": result.runs,
            "survived": result.runs - result.failed_runs,
            "violations": result.violations,
            "seconds": result.seconds,
            "calls": result.calls,
            "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        points = sum(leg["fault_points"] for leg in legs.values())
        runs = sum(leg["runs"] for leg in legs.values())
        survived = sum(leg["survived"] for leg in legs.values())
        data = {
            "machine": machine.line(),
            "fault_kinds": [f.name for f in FAULTS],
            "total": {"fault_points": points, "fault_kinds": len(FAULTS), "runs": runs, "survived": survived},
            "legs": dict(sorted(legs.items())),
        }  # fmt: skip
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        (RESULTS / "faults.md").write_text(markdown(data))


def markdown(data: dict[str, Any]) -> str:
    total = data["total"]
    lines = [
        "## Fault injection",
        "",
        f"**{total['fault_points']} fault points × {total['fault_kinds']} fault kinds: "
        f"{total['survived']} of {total['runs']} runs survived.**",
        "",
        "Every AWS call each asynchronous handler makes (listed on a clean run) fails once, with each kind "
        "of fault in turn: `throttled` (ThrottlingException / ProvisionedThroughputExceededException, nothing "
        "done), `timeout` (ReadTimeoutError after AWS did the call), `crash` (the process dies right after the "
        "call succeeded). The local worker then redelivers as Lambda does, and the run must end as the clean "
        "run did: one process per trâmite at the receiver, one receipt, each history whole with no entry "
        "twice, the sender unlocked when it should be, the same public record, each e-mail once, nothing in a "
        "dead-letter queue (tests/integration/test_fault_matrix.py: `make test` runs it all; `make faults` records it here). The one allowance: "
        "an e-mail SES accepted whose answer was lost may go twice (SES has no idempotency token).",
        "",
        "| leg | handler | fault points | runs | survived | seconds |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for name, leg in data["legs"].items():
        lines.append(f"| {name} | `{leg['handler']}` | {leg['fault_points']} | {leg['runs']} | "
                     f"{leg['survived']} | {leg['seconds']} |")  # fmt: skip
    lines += [
        "",
        f"Machine: {data['machine']}; moto server in the test process; each run is one scenario on fresh "
        "data.",
        "",
        "Fault points per leg (the calls in order; each failed with every kind):",
        "",
    ]
    for name, leg in data["legs"].items():
        lines.append(f"- {name}: " + ", ".join(leg["calls"]))
    broken = [v for leg in data["legs"].values() for v in leg["violations"]]
    if broken:
        lines += ["", "Violations:", "", *[f"- {v}" for v in broken]]
    return "\n".join(lines) + "\n"


def report(result: LegResult) -> None:
    if RECORD:
        record(result)
    line = (f"{result.leg}: {len(result.calls)} fault points × {len(result.faults)} fault kinds "
            f"{'survived' if not result.violations else f'— {len(result.violations)} violation(s)'} "
            f"({result.seconds} s)")  # fmt: skip
    print(line)
    assert result.violations == [], "\n".join(result.violations)


# --- the legs --------------------------------------------------------------------------------------------


@pytest.fixture
def harness(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Harness:
    return Harness(stack, monkeypatch)


@pytest.mark.parametrize("handler", ["forward_tramite_changes", "run_bus_work"])
def test_hosted_trip_survives_every_fault(
    api: Api,
    stack: Stack,
    hosted: dict[str, str],  # noqa: F811 (the fixture imported above)
    harness: Harness,
    handler: str,
) -> None:
    report(
        run_matrix(harness, f"bus import and receipt ({handler})", handler, HostedTrip(api, stack, hosted))
    )


def test_refused_trip_survives_every_fault(
    api: Api,
    stack: Stack,
    hosted: dict[str, str],  # noqa: F811 (the fixture imported above)
    harness: Harness,
) -> None:
    report(run_matrix(harness, "bus refusal (run_bus_work)", "run_bus_work", RefusedTrip(api, stack, hosted)))


def test_auto_cancel_survives_every_fault(
    api: Api,
    stack: Stack,
    hosted: dict[str, str],  # noqa: F811 (the fixture imported above)
    harness: Harness,
) -> None:
    scenario = StalledTrip(api, stack, hosted, harness)
    report(run_matrix(harness, "auto-cancel (cancel_stalled_tramites)", "cancel_stalled_tramites", scenario))


@pytest.mark.parametrize("handler", ["record_process_events", "run_notices", "send_mail"])
def test_movement_survives_every_fault(
    api: Api, stack: Stack, harness: Harness, monkeypatch: pytest.MonkeyPatch, handler: str
) -> None:
    scenario = Movement(api, stack, harness, monkeypatch)
    names = {"record_process_events": "tracking projection", "run_notices": "notices", "send_mail": "mail"}
    report(run_matrix(harness, f"{names[handler]} ({handler})", handler, scenario))


def test_bounce_survives_every_fault(stack: Stack, harness: Harness) -> None:
    report(
        run_matrix(harness, "mail events (record_mail_events)", "record_mail_events", Bounce(stack, harness))
    )
