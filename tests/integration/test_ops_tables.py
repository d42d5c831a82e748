"""`python -m infra.ops table ...` against a moto server, through the CLI's real entry point: the
tables' recovery settings, a point-in-time restore into a new table, and the comparison.

moto restores the live table's current items whatever the instant (it keeps no history), so these
tests change the live table *after* the restore to give the comparison something to find."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra import ops
from infra.local.resources import client
from infra.ops.tables import restored_name
from infra.resources import STACK
from tests import servers
from tests.integration.conftest import Stack


@pytest.fixture
def target(stack: Stack) -> list[str]:
    return ["--endpoint", stack.endpoint, "--stage", stack.settings.stage]


@pytest.fixture
def dynamodb(stack: Stack) -> Any:
    return client("dynamodb", stack.endpoint, servers.REGION)


def cli(target: list[str], capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = ops.main([*target, *args])
    out, err = capsys.readouterr()
    return code, out, err


def item(pk: str, sk: str = "A", **extra: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in extra.items()}}


def processos(stack: Stack) -> str:
    return STACK.name(stack.settings.stage, "processos")


def with_pitr(dynamodb: Any, name: str) -> None:
    dynamodb.update_continuous_backups(
        TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )


def test_list_shows_every_table_and_its_recovery_settings(
    stack: Stack, target: list[str], dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with_pitr(dynamodb, processos(stack))
    code, out, _ = cli(target, capsys, "table", "list")
    assert code == 0
    lines = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert set(lines) == {STACK.name(stack.settings.stage, t.suffix) for t in STACK.tables}
    assert lines[processos(stack)][2] == "on"  # pitr
    assert "NEW_AND_OLD_IMAGES" in lines[processos(stack)]
    assert lines[STACK.name(stack.settings.stage, "clientes")][2] == "off"
    code, out, _ = cli(target, capsys, "table", "list", "--json")
    assert {t["name"]: t["pitr"] for t in json.loads(out)}[processos(stack)] is True


def test_restore_makes_a_new_table_says_what_it_lacks_and_compares(
    stack: Stack, target: list[str], dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the live processos table (stream on) with three items and point-in-time recovery
    live = processos(stack)
    with_pitr(dynamodb, live)
    for pk in ("P1", "P2", "P3"):
        dynamodb.put_item(TableName=live, Item=item(pk, titulo="antes"))
    at = datetime.now(UTC)

    # When it is restored to that instant
    code, out, err = cli(target, capsys, "table", "restore", "processos", "--to", at.isoformat())

    # Then a new table exists under the documented name, with the same items, and the live one is untouched
    name = restored_name(live, at)
    assert code == 0, err
    assert f"{name}: ACTIVE" in out
    assert f"restoring {live} as it was at" in err
    restored = dynamodb.describe_table(TableName=name)["Table"]
    assert restored["TableStatus"] == "ACTIVE"
    assert restored["KeySchema"] == dynamodb.describe_table(TableName=live)["Table"]["KeySchema"]
    assert len(dynamodb.scan(TableName=name)["Items"]) == 3
    assert "stream                  live on   restored off" in out
    assert "point-in-time recovery  live on   restored off" in out
    assert "the tables hold the same items" in out

    # And after the live table changes, compare finds each kind of difference by key
    dynamodb.put_item(TableName=live, Item=item("P4"))
    dynamodb.delete_item(TableName=live, Key={"pk": {"S": "P1"}, "sk": {"S": "A"}})
    dynamodb.put_item(TableName=live, Item=item("P2", titulo="depois"))
    code, out, _ = cli(target, capsys, "table", "compare", "processos", name)
    assert code == 0
    assert f"items: {live} 3, {name} 3" in out
    assert "1  only in the live table" in out
    assert "1  only in the restored table" in out
    assert "1  different" in out
    assert '{"pk": "P4", "sk": "A"}' in out
    code, out, _ = cli(target, capsys, "table", "compare", live, name, "--json")
    summary = json.loads(out)
    assert (summary["soNaAtual"], summary["soNaRestaurada"], summary["diferentes"]) == (1, 1, 1)
    assert summary["exemplos"]["soNaRestaurada"] == [{"pk": "P1", "sk": "A"}]
    assert summary["exemplos"]["diferentes"] == [{"pk": "P2", "sk": "A"}]

    # And restoring into the same name again is refused, nothing overwritten
    code, _, err = cli(target, capsys, "table", "restore", "processos", "--to", at.isoformat())
    assert code == 2
    assert f"{name} exists already" in err


def test_restore_to_latest_takes_a_given_name(
    stack: Stack, target: list[str], dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    dynamodb.put_item(TableName=processos(stack), Item=item("P1"))
    name = processos(stack) + "-copia"
    code, out, err = cli(target, capsys, "table", "restore", "processos", "--to", "latest", "--name", name,
                         "--no-compare")  # fmt: skip
    assert code == 0, err
    assert f"{name}: ACTIVE" in out
    assert "items:" not in out  # no comparison
    assert dynamodb.scan(TableName=name)["Count"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["clientela", "--to", "latest"], "unknown table 'clientela'; the stack's tables: estruturas"),
        (["processos", "--to", "2026-11-27T10:00:00"], "has no time zone"),
        (["processos", "--to", "ontem"], "not an instant: 'ontem'"),
    ],
)
def test_operator_mistakes_are_refused(
    target: list[str], capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = cli(target, capsys, "table", "restore", *args)
    assert code == 2
    assert message in err


def test_an_instant_outside_the_recovery_window_is_refused(
    stack: Stack, target: list[str], dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with_pitr(dynamodb, processos(stack))
    before = (datetime.now(UTC) - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    code, _, err = cli(target, capsys, "table", "restore", "processos", "--to", before)
    assert code == 2
    assert "can be restored from" in err
    names = dynamodb.list_tables()["TableNames"]
    assert not [n for n in names if "-restaurada-" in n and n.startswith(processos(stack))]
