"""Tables: their recovery settings, a point-in-time restore into a new table, and a comparison.

DynamoDB restores a table's point in time only into a *new* table; it never rewinds the live one.
`table restore` does that next to the live table, under a name that says what it is
(`<table>-restaurada-<UTC instant>`), with the live table's indexes, encryption key and billing mode,
waits for it, says what the new table lacks (stream, point-in-time recovery, deletion protection,
TTL: DynamoDB does not carry them over), and compares the two. Nothing touches the live table:
switching the stack to the restored table, or copying items back, is the operator's decision
(docs/OPERATIONS.md, "Restoring a table to a point in time").

    python -m infra.ops table list
    python -m infra.ops table restore processos --to 2026-11-27T10:00:00Z
    python -m infra.ops table compare processos pen-prod-processos-restaurada-20261127T100000Z

The comparison reads both tables whole (Scan, with progress): an operator's tool, never a request
path. Items are matched by their primary key and compared attribute by attribute.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.config import Settings
from infra.ops.console import OpsError, json_flag, print_json, print_table, utc_text
from infra.resources import STACK, Stack, Table

RESTORED = "restaurada"
WAIT_SECONDS = 10  # between DescribeTable calls while a restore runs (hours for a big table on AWS)
SCAN_PAGE = 1000


def find_table(key: str, stage: str, stack: Stack = STACK) -> tuple[Table, str]:
    """A table of the stack by its short name (`processos`) or physical name (`pen-prod-processos`)."""
    for table in stack.tables:
        name = stack.name(stage, table.suffix)
        if key in {table.suffix, name}:
            return table, name
    known = ", ".join(t.suffix for t in stack.tables)
    raise OpsError(f"unknown table {key!r}; the stack's tables: {known}")


def parse_instant(text: str) -> datetime:
    """ISO 8601 with a time zone (`2026-11-27T10:00:00Z`, `...-03:00`); a naive instant is refused,
    since a restore an hour off restores the wrong data."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise OpsError(f"not an instant: {text!r} (use e.g. 2026-11-27T10:00:00Z)") from None
    if moment.tzinfo is None:
        raise OpsError(f"{text!r} has no time zone: write it in UTC with a Z (2026-11-27T10:00:00Z)")
    return moment.astimezone(UTC)


def restored_name(source: str, at: datetime) -> str:
    return f"{source}-{RESTORED}-{at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


@dataclass(frozen=True)
class Recovery:
    """What protects a table and what a restore does not carry over."""

    name: str
    status: str
    items: int  # DescribeTable's count: DynamoDB refreshes it about every six hours
    stream: str | None  # the view type when the stream is on
    pitr: bool
    earliest: datetime | None
    latest: datetime | None
    deletion_protection: bool
    ttl: str | None  # the attribute when TTL is on
    kms_key: str | None  # the customer-managed key, when the table uses one


def recovery(dynamodb: Any, name: str) -> Recovery:
    try:
        table = dynamodb.describe_table(TableName=name)["Table"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            raise OpsError(f"there is no table {name}") from None
        raise
    backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    pitr = backups.get("PointInTimeRecoveryDescription", {})
    ttl = dynamodb.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
    stream = table.get("StreamSpecification") or {}
    sse = table.get("SSEDescription") or {}
    return Recovery(
        name=name,
        status=str(table.get("TableStatus")),
        items=int(table.get("ItemCount", 0)),
        stream=stream.get("StreamViewType") if stream.get("StreamEnabled") else None,
        pitr=pitr.get("PointInTimeRecoveryStatus") == "ENABLED",
        earliest=pitr.get("EarliestRestorableDateTime"),
        latest=pitr.get("LatestRestorableDateTime"),
        deletion_protection=bool(table.get("DeletionProtectionEnabled")),
        ttl=ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"} else None,
        kms_key=sse.get("KMSMasterKeyArn") if sse.get("SSEType") == "KMS" else None,
    )


def _on_off(value: object) -> str:
    return "on" if value else "off"


def list_tables(dynamodb: Any, stage: str, as_json: bool) -> None:
    found = [recovery(dynamodb, STACK.name(stage, t.suffix)) for t in STACK.tables]
    if as_json:
        print_json([r.__dict__ for r in found])
        return
    rows = [
        [r.name, r.items, _on_off(r.pitr), utc_text(r.earliest) if r.earliest else "-",
         _on_off(r.deletion_protection), r.stream or "-", r.ttl or "-"]
        for r in found
    ]  # fmt: skip
    print_table(["table", "items~", "pitr", "restorable from", "del. protection", "stream", "ttl"], rows,
                right=[1])  # fmt: skip


def _wait_active(dynamodb: Any, name: str, wait_seconds: float) -> None:
    started = time.monotonic()
    while True:
        status = dynamodb.describe_table(TableName=name)["Table"].get("TableStatus")
        if status == "ACTIVE":
            return
        elapsed = int(time.monotonic() - started)
        print(f"  {name}: {status} ({elapsed}s)", file=sys.stderr, flush=True)
        time.sleep(wait_seconds)


def restore(
    dynamodb: Any, settings: Settings, key: str, to: str, *, target: str | None = None,
    wait: bool = True, compare: bool = True, show: int = 10, as_json: bool = False,
    wait_seconds: float = WAIT_SECONDS,
) -> None:  # fmt: skip
    _, source = find_table(key, settings.stage)
    live = recovery(dynamodb, source)
    request: dict[str, Any] = {"SourceTableName": source, "BillingModeOverride": "PAY_PER_REQUEST"}
    if to == "latest":
        at = live.latest or datetime.now(UTC)
        request["UseLatestRestorableTime"] = True
    else:
        at = parse_instant(to)
        if live.earliest and at < live.earliest.astimezone(UTC):
            raise OpsError(f"{source} can be restored from {utc_text(live.earliest)} on, not {utc_text(at)}")
        if at > datetime.now(UTC):  # DynamoDB judges the rest (its latest is about five minutes ago)
            raise OpsError(f"{utc_text(at)} is in the future")
        request["RestoreDateTime"] = at
    name = target or restored_name(source, at)
    request["TargetTableName"] = name
    if live.kms_key:  # DynamoDB carries the source's encryption over; named so it cannot differ
        request["SSESpecificationOverride"] = {
            "Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": live.kms_key,
        }  # fmt: skip
    try:
        dynamodb.restore_table_to_point_in_time(**request)
    except ClientError as error:
        code, message = error.response["Error"]["Code"], error.response["Error"].get("Message", "")
        if code in {"TableAlreadyExistsException", "ResourceInUseException"}:
            raise OpsError(f"{name} exists already: compare with it, or give another --name") from None
        if code in {"PointInTimeRecoveryUnavailableException", "InvalidRestoreTimeException",
                    "TableNotFoundException", "LimitExceededException"}:  # fmt: skip
            raise OpsError(f"DynamoDB refused the restore of {source} ({code}): {message}") from None
        raise
    print(f"restoring {source} as it was at {utc_text(at)} into {name}", file=sys.stderr)
    if not wait:
        print(f"{name}: started; when it is ACTIVE: python -m infra.ops table compare {key} {name}")
        return
    _wait_active(dynamodb, name, wait_seconds)
    restored = recovery(dynamodb, name)
    differences = compare_tables(dynamodb, source, name) if compare else None
    if as_json:
        print_json({"origem": live.__dict__, "restaurada": restored.__dict__,
                    "comparacao": differences.summary(show) if differences else None})  # fmt: skip
        return
    print(f"{name}: ACTIVE, restored from {source} as of {utc_text(at)}")
    print(f"  encryption key: {restored.kms_key or 'AWS-owned'}")
    print("  what a restore does not carry over (the stack sets them on its own tables):")
    for label, has, now in (
        ("stream", live.stream, restored.stream),
        ("point-in-time recovery", live.pitr, restored.pitr),
        ("deletion protection", live.deletion_protection, restored.deletion_protection),
        ("TTL", live.ttl, restored.ttl),
    ):
        print(f"    {label:<23} live {_on_off(has):<3}  restored {_on_off(now)}")
    if differences is not None:
        differences.print(source, name, show)


@dataclass
class Differences:
    """Items matched by primary key: only in the live table, only in the restored one, changed."""

    key_names: list[str]
    live_items: int = 0
    restored_items: int = 0
    only_live: list[dict[str, Any]] = field(default_factory=list)
    only_restored: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not (self.only_live or self.only_restored or self.changed)

    def summary(self, show: int) -> dict[str, Any]:
        return {
            "itensAtual": self.live_items,
            "itensRestaurada": self.restored_items,
            "soNaAtual": len(self.only_live),
            "soNaRestaurada": len(self.only_restored),
            "diferentes": len(self.changed),
            "exemplos": {
                "soNaAtual": self.only_live[:show],
                "soNaRestaurada": self.only_restored[:show],
                "diferentes": self.changed[:show],
            },
        }

    def print(self, live: str, restored: str, show: int) -> None:
        print(f"items: {live} {self.live_items}, {restored} {self.restored_items}")
        for label, keys in (
            ("only in the live table (written after that instant)", self.only_live),
            ("only in the restored table (deleted since)", self.only_restored),
            ("different (changed since)", self.changed),
        ):
            print(f"  {len(keys):>7}  {label}")
            for item_key in keys[:show]:
                print(f"           {json.dumps(item_key, ensure_ascii=False, sort_keys=True)}")
            if len(keys) > show:
                print(f"           ... and {len(keys) - show} more (--show N, or --json)")
        if self.identical:
            print("the tables hold the same items")


def _plain(value: dict[str, Any]) -> Any:
    """An attribute value in DynamoDB's JSON, as plain JSON for printing a key."""
    ((kind, inner),) = value.items()
    return base64_text(inner) if kind == "B" else inner


def base64_text(data: Any) -> str:
    return base64.b64encode(data if isinstance(data, bytes) else bytes(data)).decode("ascii")


def _digest(item: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(item, sort_keys=True, default=_json_default).encode()).hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64_text(value)
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(type(value).__name__)


def _scan(dynamodb: Any, name: str) -> Iterator[dict[str, Any]]:
    pages = dynamodb.get_paginator("scan").paginate(TableName=name, PaginationConfig={"PageSize": SCAN_PAGE})
    read = 0
    for page in pages:
        read += len(page.get("Items", []))
        print(f"  read {read} items of {name}", file=sys.stderr, flush=True)
        yield from page.get("Items", [])


def compare_tables(dynamodb: Any, live: str, restored: str) -> Differences:
    schema = dynamodb.describe_table(TableName=live)["Table"]["KeySchema"]
    key_names = [k["AttributeName"] for k in sorted(schema, key=lambda k: k["KeyType"] != "HASH")]

    def index(name: str) -> dict[str, tuple[dict[str, Any], str]]:
        items: dict[str, tuple[dict[str, Any], str]] = {}
        for item in _scan(dynamodb, name):
            key = {k: _plain(item[k]) for k in key_names}
            items[json.dumps(key, sort_keys=True)] = (key, _digest(item))
        return items

    now, then = index(live), index(restored)
    differences = Differences(key_names, live_items=len(now), restored_items=len(then))
    for text, (key, digest) in sorted(now.items()):
        if text not in then:
            differences.only_live.append(key)
        elif then[text][1] != digest:
            differences.changed.append(key)
    differences.only_restored = [key for text, (key, _) in sorted(then.items()) if text not in now]
    return differences


def add_parsers(groups: Any) -> None:
    table = groups.add_parser(
        "table", help="tables' recovery settings; restore one to a point in time (into a new table)"
    ).add_subparsers(dest="action", required=True)
    json_flag(table.add_parser(
        "list", help="each table: items, point-in-time recovery window, deletion protection, stream, TTL"
    ))  # fmt: skip
    restoring = table.add_parser(
        "restore", help="restore a table as it was at an instant into a new table, then compare",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    restoring.add_argument("table", help="short name (processos) or physical name (pen-prod-processos)")
    restoring.add_argument("--to", required=True, help="the instant, in UTC: 2026-11-27T10:00:00Z, or latest")
    restoring.add_argument("--name", help="the new table's name (default: <table>-restaurada-<instant>)")
    restoring.add_argument("--no-wait", action="store_true", help="start the restore and return")
    restoring.add_argument("--no-compare", action="store_true", help="do not read both tables")
    restoring.add_argument("--show", type=int, default=10, help="keys shown per kind of difference")
    json_flag(restoring)
    comparing = table.add_parser("compare", help="the items that differ between a table and a restored copy")
    comparing.add_argument("table", help="the live table: short or physical name")
    comparing.add_argument("restored", help="the restored table's physical name")
    comparing.add_argument("--show", type=int, default=10, help="keys shown per kind of difference")
    json_flag(comparing)


def run(args: argparse.Namespace, settings: Settings) -> None:
    from chalicelib.store import aws

    dynamodb = aws.client("dynamodb", settings)
    if getattr(args, "show", 0) < 0:
        raise OpsError("--show must be 0 or more")
    if args.action == "list":
        list_tables(dynamodb, settings.stage, args.json)
    elif args.action == "restore":
        restore(dynamodb, settings, args.table, args.to, target=args.name, wait=not args.no_wait,
                compare=not args.no_compare, show=args.show, as_json=args.json)  # fmt: skip
    else:
        _, live = find_table(args.table, settings.stage)
        recovery(dynamodb, args.restored)  # a clear error when it does not exist
        differences = compare_tables(dynamodb, live, args.restored)
        if args.json:
            print_json(differences.summary(args.show))
        else:
            differences.print(live, args.restored, args.show)
