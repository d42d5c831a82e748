"""Which AWS permissions each Lambda function of the app used, recorded on the local stack.

With `PEN_AUDIT_FILE=<path>` the local stack appends one JSON line per AWS API call the app makes
while one of its functions runs (a route, the authorizer, a queue, stream or schedule handler):
the function's Chalice name, the call, and the IAM authorisations AWS would check for it (action,
resource ARN, and the condition keys our policies test). The e2e tests check every line against
that function's role in the template (tests/e2e/least_privilege.py): a call its role would refuse
in AWS fails the build, not the first request after a deploy.

The local stack's own calls (creating resources, seeding the demo, the worker receiving and deleting
messages as Lambda's poller does) happen outside any function and are not recorded.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ENV_AUDIT_FILE = "PEN_AUDIT_FILE"
API_FUNCTION = "api_handler"  # Chalice's name for the function behind every route

_running: ContextVar[str | None] = ContextVar("pen_running_function", default=None)
_installed: list[bool] = []  # one install per process: the wrapper must not wrap itself
_lock = threading.Lock()


@contextmanager
def running(function: str) -> Iterator[None]:
    """Marks the AWS calls made inside as the function's (its Chalice name)."""
    token = _running.set(function)
    try:
        yield
    finally:
        _running.reset(token)


def as_function(function: str, handler: Callable[..., Any]) -> Callable[..., Any]:
    def invoke(*args: Any, **kwargs: Any) -> Any:
        with running(function):
            return handler(*args, **kwargs)

    return invoke


@dataclass(frozen=True)
class Need:
    """One authorisation AWS checks for a call: the action on the resource, given the context."""

    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)


class Arns:
    """ARNs of the resources a call names, in the account and region it reaches."""

    def __init__(self, region: str, account: str) -> None:
        self.region, self.account = region, account

    def of(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def table(self, name: str) -> str:
        return name if name.startswith("arn:") else self.of("dynamodb", f"table/{name}")

    def queue(self, url_or_name: str) -> str:
        if url_or_name.startswith("arn:"):
            return url_or_name
        path = urlparse(url_or_name).path.strip("/").split("/") if "://" in url_or_name else [url_or_name]
        account = path[0] if len(path) == 2 else self.account
        return f"arn:aws:sqs:{self.region}:{account}:{path[-1]}"

    def key(self, key_id: str) -> str:
        if key_id.startswith("arn:"):
            return key_id
        return self.of("kms", key_id if key_id.startswith("alias/") else f"key/{key_id}")


# DynamoDB's transactions are authorised item by item, each as the single-item action.
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
# S3 operations whose IAM action has another name.
_S3_ACTIONS = {
    "HeadObject": "GetObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "ListParts": "ListMultipartUploadParts",
}


def needs(service: str, operation: str, params: dict[str, Any], arns: Arns) -> list[Need]:
    """What IAM checks for one call of `service` (boto3's name) with these parameters.

    Covers the services the app calls; a call of any other service is reported as `service:*`
    on `*`, which no role of ours grants, so an unexpected kind of call fails the check."""
    if service == "dynamodb":
        if operation in {"TransactWriteItems", "TransactGetItems"}:
            found = []
            for item in params.get("TransactItems", []):
                for kind, request in item.items():
                    action = f"dynamodb:{_TRANSACT_ACTIONS[kind]}"
                    found.append(Need(action, arns.table(request["TableName"])))
            return found
        resource = arns.table(params["TableName"])
        if params.get("IndexName"):
            resource += f"/index/{params['IndexName']}"
        return [Need(f"dynamodb:{operation}", resource)]
    if service == "sqs":
        queue = params.get("QueueUrl") or params.get("QueueName", "")
        action = "SendMessage" if operation == "SendMessageBatch" else operation
        return [Need(f"sqs:{action}", arns.queue(queue))]
    if service == "s3":
        action = _S3_ACTIONS.get(operation, operation)
        if "Key" in params:
            return [Need(f"s3:{action}", f"arn:aws:s3:::{params['Bucket']}/{params['Key']}")]
        return [Need(f"s3:{action}", f"arn:aws:s3:::{params['Bucket']}")]
    if service == "kms":
        return [Need(f"kms:{operation}", arns.key(params["KeyId"]))]
    if service == "sesv2" and operation == "SendEmail":
        sender = params.get("FromEmailAddress", "")
        context = {"ses:FromAddress": sender.rsplit("<", 1)[-1].rstrip(">").strip()}
        found = [Need("ses:SendEmail", arns.of("ses", f"identity/{context['ses:FromAddress']}"), context)]
        if params.get("ConfigurationSetName"):
            configuration_set = arns.of("ses", f"configuration-set/{params['ConfigurationSetName']}")
            found.append(Need("ses:SendEmail", configuration_set, context))
        return found
    return [Need(f"{service}:*", "*")]


@dataclass(frozen=True)
class Call:
    function: str
    service: str
    operation: str
    needs: list[Need]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Call:
        return cls(data["function"], data["service"], data["operation"], [Need(**n) for n in data["needs"]])


def read(path: Path) -> list[Call]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Call.from_json(json.loads(line)) for line in lines if line.strip()]


def install(sink: Callable[[Call], None], region: str, account: str) -> None:
    """Hands every AWS call made inside `running(...)` to `sink`, from now on (once per process).

    botocore's `BaseClient._make_api_call` is the one funnel for boto3's clients and PynamoDB's
    (which calls it directly), so it is wrapped there; Chalice's authorizer runs inside the API's
    request, so its calls are marked with its own name."""
    import botocore.client
    from chalice.app import ChaliceAuthorizer

    if _installed:
        raise RuntimeError("the AWS call audit is installed already")
    _installed.append(True)
    arns = Arns(region, account)
    make_api_call = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]  # private
    authorize = ChaliceAuthorizer.__call__

    def recorded(client: Any, operation: str, params: dict[str, Any]) -> Any:
        function = _running.get()
        if function is not None:
            service = client.meta.service_model.service_name
            sink(Call(function, service, operation, needs(service, operation, params, arns)))
        return make_api_call(client, operation, params)

    def authorizer(self: Any, event: Any, context: Any) -> Any:
        with running(self.name):
            return authorize(self, event, context)

    botocore.client.BaseClient._make_api_call = recorded  # type: ignore[attr-defined]
    ChaliceAuthorizer.__call__ = authorizer  # type: ignore[method-assign]


def install_from_env(region: str, account: str) -> Path | None:
    """PEN_AUDIT_FILE set: every call is appended to that file as a JSON line."""
    configured = os.environ.get(ENV_AUDIT_FILE, "").strip()
    if not configured:
        return None
    path = Path(configured)
    path.parent.mkdir(parents=True, exist_ok=True)

    def append(call: Call) -> None:
        line = json.dumps(call.as_json(), ensure_ascii=False)
        with _lock, path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")

    install(append, region, account)
    return path
