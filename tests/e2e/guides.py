"""Runs a page of docs/ as a script: its ```sh blocks, in order, against a running local stack."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_local_stack import RunningStack

DOCS = Path(__file__).resolve().parents[2] / "docs"


def shell_blocks(guide: Path) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", guide.read_text(encoding="utf-8"), flags=re.S)


def run_guide(stack: RunningStack, guide: Path, tmp_path: Path, timeout: float) -> tuple[int, str]:
    """The exit code and the whole output of the page's commands, run from the repository's root
    (`set -euo pipefail`: the first failing command stops it)."""
    script = tmp_path / "guide.sh"
    script.write_text("set -euo pipefail\n" + "\n".join(shell_blocks(guide)), encoding="utf-8")
    env = {
        **stack.env(),
        # The virtualenv's tools first (the AWS CLI the runbook uses), as `make test` does not activate it.
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "BASE": stack.api_url,
        "PEN_LOCAL_DIR": str(stack.local_dir),
        "PYTHON": sys.executable,
    }
    result = subprocess.run(
        ["bash", str(script)], cwd=DOCS.parent, env=env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr
