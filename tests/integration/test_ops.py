"""The operator CLI against a moto endpoint, through its real entry point."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from chalicelib import bootstrap
from chalicelib.config import ENV_ENDPOINT, Settings
from chalicelib.domain.errors import Unauthenticated
from infra import ops
from infra.local.resources import create_resources
from tests import servers


@pytest.fixture
def target(moto_endpoint: str) -> list[str]:
    stage = f"t{uuid.uuid4().hex[:10]}"
    create_resources(moto_endpoint, stage, servers.REGION)
    return ["--endpoint", moto_endpoint, "--stage", stage]


def cli(target: list[str], capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = ops.main([*target, *args])
    out, err = capsys.readouterr()
    return code, out, err


def services_for(target: list[str]) -> bootstrap.Services:
    from infra.resources import STACK

    env = {**STACK.environment(target[3]), ENV_ENDPOINT: target[1], "AWS_REGION": servers.REGION}
    return bootstrap.build(Settings.from_env(env))


HIERARCHY_CSV = """id,nome,sigla,pai_id,codigo_protocolo,email_contato,ativo,pode_enviar,pode_receber
110,Coordenação de Protocolo,COPROT,100,25000,,sim,sim,sim
100,Ministério da Saúde,MS,,,ti@ms.example.gov.br,sim,sim,sim
111,Arquivo Central,ARQ,110,,,não,sim,não
"""


def test_import_checks_the_whole_file_first(
    target: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(HIERARCHY_CSV + "abc,,X,,,,,,\n110,Duplicada,DUP,100,,,,,\n", encoding="utf-8")
    code, _, err = cli(target, capsys, "structure", "import", str(bad))
    assert code == 2
    assert "row 4: id" in err
    assert "row 4: nome" in err
    assert "id 110 appears more than once" in err
    code, out, _ = cli(target, capsys, "--json", "structure", "list")
    assert json.loads(out) == []


def test_import_creates_then_reports_unchanged(
    target: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = tmp_path / "orgaos.csv"
    good.write_text(HIERARCHY_CSV, encoding="utf-8")
    code, out, err = cli(target, capsys, "structure", "import", str(good))
    assert (code, out.strip()) == (0, "created 3, updated 0, unchanged 0")
    assert "[     3/3] 100%" in err
    code, out, _ = cli(target, capsys, "structure", "import", str(good))
    assert out.strip() == "created 0, updated 0, unchanged 3"
    code, out, _ = cli(target, capsys, "--json", "structure", "list", "--orgao", "100")
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows["111"]["agency_id"] == "100"
    assert rows["111"]["active"] is False
    assert rows["110"]["protocol_code"] == "25000"


def test_rewrite_gives_structures_stored_before_an_index_their_place_in_it(
    target: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An upgrade that adds a registry index (the agencies-only one) leaves the items written before it
    out of the index until they are written again: `structure rewrite` does that for the whole registry."""
    from chalicelib.store.models import StructureItem

    good = tmp_path / "orgaos.csv"
    good.write_text(HIERARCHY_CSV, encoding="utf-8")
    assert cli(target, capsys, "structure", "import", str(good))[0] == 0
    services_for(target)  # binds the models to this stage's tables
    StructureItem.get("100").update(actions=[StructureItem.raiz.remove()])  # as written before the index
    code, out, _ = cli(target, capsys, "--json", "structure", "list", "--orgaos")
    assert (code, json.loads(out)) == (0, [])
    code, out, err = cli(target, capsys, "structure", "rewrite")
    assert (code, out.strip()) == (0, "rewrote 3 structures")
    assert "[     3/3] 100%" in err
    code, out, _ = cli(target, capsys, "--json", "structure", "list", "--orgaos")
    assert [r["id"] for r in json.loads(out)] == ["100"]
    code, out, _ = cli(target, capsys, "structure", "import", str(good))
    assert out.strip() == "created 0, updated 0, unchanged 3"  # nothing else changed


def test_agency_unit_and_update(target: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(target, capsys, "agency", "add", "--id", "200", "--name", "INSS", "--sigla", "INSS")[0] == 0
    code, _, err = cli(target, capsys, "unit", "add", "--parent", "999", "--name", "X", "--sigla", "X")
    assert code == 2
    assert "paiId" in err
    code, out, _ = cli(target, capsys, "unit", "add", "--parent", "200", "--name", "Protocolo", "--sigla", "PROT",
                       "--protocol-code", "33000")  # fmt: skip
    assert code == 0
    unit_id = out.split()[0]
    code, out, _ = cli(target, capsys, "--json", "structure", "update", unit_id, "--can-receive", "no")
    assert json.loads(out)[0]["can_receive"] is False


def line_value(pattern: str, text: str) -> str:
    """The group of the first line of the CLI's output that matches `pattern`."""
    found = re.search(pattern, text, re.M)
    assert found is not None, f"no line {pattern!r} in:\n{text}"
    return found.group(1)


def test_tokens_issue_rotate_revoke(target: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    cli(target, capsys, "agency", "add", "--id", "200", "--name", "INSS", "--sigla", "INSS")
    code, out, _ = cli(
        target, capsys, "token", "issue", "--agency", "200", "--name", "SUAP", "--scopes", "barramento"
    )
    assert code == 0
    token = line_value(r"^token\s+(\S+)$", out)
    client_id = line_value(r"^client\s+(\S+)", out)
    credentials = services_for(target).credentials
    assert credentials.authenticate(f"Bearer {token}").agency_id == "200"
    code, out, _ = cli(target, capsys, "token", "rotate", client_id)
    new_token = line_value(r"^token\s+(\S+)$", out)
    with pytest.raises(Unauthenticated):
        credentials.authenticate(f"Bearer {token}")
    assert cli(target, capsys, "token", "revoke", client_id, "--reason", "fim do contrato")[0] == 0
    with pytest.raises(Unauthenticated, match="revogado"):
        credentials.authenticate(f"Bearer {new_token}")
    code, out, _ = cli(target, capsys, "token", "list", "--agency", "200")
    assert client_id in out
    assert "revoked" in out
    assert cli(target, capsys, "token", "issue", "--agency", "200", "--name", "X", "--scopes", "root")[0] == 2


def test_import_from_json_with_the_same_columns(
    target: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = [
        {"id": "300", "nome": "Ministério da Educação", "sigla": "MEC", "email_contato": "ti@mec.example.gov.br"},
        {"id": "301", "nome": "Protocolo da Educação", "sigla": "PROT", "pai_id": "300", "codigo_protocolo": "23000",
         "pode_receber": False},
    ]  # fmt: skip
    source = tmp_path / "orgaos.json"
    source.write_text(json.dumps({"estruturas": rows}, ensure_ascii=False), encoding="utf-8")
    code, out, _ = cli(target, capsys, "structure", "import", str(source))
    assert (code, out.strip()) == (0, "created 2, updated 0, unchanged 0")
    code, out, _ = cli(target, capsys, "--json", "structure", "show", "301")
    shown = json.loads(out)[0]
    assert (shown["agency_id"], shown["protocol_code"], shown["can_receive"]) == ("300", "23000", False)


@pytest.mark.parametrize("action", ["rotate", "revoke"])
def test_an_empty_client_id_is_the_operators_mistake_not_a_traceback(
    action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        ops.parser().parse_args(["token", action, "  "])
    assert exit_.value.code == 2
    assert "a client id is required" in capsys.readouterr().err
