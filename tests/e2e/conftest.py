"""Every e2e module gets its own local stack (`python -m infra.local` on free ports, its own state
folder), started once for the module's tests and stopped after them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_local_stack import RunningStack, start_stack


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    try:
        yield running
    finally:
        running.stop()
