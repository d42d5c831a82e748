"""The moto we run: the server the local stack, the tests and the benchmarks use, with two fixes to
moto's DynamoDB (5.2) so that it behaves as DynamoDB under concurrent requests, and a read-only
view of what SES sent.

1. Requests are serialised. moto's backends are not thread-safe: TransactWriteItems deep-copies
   the tables it touches while other threads write them ("dictionary changed size during
   iteration", a 500). DynamoDB itself serialises conflicting writes, so running moto's DynamoDB
   requests one at a time gives the behaviour the app is written for; other services stay
   concurrent.
2. Transactions are all-or-nothing without a table backup. moto backs up every table a
   transaction touches with a deep copy (time growing with the table) and, when a condition
   fails, swaps the copy in: the table's stream shard is replaced too, so every open stream
   iterator stops seeing new writes (the local worker's projection stalls after the first NUP
   race). `transact_write_items` below checks every condition first, as DynamoDB does, and only
   then writes; if a write fails midway, the items it wrote are put back one by one and their
   stream records dropped.
3. `GET /_local/ses/sent.json` lists the messages SES accepted (`make mail` and the tests read it).
   moto's own `/moto-api/data.json` renders every model of every service, properties included,
   without any lock, while the worker and the API write: it answered an e2e test's poll with a 500
   in CI (not reproduced here), and a completed multipart upload makes it fail on every call. This
   view reads SES's sent list only. (An S3 bucket name cannot start with "_", so the
   path cannot shadow an object.)

Imported by tests/servers.py, so every test process runs the same moto, in process or as a server.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from moto.ses.models import ses_backends
from werkzeug.serving import make_server

from infra.local.state import SENT_MAIL_PATH

# The JSON protocol names the service in this header; DynamoDB Streams reads the same tables.
_SERIALISED_TARGETS = ("DynamoDB_", "DynamoDBStreams_")
_OPERATIONS = ("ConditionCheck", "Put", "Delete", "Update")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Error = tuple[str | None, str | None, dict[str, Any] | None]


def serialise_dynamodb(app: WsgiApp) -> WsgiApp:
    lock = threading.Lock()

    def serialised(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(_SERIALISED_TARGETS):
            return app(environ, start_response)
        with lock:
            # The body is built inside the lock: moto renders items while it answers.
            return list(app(environ, start_response))

    return serialised


def sent_mail() -> dict[str, list[dict[str, Any]]]:
    """Every message SES accepted, in every account and region, grouped by moto's class name
    (`RawMessage`, `Message`, `TemplateMessage`): the shape of data.json's "ses" key. A message
    joins `sent_messages` once built, so no half-made one is read."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for regions in list(ses_backends.values()):
        for backend in list(regions.values()):
            for message in list(backend.sent_messages):
                grouped.setdefault(type(message).__name__, []).append(_plain_fields(message))
    return grouped


def _plain_fields(instance: object) -> dict[str, Any]:
    fields = {}
    for name, value in list(vars(instance).items()):
        if name.startswith("_"):
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        fields[name] = value
    return fields


def serve_sent_mail(app: WsgiApp) -> WsgiApp:
    def serving(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != SENT_MAIL_PATH:
            return app(environ, start_response)
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return []
        body = json.dumps(sent_mail()).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        return [body] if environ["REQUEST_METHOD"] == "GET" else []

    return serving


class MotoServer(ThreadedMotoServer):
    """`ThreadedMotoServer` with its DynamoDB requests serialised and SES's sent mail readable."""

    def __init__(self, ip_address: str, port: int) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)

    def _server_entry(self) -> None:
        app = serve_sent_mail(serialise_dynamodb(DomainDispatcherApplication(create_backend_app)))
        self._server = make_server(
            self._ip_address, self._port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()

    def stop(self) -> None:
        super().stop()
        if self._server is not None:
            self._server.server_close()  # ThreadedMotoServer.stop leaves the socket bound


def _key(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _check(backend: DynamoDBBackend, items: list[dict[str, Any]]) -> list[Error]:
    """Every condition against the current items, nothing written (moto's own checks, in order)."""
    if len(items) > 100:
        raise TooManyTransactionsException()
    targets: set[tuple[str, str]] = set()
    errors: list[Error] = []
    for item in items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        try:
            if op_type not in _OPERATIONS:
                raise ValueError("Unsupported transaction operation")
            key = _key(backend, op_type, op)
            target = (str(op["TableName"]), str(dict(sorted(key.items()))))
            if target in targets:
                raise MultipleTransactionsException()
            targets.add(target)
            current = backend.get_item(op["TableName"], key)
            condition = op.get("ConditionExpression")
            if condition is not None and not get_filter_expression(
                condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            ).expr(current):
                old = None
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    old = current.to_json()["Attributes"]
                errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
                continue
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise  # the whole request is invalid: a 400, as moto answers
        except Exception as error:  # moto reports any other failure as the item's reason
            errors.append((type(error).__name__, str(error), None))
    return errors


def _write(backend: DynamoDBBackend, op_type: str, op: dict[str, Any], key: dict[str, Any]) -> None:
    names, values = op.get("ExpressionAttributeNames") or {}, op.get("ExpressionAttributeValues") or {}
    if op_type == "Put":
        backend.put_item(
            op["TableName"], op["Item"], expression_attribute_names=names, expression_attribute_values=values
        )
    elif op_type == "Delete":
        backend.delete_item(
            op["TableName"], key, expression_attribute_names=names, expression_attribute_values=values
        )
    elif op_type == "Update":
        backend.update_item(
            op["TableName"],
            key,
            update_expression=op["UpdateExpression"],
            expression_attribute_names=names,
            expression_attribute_values=values,
        )


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    errors = _check(self, transact_items)
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    written: list[tuple[str, dict[str, Any], Any]] = []  # (table, key, the item before)
    streams = {
        name: (table.stream_shard, len(table.stream_shard.items))
        for name, table in self.tables.items()
        if table.stream_shard is not None
    }
    for index, item in enumerate(transact_items):
        op_type, op = next(iter(item.items()))
        if op_type == "ConditionCheck":
            continue
        key = _key(self, op_type, op)
        written.append((op["TableName"], key, copy.deepcopy(self.get_item(op["TableName"], key))))
        try:
            _write(self, op_type, op, key)
        except MockValidationException:
            _undo(self, written, streams)
            raise
        except Exception as error:
            _undo(self, written, streams)
            reasons: list[Error] = [(None, None, None)] * len(transact_items)
            reasons[index] = (type(error).__name__, str(error), None)
            raise TransactionCanceledException(reasons) from error


def _undo(
    backend: DynamoDBBackend,
    written: list[tuple[str, dict[str, Any], Any]],
    streams: dict[str, tuple[Any, int]],
) -> None:
    for table_name, key, before in reversed(written):
        if before is None:
            backend.delete_item(table_name, key)
        else:
            backend.put_item(table_name, before.to_json()["Attributes"])
    for shard, length in streams.values():
        del shard.items[length:]  # the undone writes never happened: no stream records for them


DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
