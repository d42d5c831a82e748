"""Lambda's event sources, played locally against the app's own handler functions.

`chalice local` serves only the HTTP routes. The worker does what Lambda's pollers do in the cloud:

* every queue of STACK is long-polled; each batch becomes a Lambda-shaped SQS event passed to the
  Chalice handler the queue names (`Queue.handler`). Messages the handler reports in
  `batchItemFailures` stay on the queue (they come back after the visibility timeout, and SQS moves
  them to the dead-letter queue after `maxReceiveCount` receives); the others are deleted. If the
  handler raises, nothing is deleted: the whole batch is retried, as Lambda does.
* every `@app.schedule` handler runs on its rate or cron expression (UTC).
* every table of STACK with a `stream_handler` has its DynamoDB stream read on the moto server;
  each batch becomes a Lambda-shaped DynamoDB stream event passed to that `@app.on_dynamodb_record`
  handler, with the semantics of the mapping the template configures (ReportBatchItemFailures,
  retries, bisection, the on-failure queue): see StreamConsumer.

Handlers of the app that no resource feeds (an SQS handler no queue names, a stream handler no
table names) are named at start-up so they are not silently ignored.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from chalice.app import Chalice, DynamoDBEventConfig, ScheduledEventConfig, SQSEventConfig

from infra.local import audit
from infra.local.resources import client
from infra.resources import STACK, Queue, Stack, Table

MAX_SQS_BATCH = 10  # one ReceiveMessage call; Lambda only batches more with a batching window
DEFAULT_WAIT_SECONDS = 1
LAMBDA_TIMEOUT_MS = 60_000
ENV_SCHEDULE_SECONDS = "PEN_LOCAL_SCHEDULE_SECONDS"  # read by infra/local/stack.py
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
    def parse(cls, name: str, expression: Any, every: timedelta | None = None) -> Schedule:
        """`every`, when given, replaces a rate's own interval (the local stack's
        PEN_LOCAL_SCHEDULE_SECONDS: see the auto-cancel run without waiting a quarter of an hour)."""
        text = expression.to_string() if hasattr(expression, "to_string") else str(expression)
        text = text.strip()
        if rate := _RATE.match(text):
            amount, unit = int(rate[1]), rate[2].rstrip("s")
            interval = every or timedelta(**{f"{unit}s": amount})
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


# --- DynamoDB streams -----------------------------------------------------------------------


STREAM_IDLE_SECONDS = 0.25  # Lambda polls each shard about four times a second
# ...but moto keeps every shard iterator it hands out (each GetRecords makes one, for good, and
# /moto-api/data.json lists them all): an idle stream is polled less and less often, down to this,
# and back to the fast pace as soon as a batch comes.
STREAM_IDLE_MAX_SECONDS = 2.0
STREAM_RETRY_SECONDS = 1.0  # pause before retrying a failed batch, so a failing handler does not spin
FAILURE_CONDITION = "RetryAttemptsExhausted"


@dataclass(frozen=True)
class StreamSource:
    """A STACK table whose stream a handler consumes (`Table.stream_handler`), bound to its local
    table name and its on-failure queue (`Stack.stream_dlq_name`)."""

    table: Table
    table_name: str
    failure_queue_url: str

    @property
    def handler(self) -> str:
        assert self.table.stream_handler is not None  # noqa: S101 (Stack.stream_consumers)
        return self.table.stream_handler


@dataclass(frozen=True)
class StreamPollResult:
    invocations: int = 0
    delivered: int = 0  # records passed to the handler (a record retried counts again)
    done: int = 0  # records checkpointed: never delivered again
    retried: int = 0  # records of failed batches, to be delivered again
    discarded: int = 0  # records that exhausted their retries: sent to the on-failure queue
    error: str | None = None  # the handler raised (the last error of this poll)

    def __add__(self, other: StreamPollResult) -> StreamPollResult:
        return StreamPollResult(
            self.invocations + other.invocations,
            self.delivered + other.delivered,
            self.done + other.done,
            self.retried + other.retried,
            self.discarded + other.discarded,
            other.error or self.error,
        )


@dataclass
class ShardState:
    """Where the bridge stands in one shard; in memory only, like Lambda's own checkpoints."""

    shard_id: str
    parent_id: str | None
    first_iterator: str  # TRIM_HORIZON or LATEST: where reading starts
    iterator: str | None = None  # the next GetRecords position; None before the first read
    ended: bool = False  # GetRecords answered without NextShardIterator: the shard is closed
    buffer: list[dict[str, Any]] = field(default_factory=list)  # read, not yet checkpointed (in order)
    checkpoint: str | None = None  # sequence number of the last record done with
    failures: int = 0  # failed invocations at the current checkpoint (bisections are not retries)
    window: int | None = None  # batch size while a failed batch is being bisected
    bisect_end: int | None = None  # last sequence number of the batch being bisected

    @property
    def finished(self) -> bool:
        return self.ended and not self.buffer


def sequence(record: dict[str, Any]) -> int:
    """A record's sequence number, as a number (DynamoDB's are decimal strings, ordered as numbers)."""
    return int(record["dynamodb"]["SequenceNumber"])


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    """One AttributeValue as Lambda's JSON has it: binary as base64 text, not bytes."""

    def b64(data: Any) -> str:
        return base64.b64encode(data if isinstance(data, bytes) else str(data).encode()).decode()

    out: dict[str, Any] = {}
    for kind, item in value.items():
        if kind == "B":
            out[kind] = b64(item)
        elif kind == "BS":
            out[kind] = [b64(v) for v in item]
        elif kind == "M":
            out[kind] = {name: _attribute(v) for name, v in item.items()}
        elif kind == "L":
            out[kind] = [_attribute(v) for v in item]
        else:
            out[kind] = item
    return out


def stream_record(raw: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """One record of GetRecords in the shape Lambda gives it to a function."""
    source = raw["dynamodb"]
    dynamodb: dict[str, Any] = {}
    created = source.get("ApproximateCreationDateTime")
    if created is not None:
        # Lambda sends epoch seconds (a number); boto3 parsed it into a datetime.
        dynamodb["ApproximateCreationDateTime"] = (
            int(created.timestamp()) if isinstance(created, datetime) else created
        )
    for image in ("Keys", "NewImage", "OldImage"):
        if image in source:
            dynamodb[image] = {name: _attribute(v) for name, v in source[image].items()}
    dynamodb["SequenceNumber"] = source["SequenceNumber"]
    dynamodb["SizeBytes"] = source["SizeBytes"]
    dynamodb["StreamViewType"] = source["StreamViewType"]
    record: dict[str, Any] = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,  # the stream's own field may name another region (moto's does)
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:  # deletions by TTL
        record["userIdentity"] = raw["userIdentity"]
    return record


def records_done(result: Any, sequence_numbers: list[str]) -> int | None:
    """How many leading records of the batch Lambda checkpoints, from the handler's answer
    (ReportBatchItemFailures on a stream): all of them without failures; up to the lowest failed
    sequence number otherwise (Lambda retries from there). None: Lambda treats the whole batch as
    failed (an identifier that is empty, missing or not a record of the batch)."""
    if not isinstance(result, dict) or not result.get("batchItemFailures"):
        return len(sequence_numbers)
    failed: list[int] = []
    for item in result["batchItemFailures"]:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not identifier or identifier not in sequence_numbers:
            return None
        failed.append(sequence_numbers.index(identifier))
    return min(failed)


def failure_message(
    stream_arn: str,
    shard_id: str,
    batch: list[dict[str, Any]],
    *,
    function_arn: str,
    attempts: int,
    raised: bool,
) -> dict[str, Any]:
    """What Lambda sends a stream consumer's on-failure destination: the batch's coordinates in
    the stream (not the records: read them from the stream while it keeps them, 24 h)."""

    def arrival(record: dict[str, Any]) -> str:
        created = record["dynamodb"].get("ApproximateCreationDateTime")
        when = created if isinstance(created, datetime) else datetime.now(UTC)
        return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if raised:
        response["functionError"] = "Unhandled"
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": FAILURE_CONDITION,
            "approximateInvokeCount": attempts,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": arrival(batch[0]),
            "approximateArrivalOfLastRecord": arrival(batch[-1]),
            "batchSize": len(batch),
            "streamArn": stream_arn,
        },
    }


class StreamConsumer:
    """Lambda's DynamoDB event source mapping for one table, played against a moto server.

    Each poll discovers the stream's shards (DescribeTable → LatestStreamArn, DescribeStream), reads
    each ready shard (GetShardIterator, then NextShardIterator) and invokes the handler with at most
    one batch per shard. A child shard waits until its parent is read to the end, so a key's
    records keep their order. Semantics of the mapping (FunctionResponseTypes
    [ReportBatchItemFailures], as the template configures it):

    * success: the batch is checkpointed; its records are never delivered again;
    * `batchItemFailures`: the records before the lowest failed sequence number are checkpointed,
      the next batch starts at that record;
    * the handler raises (or names a record not in the batch): nothing is checkpointed; with
      `stream_bisect_on_error` the batch is split in two and the halves retried (a split is not a
      retry), until the failing record is alone;
    * after `stream_max_retries` retries the last batch is discarded: its coordinates go to the
      on-failure queue (what Lambda sends) and the worker logs it loudly with the records' keys.
    """

    def __init__(
        self,
        source: StreamSource,
        handler: Callable[[dict[str, Any], Any], Any],
        *,
        function_name: str,
        dynamodb: Any,
        streams: Any,
        sqs: Any,
        region: str,
        log: Log,
    ) -> None:
        self.source = source
        self._handler = handler
        self._function_name = function_name
        self._dynamodb = dynamodb
        self._streams = streams
        self._sqs = sqs
        self._region = region
        self._log = log
        self.stream_arn: str | None = None
        self.shards: dict[str, ShardState] = {}

    @property
    def _table(self) -> Table:
        return self.source.table

    def poll(self) -> StreamPollResult:
        self._discover()
        result = StreamPollResult()
        for shard in list(self.shards.values()):
            parent = self.shards.get(shard.parent_id or "")
            if shard.finished or (parent is not None and not parent.finished):
                continue
            result += self._poll_shard(shard)
        return result

    # shards

    def _discover(self) -> None:
        arn = self._dynamodb.describe_table(TableName=self.source.table_name)["Table"].get("LatestStreamArn")
        if not arn:
            raise RuntimeError(
                f"table {self.source.table_name} has no stream (Table.stream in infra/resources.py)"
            )
        starting = self.stream_arn is None  # the mapping starts now: its starting position applies
        if self.stream_arn != arn:
            if not starting:
                self._log(f"worker {self.source.handler}: the stream of {self.source.table_name} changed; "
                          "reading the new one from its start")  # fmt: skip
            self.stream_arn, self.shards = arn, {}
        listed: set[str] = set()
        request: dict[str, Any] = {"StreamArn": arn}
        while True:
            stream = self._streams.describe_stream(**request)["StreamDescription"]
            for shard in stream.get("Shards", []):
                shard_id = shard["ShardId"]
                listed.add(shard_id)
                if shard_id not in self.shards:
                    # The starting position applies to the shards there when the mapping starts;
                    # shards born later are read from their first record, as Lambda does.
                    position = self._table.stream_starting_position if starting else "TRIM_HORIZON"
                    self.shards[shard_id] = ShardState(shard_id, shard.get("ParentShardId"), position)
            last = stream.get("LastEvaluatedShardId")
            if not last:
                break
            request["ExclusiveStartShardId"] = last
        for shard_id in [s for s, state in self.shards.items() if s not in listed and state.finished]:
            del self.shards[shard_id]  # trimmed from the stream after we read it all

    def _iterator(self, shard: ShardState) -> str:
        assert self.stream_arn is not None  # noqa: S101
        request: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard.shard_id}
        after = shard.buffer[-1]["dynamodb"]["SequenceNumber"] if shard.buffer else shard.checkpoint
        if after is not None:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        else:
            request["ShardIteratorType"] = shard.first_iterator
        return str(self._streams.get_shard_iterator(**request)["ShardIterator"])

    def _read(self, shard: ShardState) -> None:
        """Fills the shard's buffer up to a batch from the stream."""
        while not shard.ended and len(shard.buffer) < self._table.stream_batch_size:
            if shard.iterator is None:
                shard.iterator = self._iterator(shard)
            try:
                answer = self._streams.get_records(
                    ShardIterator=shard.iterator, Limit=self._table.stream_batch_size - len(shard.buffer)
                )
            except ClientError as error:
                if error.response["Error"]["Code"] != "ExpiredIteratorException":
                    raise
                shard.iterator = None  # iterators last 15 minutes: take a new one where we stand
                continue
            records: list[dict[str, Any]] = answer.get("Records") or []
            shard.buffer.extend(records)
            shard.iterator = answer.get("NextShardIterator")
            shard.ended = shard.iterator is None
            if not records:
                return

    # one batch

    def _poll_shard(self, shard: ShardState) -> StreamPollResult:
        self._read(shard)
        if not shard.buffer:
            return StreamPollResult()
        size = min(self._table.stream_batch_size, shard.window or self._table.stream_batch_size)
        batch = shard.buffer[:size]
        assert self.stream_arn is not None  # noqa: S101
        records = [stream_record(r, self.stream_arn, self._region) for r in batch]
        numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
        error: Exception | None = None
        try:
            answer = self._handler({"Records": records}, LambdaContext(self._function_name, self._region))
            done = records_done(answer, numbers)
        except Exception as raised:
            error, done = raised, None
        name = self.source.handler
        if done == len(batch):
            self._checkpoint(shard, len(batch))
            self._log(f"worker {name}: {len(batch)} stream record(s) of {shard.shard_id}, all done")
            return StreamPollResult(invocations=1, delivered=len(batch), done=len(batch))
        if error is not None:
            self._log(f"worker {name}: the handler raised {type(error).__name__}: {error}; "
                      f"{len(batch)} stream record(s) will be retried")  # fmt: skip
            self._log("".join(traceback.format_exception(error)).rstrip())
        elif done is None:
            self._log(f"worker {name}: the handler named a record not in the batch: all {len(batch)} failed")
        if done:  # partial: the records before the first failure are done
            self._checkpoint(shard, done)
        failing = batch[done or 0 :]
        bisect = done is None and self._table.stream_bisect_on_error and len(failing) > 1
        if bisect:
            shard.window = (len(failing) + 1) // 2
            shard.bisect_end = max(shard.bisect_end or 0, sequence(failing[-1]))
        else:
            shard.failures += 1
        result = StreamPollResult(
            invocations=1,
            delivered=len(batch),
            done=done or 0,
            retried=len(failing),
            error=None if error is None else repr(error),
        )
        retries = self._table.stream_max_retries
        if retries >= 0 and shard.failures > retries:
            self._discard(shard, failing, raised=error is not None)
            result = dataclasses.replace(result, retried=0, discarded=len(failing))
        elif done is not None and done < len(batch):
            self._log(f"worker {name}: {done} done, retrying from sequence number {numbers[done]} "
                      f"(attempt {shard.failures + 1})")  # fmt: skip
        return result

    def _checkpoint(self, shard: ShardState, count: int) -> None:
        """The first `count` buffered records are done with: they leave the bridge for good."""
        last = shard.buffer[count - 1]
        del shard.buffer[:count]
        shard.checkpoint = last["dynamodb"]["SequenceNumber"]
        shard.failures = 0
        if shard.bisect_end is not None and sequence(last) >= shard.bisect_end:
            shard.window = shard.bisect_end = None

    def _discard(self, shard: ShardState, failing: list[dict[str, Any]], *, raised: bool) -> None:
        assert self.stream_arn is not None  # noqa: S101
        attempts = shard.failures
        message = failure_message(
            self.stream_arn,
            shard.shard_id,
            failing,
            function_arn=LambdaContext(self._function_name, self._region).invoked_function_arn,
            attempts=attempts,
            raised=raised,
        )
        self._sqs.send_message(QueueUrl=self.source.failure_queue_url, MessageBody=json.dumps(message))
        self._checkpoint(shard, shard.buffer.index(failing[-1]) + 1)
        queue = self.source.failure_queue_url.rsplit("/", 1)[-1]
        keys = "; ".join(json.dumps(r["dynamodb"].get("Keys"), default=str) for r in failing)
        self._log(
            f"worker {self.source.handler}: !!! {len(failing)} stream record(s) of {self.source.table_name} "
            f"DISCARDED after {attempts} failed attempt(s) (sequence numbers "
            f"{failing[0]['dynamodb']['SequenceNumber']}..{failing[-1]['dynamodb']['SequenceNumber']}); "
            f"their coordinates are on the on-failure queue {queue}. Keys: {keys}"
        )


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
        streams: list[StreamSource] | None = None,
        dynamodb: Any = None,
        dynamodb_streams: Any = None,
        wait_seconds: int = DEFAULT_WAIT_SECONDS,
        log: Log = console,
        schedule_every: timedelta | None = None,
    ) -> None:
        self._app = app
        self._schedule_every = schedule_every
        self._sqs = sqs
        self._stage = stage
        self._region = region
        self._wait = wait_seconds
        self._log = log
        self.sources = sources
        for source in sources:
            self.handler(source.queue.handler)  # fail at start-up, not at the first message
        self.streams = list(streams or [])
        if self.streams and (dynamodb is None or dynamodb_streams is None):
            raise ValueError("stream sources need the dynamodb and dynamodbstreams clients")
        self._stream_consumers = {
            source.table.logical_id: StreamConsumer(
                source,
                self.stream_handler(source.handler),
                function_name=self.function_name(source.handler),
                dynamodb=dynamodb,
                streams=dynamodb_streams,
                sqs=sqs,
                region=region,
                log=log,
            )
            for source in self.streams
        }
        self.schedules = self._schedules()
        self._warn_unbridged()

    @classmethod
    def for_stack(
        cls,
        app: Chalice,
        sqs: Any,
        env: dict[str, str],
        *,
        stage: str,
        region: str,
        log: Log = console,
        stack: Stack = STACK,
        dynamodb: Any = None,
        dynamodb_streams: Any = None,
        schedule_every: timedelta | None = None,
    ) -> Worker:
        """A worker for every queue and every consumed table stream of the stack (STACK but in
        tests), with the URLs `create_resources` returned in `env`. The DynamoDB clients default to
        ones on the SQS client's endpoint."""
        sources = []
        for queue in stack.queues:
            url = env[queue.env]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            sources.append(QueueSource(queue, url, str(arn)))
        streams = [
            StreamSource(
                table,
                stack.name(stage, table.suffix),
                str(sqs.get_queue_url(QueueName=stack.stream_dlq_name(stage, table))["QueueUrl"]),
            )
            for table in stack.stream_consumers
        ]
        if streams:
            endpoint = str(sqs.meta.endpoint_url)
            dynamodb = dynamodb or client("dynamodb", endpoint, region)
            dynamodb_streams = dynamodb_streams or client("dynamodbstreams", endpoint, region)
        return cls(
            app,
            sqs,
            sources,
            stage=stage,
            region=region,
            streams=streams,
            dynamodb=dynamodb,
            dynamodb_streams=dynamodb_streams,
            log=log,
            schedule_every=schedule_every,
        )

    def handler(self, name: str) -> Callable[[dict[str, Any], Any], Any]:
        try:
            found: Callable[[dict[str, Any], Any], Any] = self._app.handler_map[name]
        except KeyError:
            known = ", ".join(sorted(self._app.handler_map))
            raise LookupError(f"the app has no handler named {name!r} (it has: {known})") from None
        return audit.as_function(name, found)

    def stream_handler(self, name: str) -> Callable[[dict[str, Any], Any], Any]:
        """The handler a table's stream_handler names; it must be an `on_dynamodb_record` one."""
        found = self.handler(name)
        if not any(isinstance(c, DynamoDBEventConfig) and c.name == name for c in self._app.event_sources):
            raise LookupError(f"the app's handler {name!r} is not an @on_dynamodb_record function")
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
                    expression = config.schedule_expression
                    schedules.append(Schedule.parse(config.name, expression, self._schedule_every))
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
        streamed = {source.handler for source in self.streams}
        for config in self._app.event_sources:
            if isinstance(config, SQSEventConfig) and config.name not in fed:
                self._log(
                    f"worker: SQS handler {config.name} consumes no queue of STACK: it will not run locally"
                )
            elif isinstance(config, DynamoDBEventConfig) and config.name not in streamed:
                self._log(
                    f"worker: stream handler {config.name} consumes no table stream of STACK (set "
                    "Table.stream_handler): it will not run locally"
                )

    # DynamoDB streams

    def poll_stream(self, source: StreamSource) -> StreamPollResult:
        """One discover → read → invoke → checkpoint cycle over every shard of the table's stream
        (at most one batch per shard), as Lambda's stream poller does it."""
        return self._stream_consumers[source.table.logical_id].poll()

    def _stream_forever(self, source: StreamSource, stop: threading.Event) -> None:
        idle = STREAM_IDLE_SECONDS
        while not stop.is_set():
            try:
                result = self.poll_stream(source)
            except Exception as error:
                if stop.is_set():
                    return
                self._log(f"worker {source.handler}: reading the stream failed: {error!r}")
                stop.wait(1)
                continue
            if result.invocations:
                idle = STREAM_IDLE_SECONDS
            if result.retried:
                stop.wait(STREAM_RETRY_SECONDS)
            elif not result.invocations:
                stop.wait(idle)
                idle = min(idle * 2, STREAM_IDLE_MAX_SECONDS)

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
        threads += [
            threading.Thread(
                target=self._stream_forever,
                args=(source, stop),
                name=f"worker-{source.handler}",
                daemon=True,
            )
            for source in self.streams
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
        lines += [
            f"{s.handler} ← stream of {s.table_name} (batch {s.table.stream_batch_size}, "
            f"{s.table.stream_starting_position}, "
            + (f"{s.table.stream_max_retries} retries" if s.table.stream_max_retries >= 0 else "retries")
            + f", then {s.failure_queue_url.rsplit('/', 1)[-1]})"
            for s in self.streams
        ]
        lines += [
            f"{s.name} ← every {s.interval.total_seconds():.0f} s ({ENV_SCHEDULE_SECONDS}; {s.expression})"
            if self._schedule_every and s.interval
            else f"{s.name} ← {s.expression} (UTC)"
            for s in self.schedules
        ]
        return lines
