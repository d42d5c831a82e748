"""docs/TRACKING.md is executable: its shell blocks run, in order, against a real local stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.guides import DOCS, run_guide
from tests.e2e.test_local_stack import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]
GUIDE = DOCS / "TRACKING.md"


def test_the_tracking_guide_runs_end_to_end(stack: RunningStack, tmp_path: Path) -> None:
    returncode, output = run_guide(stack, GUIDE, tmp_path, timeout=180)
    assert returncode == 0, output
    assert "If-None-Match: 304" in output
    assert '"status":400' in output  # the wrong check digit
    assert '"status":404' in output  # the unknown NUP
    assert '"estado": "confirmado"' in output
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in output  # the notice, from the mailbox
    assert "one-click: 200" in output
    assert '"estado":"cancelado"' in output
    assert '"registrados":1,"recusados":1' in output
    assert '"orgao":"INSS"' in output  # the outside record is published
