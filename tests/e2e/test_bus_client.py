"""docs/examples/bus_client.py against a real local stack, run as an integrator runs it (a subprocess with
a token): the INSS (bus only) sends a process with two files to the MS, the MS receives it and sends the
recibo de conclusão, the INSS fetches the receipt and it verifies with openssl; a corrupt component is
refused (motivo 02) and the INSS gives ciência; a refusal by decision, a cancel and the problem details
printed on a 409; the return path. States are checked through the API, not the script's output."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.domain.documents import blob_key
from infra.local.state import STACK_FILE
from tests.e2e.test_local_stack import RunningStack, get, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]
ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "docs" / "examples" / "bus_client.py"
INSS_UNIT, MS_UNIT = "3002", "2002"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("bus-client"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def tokens(stack: RunningStack) -> dict[str, str]:
    return {c["sigla"]: c["token"] for c in stack.credentials()}


def run(
    stack: RunningStack, token: str, *args: str | Path, cwd: Path, via_env: bool = False
) -> subprocess.CompletedProcess[str]:
    """The example client as a person runs it: only the standard library, the token as an argument
    (or in PEN_TOKEN), a clean environment but for PATH (openssl)."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1"}
    auth = ["--token", token]
    if via_env:
        env["PEN_TOKEN"] = token
        auth = []
    return subprocess.run(
        [sys.executable, "-I", str(CLIENT), "--base-url", stack.api_url, *auth, *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip


def tramite(stack: RunningStack, token: str, idt: str) -> dict[str, Any]:
    """The trâmite as the API lists it (a listing moves nothing)."""
    reply = get(f"{stack.api_url}/barramento/tramites?idt={idt}", token)
    assert reply.status == 200, reply.body
    [found] = reply.json()["itens"]
    return dict(found)


def pending(stack: RunningStack, token: str) -> dict[str, dict[str, Any]]:
    reply = get(f"{stack.api_url}/barramento/pendencias", token)
    assert reply.status == 200, reply.body
    return {p["idt"]: p for p in reply.json()["itens"]}


def field(output: str, name: str) -> str:
    found = re.search(rf"^{name}: (\S+)", output, flags=re.M)
    assert found, output
    return found.group(1)


def files(folder: Path, *sizes: int, prefix: str = "documento") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for index, size in enumerate(sizes, start=1):
        path = folder / f"{prefix}-{index}.pdf"
        path.write_bytes(b"%PDF-1.7\n" + os.urandom(size) + b"\n%%EOF\n")
        made.append(path)
    return made


def send(stack: RunningStack, token: str, paths: list[Path], tmp: Path, *extra: str) -> tuple[str, str]:
    sent = run(stack, token, "send", "--from", INSS_UNIT, "--to", MS_UNIT, *extra, *paths, cwd=tmp)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "recibo de envio: Verified OK (openssl)" in sent.stdout, sent.stdout
    return field(sent.stdout, "IDT"), field(sent.stdout, "NRE")


def openssl_verify(folder: Path, pem: str, signature: bytes, message: bytes) -> str:
    key, sig, msg = folder / "key.pem", folder / "sig.der", folder / "registro.bin"
    key.write_text(pem, encoding="ascii")
    sig.write_bytes(signature)
    msg.write_bytes(message)
    checked = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", str(key), "-signature", str(sig), str(msg)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    return checked.stdout


def test_send_receive_and_a_receipt_that_verifies_with_openssl(
    stack: RunningStack, tokens: dict[str, str], tmp_path: Path
) -> None:
    assert shutil.which("openssl"), "the e2e tests need the openssl command"
    paths = files(tmp_path / "saida", 700, 300)
    idt, nre = send(stack, tokens["INSS"], paths, tmp_path)
    assert tramite(stack, tokens["INSS"], idt)["estado"] == 2
    assert pending(stack, tokens["MS"])[idt]["acoes"] == ["receber-metadados", "recusar"]

    listed = run(stack, tokens["MS"], "pendencias", cwd=tmp_path, via_env=True)
    assert listed.returncode == 0, listed.stderr
    assert idt in listed.stdout

    out = tmp_path / "recebidos"
    received = run(stack, tokens["MS"], "receive", idt, "--out", out, cwd=tmp_path)
    assert received.returncode == 0, received.stdout + received.stderr
    assert "recibo de conclusão sent: estado 5" in received.stdout
    assert (out / "001-01-documento-1.pdf").read_bytes() == paths[0].read_bytes()
    assert (out / "002-01-documento-2.pdf").read_bytes() == paths[1].read_bytes()
    assert json.loads((out / "manifesto.json").read_text(encoding="utf-8"))["cabecalho"]["remetente"] == {
        "repositorio": "1",
        "estrutura": INSS_UNIT,
    }
    assert tramite(stack, tokens["INSS"], idt)["estado"] == 5
    assert pending(stack, tokens["INSS"])[idt]["estado"] == 5

    kept = tmp_path / "recibo"
    fetched = run(stack, tokens["INSS"], "recibo", idt, "--salvar", kept, cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert "stamp: Verified OK (openssl)" in fetched.stdout
    after = tramite(stack, tokens["INSS"], idt)
    assert after["estado"] == 6
    assert [h["estado"] for h in after["historico"]] == [1, 2, 3, 4, 5, 6]
    assert idt not in pending(stack, tokens["INSS"])

    # The receipt the client kept verifies on its own, with the key the platform publishes.
    record = (kept / f"{idt}.registro.json").read_bytes()
    signed = json.loads(record)
    assert (signed["idt"], signed["nre"]) == (idt, nre)
    keys = {k["id"]: k["pem"] for k in get(f"{stack.api_url}/publico/chaves").json()["chaves"]}
    receipt = get(f"{stack.api_url}/barramento/tramites/{idt}/recibo", tokens["INSS"]).json()["recibo"]
    assert base64.b64decode(receipt["registro"]) == record
    verified = openssl_verify(
        tmp_path, keys[receipt["carimbo"]["chave"]], (kept / f"{idt}.assinatura.der").read_bytes(), record
    )
    assert "Verified OK" in verified

    history = run(stack, tokens["MS"], "historico", "--nre", nre, cwd=tmp_path)
    assert history.returncode == 0, history.stderr
    assert f"IDT {idt}" in history.stdout
    assert "6 recibo de conclusão recebido" in history.stdout


def test_a_corrupt_component_is_refused_and_the_sender_gives_ciencia(
    stack: RunningStack, tokens: dict[str, str], tmp_path: Path
) -> None:
    [path] = files(tmp_path / "saida", 500)
    idt, _ = send(stack, tokens["INSS"], [path], tmp_path)
    # The bytes in custody go bad after the custody check (a storage fault, say).
    described = json.loads((stack.local_dir / STACK_FILE).read_text(encoding="utf-8"))
    s3 = boto3.client(
        "s3", endpoint_url=described["endpoint"], region_name=described["region"],
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    sha256 = base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()
    s3.put_object(
        Bucket=described["environment"]["PEN_BUCKET_DOCUMENTOS"], Key=blob_key(sha256), Body=b"corrompido"
    )

    received = run(stack, tokens["MS"], "receive", idt, "--out", tmp_path / "recebidos", cwd=tmp_path)
    assert received.returncode == 3, received.stdout + received.stderr
    assert "MISMATCH" in received.stdout
    assert "refused: estado 8" in received.stdout
    refused = tramite(stack, tokens["INSS"], idt)
    assert refused["estado"] == 8
    assert refused["recusa"]["motivo"] == "02"
    assert sha256 in refused["recusa"]["justificativa"]
    assert pending(stack, tokens["INSS"])[idt]["acoes"] == ["dar-ciencia"]

    acknowledged = run(stack, tokens["INSS"], "ciencia", idt, cwd=tmp_path)
    assert acknowledged.returncode == 0, acknowledged.stderr
    assert "refused with motivo 02" in acknowledged.stdout
    assert tramite(stack, tokens["INSS"], idt)["estado"] == 9
    assert idt not in pending(stack, tokens["INSS"])


def test_a_refusal_by_decision_a_cancel_and_the_problem_on_a_409(
    stack: RunningStack, tokens: dict[str, str], tmp_path: Path
) -> None:
    [path] = files(tmp_path / "saida", 400)
    idt, nre = send(stack, tokens["INSS"], [path], tmp_path)
    justification = "Espécie documental não mapeada no sistema do MS."
    refused = run(
        stack, tokens["MS"], "receive", idt, "--out", tmp_path / "r", "--recusar", "04",
        "--justificativa", justification, cwd=tmp_path,
    )  # fmt: skip
    assert refused.returncode == 0, refused.stdout + refused.stderr
    assert tramite(stack, tokens["MS"], idt)["recusa"] == {
        "motivo": "04",
        "descricao": "espécie documental não mapeada",
        "justificativa": justification,
    }
    assert run(stack, tokens["INSS"], "ciencia", idt, cwd=tmp_path).returncode == 0

    # The same process again under its NRE, then cancelled by the sender before the receiver acts.
    again, same_nre = send(
        stack,
        tokens["INSS"],
        [path],
        tmp_path,
        "--nre",
        nre,
        "--nup",
        tramite(stack, tokens["INSS"], idt)["nup"],
    )
    assert same_nre == nre
    cancelled = run(stack, tokens["INSS"], "cancelar", again, cwd=tmp_path)
    assert cancelled.returncode == 0, cancelled.stderr
    assert tramite(stack, tokens["INSS"], again)["estado"] == 7
    assert again not in pending(stack, tokens["MS"])

    # Cancelling twice: the problem, as the API wrote it (pt-BR), with the current state.
    twice = run(stack, tokens["INSS"], "cancelar", again, cwd=tmp_path)
    assert twice.returncode == 1
    assert "Erro 409" in twice.stderr
    assert "urn:pen:problema:conflito" in twice.stderr
    assert "estado atual: 7 (cancelado)" in twice.stderr


def test_the_process_comes_back_with_its_documents_and_only_the_new_one_is_uploaded(
    stack: RunningStack, tokens: dict[str, str], tmp_path: Path
) -> None:
    paths = files(tmp_path / "saida", 600, 200)
    idt, nre = send(stack, tokens["INSS"], paths, tmp_path)
    out = tmp_path / "recebidos"
    assert run(stack, tokens["MS"], "receive", idt, "--out", out, cwd=tmp_path).returncode == 0
    assert run(stack, tokens["INSS"], "recibo", idt, cwd=tmp_path).returncode == 0
    nup = tramite(stack, tokens["INSS"], idt)["nup"]
    [reply] = files(tmp_path / "resposta", 300, prefix="resposta")

    back = run(
        stack, tokens["MS"], "send", "--from", MS_UNIT, "--to", INSS_UNIT, "--nre", nre, "--nup", nup,
        out / "001-01-documento-1.pdf", out / "002-01-documento-2.pdf", reply, cwd=tmp_path,
    )  # fmt: skip
    assert back.returncode == 0, back.stdout + back.stderr
    assert field(back.stdout, "NRE") == nre
    assert re.findall(r"^uploaded (\S+)", back.stdout, flags=re.M) == ["resposta-1.pdf"]  # the new one only
    assert "2 component(s) already in the bus's custody: not sent again" in back.stdout
    returned = field(back.stdout, "IDT")
    assert pending(stack, tokens["INSS"])[returned]["papel"] == "destinatario"
    # Only the sender cancels: the INSS (receiver here) gets the 403 problem; the MS may.
    refused = run(stack, tokens["INSS"], "cancelar", returned, cwd=tmp_path)
    assert (refused.returncode, "urn:pen:problema:sem-permissao" in refused.stderr) == (1, True)
    assert run(stack, tokens["MS"], "cancelar", returned, cwd=tmp_path).returncode == 0
    assert tramite(stack, tokens["INSS"], returned)["estado"] == 7


def test_a_return_with_the_documents_reordered_is_refused(
    stack: RunningStack, tokens: dict[str, str], tmp_path: Path
) -> None:
    paths = files(tmp_path / "saida", 600, 200)
    idt, nre = send(stack, tokens["INSS"], paths, tmp_path)
    out = tmp_path / "recebidos"
    assert run(stack, tokens["MS"], "receive", idt, "--out", out, cwd=tmp_path).returncode == 0
    assert run(stack, tokens["INSS"], "recibo", idt, cwd=tmp_path).returncode == 0
    nup = tramite(stack, tokens["INSS"], idt)["nup"]
    swapped = run(
        stack, tokens["MS"], "send", "--from", MS_UNIT, "--to", INSS_UNIT, "--nre", nre, "--nup", nup,
        out / "002-01-documento-2.pdf", out / "001-01-documento-1.pdf", cwd=tmp_path,
    )  # fmt: skip
    assert swapped.returncode == 1, swapped.stdout
    assert "urn:pen:problema:dados-invalidos" in swapped.stderr
    assert "- documentos.0:" in swapped.stderr
