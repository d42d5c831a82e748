"""Fault injection into AWS calls, for the tests of what a crash or a redelivery leaves behind.

boto3's and PynamoDB's calls alike go through botocore's `BaseClient._make_api_call`: patched, it lists
every call and makes the chosen one fail once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient


class Injected(ConnectionError):
    """The injected failure (a ConnectionError, as a network fault would be)."""


@contextmanager
def aws_calls(
    at: int | None = None, lost_answer: bool = False, *, armed: bool = True
) -> Iterator[Callable[[bool], list[str]]]:
    """Lists the AWS calls made while armed; the armed call number `at` fails once: before it reaches
    AWS, or (`lost_answer`) after AWS did it, its answer lost on the way back. Yields
    `arm(on) -> calls seen so far`, so a harness can leave its own calls (a stream poller's) uncounted
    and unfailed by arming only around the code under test."""
    seen: list[str] = []
    state = [armed]
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def call(self: BaseClient, operation: str, params: Any) -> Any:
        if not state[0]:
            return original(self, operation, params)
        seen.append(f"{self.meta.service_model.service_id}.{operation}")
        if at is None or len(seen) != at:
            return original(self, operation, params)
        if lost_answer:
            original(self, operation, params)
        raise Injected(f"injected: {seen[-1]} fails")

    def arm(on: bool) -> list[str]:
        state[0] = on
        return seen

    BaseClient._make_api_call = call  # type: ignore[attr-defined]
    try:
        yield arm
    finally:
        BaseClient._make_api_call = original  # type: ignore[attr-defined]
