"""Queues and dead-letter queues: depths, a preview of what failed, and moving it back.

Every queue of STACK has a dead-letter queue (`Stack.dlq_name`), and every stream consumer an
on-failure queue (`Stack.stream_dlq_name`). Names are deterministic (`pen-<stage>-...`), so the same
code finds them on the local stack and in AWS. An operator names a DLQ by a short name:

* `<queue>` or `<queue>-dlq` (e.g. `barramento`): the dead-letter queue of that queue; redrive moves
  its messages back to the queue;
* `<table>-stream` (e.g. `tramites-stream`): the on-failure queue of that table's stream consumer.
  Its messages are Lambda's on-failure records (the coordinates of stream records that exhausted
  their retries, not the records), so they cannot be redriven; `dlq show` reads the records from the
  stream while it still has them (24 h) and says what to run for each.

The full physical name (`pen-prod-barramento-dlq`) is accepted too.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.config import Settings
from infra.ops.console import OpsError, Progress, confirm, json_flag, print_json, print_table, utc_text
from infra.resources import STACK, Queue, Stack, Table

PREVIEW_VISIBILITY = 30  # seconds a previewed message stays hidden before it is released at once
MOVE_VISIBILITY = 60  # seconds a message being moved stays hidden: the send and the delete fit in it
RECEIVE_WAIT = 1  # long-poll: SQS then asks every server, so a short queue is read whole
PREVIEW_ON_REDRIVE = 10
BODY_SUMMARY = 100
STREAM_READS = 50  # GetRecords calls spent on one failure record's range at most
DEPTHS = {
    "visible": "ApproximateNumberOfMessages",
    "in_flight": "ApproximateNumberOfMessagesNotVisible",
    "delayed": "ApproximateNumberOfMessagesDelayed",
}


@dataclass(frozen=True)
class Target:
    """One queue the CLI knows: `key` is the short name an operator types."""

    key: str
    kind: str  # "queue", "dlq" or "stream-dlq"
    name: str  # physical name
    consumer: str  # the function that reads it, or what fills it
    source: str | None = None  # a DLQ's queue (physical name): where redrive sends messages
    table: Table | None = None  # a stream DLQ's table

    @property
    def is_dlq(self) -> bool:
        return self.kind != "queue"


def targets(stage: str, stack: Stack = STACK) -> list[Target]:
    found: list[Target] = []
    for queue in stack.queues:
        name = stack.name(stage, queue.suffix)
        found.append(Target(queue.suffix, "queue", name, queue.handler))
        found.append(
            Target(f"{queue.suffix}-dlq", "dlq", stack.dlq_name(stage, queue), _dlq_note(queue), source=name)
        )
    for table in stack.stream_consumers:
        found.append(
            Target(
                f"{table.suffix}-stream",
                "stream-dlq",
                stack.stream_dlq_name(stage, table),
                f"failures of {table.stream_handler} (stream of {stack.name(stage, table.suffix)})",
                table=table,
            )
        )
    return found


def _dlq_note(queue: Queue) -> str:
    return f"after {queue.max_receive_count} receives by {queue.handler}"


def find_dlq(key: str, stage: str) -> Target:
    dlqs = [t for t in targets(stage) if t.is_dlq]
    for target in dlqs:
        if key in {target.key, target.name} or (target.kind == "dlq" and key == target.key[: -len("-dlq")]):
            return target
    known = ", ".join(t.key for t in dlqs)
    raise OpsError(f"no dead-letter queue named {key!r}; the DLQs are: {known}")


class Queues:
    """The SQS calls the commands make (one client from the CLI's settings)."""

    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs
        self._urls: dict[str, str] = {}

    def url(self, name: str) -> str:
        if name not in self._urls:
            try:
                self._urls[name] = str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])
            except ClientError as error:
                if "NonExistentQueue" in error.response["Error"]["Code"]:
                    raise OpsError(f"the queue {name} does not exist (is this the right stage?)") from None
                raise
        return self._urls[name]

    def depths(self, name: str) -> dict[str, int] | None:
        """The queue's depths; None when it does not exist."""
        try:
            url = self.url(name)
        except OpsError:
            return None
        return self.depths_by_url(url)

    def receive(self, url: str, count: int, visibility: int) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=max(1, min(count, 10)),
            VisibilityTimeout=visibility,
            WaitTimeSeconds=RECEIVE_WAIT,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(answer.get("Messages") or [])

    def release(self, url: str, messages: list[dict[str, Any]]) -> None:
        """Visible again at once: a preview consumes nothing."""
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            self.sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for n, m in enumerate(chunk)
                ],
            )

    @contextmanager
    def peek(self, url: str, limit: int) -> Iterator[list[dict[str, Any]]]:
        """Up to `limit` messages, hidden while the caller looks at them, then visible again."""
        expected = (self.depths_by_url(url) or {}).get("visible", 0)
        wanted = min(limit, expected)
        seen: dict[str, dict[str, Any]] = {}
        try:
            while len(seen) < wanted:
                batch = self.receive(url, wanted - len(seen), PREVIEW_VISIBILITY)
                if not batch:
                    break
                for message in batch:
                    seen.setdefault(message["MessageId"], message)
            yield list(seen.values())
        finally:
            self.release(url, list(seen.values()))

    def depths_by_url(self, url: str) -> dict[str, int]:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(DEPTHS.values()))
        found = attributes.get("Attributes", {})
        return {key: int(found.get(attribute, 0)) for key, attribute in DEPTHS.items()}


# --- queues ---------------------------------------------------------------------------------------


def show_queues(queues: Queues, stage: str, as_json: bool) -> None:
    rows: list[dict[str, Any]] = []
    for target in targets(stage):
        depths = queues.depths(target.name)
        rows.append(
            {
                "nome": target.key,
                "tipo": target.kind,
                "fila": target.name,
                "existe": depths is not None,
                **(depths or dict.fromkeys(DEPTHS, None)),
                "consumidor": target.consumer,
            }
        )
    if as_json:
        print_json(rows)
        return
    print_table(
        ["name", "kind", "visible", "in flight", "delayed", "queue", "consumer / fed by"],
        [
            [r["nome"], r["tipo"], *(("missing", "", "") if not r["existe"] else
             (r["visible"], r["in_flight"], r["delayed"])), r["fila"], r["consumidor"]]
            for r in rows
        ],
        right=(2, 3, 4),
    )  # fmt: skip
    waiting = [r for r in rows if r["tipo"] != "queue" and (r["visible"] or r["in_flight"])]
    if waiting:
        names = ", ".join(r["nome"] for r in waiting)
        print(f"\n{len(waiting)} dead-letter queue(s) hold messages ({names}): `dlq show NAME` to look.")


# --- dlq show -------------------------------------------------------------------------------------


def _sent(message: dict[str, Any]) -> str:
    sent = message.get("Attributes", {}).get("SentTimestamp")
    if not sent:
        return "?"
    return utc_text(datetime.fromtimestamp(int(sent) / 1000, UTC))


def _summary(body: str) -> str:
    text = " ".join(body.split())
    return text if len(text) <= BODY_SUMMARY else text[: BODY_SUMMARY - 1] + "…"


def _message_json(message: dict[str, Any]) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    return {
        "id": message["MessageId"],
        "recebimentos": int(attributes.get("ApproximateReceiveCount", 0)),
        "enviadaEm": _sent(message),
        "corpo": message["Body"],
    }


def show_dlq(queues: Queues, settings: Settings, key: str, limit: int, as_json: bool) -> None:
    target = find_dlq(key, settings.stage)
    url = queues.url(target.name)
    depths = queues.depths_by_url(url)
    with queues.peek(url, limit) as messages:
        if target.kind == "stream-dlq":
            _show_stream_failures(settings, target, depths, messages, as_json)
            return
        if as_json:
            print_json({"fila": target.name, **depths, "mensagens": [_message_json(m) for m in messages]})
            return
        print(
            f"{target.name}: {depths['visible']} visible, {depths['in_flight']} in flight "
            f"(failed {target.consumer}; redrive sends them back to {target.source})"
        )
        if not messages:
            print("nothing to show")
            return
        print_table(
            ["message id", "receives", "sent", "body"],
            [
                [
                    m["MessageId"],
                    m.get("Attributes", {}).get("ApproximateReceiveCount", "?"),
                    _sent(m),
                    _summary(m["Body"]),
                ]
                for m in messages
            ],
            right=(1,),
        )
        if depths["visible"] > len(messages):
            print(f"... {depths['visible'] - len(messages)} more (--limit)")
        print("Previewed only: the messages stay in the queue.")


STREAM_DLQ_EXPLAINED = """\
These are Lambda's on-failure records for the stream of {table}: the coordinates (shard and
sequence numbers) of stream records that {handler} failed on {retries} times; not the records
themselves, so they cannot be sent back to a queue. While the stream still has them (DynamoDB keeps
stream records 24 hours) they are read below; after that, rebuild what the handler would have done:
{remedy}"""

REMEDIES = {
    "tramites": "`tramites retry IDT` for each trâmite named (or `tramites stuck` to find them).",
    "processos": "`process project NUP --agency ID` for each copy named (its history entry is in the "
    "table; the projection rebuilds the public record from the copy as it is now).",
}


def _show_stream_failures(
    settings: Settings,
    target: Target,
    depths: dict[str, int],
    messages: list[dict[str, Any]],
    as_json: bool,
) -> None:
    table = target.table
    assert table is not None  # noqa: S101 (a stream-dlq target has its table)
    remedy = REMEDIES.get(table.suffix, "re-run the handler's work for the keys named.")
    reports = [_failure_report(settings, m) for m in messages]
    if as_json:
        print_json({"fila": target.name, **depths, "falhas": reports})
        return
    print(f"{target.name}: {depths['visible']} visible, {depths['in_flight']} in flight\n")
    print(STREAM_DLQ_EXPLAINED.format(table=STACK.name(settings.stage, table.suffix),
                                      handler=table.stream_handler, retries=table.stream_max_retries,
                                      remedy=remedy))  # fmt: skip
    if not reports:
        print("\nnothing to show")
    for report in reports:
        info = report.get("lote") or {}
        print(f"\n{report['id']}  receives {report['recebimentos']}  sent {report['enviadaEm']}")
        if not info:
            print(f"  not an on-failure record: {_summary(report['corpo'])}")
            continue
        print(
            f"  {info.get('condition')}: {info.get('approximateInvokeCount')} attempt(s)"
            f"{' (the handler raised)' if info.get('functionError') else ''}, {info.get('functionArn')}"
        )
        arrived = f"{info['approximateArrivalOfFirstRecord']} .. {info['approximateArrivalOfLastRecord']}"
        print(
            f"  shard {info['shardId']}, sequence numbers {info['startSequenceNumber']}.."
            f"{info['endSequenceNumber']} ({info['batchSize']} record(s), arrived {arrived})"
        )
        records = report.get("registros")
        if records is None:
            print(f"  the records are no longer in the stream ({report.get('motivo')})")
            continue
        for record in records:
            print(f"  {record['sequencia']} {record['evento']:<6} {record['chaves']}"
                  f"{'  → ' + record['acao'] if record.get('acao') else ''}")  # fmt: skip
    print(
        "\nTo read a range yourself: aws dynamodbstreams get-shard-iterator --stream-arn ARN --shard-id "
        "SHARD --shard-iterator-type AT_SEQUENCE_NUMBER --sequence-number START, then get-records."
    )


def _failure_report(settings: Settings, message: dict[str, Any]) -> dict[str, Any]:
    report = _message_json(message)
    try:
        body = json.loads(message["Body"])
        batch = body["DDBStreamBatchInfo"]
    except (ValueError, KeyError, TypeError):
        return report
    context = body.get("requestContext", {})
    report["lote"] = {
        **batch,
        "condition": context.get("condition"),
        "approximateInvokeCount": context.get("approximateInvokeCount"),
        "functionArn": context.get("functionArn"),
        "functionError": body.get("responseContext", {}).get("functionError"),
    }
    try:
        report["registros"] = list(_read_range(settings, batch))
    except (ClientError, KeyError, ValueError) as error:
        report["registros"] = None
        report["motivo"] = str(error)
    return report


def _read_range(settings: Settings, batch: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The records of one failed batch, read from the stream (GetShardIterator at its first
    sequence number, then GetRecords up to its last)."""
    from chalicelib.store import aws

    streams = aws.client("dynamodbstreams", settings)
    first, last = int(batch["startSequenceNumber"]), int(batch["endSequenceNumber"])
    iterator = streams.get_shard_iterator(
        StreamArn=batch["streamArn"],
        ShardId=batch["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=batch["startSequenceNumber"],
    )["ShardIterator"]
    for _ in range(STREAM_READS):
        answer = streams.get_records(ShardIterator=iterator, Limit=100)
        records = answer.get("Records") or []
        for record in records:
            number = int(record["dynamodb"]["SequenceNumber"])
            if number < first:
                continue
            if number > last:
                return
            yield _record_line(record)
        iterator = answer.get("NextShardIterator")
        if not records or not iterator:
            return


def _plain(value: dict[str, Any]) -> str:
    return str(next(iter(value.values())))


def _record_line(record: dict[str, Any]) -> dict[str, Any]:
    source = record["dynamodb"]
    keys = {name: _plain(value) for name, value in (source.get("Keys") or {}).items()}
    image = source.get("NewImage") or source.get("OldImage") or {}
    action = None
    pk = keys.get("pk", "")
    if pk.startswith("T#"):
        action = f"tramites retry {pk[2:]}"
    elif pk.startswith("P#") and "orgao_id" in image and "nup" in image:
        action = f"process project {_plain(image['nup'])} --agency {_plain(image['orgao_id'])}"
    return {
        "sequencia": source["SequenceNumber"],
        "evento": record.get("eventName", "?"),
        "chaves": " ".join(f"{k}={v}" for k, v in sorted(keys.items())),
        "acao": action,
    }


# --- dlq redrive ----------------------------------------------------------------------------------


def redrive(queues: Queues, settings: Settings, key: str, limit: int | None, assume_yes: bool) -> None:
    target = find_dlq(key, settings.stage)
    if target.kind == "stream-dlq":
        table = target.table
        assert table is not None  # noqa: S101
        raise OpsError(
            f"{target.name} holds Lambda's on-failure records for the stream of "
            f"{STACK.name(settings.stage, table.suffix)}: coordinates of stream records, not messages "
            f"{table.stream_handler} can take again, so they cannot be redriven. Run `dlq show {target.key}` "
            "to read the records from the stream (kept 24 hours) and see what to run for each: "
            + REMEDIES.get(table.suffix, "re-run the handler's work for the keys named.")
        )
    assert target.source is not None  # noqa: S101 (a queue's DLQ has its queue)
    url, source_url = queues.url(target.name), queues.url(target.source)
    depths = queues.depths_by_url(url)
    total = depths["visible"] if limit is None else min(limit, depths["visible"])
    if total == 0:
        later = f" ({depths['in_flight']} in flight: try again in a minute)" if depths["in_flight"] else ""
        print(f"{target.name} has no visible message: nothing to move{later}")
        return
    with queues.peek(url, min(total, PREVIEW_ON_REDRIVE)) as sample:
        print_table(
            ["message id", "receives", "sent", "body"],
            [[m["MessageId"], m.get("Attributes", {}).get("ApproximateReceiveCount", "?"), _sent(m),
              _summary(m["Body"])] for m in sample],
            right=(1,),
        )  # fmt: skip
    if total > len(sample):
        print(f"... and {total - len(sample)} more")
    question = f"Move {total} message(s) from {target.name} back to {target.source}?"
    if not confirm(question, assume_yes):
        print("Nothing moved.")
        return
    moved = _move(queues, url, source_url, total)
    print(f"moved {moved} message(s) from {target.name} to {target.source}; {target.consumer.split()[-1]} "
          "takes them from there")  # fmt: skip


def _move(queues: Queues, url: str, source_url: str, total: int) -> int:
    """Send, then delete, one message at a time: a message leaves the DLQ only once its copy is on
    the queue. A failed send leaves it (and the rest) in the DLQ; a failed delete leaves a copy in
    both, which the consumers' idempotent work makes harmless."""
    progress = Progress(total, "moved ", every=10)
    moved = 0
    try:
        while moved < total:
            batch = queues.receive(url, total - moved, MOVE_VISIBILITY)
            if not batch:
                break
            for index, message in enumerate(batch):
                if moved >= total:
                    queues.release(url, batch[index:])
                    break
                try:
                    queues.sqs.send_message(QueueUrl=source_url, MessageBody=message["Body"],
                                            **_attributes(message))  # fmt: skip
                except ClientError as error:
                    queues.release(url, batch[index:])
                    raise OpsError(
                        f"sending {message['MessageId']} back failed ({error}); {moved} moved, the rest "
                        "stay in the dead-letter queue: run the command again"
                    ) from None
                queues.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
                progress.step(message["MessageId"])
    finally:
        progress.close()
    return moved


def _attributes(message: dict[str, Any]) -> dict[str, Any]:
    given = message.get("MessageAttributes") or {}
    kept = {
        name: {k: v for k, v in value.items() if k in {"DataType", "StringValue", "BinaryValue"}}
        for name, value in given.items()
    }
    return {"MessageAttributes": kept} if kept else {}


# --- the CLI --------------------------------------------------------------------------------------


def add_parsers(groups: Any) -> None:
    json_flag(groups.add_parser(
        "queues", help="every queue, its DLQ and the stream DLQs: visible, in flight, delayed messages"
    ))  # fmt: skip
    dlq = groups.add_parser("dlq", help="preview a dead-letter queue, move its messages back").add_subparsers(
        dest="action", required=True
    )
    show = dlq.add_parser(
        "show",
        help="preview the messages (they stay in the queue)",
        description="NAME: barramento, correio, avisos, correio-eventos (a queue's DLQ), or "
        "tramites-stream, processos-stream (a stream consumer's on-failure queue); `queues` lists them.",
    )
    show.add_argument("name")
    json_flag(show)
    show.add_argument("--limit", type=int, default=20, help="at most this many messages (default 20)")
    move = dlq.add_parser(
        "redrive",
        help="move the messages back to their queue (preview, then confirm)",
        description="Each message is sent to the source queue, then deleted from the DLQ, one at a time. "
        "Stream DLQs cannot be redriven: `dlq show` says what to do with them.",
    )
    move.add_argument("name")
    move.add_argument("--limit", type=int, help="move at most this many (default: all visible now)")
    move.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def run(args: argparse.Namespace, settings: Settings) -> None:
    from chalicelib.store import aws

    queues = Queues(aws.client("sqs", settings))
    if args.group == "queues":
        show_queues(queues, settings.stage, args.json)
    elif args.action == "show":
        if args.limit < 1:
            raise OpsError("--limit must be at least 1")
        show_dlq(queues, settings, args.name, args.limit, args.json)
    else:
        if args.limit is not None and args.limit < 1:
            raise OpsError("--limit must be at least 1")
        redrive(queues, settings, args.name, args.limit, args.yes)
