"""The app's own metrics, read back from what the handlers print: Powertools writes each one as an
EMF line on stdout, which Lambda sends to CloudWatch Logs and CloudWatch turns into the metric the
alarms and the dashboard read (infra/monitoring.py). Each test runs the real handler on the moto server
with real data and asserts the names, dimensions and values of the lines it printed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pynamodb.connection import Connection

from chalicelib.domain.bus import (
    Actor,
    Address,
    IssuedReceipt,
    Tramite,
    TramiteState,
    complete_upload,
    fetch_components,
    fetch_metadata,
    send_receipt,
    start,
)
from chalicelib.domain.signatures import Stamp
from chalicelib.store.tramites import DynamoTramiteRepository
from infra import ops
from infra.local.worker import LambdaContext, Worker
from tests import servers
from tests.integration.conftest import Stack
from tests.integration.test_following import World, address, mails_to, world  # noqa: F401 (fixture)

NUP = "23037001462202165"
SENDER = Actor("100", "cliente-ms")
RECEIVER = Actor("200", "cliente-inss")


@dataclass(frozen=True)
class Point:
    name: str
    dimensions: dict[str, str]
    value: float
    unit: str


def emf_points(out: str, name: str) -> list[Point]:
    """Every value of metric `name` in the EMF lines of `out`, checked as CloudWatch reads them."""
    points: list[Point] = []
    for line in out.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if not isinstance(blob, dict) or "_aws" not in blob:
            continue
        [directive] = blob["_aws"]["CloudWatchMetrics"]
        units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
        if name not in units:
            continue
        assert directive["Namespace"] == "PEN"
        [dimension_names] = directive["Dimensions"]
        dimensions = {d: blob[d] for d in dimension_names}
        assert dimensions["service"] == "pen"
        for value in blob[name]:
            points.append(Point(name, dimensions, value, units[name]))
    return points


def per_state(points: list[Point]) -> dict[str, float]:
    found: dict[str, float] = {}
    for point in points:
        assert set(point.dimensions) == {"Estado", "service"}  # low cardinality: no NUP, no IDT
        assert point.unit == "Count"
        state = point.dimensions["Estado"]
        found[state] = found.get(state, 0) + point.value
    return found


# --- trâmites ------------------------------------------------------------------------------------


def repository(stack: Stack) -> DynamoTramiteRepository:
    return DynamoTramiteRepository(Connection(region=servers.REGION, host=stack.endpoint))


def new(stack: Stack, idt: str, *, at: datetime) -> Tramite:
    tramite = start(idt=idt, nre=f"NRE-{idt}", nup=NUP, sender=Address("1", "101"),
                    receiver=Address("1", "200"), sender_agency_id="100", receiver_agency_id="200",
                    by=SENDER, at=at)  # fmt: skip
    return repository(stack).add(tramite)


def moved(stack: Stack, tramite: Tramite, *moves: Any) -> Tramite:
    for move in moves:
        tramite = repository(stack).save(move(tramite))
    return tramite


def in_state_5(stack: Stack, idt: str, at: datetime) -> Tramite:
    receipt = IssuedReceipt(b'{"formato":"x"}', Stamp("ECDSA_SHA_256", "chave-1", "c2lnbg==", at))
    return moved(
        stack,
        new(stack, idt, at=at),
        lambda t: complete_upload(t, at),
        lambda t: fetch_metadata(t, RECEIVER, at),
        lambda t: fetch_components(t, RECEIVER, at),
        lambda t: send_receipt(t, RECEIVER, at, receipt),
    )


def test_each_schedule_run_publishes_the_stuck_count_of_every_open_state(
    stack: Stack, worker: Worker, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    two_days = now - timedelta(days=2)
    new(stack, "T-PARADO-1", at=two_days)  # 1, a day past the threshold
    moved(stack, new(stack, "T-PARADO-2", at=two_days), lambda t: complete_upload(t, two_days))  # 2
    in_state_5(stack, "T-PARADO-5", two_days)  # 5, found through the sender's pendências
    in_state_5(stack, "T-RECENTE-5", now - timedelta(hours=2))  # 5, but under the day
    new(stack, "T-RECENTE-1", at=now - timedelta(hours=2))  # 1, under the day
    new(stack, "T-VENCIDO-1", at=now - timedelta(days=9))  # 1, past the 8 days: cancelled by the run
    capsys.readouterr()

    assert worker.run_schedule("cancel_stalled_tramites") == {"cancelados": 1}

    published = per_state(emf_points(capsys.readouterr().out, "TramitesParados"))
    assert published == {
        "INICIADO": 1,  # T-VENCIDO-1 was cancelled before the count: no longer stuck
        "COMPONENTES_ENVIADOS": 1,
        "METADADOS_RECEBIDOS": 0,  # zeros too: every state's alarm has data
        "COMPONENTES_RECEBIDOS": 0,
        "RECIBO_ENVIADO": 1,
        "RECUSADO": 0,
    }
    # The operator CLI runs the same search: it agrees with the metric.
    target = ["--endpoint", stack.endpoint, "--stage", stack.settings.stage]
    assert ops.main([*target, "--json", "tramites", "stuck", "--older-than", "1d"]) == 0
    by_number = json.loads(capsys.readouterr().out)["porEstado"]
    assert {TramiteState(int(n)).name: c for n, c in by_number.items()} == published

    # A trâmite that moves is no longer stuck in its old state at the next run.
    stuck = repository(stack).get("T-PARADO-2")
    assert stuck is not None
    moved(stack, stuck, lambda t: fetch_metadata(t, RECEIVER, now))
    worker.run_schedule("cancel_stalled_tramites")
    again = per_state(emf_points(capsys.readouterr().out, "TramitesParados"))
    assert again["COMPONENTES_ENVIADOS"] == 0
    assert again["METADADOS_RECEBIDOS"] == 0  # it moved just now


def test_the_tramites_stream_counts_each_state_entered(
    stack: Stack, worker: Worker, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    capsys.readouterr()
    in_state_5(stack, "T-FLUXO-1", now)  # 1 -> 2 -> 3 -> 4 -> 5
    new(stack, "T-FLUXO-2", at=now)  # 1
    source = next(s for s in worker.streams if s.table.logical_id == "TramitesTable")
    for _ in range(10):
        if worker.poll_stream(source).delivered == 0:
            break

    published = per_state(emf_points(capsys.readouterr().out, "TramitesPorEstado"))
    # The NRE guards' records count nothing.
    assert published == {
        "INICIADO": 2,
        "COMPONENTES_ENVIADOS": 1,
        "METADADOS_RECEBIDOS": 1,
        "COMPONENTES_RECEBIDOS": 1,
        "RECIBO_ENVIADO": 1,
    }


# --- notices -------------------------------------------------------------------------------------


def test_notices_sent_counts_only_the_emails_that_left(
    world: World,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    nup = world.new_process()
    kept, bounced = address(), address()
    for email in (kept, bounced):
        world.confirmed(nup, email)
    bounce = {"eventType": "Bounce", "bounce": {"bounceType": "Permanent",
                                                "bouncedRecipients": [{"emailAddress": bounced}]}}  # fmt: skip
    envelope = json.dumps({"Type": "Notification", "Message": json.dumps(bounce)})
    event = world.lambdas.events.generate_sqs_event(
        message_bodies=[envelope], queue_name="pen-correio-eventos"
    )
    assert world.lambdas.lambda_.invoke("record_mail_events", event).payload == {"batchItemFailures": []}
    world.clock.advance(seconds=world.stack.settings.notice_window_seconds)
    window = world.move(nup)
    capsys.readouterr()

    # Through the local stack's worker, as Lambda runs it (chalice's test client runs the "local"
    # stage, whose settings turn metrics off); the page delivered twice: the second sends nothing.
    page = json.dumps({"nup": nup, "janela": window, "apos": None})
    for delivery in ("1", "2"):
        event = world.lambdas.events.generate_sqs_event(message_bodies=[page], queue_name="pen-avisos")
        event["Records"][0]["messageId"] = f"aviso-{delivery}"
        context = LambdaContext(world.worker.function_name("run_notices"), servers.REGION)
        assert world.worker.handler("run_notices")(event, context) == {"batchItemFailures": []}

    points = emf_points(capsys.readouterr().out, "AvisosEnviados")
    assert [(p.dimensions, p.unit) for p in points] == [({"service": "pen"}, "Count")] * 2
    assert [p.value for p in points] == [1, 0]  # the suppressed address and the duplicate: none
    assert [len(mails_to(e)) for e in (kept, bounced)] == [2, 1]  # confirmation + notice; confirmation
