"""docs/OPERATIONS.md is executable: its shell blocks run, in order, against a real local stack (the
reference blocks are `text`, not run): the day-two walkthrough, the signing key's rotation, a table's
restore with a copy back, and an agency's onboarding. The AWS-only steps (CloudFormation, CloudWatch,
SES's sandbox) are reference blocks: moto has no equivalent to run them against."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.guides import DOCS, run_guide
from tests.e2e.test_local_stack import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]
GUIDE = DOCS / "OPERATIONS.md"


def test_the_operations_walkthrough_runs_as_written(stack: RunningStack, tmp_path: Path) -> None:
    returncode, output = run_guide(stack, GUIDE, tmp_path, timeout=300)
    assert returncode == 0, output
    assert "pen-local-barramento-dlq" in output  # the queues table and the DLQ preview
    assert "nothing to move" in output
    assert "recibo de conclusão enviado" in output  # the stuck INSS trâmite, state 5
    assert "VERIFIED: the platform's stamp is valid" in output
    assert "cancel refused: exit 2" in output  # final by then: the receipt was fetched
    assert "chain: intact" in output
    # Rotating the signing key: the old key stays enabled; a receipt it stamped verifies with its public
    # half and not with the new key's.
    switch = re.search(r"alias now on (arn:aws:kms:\S+)\nold key (arn:aws:kms:\S+): Enabled\n", output)
    assert switch, output
    assert switch[1] != switch[2]
    assert "the receipt names the old key" in output
    assert output.count("VERIFIED: the platform's stamp is valid") == 2
    assert "not with the new key: exit 1" in output
    # Restoring a table: restored next to the live one, the damage found by key, copied back, clean again.
    assert re.search(r"pen-local-estruturas-restaurada-\d{8}T\d{6}Z: ACTIVE", output)
    assert '1  different (changed since)\n           {"pk": "2002"}' in output
    assert output.count("the tables hold the same items") == 2
    assert '{"id":"2002","contact_email":null}' in output
    # Onboarding: the import checked, then written, then unchanged; the token works until revoked.
    assert "3 rows are valid; nothing was written (--dry-run)" in output
    assert "created 3, updated 0, unchanged 0" in output
    assert "created 0, updated 0, unchanged 3" in output
    assert "agency 4001 is hosted" in output
    assert '"sigla":"MEC"' in output
    assert '"escopos":["barramento","processos"]' in output
    assert "after revoke: 401" in output
