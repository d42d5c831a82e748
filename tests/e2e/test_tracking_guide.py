"""docs/TRACKING.md is executable: its shell blocks run, in order, against a real local stack."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_local_stack import RunningStack, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "TRACKING.md"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("tracking-guide"))
    try:
        yield running
    finally:
        running.stop()


def shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)


def test_the_tracking_guide_runs_end_to_end(stack: RunningStack, tmp_path: Path) -> None:
    script = tmp_path / "guide.sh"
    script.write_text("set -euo pipefail\n" + "\n".join(shell_blocks()), encoding="utf-8")
    env = {
        **stack.env(),
        "BASE": stack.api_url,
        "PEN_LOCAL_DIR": str(stack.local_dir),
        "PYTHON": sys.executable,
    }
    result = subprocess.run(
        ["bash", str(script)], cwd=GUIDE.parent.parent, env=env, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "If-None-Match: 304" in output
    assert '"status":400' in output  # the wrong check digit
    assert '"status":404' in output  # the unknown NUP
    assert '"estado": "confirmado"' in output
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in output  # the notice, from the mailbox
    assert "one-click: 200" in output
    assert '"estado":"cancelado"' in output
    assert '"registrados":1,"recusados":1' in output
    assert '"orgao":"INSS"' in output  # the outside record is published
