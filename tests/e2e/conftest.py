"""Every e2e module gets its own local stack (`python -m infra.local` on free ports, its own state
folder), started once for the module's tests and stopped after them. After them, every AWS call the
app's functions made on it is checked against those functions' roles in the template."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.local import audit
from infra.local.state import STAGE
from tests.e2e.test_local_stack import RunningStack, start_stack
from tests.least_privilege import assert_least_privilege_holds


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    try:
        yield running
    finally:
        running.stop()
    calls = audit.read(running.audit_file)
    assert calls, f"no AWS call of any function was recorded in {running.audit_file}"
    assert_least_privilege_holds(calls, STAGE)
