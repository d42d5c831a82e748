"""Lambda's event sources, played locally against the app's own handler functions.

`chalice local` serves only the HTTP routes. The worker does what Lambda's pollers do in the cloud:

* every queue of STACK is long-polled; each batch becomes a Lambda-shaped SQS event passed to the
  Chalice handler the queue names (`Queue.handler`). Messages the handler reports in
  `batchItemFailures` stay on the queue (they come back after the visibility timeout, and SQS moves
  them to the dead-letter queue after `maxReceiveCount` receives); the others are deleted. If the
  handler raises, nothing is deleted: the whole batch is retried, as Lambda does.
* every `@app.schedule` handler runs on its rate or cron expression (UTC).

DynamoDB stream consumers (`@app.on_dynamodb_record`) are not bridged yet: STACK does not say which
handler consumes which table's stream (as `Queue.handler` does for queues). The worker names any
such handler at start-up so it is not silently ignored.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalice.app import Chalice, DynamoDBEventConfig, ScheduledEventConfig, SQSEventConfig

from infra.resources import STACK, Queue

MAX_SQS_BATCH = 10  # one ReceiveMessage call; Lambda only batches more with a batching window
DEFAULT_WAIT_SECONDS = 1
LAMBDA_TIMEOUT_MS = 60_000
ACCOUNT = "123456789012"  # moto's default account, so ARNs agree with the queues'
Log = Callable[[str], None]


def console(line: str) -> None:
    print(f"{datetime.now():%H:%M:%S} {line}", flush=True)


class LambdaContext:
    """What the Lambda runtime passes as `context`: enough for Powertools and Chalice."""

    def __init__(self, function_name: str, region: str, timeout_ms: int = LAMBDA_TIMEOUT_MS) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class QueueSource:
    """A STACK queue bound to its local URL and ARN."""

    queue: Queue
    url: str
    arn: str

    @property
    def batch_size(self) -> int:
        return max(1, min(self.queue.batch_size, MAX_SQS_BATCH))


@dataclass(frozen=True)
class PollResult:
    received: int = 0
    deleted: int = 0
    failed: int = 0  # left on the queue for a retry
    error: str | None = None  # the handler raised: the whole batch stays


def sqs_record(message: dict[str, Any], source: QueueSource, region: str) -> dict[str, Any]:
    """One SQS message in the shape Lambda gives it to a function."""
    attributes = {k: str(v) for k, v in (message.get("Attributes") or {}).items()}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": source.arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    def b64(data: Any) -> str:
        return base64.b64encode(data if isinstance(data, bytes) else str(data).encode()).decode()

    out: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues") or []),
        "binaryListValues": [b64(v) for v in value.get("BinaryListValues") or []],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = b64(value["BinaryValue"])
    return out


def failed_ids(result: Any, batch_ids: set[str]) -> set[str]:
    """The messages Lambda would keep, from the handler's answer (ReportBatchItemFailures).

    No answer or an empty list: all succeeded. An item Lambda cannot match to the batch makes it
    treat the whole batch as failed."""
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return set()
    ids: set[str] = set()
    for item in result["batchItemFailures"]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in batch_ids:
            return set(batch_ids)
        ids.add(str(identifier))
    return ids


# --- schedules ------------------------------------------------------------------------------

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_MONTHS = {m: i for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
                                        "NOV", "DEC"), start=1)}  # fmt: skip
_DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}  # 1 = Sunday


class UnsupportedScheduleError(ValueError):
    pass


def _cron_field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int] | None:
    """The values one cron field allows; None for any (`*` or `?`)."""
    if text in {"*", "?"}:
        return None
    values: set[int] = set()
    for part in text.split(","):
        if re.search(r"[LW#]", part):
            raise UnsupportedScheduleError(f"cron feature not supported locally: {part}")
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            first, last = low, high
        else:
            start, _, end = span.partition("-")
            first = _cron_value(start, names)
            last = _cron_value(end, names) if end else (high if step_text else first)
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _cron_value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    return int(text)


@dataclass
class Schedule:
    name: str
    expression: str
    interval: timedelta | None = None  # rate(...)
    fields: tuple[frozenset[int] | None, ...] = ()  # cron(...): minute, hour, day, month, weekday, year
    next_run: datetime | None = None
    last_minute: datetime | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, name: str, expression: Any) -> Schedule:
        text = expression.to_string() if hasattr(expression, "to_string") else str(expression)
        text = text.strip()
        if rate := _RATE.match(text):
            amount, unit = int(rate[1]), rate[2].rstrip("s")
            interval = timedelta(**{f"{unit}s": amount})
            return cls(name, text, interval=interval, next_run=datetime.now(UTC) + interval)
        if cron := _CRON.match(text):
            parts = cron[1].split()
            if len(parts) != 6:
                raise UnsupportedScheduleError(f"a cron expression has 6 fields: {text}")
            minute, hour, day, month, weekday, year = parts
            fields = (
                _cron_field(minute, 0, 59),
                _cron_field(hour, 0, 23),
                _cron_field(day, 1, 31),
                _cron_field(month, 1, 12, _MONTHS),
                _cron_field(weekday, 1, 7, _DAYS),
                _cron_field(year, 1970, 2199),
            )
            return cls(name, text, fields=fields)
        raise UnsupportedScheduleError(f"unknown schedule expression: {text}")

    def due(self, now: datetime) -> bool:
        """True once per period when the schedule should fire at `now` (UTC)."""
        if self.interval is not None:
            assert self.next_run is not None  # noqa: S101
            if now < self.next_run:
                return False
            self.next_run = now + self.interval
            return True
        minute = now.replace(second=0, microsecond=0)
        if minute == self.last_minute:
            return False
        self.last_minute = minute
        weekday = (minute.weekday() + 1) % 7 + 1
        actual = (minute.minute, minute.hour, minute.day, minute.month, weekday, minute.year)
        return all(
            allowed is None or value in allowed for allowed, value in zip(self.fields, actual, strict=True)
        )


def scheduled_event(name: str, region: str, when: datetime) -> dict[str, Any]:
    """What EventBridge sends a function on a schedule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT}:rule/{name}"],
        "detail": {},
    }


# --- the worker -----------------------------------------------------------------------------


class Worker:
    def __init__(
        self,
        app: Chalice,
        sqs: Any,
        sources: list[QueueSource],
        *,
        stage: str,
        region: str,
        wait_seconds: int = DEFAULT_WAIT_SECONDS,
        log: Log = console,
    ) -> None:
        self._app = app
        self._sqs = sqs
        self._stage = stage
        self._region = region
        self._wait = wait_seconds
        self._log = log
        self.sources = sources
        for source in sources:
            self.handler(source.queue.handler)  # fail at start-up, not at the first message
        self.schedules = self._schedules()
        self._warn_unbridged()

    @classmethod
    def for_stack(
        cls, app: Chalice, sqs: Any, env: dict[str, str], *, stage: str, region: str, log: Log = console
    ) -> Worker:
        """A worker for every queue of STACK, with the URLs `create_resources` returned in `env`."""
        sources = []
        for queue in STACK.queues:
            url = env[queue.env]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            sources.append(QueueSource(queue, url, str(arn)))
        return cls(app, sqs, sources, stage=stage, region=region, log=log)

    def handler(self, name: str) -> Callable[[dict[str, Any], Any], Any]:
        try:
            found: Callable[[dict[str, Any], Any], Any] = self._app.handler_map[name]
        except KeyError:
            known = ", ".join(sorted(self._app.handler_map))
            raise LookupError(f"the app has no handler named {name!r} (it has: {known})") from None
        return found

    def function_name(self, handler: str) -> str:
        """The Lambda function's name as chalice deploys it: <app>-<stage>-<handler>."""
        return f"{self._app.app_name}-{self._stage}-{handler}"

    # SQS

    def poll(self, source: QueueSource, wait_seconds: int | None = None) -> PollResult:
        """One receive → invoke → delete cycle, as Lambda's SQS poller does it."""
        received = self._sqs.receive_message(
            QueueUrl=source.url,
            MaxNumberOfMessages=source.batch_size,
            WaitTimeSeconds=self._wait if wait_seconds is None else wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = received.get("Messages") or []
        if not messages:
            return PollResult()
        records = [sqs_record(m, source, self._region) for m in messages]
        handles = {r["messageId"]: r["receiptHandle"] for r in records}
        name = source.queue.handler
        try:
            result = self.handler(name)(
                {"Records": records}, LambdaContext(self.function_name(name), self._region)
            )
        except Exception as error:
            self._log(
                f"worker {name}: the handler raised {type(error).__name__}: {error}; all {len(records)} "
                f"message(s) return after {source.queue.visibility_timeout} s"
            )
            self._log(traceback.format_exc().rstrip())
            return PollResult(received=len(records), failed=len(records), error=repr(error))
        failed = failed_ids(result, set(handles))
        done = [(i, handle) for i, handle in handles.items() if i not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=source.url,
                Entries=[{"Id": str(n), "ReceiptHandle": handle} for n, (_, handle) in enumerate(done)],
            )
        line = f"worker {name}: {len(records)} message(s), {len(done)} done"
        if failed:
            line += (
                f", {len(failed)} failed (back after {source.queue.visibility_timeout} s; "
                f"to the DLQ after {source.queue.max_receive_count} receives)"
            )
        self._log(line)
        return PollResult(received=len(records), deleted=len(done), failed=len(failed))

    def _poll_forever(self, source: QueueSource, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll(source)
            except Exception as error:
                if stop.is_set():
                    return
                self._log(f"worker {source.queue.handler}: polling failed: {error}")
                stop.wait(1)

    # Schedules

    def _schedules(self) -> list[Schedule]:
        schedules = []
        for config in self._app.event_sources:
            if isinstance(config, ScheduledEventConfig):
                try:
                    schedules.append(Schedule.parse(config.name, config.schedule_expression))
                except (UnsupportedScheduleError, ValueError) as error:
                    self._log(f"worker: schedule {config.name} will not run locally ({error}); "
                              "run it by hand with Worker.run_schedule")  # fmt: skip
        return schedules

    def run_schedule(self, name: str, when: datetime | None = None) -> Any:
        """Invokes a scheduled handler now: the hook for schedules too odd to run on their own."""
        when = when or datetime.now(UTC)
        result = self.handler(name)(scheduled_event(name, self._region, when), LambdaContext(
            self.function_name(name), self._region))  # fmt: skip
        self._log(f"worker {name}: scheduled run done")
        return result

    def _schedule_forever(self, stop: threading.Event) -> None:
        while not stop.wait(1):
            now = datetime.now(UTC)
            for schedule in self.schedules:
                if schedule.due(now):
                    try:
                        self.run_schedule(schedule.name, now)
                    except Exception as error:
                        self._log(f"worker {schedule.name}: scheduled run failed: {error!r}")
                        self._log(traceback.format_exc().rstrip())

    def _warn_unbridged(self) -> None:
        fed = {source.queue.handler for source in self.sources}
        for config in self._app.event_sources:
            if isinstance(config, SQSEventConfig) and config.name not in fed:
                self._log(
                    f"worker: SQS handler {config.name} consumes no queue of STACK: it will not run locally"
                )
            elif isinstance(config, DynamoDBEventConfig):
                self._log(
                    f"worker: stream handler {config.name} is not bridged locally (see infra/local/worker.py)"
                )

    # Threads

    def start(self, stop: threading.Event) -> list[threading.Thread]:
        threads = [
            threading.Thread(
                target=self._poll_forever,
                args=(source, stop),
                name=f"worker-{source.queue.handler}",
                daemon=True,
            )
            for source in self.sources
        ]
        if self.schedules:
            threads.append(
                threading.Thread(
                    target=self._schedule_forever, args=(stop,), name="worker-schedules", daemon=True
                )
            )
        for thread in threads:
            thread.start()
        return threads

    def describe(self) -> list[str]:
        lines = [
            f"{source.queue.handler} ← SQS {source.url.rsplit('/', 1)[-1]} (batch {source.batch_size})"
            for source in self.sources
        ]
        lines += [f"{s.name} ← {s.expression} (UTC)" for s in self.schedules]
        return lines
