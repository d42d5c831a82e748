"""docs/OPERATIONS.md's walkthrough is executable: its shell blocks run, in order, against a real local
stack (the reference blocks are `text`, not run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.guides import DOCS, run_guide
from tests.e2e.test_local_stack import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]
GUIDE = DOCS / "OPERATIONS.md"


def test_the_operations_walkthrough_runs_as_written(stack: RunningStack, tmp_path: Path) -> None:
    returncode, output = run_guide(stack, GUIDE, tmp_path, timeout=180)
    assert returncode == 0, output
    assert "pen-local-barramento-dlq" in output  # the queues table and the DLQ preview
    assert "nothing to move" in output
    assert "recibo de conclusão enviado" in output  # the stuck INSS trâmite, state 5
    assert "VERIFIED: the platform's stamp is valid" in output
    assert "cancel refused: exit 2" in output  # final by then: the receipt was fetched
    assert "chain: intact" in output
