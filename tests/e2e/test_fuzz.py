"""API fuzzing: schemathesis against the local stack (`python -m infra.local`) over real HTTP.

Every operation of docs/openapi.json (the document the stack serves at /openapi.json, checked equal
first) gets generated requests, valid ones (positive) and ones that break the schema (negative).
Authenticated routes are called with a demo token whose scopes cover the route's declared scope (the
MGI's carries every scope; the INSS's, a bus-only agency, carries `barramento` and `processos`, so it
takes turns on those routes). Every answer must:
- not be a 5xx;
- have a documented status code, a documented media type and a body valid against its schema;
- on an error status, be RFC 9457 problem details (application/problem+json, `status` equal to the
  HTTP status).

Bounded and reproducible in `make test` (PEN_FUZZ_EXAMPLES per route and mode, default below, from
hypothesis' fixed seed: every run sends the same requests, so a red CI is never a coin toss); `make fuzz`
runs many more from fresh random seeds (PEN_FUZZ_EXPLORE=1), to find what the fixed ones miss. A
failure prints hypothesis' falsifying example (the case) and a curl line to replay it. Findings are kept
as plain regression tests in tests/integration/test_fuzz_findings.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err, Result
from schemathesis.errors import InvalidSchema

from tests.e2e.test_local_stack import RunningStack, get

# Positive and negative cases run on the two xdist workers, each with its own local stack.
pytestmark = [pytest.mark.e2e]
POSITIVE = pytest.param(
    GenerationMode.POSITIVE, id="positive", marks=pytest.mark.xdist_group("fuzz-positive")
)
NEGATIVE = pytest.param(
    GenerationMode.NEGATIVE, id="negative", marks=pytest.mark.xdist_group("fuzz-negative")
)

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "openapi.json"
EXAMPLES = int(os.environ.get("PEN_FUZZ_EXAMPLES", "100"))  # per route and generation mode
EXPLORE = os.environ.get("PEN_FUZZ_EXPLORE") == "1"  # fresh random examples instead of the fixed seed
REQUEST_TIMEOUT = 20.0
MAX_LONG_POLL = 1  # seconds: /barramento/pendencias?espera= holds the request up to 20 s
PROBLEM_MEDIA_TYPE = "application/problem+json"

Operation = APIOperation[Any, Any, Any, Any]


def _readable(result: Result[Operation, InvalidSchema]) -> Operation:
    """An operation of the document; one schemathesis cannot read stops the module with its own error."""
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


SCHEMA = schemathesis.openapi.from_path(DOCUMENT)
OPERATIONS = {op.label: op for op in map(_readable, SCHEMA.get_all_operations())}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _declared_scopes(operation: Any) -> set[str] | None:
    """The scopes a route declares; None for a public route."""
    security = operation.definition.raw.get("security") or []
    if not security:
        return None
    return {scope for requirement in security for scopes in requirement.values() for scope in scopes}


@pytest.fixture(scope="module")
def tokens(stack: RunningStack) -> list[tuple[frozenset[str], str]]:
    """(scopes, token) of every demo client."""
    return [(frozenset(c["escopos"]), c["token"]) for c in stack.credentials()]


@pytest.fixture(scope="module")
def own_clients(stack: RunningStack) -> set[str]:
    return {c["clienteId"] for c in stack.credentials()}


@pytest.mark.xdist_group("fuzz-positive")
def test_the_stack_serves_the_documented_openapi(stack: RunningStack) -> None:
    """The fuzzer reads docs/openapi.json: it must be what the running API serves."""
    reply = get(f"{stack.api_url}/openapi.json")
    assert reply.status == 200
    assert reply.json() == json.loads(DOCUMENT.read_text(encoding="utf-8")), "run `make openapi`"


def assert_problem_details(response: Any) -> None:
    if response.status_code < 400:
        return
    media_type = (response.headers.get("content-type") or [""])[0]
    assert media_type.startswith(PROBLEM_MEDIA_TYPE), f"{response.status_code} answered as {media_type!r}"
    problem = json.loads(response.content)
    assert isinstance(problem, dict), problem
    assert problem.get("status") == response.status_code, problem
    for member in ("type", "title", "detail"):
        assert isinstance(problem.get(member), str), problem
        assert problem[member], problem


@pytest.mark.parametrize("mode", [POSITIVE, NEGATIVE])
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_fuzz_route(
    stack: RunningStack,
    tokens: list[tuple[frozenset[str], str]],
    own_clients: set[str],
    label: str,
    mode: GenerationMode,
) -> None:
    operation = OPERATIONS[label]
    needed = _declared_scopes(operation)
    usable = [] if needed is None else [token for scopes, token in tokens if needed <= scopes]
    if needed is not None:
        assert usable, f"no demo token carries {needed} for {label}"

    @settings(
        max_examples=EXAMPLES,
        derandomize=not EXPLORE,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), token=st.sampled_from(usable or [""]))
    def run(case: Any, token: str) -> None:
        # The fuzzer must not lock itself out: revoking a demo client is tested in tests/e2e.
        assume((case.path_parameters or {}).get("cliente_id") not in own_clients)
        if case.query and "espera" in case.query:
            case.query["espera"] = _capped(case.query["espera"])
        headers = {"Connection": "close"}  # chalice local stalls ~40 ms per kept-alive request
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = case.call(base_url=stack.api_url, headers=headers, timeout=REQUEST_TIMEOUT)
        case.validate_response(response, checks=CHECKS, headers=headers)
        assert_problem_details(response)

    run()


def _capped(value: Any) -> Any:
    """A long-poll wait capped to MAX_LONG_POLL; anything that is not a number stays as generated."""
    try:
        return min(int(value), MAX_LONG_POLL)
    except (TypeError, ValueError):
        return value
