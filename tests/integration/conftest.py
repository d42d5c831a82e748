"""Integration fixtures: a fresh set of resources on the session's moto server for each test,
created by the local stack's own code from infra/resources.py, and the API driven through the
real handlers behind the same gateway the local stack serves (ProblemGateway)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from chalice.test import Client, HTTPResponse

import app as app_module
from chalicelib import bootstrap
from chalicelib.config import ENV_ENDPOINT, Settings
from chalicelib.domain.credentials import Scope
from chalicelib.domain.structures import Structure
from infra.local import audit
from infra.local.gateway import ProblemGateway
from infra.local.resources import client, create_resources
from infra.local.worker import Worker
from infra.resources import STACK
from tests import servers
from tests.least_privilege import ACCOUNT, assert_least_privilege_holds

# Every AWS call a function makes in these tests (a route, the authorizer, a handler the worker
# runs), checked after each test against that function's role in the template.
AUDITED: list[audit.Call] = []


@pytest.fixture(scope="session", autouse=True)
def _audit_aws_calls() -> None:
    audit.install(AUDITED.append, servers.REGION, ACCOUNT)


@dataclass
class Stack:
    endpoint: str
    settings: Settings
    services: bootstrap.Services
    tokens: dict[str, str]
    client_ids: dict[str, str]


@pytest.fixture
def stack(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    stage = f"t{uuid.uuid4().hex[:10]}"
    env = {**STACK.environment(stage), ENV_ENDPOINT: moto_endpoint}
    env.update(create_resources(moto_endpoint, stage, servers.REGION))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bootstrap.reset()
    AUDITED.clear()
    services = bootstrap.services()
    registry = services.registry
    registry.save(Structure(id="100", name="Ministério da Saúde", acronym="MS", agency_id="",
                            contact_email="ti@ms.example.gov.br"))  # fmt: skip
    registry.save(Structure(id="101", name="Protocolo Central do MS", acronym="PROT", agency_id="",
                            parent_id="100", protocol_code="25000"))  # fmt: skip
    registry.save(
        Structure(id="200", name="Instituto Nacional do Seguro Social", acronym="INSS", agency_id="")
    )
    tokens, client_ids = {}, {}
    for name, agency, scopes in [
        ("ms-admin", "100", {Scope.PROCESSOS, Scope.BARRAMENTO, Scope.ADMIN}),
        ("ms-sei", "100", {Scope.PROCESSOS}),
        ("inss-bus", "200", {Scope.BARRAMENTO}),
        ("inss-admin", "200", {Scope.ADMIN}),
    ]:
        issued = services.credentials.issue(agency, name, frozenset(scopes))
        tokens[name], client_ids[name] = issued.token, issued.client.id
    yield Stack(moto_endpoint, services.settings, services, tokens, client_ids)
    bootstrap.reset()
    assert_least_privilege_holds(list(AUDITED), stage)


def queue_urls() -> dict[str, str]:
    """Every STACK queue's variable and its URL on the test's stack (after `stack` set them)."""
    return {queue.env: os.environ[queue.env] for queue in STACK.queues}


@pytest.fixture
def worker(stack: Stack) -> Worker:
    """The local stack's worker on the test's resources (Lambda's event sources, played locally),
    with a unit 102 under the protocol unit 101 to move processes to."""
    stack.services.registry.save(
        Structure(id="102", name="Divisão", acronym="DIV", agency_id="", parent_id="101")
    )
    sqs = client("sqs", stack.endpoint, servers.REGION)
    return Worker.for_stack(app_module.app, sqs, queue_urls(), stage=stack.settings.stage, region=servers.REGION,
                            log=lambda _: None)  # fmt: skip


def drain(worker: Worker, rounds: int = 10) -> None:
    """Delivers the processes table's stream until a round delivers nothing."""
    source = next(s for s in worker.streams if s.table.logical_id == "ProcessosTable")
    for _ in range(rounds):
        result = worker.poll_stream(source)
        if result.delivered == 0 and result.retried == 0:
            return


class ApiResponse(HTTPResponse):
    """Chalice's test response with its body parsed as JSON (None when empty) and its headers
    lower-cased, as the tests read them."""

    def __init__(self, response: HTTPResponse) -> None:
        super().__init__(response.body, response.headers, response.status_code)
        self.json: Any = json.loads(response.body) if response.body else None
        self.lower_headers = {k.lower(): v for k, v in response.headers.items()}


class Api:
    """HTTP calls through the real app and the local gateway, as a client sees them."""

    def __init__(self, client: Client) -> None:
        self._http = client.http

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> ApiResponse:
        sent = {"content-type": "application/json", **(headers or {})}
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        return ApiResponse(self._http.request(method, path, headers=sent, body=payload))


@pytest.fixture
def api(stack: Stack) -> Iterator[Api]:
    with Client(app_module.app, stage_name="local") as client:
        # The gateway in front of the app is the local stack's, so answers match `make run`'s.
        client.http._local_gateway = ProblemGateway(app_module.app, client.http._config)
        yield Api(client)


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.body
    assert response.lower_headers["content-type"].startswith("application/problem+json")
    body = response.json
    assert body["type"] == f"urn:pen:problema:{slug}"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return dict(body)
