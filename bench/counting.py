"""Counts AWS calls with a botocore event hook: every botocore session created after `install()`
(boto3's and PynamoDB's alike) reports each API call before it is sent."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.session

_calls: Counter[str] = Counter()
_items: Counter[str] = Counter()  # DynamoDB items written, by operation
_lock = threading.Lock()
_installed = False


def _before_call(**kwargs: Any) -> None:
    model = kwargs["model"]
    with _lock:
        _calls[f"{model.service_model.service_id}.{model.name}"] += 1


def _items_written(**kwargs: Any) -> None:
    params, name = kwargs["params"], kwargs["model"].name
    if name == "TransactWriteItems":
        written = len(params.get("TransactItems") or [])
    elif name == "BatchWriteItem":
        written = sum(len(v) for v in (params.get("RequestItems") or {}).values())
    elif name in ("PutItem", "UpdateItem", "DeleteItem"):
        written = 1
    else:
        return
    with _lock:
        _items[name] += written


def install() -> None:
    global _installed  # noqa: PLW0603 - one hook per process
    if _installed:
        return
    original = botocore.session.Session.__init__

    def init(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.register("before-call.*.*", _before_call)
        self.register("before-parameter-build.dynamodb.*", _items_written)

    botocore.session.Session.__init__ = init  # type: ignore[method-assign]
    _installed = True


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """The calls made inside the block, by `Service.Operation`."""
    with _lock:
        before = Counter(_calls)
    seen: Counter[str] = Counter()
    yield seen
    with _lock:
        seen.update(_calls - before)


@contextmanager
def items_written() -> Iterator[Counter[str]]:
    """DynamoDB items written inside the block (a transaction counts each of its items)."""
    with _lock:
        before = Counter(_items)
    seen: Counter[str] = Counter()
    yield seen
    with _lock:
        seen.update(_items - before)
