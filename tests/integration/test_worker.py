"""The local worker against real SQS and SES (a moto server): partial batch failures, retries,
the dead-letter queue, and the Lambda-shaped events it hands to the app's handlers."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.app import Chalice

import app as app_module
from chalicelib import bootstrap
from chalicelib.config import ENV_ENDPOINT, ENV_REGION
from chalicelib.services.ports import MailMessage
from chalicelib.store.mail import message_to_json
from infra.local.mail import fetch_sent_mail, sent_mails
from infra.local.resources import client, create_resources
from infra.local.worker import QueueSource, Schedule, Worker, failed_ids
from infra.resources import STACK

REGION = "sa-east-1"
MAIL_QUEUE = next(q for q in STACK.queues if q.handler == "send_mail")
# For the tiny apps below, which only have the mail queue's handler: STACK with that queue only and no
# stream consumed (tests/integration/test_stream_bridge.py tests the streams).
QUEUES_ONLY = dataclasses.replace(
    STACK,
    tables=tuple(dataclasses.replace(t, stream_handler=None) for t in STACK.tables),
    queues=(MAIL_QUEUE,),
)


@dataclass
class Env:
    endpoint: str
    stage: str
    env: dict[str, str]
    sqs: Any
    log: list[str]

    @property
    def mail_queue_url(self) -> str:
        return self.env[MAIL_QUEUE.env]

    def dlq_url(self) -> str:
        return str(self.sqs.get_queue_url(QueueName=STACK.dlq_name(self.stage, MAIL_QUEUE))["QueueUrl"])

    def worker(self, app: Chalice | None = None) -> Worker:
        """A worker for the real app and STACK, or for a tiny app and STACK's queues only."""
        return Worker.for_stack(
            app or app_module.app,
            self.sqs,
            self.env,
            stage=self.stage,
            region=REGION,
            log=self.log.append,
            stack=STACK if app is None else QUEUES_ONLY,
        )

    def source(self) -> QueueSource:
        return next(s for s in self.worker().sources if s.queue == MAIL_QUEUE)

    def counts(self, url: str) -> tuple[int, int]:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return int(attributes[names[0]]), int(attributes[names[1]])

    def send(self, body: str) -> str:
        return str(self.sqs.send_message(QueueUrl=self.mail_queue_url, MessageBody=body)["MessageId"])


@pytest.fixture
def local(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """Resources of a stage of its own on the session's moto server, and the app's services on them."""
    stage = f"w{uuid.uuid4().hex[:10]}"
    env = create_resources(moto_endpoint, stage, REGION)
    for name, value in {**env, ENV_ENDPOINT: moto_endpoint, ENV_REGION: REGION}.items():
        monkeypatch.setenv(name, value)
    bootstrap.reset()
    yield Env(moto_endpoint, stage, env, client("sqs", moto_endpoint, REGION), [])
    bootstrap.reset()


def mail_to(address: str, subject: str) -> str:
    return message_to_json(MailMessage(to=address, subject=subject, text=f"Corpo de {subject}\n"))


def sent_to(endpoint: str, addresses: set[str]) -> list[Any]:
    """What SES on the moto server holds for these recipients (the server is shared: filter)."""
    return [m for m in sent_mails(fetch_sent_mail(endpoint)) if set(m.to) & addresses]


def test_one_poll_sends_the_good_messages_and_leaves_the_malformed_one(local: Env) -> None:
    first, second = f"{local.stage}-a@mgi.example.gov.br", f"{local.stage}-b@ms.example.gov.br"
    local.send(mail_to(first, "Primeiro aviso"))
    local.send("isto não é JSON {")
    local.send(mail_to(second, "Segundo aviso"))

    result = local.worker().poll(local.source(), wait_seconds=1)

    assert (result.received, result.deleted, result.failed, result.error) == (3, 2, 1, None)
    mails = sent_to(local.endpoint, {first, second})
    assert sorted((m.to, m.subject) for m in mails) == [
        ((first,), "Primeiro aviso"),
        ((second,), "Segundo aviso"),
    ]
    assert all(m.text == f"Corpo de {m.subject}\n" for m in mails)
    # The bad one was received and not deleted: in flight until its visibility timeout ends.
    assert local.counts(local.mail_queue_url) == (0, 1)
    assert any("1 failed" in line for line in local.log)


def test_a_failing_message_reaches_the_dlq_after_max_receive_count(local: Env) -> None:
    local.sqs.set_queue_attributes(QueueUrl=local.mail_queue_url, Attributes={"VisibilityTimeout": "0"})
    local.send("{malformado")
    worker, source = local.worker(), local.source()

    failures = 0
    for _ in range(MAIL_QUEUE.max_receive_count + 3):
        result = worker.poll(source, wait_seconds=0)
        failures += result.failed
        assert result.deleted == 0

    assert failures == MAIL_QUEUE.max_receive_count
    assert local.counts(local.mail_queue_url) == (0, 0)
    dead = local.sqs.receive_message(QueueUrl=local.dlq_url(), WaitTimeSeconds=0)["Messages"]
    assert [m["Body"] for m in dead] == ["{malformado"]


def capturing_app(behaviour: str) -> tuple[Chalice, list[dict[str, Any]]]:
    """A tiny app whose handler has the mail queue's handler name: records events, and fails as told."""
    app = Chalice(app_name="teste")
    seen: list[dict[str, Any]] = []

    @app.on_sqs_message(queue="qualquer", name=MAIL_QUEUE.handler)
    def handler(event: Any) -> dict[str, Any]:
        raw = event.to_dict()
        seen.append({"event": raw, "context": event.context})
        if behaviour == "raise":
            raise RuntimeError("falhou tudo")
        if behaviour == "unknown-id":
            return {"batchItemFailures": [{"itemIdentifier": "não-é-deste-lote"}]}
        return {"batchItemFailures": []}

    return app, seen


def test_events_are_lambda_shaped_with_distinct_message_ids(local: Env) -> None:
    app, seen = capturing_app("ok")
    ids = {local.send(f"mensagem {n}") for n in range(3)}
    local.sqs.send_message(
        QueueUrl=local.mail_queue_url,
        MessageBody="com atributos",
        MessageAttributes={"Tipo": {"DataType": "String", "StringValue": "aviso"}},
    )

    result = local.worker(app).poll(local.source(), wait_seconds=1)

    assert result.received == result.deleted == 4
    records = seen[0]["event"]["Records"]
    assert {r["messageId"] for r in records} >= ids
    assert len({r["messageId"] for r in records}) == 4
    arn = local.source().arn
    for record in records:
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == arn
        assert record["awsRegion"] == REGION
        assert record["receiptHandle"]
        assert record["md5OfBody"]
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
        assert "SentTimestamp" in record["attributes"]
    tagged = next(r for r in records if r["body"] == "com atributos")
    assert tagged["messageAttributes"]["Tipo"]["stringValue"] == "aviso"
    assert tagged["messageAttributes"]["Tipo"]["dataType"] == "String"
    context = seen[0]["context"]
    assert context.function_name == f"teste-{local.stage}-{MAIL_QUEUE.handler}"
    assert context.get_remaining_time_in_millis() > 0
    assert local.counts(local.mail_queue_url) == (0, 0)


@pytest.mark.parametrize("behaviour", ["raise", "unknown-id"])
def test_a_handler_that_raises_or_answers_nonsense_keeps_the_whole_batch(local: Env, behaviour: str) -> None:
    app, _ = capturing_app(behaviour)
    for n in range(2):
        local.send(f"mensagem {n}")

    result = local.worker(app).poll(local.source(), wait_seconds=1)

    assert (result.received, result.deleted, result.failed) == (2, 0, 2)
    assert (result.error is not None) == (behaviour == "raise")
    assert local.counts(local.mail_queue_url) == (0, 2)


def test_worker_refuses_a_queue_whose_handler_the_app_lacks(local: Env) -> None:
    with pytest.raises(LookupError, match=MAIL_QUEUE.handler):
        local.worker(Chalice(app_name="vazio"))


def test_worker_threads_deliver_and_stop_on_the_event(local: Env) -> None:
    address = f"{local.stage}-t@inss.example.gov.br"
    stop = threading.Event()
    threads = local.worker().start(stop)
    try:
        local.send(mail_to(address, "Pela thread"))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not sent_to(local.endpoint, {address}):
            time.sleep(0.2)
        assert [m.subject for m in sent_to(local.endpoint, {address})] == ["Pela thread"]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    assert not any(thread.is_alive() for thread in threads)


def test_failed_ids_follows_lambda_rules() -> None:
    batch = {"a", "b", "c"}
    assert failed_ids(None, batch) == set()
    assert failed_ids({"batchItemFailures": []}, batch) == set()
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, batch) == {"b"}
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, batch) == batch
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "z"}]}, batch) == batch


def test_schedules_fire_on_rate_and_cron() -> None:
    rate = Schedule.parse("limpeza", "rate(5 minutes)")
    first = rate.next_run
    assert first is not None
    assert not rate.due(first - timedelta(seconds=1))
    assert rate.due(first)
    assert not rate.due(first + timedelta(seconds=1))
    assert rate.next_run == first + timedelta(minutes=5)

    weekdays_at_nine = Schedule.parse("relatorio", "cron(0 9 ? * MON-FRI *)")
    monday_nine = datetime(2026, 3, 9, 9, 0, 10, tzinfo=UTC)
    assert weekdays_at_nine.due(monday_nine)
    assert not weekdays_at_nine.due(monday_nine.replace(second=40))  # once per minute
    assert not weekdays_at_nine.due(datetime(2026, 3, 8, 9, 0, tzinfo=UTC))  # Sunday
    assert not weekdays_at_nine.due(datetime(2026, 3, 10, 9, 1, tzinfo=UTC))
    every_quarter = Schedule.parse("q", "cron(0/15 * * * ? *)")
    assert every_quarter.due(datetime(2026, 3, 10, 14, 45, tzinfo=UTC))
    assert not every_quarter.due(datetime(2026, 3, 10, 14, 50, tzinfo=UTC))


def test_scheduled_handlers_of_the_app_run_through_the_worker(local: Env) -> None:
    app = Chalice(app_name="teste")
    app.on_sqs_message(queue="qualquer", name=MAIL_QUEUE.handler)(lambda event: None)
    runs: list[dict[str, Any]] = []

    @app.schedule("rate(1 hour)")
    def hourly(event: Any) -> None:
        runs.append(event.to_dict())

    worker = local.worker(app)
    assert [s.name for s in worker.schedules] == ["hourly"]
    worker.run_schedule("hourly")
    assert runs[0]["detail-type"] == "Scheduled Event"
    assert runs[0]["resources"][0].endswith(":rule/hourly")
    assert json.dumps(runs[0])  # serialisable like the real event


def test_every_stream_consumer_of_stack_is_bridged_for_the_real_app(local: Env) -> None:
    worker = local.worker()
    assert [s.handler for s in worker.streams] == [t.stream_handler for t in STACK.stream_consumers]
    assert [s.table_name for s in worker.streams] == [
        STACK.name(local.stage, t.suffix) for t in STACK.stream_consumers
    ]
    assert not any("will not run locally" in line for line in local.log)
