"""The local worker's DynamoDB stream bridge against real streams (a moto server: in-process
`mock_aws` has no DescribeStream): Lambda-shaped records, checkpoints, partial batch failures,
retries, bisection and the on-failure queue, with a test-only table and a test-only Chalice app."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from chalice.app import Chalice

from infra.local.resources import client, create_resources
from infra.local.worker import (
    FAILURE_CONDITION,
    StreamConsumer,
    StreamSource,
    Worker,
    records_done,
)
from infra.resources import STACK, Stack, Table

REGION = "sa-east-1"
HANDLER = "record_events"
# What an app declares (the decorator needs an ARN): nominal, the template points it at the table.
NOMINAL_STREAM_ARN = "arn:aws:dynamodb:sa-east-1:000000000000:table/pen-feitos/stream/nominal"
TABLE = Table(
    "FeitosTable",
    "feitos",
    "PEN_TEST_TABLE_FEITOS",
    hash_key="id",
    stream=True,
    stream_handler=HANDLER,
    stream_batch_size=10,
    stream_max_retries=2,
    stream_bisect_on_error=False,
)


# --- a test-only app: records what it gets, fails as told ------------------------------------------


@dataclass
class Recorder:
    """The handler's memory: every batch it got, and which item ids make it fail."""

    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)
    report: set[str] = field(default_factory=set)  # ids answered in batchItemFailures
    poison: set[str] = field(default_factory=set)  # ids that make the handler raise
    done: list[set[str]] = field(default_factory=list)  # per batch: sequence numbers answered as done

    def app(self) -> Chalice:
        app = Chalice(app_name="teste")

        @app.on_dynamodb_record(stream_arn=NOMINAL_STREAM_ARN, name=HANDLER)
        def record_events(event: Any) -> dict[str, Any]:
            records = event.to_dict()["Records"]
            self.batches.append(records)
            self.contexts.append(event.context)
            for record in event:  # Chalice's own parsing of each record must accept the shape
                assert record.sequence_number
                assert record.timestamp
                assert record.table_name
            ids = [item_id(r) for r in records]
            if self.poison & set(ids):
                raise RuntimeError(f"veneno em {sorted(self.poison & set(ids))}")
            failed = [r["dynamodb"]["SequenceNumber"] for r in records if item_id(r) in self.report]
            first = next((n for n, r in enumerate(records) if item_id(r) in self.report), len(records))
            self.done.append({r["dynamodb"]["SequenceNumber"] for r in records[:first]})
            return {"batchItemFailures": [{"itemIdentifier": number} for number in failed]}

        return app

    def ids(self, batch: int) -> list[str]:
        return [item_id(r) for r in self.batches[batch]]


def item_id(record: dict[str, Any]) -> str:
    return str(record["dynamodb"]["Keys"]["id"]["S"])


# --- resources of a stage of their own on the session's moto server --------------------------------

CLIENTS: dict[tuple[str, str], Any] = {}


@dataclass
class Bridge:
    endpoint: str
    stage: str
    stack: Stack
    env: dict[str, str]
    log: list[str]

    @property
    def table(self) -> Table:
        return self.stack.tables[0]

    @property
    def table_name(self) -> str:
        return self.stack.name(self.stage, self.table.suffix)

    def client(self, service: str) -> Any:
        key = (service, self.endpoint)
        if key not in CLIENTS:  # clients are thread-safe, and each costs a botocore session
            CLIENTS[key] = client(service, self.endpoint, REGION)
        return CLIENTS[key]

    def worker(self, app: Chalice) -> Worker:
        return Worker.for_stack(
            app,
            self.client("sqs"),
            self.env,
            stage=self.stage,
            region=REGION,
            log=self.log.append,
            stack=self.stack,
            dynamodb=self.client("dynamodb"),
            dynamodb_streams=self.client("dynamodbstreams"),
        )

    def put(self, *ids: str) -> None:
        dynamodb = self.client("dynamodb")
        for item in ids:
            dynamodb.put_item(TableName=self.table_name, Item={"id": {"S": item}, "n": {"N": "1"}})

    def stream_arn(self) -> str:
        return str(
            self.client("dynamodb").describe_table(TableName=self.table_name)["Table"]["LatestStreamArn"]
        )

    def failures(self) -> list[dict[str, Any]]:
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=self.stack.stream_dlq_name(self.stage, self.table))["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        return [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def bridge(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Bridge]:
    """Makes the test-only stack (one streamed table, given changes to TABLE) on a fresh stage."""

    def make(**changes: Any) -> Bridge:
        stage = f"s{uuid.uuid4().hex[:10]}"
        for name, value in STACK.environment(stage).items():  # the mail setup reads the settings
            monkeypatch.setenv(name, value)
        stack = Stack(tables=(dataclasses.replace(TABLE, **changes),), queues=())
        env = create_resources(moto_endpoint, stage, REGION, stack)
        return Bridge(moto_endpoint, stage, stack, env, [])

    return make


# --- delivery -----------------------------------------------------------------------------------------


def test_one_poll_delivers_lambda_shaped_records_of_every_kind(bridge: Callable[..., Bridge]) -> None:
    local = bridge()
    dynamodb = local.client("dynamodb")
    name = local.table_name
    dynamodb.put_item(
        TableName=name,
        Item={
            "id": {"S": "a"},
            "blob": {"B": b"\x00\xff"},
            "m": {"M": {"bs": {"BS": [b"x"]}, "n": {"N": "7"}}},
        },
    )
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": {"id": {"S": "b"}, "nup": {"S": "00001.000001/2026-11"}}}},
            {"Put": {"TableName": name, "Item": {"id": {"S": "c"}}}},
        ]
    )
    dynamodb.update_item(
        TableName=name,
        Key={"id": {"S": "a"}},
        UpdateExpression="SET estado = :e",
        ExpressionAttributeValues={":e": {"S": "tramitando"}},
    )
    dynamodb.delete_item(TableName=name, Key={"id": {"S": "c"}})
    recorder = Recorder()
    worker = local.worker(recorder.app())  # after the writes: TRIM_HORIZON skips none of them

    result = worker.poll_stream(worker.streams[0])

    assert (result.invocations, result.delivered, result.done, result.retried, result.error) == (
        1,
        5,
        5,
        0,
        None,
    )
    (records,) = recorder.batches
    assert [(r["eventName"], item_id(r)) for r in records] == [
        ("INSERT", "a"),
        ("INSERT", "b"),  # the transaction's two puts: two records, in order
        ("INSERT", "c"),
        ("MODIFY", "a"),
        ("REMOVE", "c"),
    ]
    arn = local.stream_arn()
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert numbers == sorted(set(numbers))
    assert len({r["eventID"] for r in records}) == 5
    for record in records:
        assert record["eventSource"] == "aws:dynamodb"
        assert record["eventSourceARN"] == arn
        assert record["awsRegion"] == REGION
        assert record["eventVersion"]
        stream = record["dynamodb"]
        assert stream["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert isinstance(stream["SizeBytes"], int)
        assert stream["SizeBytes"] > 0
        assert isinstance(stream["ApproximateCreationDateTime"], int)
        assert abs(stream["ApproximateCreationDateTime"] - time.time()) < 300
    inserted, transacted, _, modified, removed = records
    assert transacted["dynamodb"]["NewImage"] == {"id": {"S": "b"}, "nup": {"S": "00001.000001/2026-11"}}
    assert "OldImage" not in transacted["dynamodb"]
    assert inserted["dynamodb"]["NewImage"]["blob"] == {"B": "AP8="}  # binary as base64, as Lambda sends it
    assert inserted["dynamodb"]["NewImage"]["m"]["M"]["bs"] == {"BS": ["eA=="]}
    assert modified["dynamodb"]["OldImage"]["id"] == {"S": "a"}
    assert modified["dynamodb"]["NewImage"]["estado"] == {"S": "tramitando"}
    assert removed["dynamodb"]["Keys"] == {"id": {"S": "c"}}
    assert "NewImage" not in removed["dynamodb"]
    assert removed["dynamodb"]["OldImage"] == {"id": {"S": "c"}}
    assert json.loads(json.dumps(records)) == records  # plain JSON, like the real event
    assert recorder.contexts[0].function_name == f"teste-{local.stage}-{HANDLER}"

    assert worker.poll_stream(worker.streams[0]).invocations == 0  # done records never come back
    local.put("d")
    worker.poll_stream(worker.streams[0])
    assert recorder.ids(1) == ["d"]


def test_a_partial_failure_redelivers_from_the_failed_record_and_not_before(
    bridge: Callable[..., Bridge],
) -> None:
    local = bridge()
    recorder = Recorder(report={"i2"})
    worker = local.worker(recorder.app())
    local.put("i0", "i1", "i2", "i3", "i4")

    first = worker.poll_stream(worker.streams[0])
    assert (first.delivered, first.done, first.retried) == (5, 2, 3)
    recorder.report.clear()
    second = worker.poll_stream(worker.streams[0])

    assert recorder.ids(1) == ["i2", "i3", "i4"]  # from the failed record; i0 and i1 are never redelivered
    assert (second.delivered, second.done, second.retried) == (3, 3, 0)
    assert worker.poll_stream(worker.streams[0]).invocations == 0
    assert any("retrying from sequence number" in line for line in local.log)


def test_powertools_batch_processor_reports_what_the_bridge_understands(
    bridge: Callable[..., Bridge],
) -> None:
    """The handler the app will have: Powertools' processor for DynamoDB streams on the bridge's events."""
    local = bridge()
    handled: list[str] = []
    app = Chalice(app_name="teste")

    def handle(record: DynamoDBRecord) -> None:
        assert record.dynamodb is not None
        assert record.dynamodb.new_image is not None
        identifier = str(record.dynamodb.new_image["id"])
        handled.append(identifier)
        if identifier == "ruim" and handled.count("ruim") == 1:
            raise ValueError("falha passageira")

    @app.on_dynamodb_record(stream_arn=NOMINAL_STREAM_ARN, name=HANDLER)
    def record_events(event: Any) -> dict[str, Any]:
        processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
        return dict(
            process_partial_response(
                event=event.to_dict(), record_handler=handle, processor=processor, context=event.context
            )
        )

    worker = local.worker(app)
    local.put("bom", "ruim", "outro")
    worker.poll_stream(worker.streams[0])
    worker.poll_stream(worker.streams[0])

    assert handled == ["bom", "ruim", "outro", "ruim", "outro"]
    assert worker.poll_stream(worker.streams[0]).invocations == 0


def test_a_raising_handler_gets_the_whole_batch_again(bridge: Callable[..., Bridge]) -> None:
    local = bridge()
    recorder = Recorder(poison={"x"})
    worker = local.worker(recorder.app())
    local.put("a", "x", "b")

    failed = worker.poll_stream(worker.streams[0])
    recorder.poison.clear()
    worker.poll_stream(worker.streams[0])

    assert failed.error is not None
    assert "veneno" in failed.error
    assert (failed.done, failed.retried) == (0, 3)
    assert recorder.batches[1] == recorder.batches[0]  # the same records, same sequence numbers
    assert any("RuntimeError" in line for line in local.log)


def test_after_max_retries_the_batch_goes_to_the_on_failure_queue(bridge: Callable[..., Bridge]) -> None:
    local = bridge(stream_max_retries=2)
    recorder = Recorder(report={"x"})
    worker = local.worker(recorder.app())
    local.put("a", "x")

    results = [worker.poll_stream(worker.streams[0]) for _ in range(4)]

    # First attempt and two retries; the fourth poll has nothing left to deliver.
    assert [recorder.ids(n) for n in range(len(recorder.batches))] == [["a", "x"], ["x"], ["x"]]
    assert [r.discarded for r in results] == [0, 0, 1, 0]
    (message,) = local.failures()
    info = message["DDBStreamBatchInfo"]
    x_number = recorder.batches[1][0]["dynamodb"]["SequenceNumber"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        x_number,
        x_number,
        1,
    )
    assert info["streamArn"] == local.stream_arn()
    assert info["shardId"].startswith("shardId-")
    datetime.strptime(info["approximateArrivalOfFirstRecord"], "%Y-%m-%dT%H:%M:%SZ")
    assert message["requestContext"]["condition"] == FAILURE_CONDITION
    assert message["requestContext"]["approximateInvokeCount"] == 3
    assert message["requestContext"]["functionArn"].endswith(f":function:teste-{local.stage}-{HANDLER}")
    assert any("DISCARDED" in line and '"x"' in line for line in local.log)

    local.put("depois")  # the shard moves on
    worker.poll_stream(worker.streams[0])
    assert recorder.ids(3) == ["depois"]


def test_bisection_isolates_the_failing_record(bridge: Callable[..., Bridge]) -> None:
    local = bridge(stream_bisect_on_error=True, stream_max_retries=1)
    recorder = Recorder(poison={"p3"})
    worker = local.worker(recorder.app())
    local.put("p0", "p1", "p2", "p3", "p4")

    for _ in range(7):
        worker.poll_stream(worker.streams[0])

    assert [recorder.ids(n) for n in range(len(recorder.batches))] == [
        ["p0", "p1", "p2", "p3", "p4"],  # raises: split in two (not a retry)
        ["p0", "p1", "p2"],  # done
        ["p3", "p4"],  # raises: split again
        ["p3"],  # first attempt of the record alone
        ["p3"],  # its one retry: then discarded
        ["p4"],
    ]
    (message,) = local.failures()
    assert message["DDBStreamBatchInfo"]["batchSize"] == 1
    assert message["responseContext"]["functionError"] == "Unhandled"
    assert message["requestContext"]["approximateInvokeCount"] == 2


def test_no_record_is_delivered_again_once_done(bridge: Callable[..., Bridge]) -> None:
    local = bridge(stream_batch_size=4)
    recorder = Recorder(report={"k05"})
    worker = local.worker(recorder.app())
    written = [f"k{n:02}" for n in range(12)]
    local.put(*written[:6])
    for _ in range(2):
        worker.poll_stream(worker.streams[0])
    recorder.report.clear()
    local.put(*written[6:])
    for _ in range(6):
        worker.poll_stream(worker.streams[0])

    done_before: set[str] = set()
    done_in_order: list[str] = []
    for batch, done in zip(recorder.batches, recorder.done, strict=True):
        numbers = {r["dynamodb"]["SequenceNumber"] for r in batch}
        assert not numbers & done_before, "a record came back after it was done"
        done_before |= done
        done_in_order += [item_id(r) for r in batch if r["dynamodb"]["SequenceNumber"] in done]
    assert done_in_order == written  # each record done once, in the order written
    assert [len(b) for b in recorder.batches] == [4, 2, 4, 3]  # k05 failed once: it opens the third batch


# --- the worker's wiring ----------------------------------------------------------------------------


def test_the_worker_checks_stream_handlers_at_start_up(bridge: Callable[..., Bridge]) -> None:
    local = bridge()
    with pytest.raises(LookupError, match=HANDLER):
        local.worker(Chalice(app_name="vazio"))
    wrong_kind = Chalice(app_name="errado")
    wrong_kind.on_sqs_message(queue="fila", name=HANDLER)(lambda event: None)
    with pytest.raises(LookupError, match="on_dynamodb_record"):
        local.worker(wrong_kind)

    app = Recorder().app()
    app.on_dynamodb_record(stream_arn=NOMINAL_STREAM_ARN, name="orphan")(lambda event: None)
    worker = local.worker(app)
    assert any("orphan" in line and "Table.stream_handler" in line for line in local.log)
    assert not any(HANDLER in line for line in local.log)
    (line,) = worker.describe()
    assert line.startswith(f"{HANDLER} ← stream of {local.table_name}")
    assert "TRIM_HORIZON" in line
    assert local.stack.stream_dlq_name(local.stage, local.table) in line


def test_the_worker_thread_delivers_and_stops(bridge: Callable[..., Bridge]) -> None:
    local = bridge()
    recorder = Recorder()
    stop = threading.Event()
    threads = local.worker(recorder.app()).start(stop)
    try:
        local.put("pela-thread")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not recorder.batches:
            time.sleep(0.05)
        assert recorder.ids(0) == ["pela-thread"]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    assert not any(thread.is_alive() for thread in threads)


def test_a_recreated_table_is_read_from_its_new_stream(bridge: Callable[..., Bridge]) -> None:
    local = bridge()
    recorder = Recorder()
    worker = local.worker(recorder.app())
    local.put("velho")
    worker.poll_stream(worker.streams[0])
    old_arn = local.stream_arn()
    dynamodb = local.client("dynamodb")
    dynamodb.delete_table(TableName=local.table_name)
    time.sleep(0.01)  # the stream's label is a timestamp
    create_resources(local.endpoint, local.stage, REGION, local.stack)
    assert local.stream_arn() != old_arn
    local.put("novo")

    worker.poll_stream(worker.streams[0])

    assert [recorder.ids(n) for n in range(len(recorder.batches))] == [["velho"], ["novo"]]
    assert recorder.batches[1][0]["eventSourceARN"] == local.stream_arn()
    assert any("changed" in line for line in local.log)


# --- shards that split (moto never splits one: a fake stream) ---------------------------------------


class SplitStream:
    """DescribeTable/DescribeStream/GetShardIterator/GetRecords over a parent shard and its child,
    the child showing up only after the parent was read once."""

    ARN = "arn:aws:dynamodb:sa-east-1:123456789012:table/pen-t-feitos/stream/2026-01-01T00:00:00.000"

    def __init__(self) -> None:
        self.records = {"pai": [self._record("p", 1), self._record("q", 2)], "filho": [self._record("f", 3)]}
        self.closed = {"pai": True, "filho": False}
        self.child_visible = False
        self.reads: list[str] = []

    @staticmethod
    def _record(key: str, number: int) -> dict[str, Any]:
        return {
            "eventID": key,
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": {
                "ApproximateCreationDateTime": datetime(2026, 1, 1),
                "Keys": {"id": {"S": key}},
                "NewImage": {"id": {"S": key}},
                "SequenceNumber": str(number),
                "SizeBytes": 10,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
        }

    # boto3's keyword arguments, taken as **request

    def describe_table(self, **request: Any) -> dict[str, Any]:
        return {"Table": {"LatestStreamArn": self.ARN}}

    def describe_stream(self, **request: Any) -> dict[str, Any]:
        shards = [{"ShardId": "pai"}]
        if self.child_visible:
            shards.append({"ShardId": "filho", "ParentShardId": "pai"})
        self.child_visible = True
        return {"StreamDescription": {"Shards": shards}}

    def get_shard_iterator(self, **request: Any) -> dict[str, Any]:
        return {"ShardIterator": f"{request['ShardId']}|0"}

    def get_records(self, **request: Any) -> dict[str, Any]:
        shard, position = str(request["ShardIterator"]).split("|")
        self.reads.append(shard)
        start = int(position)
        records = self.records[shard][start : start + int(request["Limit"])]
        end = start + len(records)
        closed = self.closed[shard] and end == len(self.records[shard])
        return {"Records": records} | ({} if closed else {"NextShardIterator": f"{shard}|{end}"})


def test_a_child_shard_waits_for_its_parent_and_new_shards_are_picked_up() -> None:
    fake = SplitStream()
    batches: list[list[str]] = []
    poison = {"q"}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        keys = [r["dynamodb"]["Keys"]["id"]["S"] for r in event["Records"]]
        batches.append(keys)
        if poison & set(keys):
            raise RuntimeError("falhou")
        return {}

    table = dataclasses.replace(TABLE, stream_batch_size=1)
    consumer = StreamConsumer(
        StreamSource(table, "pen-t-feitos", "http://fila/dlq"),
        handler,
        function_name="f",
        dynamodb=fake,
        streams=fake,
        sqs=None,
        region=REGION,
        log=lambda line: None,
    )
    consumer.poll()  # only the parent exists: p
    assert set(consumer.shards) == {"pai"}
    consumer.poll()  # the child appeared, but the parent still has q, which fails
    consumer.poll()
    assert "filho" in consumer.shards
    assert "filho" not in fake.reads
    poison.clear()
    consumer.poll()  # q done: the parent is finished
    consumer.poll()  # now the child
    assert batches == [["p"], ["q"], ["q"], ["q"], ["f"]]


# --- rules without a server -----------------------------------------------------------------------------


def test_records_done_follows_lambda_rules_for_streams() -> None:
    batch = ["10", "20", "30"]
    assert records_done(None, batch) == 3
    assert records_done({}, batch) == 3
    assert records_done({"batchItemFailures": []}, batch) == 3
    assert records_done({"batchItemFailures": [{"itemIdentifier": "20"}]}, batch) == 1
    assert (
        records_done({"batchItemFailures": [{"itemIdentifier": "30"}, {"itemIdentifier": "10"}]}, batch) == 0
    )
    assert records_done({"batchItemFailures": [{"itemIdentifier": ""}]}, batch) is None
    assert records_done({"batchItemFailures": [{"itemIdentifier": None}]}, batch) is None
    assert records_done({"batchItemFailures": [{"id": "20"}]}, batch) is None
    assert records_done({"batchItemFailures": [{"itemIdentifier": "99"}]}, batch) is None


def test_a_stream_handler_needs_a_stream_and_a_function_consumes_one_stream() -> None:
    with pytest.raises(ValueError, match="stream must be True"):
        dataclasses.replace(TABLE, stream=False)
    with pytest.raises(ValueError, match="stream_starting_position"):
        dataclasses.replace(TABLE, stream_starting_position="AT_TIMESTAMP")
    with pytest.raises(ValueError, match="stream_max_retries"):
        dataclasses.replace(TABLE, stream_max_retries=-2)
    with pytest.raises(ValueError, match=HANDLER):
        Stack(tables=(TABLE, dataclasses.replace(TABLE, logical_id="Outra", suffix="outra")), queues=())
    assert dataclasses.replace(TABLE, stream_handler=None, stream=False).stream_handler is None
