"""docs/API.md is executable: its shell blocks run, in order, against a real local stack."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_local_stack import RunningStack, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "API.md"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("api-guide"))
    try:
        yield running
    finally:
        running.stop()


def shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)


def test_the_guide_runs_end_to_end(stack: RunningStack, tmp_path: Path) -> None:
    script = tmp_path / "guide.sh"
    script.write_text("set -euo pipefail\n" + "\n".join(shell_blocks()), encoding="utf-8")
    env = {**stack.env(), "BASE": stack.api_url, "PEN_LOCAL_DIR": str(stack.local_dir)}
    result = subprocess.run(
        ["bash", str(script)], cwd=GUIDE.parent.parent, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Verified OK" in output  # openssl checked the platform's stamp
    assert '"integro": true' in output  # the history chain verified
    assert '"nup": "10001.' in output  # a NUP of the MGI's protocol unit
    assert "urn:pen:problema:dados-invalidos" in output  # the last block shows an error
    assert "interessados.0.documento" in output


def test_the_guide_has_the_walkthrough_steps() -> None:
    text = "\n".join(shell_blocks())
    for route in ("/processos", "/documentos/externos", "/assinaturas", "/publico/documentos/autenticidade",
                  "/publico/chaves", "/envios", "/historico"):  # fmt: skip
        assert route in text, route
