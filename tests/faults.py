"""Fault injection into AWS calls, for the tests of what a crash or a redelivery leaves behind.

boto3's and PynamoDB's calls alike go through botocore's `BaseClient._make_api_call`: patched, it lists
every call and makes the chosen one fail once. The patch sits above botocore's own retries, so an
injected throttle or timeout is one that botocore already gave up on.

Fault kinds (`FAULTS`, used by tests/integration/test_fault_matrix.py):
- `THROTTLED`: AWS refuses the call (ClientError ThrottlingException, or
  ProvisionedThroughputExceededException for DynamoDB, as botocore raises them): nothing was done.
- `TIMEOUT`: AWS did the call but its answer never came back (botocore ReadTimeoutError): the worst
  timeout, since the caller cannot tell it from one that never reached AWS.
- `CRASH`: AWS did the call, then the handler's process died (`Crash`, a BaseException: no
  `except Exception` of the handler, of Powertools' batch processor or of the local worker runs,
  exactly as when Lambda's sandbox dies).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError, ReadTimeoutError


class Injected(ConnectionError):
    """The injected failure (a ConnectionError, as a network fault would be)."""


class Crash(BaseException):
    """The handler's process died (out of memory, killed at its timeout): nothing of it runs on."""


def throttling(service: str, operation: str) -> ClientError:
    """The error botocore raises when AWS throttles the call (after its own retries gave up)."""
    code = "ProvisionedThroughputExceededException" if service == "DynamoDB" else "ThrottlingException"
    response: Any = {
        "Error": {"Code": code, "Message": "Rate exceeded (injected)"},
        "ResponseMetadata": {"HTTPStatusCode": 400, "MaxAttemptsReached": True, "RetryAttempts": 9},
    }
    return ClientError(response, operation)


@dataclass(frozen=True)
class Fault:
    """One kind of failure of one AWS call. `after`: the call reaches AWS and is done there first."""

    name: str
    after: bool
    error: Callable[[str, str, str], BaseException]  # (service id, operation, endpoint) -> the error

    def __str__(self) -> str:
        return self.name


THROTTLED = Fault("throttled", False, lambda service, operation, _: throttling(service, operation))
TIMEOUT = Fault("timeout", True, lambda _s, _o, endpoint: ReadTimeoutError(endpoint_url=endpoint))
CRASH = Fault(
    "crash", True, lambda service, operation, _: Crash(f"injected: died after {service}.{operation}")
)
FAULTS = (THROTTLED, TIMEOUT, CRASH)


@contextmanager
def aws_calls(
    at: int | None = None, lost_answer: bool = False, *, armed: bool = True, fault: Fault | None = None
) -> Iterator[Callable[[bool], list[str]]]:
    """Lists the AWS calls made while armed; the armed call number `at` fails once: with `fault`
    when given, else with `Injected` before it reaches AWS or (`lost_answer`) after AWS did it, its
    answer lost on the way back. Yields `arm(on) -> calls seen so far`, so a harness can leave its
    own calls (a stream poller's) uncounted and unfailed by arming only around the code under test."""
    seen: list[str] = []
    state = [armed]
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def call(self: BaseClient, operation: str, params: Any) -> Any:
        if not state[0]:
            return original(self, operation, params)
        service = self.meta.service_model.service_id
        seen.append(f"{service}.{operation}")
        if at is None or len(seen) != at:
            return original(self, operation, params)
        if fault is None:
            if lost_answer:
                original(self, operation, params)
            raise Injected(f"injected: {seen[-1]} fails")
        if fault.after:
            original(self, operation, params)
        raise fault.error(str(service), operation, str(self.meta.endpoint_url))

    def arm(on: bool) -> list[str]:
        state[0] = on
        return seen

    BaseClient._make_api_call = call  # type: ignore[attr-defined]
    try:
        yield arm
    finally:
        BaseClient._make_api_call = original  # type: ignore[attr-defined]
