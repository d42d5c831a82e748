"""docs/API.md is executable: its shell blocks run, in order, against a real local stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.guides import DOCS, run_guide, shell_blocks
from tests.e2e.test_local_stack import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]
GUIDE = DOCS / "API.md"


def test_the_guide_runs_end_to_end(stack: RunningStack, tmp_path: Path) -> None:
    returncode, output = run_guide(stack, GUIDE, tmp_path, timeout=120)
    assert returncode == 0, output
    assert "Verified OK" in output  # openssl checked the platform's stamp
    assert '"integro": true' in output  # the history chain verified
    assert '"nup": "10001.' in output  # a NUP of the MGI's protocol unit
    assert "urn:pen:problema:dados-invalidos" in output  # the last block shows an error
    assert "interessados.0.documento" in output


def test_the_guide_has_the_walkthrough_steps() -> None:
    text = "\n".join(shell_blocks(GUIDE))
    for route in ("/processos", "/documentos/externos", "/assinaturas", "/publico/documentos/autenticidade",
                  "/publico/chaves", "/envios", "/historico"):  # fmt: skip
        assert route in text, route
