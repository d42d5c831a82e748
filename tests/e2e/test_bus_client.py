"""docs/examples/bus_client.py against a real local stack, run as an integrator runs it (a subprocess with
a token). The script is an agency's OWN system; the MS is also hosted here, so what is addressed to it is
imported by the platform (the worker), never received with the script:
- the INSS (bus only) sends a process with two files to the MS, the platform imports it and sends the
  recibo de conclusão, the INSS waits for it (pendencias --espera), fetches it and it verifies with openssl;
- the receiving side runs at the INSS: the MS's own system (its token has scope barramento) sends to the
  INSS with the script, a trâmite the platform leaves alone; the INSS receives it and the MS fetches the
  recibo; a corrupt component is refused (motivo 02) and the MS gives ciência; a refusal by decision, a
  cancel and the problem details printed on a 409;
- the return path: what the INSS sent (imported at the MS) comes back from the MS's own system.
States are checked through the API, not the script's output."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.domain.documents import blob_key
from infra.local.state import STACK_FILE
from tests.e2e.test_local_stack import RunningStack, get

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]
ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "docs" / "examples" / "bus_client.py"
INSS_UNIT, MS_UNIT = "3002", "2002"
IMPORT_TIMEOUT = 30.0  # the platform imports a trâmite addressed to the MS within a second or two


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


def send(
    stack: RunningStack,
    token: str,
    paths: list[Path],
    tmp: Path,
    *extra: str,
    route: tuple[str, str] = (INSS_UNIT, MS_UNIT),
) -> tuple[str, str]:
    """The script's send from route[0] to route[1]; returns (IDT, NRE)."""
    sender, receiver = route
    sent = run(stack, token, "send", "--from", sender, "--to", receiver, *extra, *paths, cwd=tmp)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "recibo de envio: Verified OK (openssl)" in sent.stdout, sent.stdout
    return field(sent.stdout, "IDT"), field(sent.stdout, "NRE")


def wait_for_state(stack: RunningStack, token: str, idt: str, state: int) -> dict[str, Any]:
    """The trâmite once it reaches `state` (the platform's worker moves it), within IMPORT_TIMEOUT."""
    deadline = time.monotonic() + IMPORT_TIMEOUT
    while (found := tramite(stack, token, idt))["estado"] != state and time.monotonic() < deadline:
        time.sleep(0.2)
    assert found["estado"] == state, f"{found}\n{stack.output()}"
    return found


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


def test_sent_to_a_hosted_agency_imported_by_the_platform_and_a_receipt_that_verifies_with_openssl(
    stack: RunningStack, tokens: dict[str, str], tmp_path: Path
) -> None:
    assert shutil.which("openssl"), "the e2e tests need the openssl command"
    paths = files(tmp_path / "saida", 700, 300)
    idt, nre = send(stack, tokens["INSS"], paths, tmp_path)

    # The MS is hosted: the platform imports the process and sends the recibo de conclusão (5). The INSS's
    # system waits for it with the long-poll (other pendências, the seed's, may answer first: loop).
    deadline = time.monotonic() + IMPORT_TIMEOUT
    listed = None
    while time.monotonic() < deadline:
        listed = run(stack, tokens["INSS"], "pendencias", "--espera", "10", cwd=tmp_path, via_env=True)
        assert listed.returncode == 0, listed.stderr
        if f"{idt}  estado 5  remetente" in listed.stdout:
            break
    assert listed is not None
    assert f"{idt}  estado 5  remetente" in listed.stdout, listed.stdout + stack.output()
    assert idt not in pending(stack, tokens["MS"])  # nothing for the MS's people or system to do

    kept = tmp_path / "recibo"
    fetched = run(stack, tokens["INSS"], "recibo", idt, "--salvar", kept, cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert "stamp: Verified OK (openssl)" in fetched.stdout
    after = tramite(stack, tokens["INSS"], idt)
    assert after["estado"] == 6
    assert [h["estado"] for h in after["historico"]] == [1, 2, 3, 4, 5, 6]
    assert {h["cliente"] for h in after["historico"] if h["estado"] in (3, 4, 5)} == {"plataforma"}
    assert idt not in pending(stack, tokens["INSS"])

    # The receipt the client kept verifies on its own, with the key the platform publishes.
    record = (kept / f"{idt}.registro.json").read_bytes()
    signed = json.loads(record)
    assert (signed["idt"], signed["nre"]) == (idt, nre)
    assert signed["hashesComponentes"] == sorted(
        base64.b64encode(hashlib.sha256(p.read_bytes()).digest()).decode() for p in paths
    )
    keys = {k["id"]: k["pem"] for k in get(f"{stack.api_url}/publico/chaves").json()["chaves"]}
    receipt = get(f"{stack.api_url}/barramento/tramites/{idt}/recibo", tokens["INSS"]).json()["recibo"]
    assert base64.b64decode(receipt["registro"]) == record
    verified = openssl_verify(
        tmp_path, keys[receipt["carimbo"]["chave"]], (kept / f"{idt}.assinatura.der").read_bytes(), record
    )
    assert "Verified OK" in verified

    # The MS holds the process, open in the receiving unit, with both documents.
    imported = get(f"{stack.api_url}/processos/{after['nup']}", tokens["MS"])
    assert imported.status == 200, imported.body
    assert [u["unidade"] for u in imported.json()["unidadesAbertas"]] == [MS_UNIT]
    assert imported.json()["nre"] == nre
    documents = get(f"{stack.api_url}/processos/{after['nup']}/documentos", tokens["MS"]).json()["itens"]
    assert len(documents) == 2

    history = run(stack, tokens["MS"], "historico", "--nre", nre, cwd=tmp_path)
    assert history.returncode == 0, history.stderr
    assert f"IDT {idt}" in history.stdout
    assert "6 recibo de conclusão recebido" in history.stdout


def test_the_ms_own_system_sends_the_inss_receives_and_the_ms_fetches_the_receipt(
    stack: RunningStack, tokens: dict[str, str], tmp_path: Path
) -> None:
    """A trâmite the MS's own system starts through the API: the platform neither imports (the INSS is not
    hosted) nor closes it (not sent from the processes service); the script does both sides."""
    paths = files(tmp_path / "saida", 700, 300)
    idt, nre = send(stack, tokens["MS"], paths, tmp_path, route=(MS_UNIT, INSS_UNIT))
    assert tramite(stack, tokens["MS"], idt)["estado"] == 2
    assert pending(stack, tokens["INSS"])[idt]["acoes"] == ["receber-metadados", "recusar"]

    listed = run(stack, tokens["INSS"], "pendencias", cwd=tmp_path, via_env=True)
    assert listed.returncode == 0, listed.stderr
    assert idt in listed.stdout

    out = tmp_path / "recebidos"
    received = run(stack, tokens["INSS"], "receive", idt, "--out", out, cwd=tmp_path)
    assert received.returncode == 0, received.stdout + received.stderr
    assert "recibo de conclusão sent: estado 5" in received.stdout
    assert (out / "001-01-documento-1.pdf").read_bytes() == paths[0].read_bytes()
    assert (out / "002-01-documento-2.pdf").read_bytes() == paths[1].read_bytes()
    assert json.loads((out / "manifesto.json").read_text(encoding="utf-8"))["cabecalho"]["remetente"] == {
        "repositorio": "1",
        "estrutura": MS_UNIT,
    }
    assert tramite(stack, tokens["MS"], idt)["estado"] == 5
    assert pending(stack, tokens["MS"])[idt]["estado"] == 5  # left to the MS's system, not the platform

    fetched = run(stack, tokens["MS"], "recibo", idt, cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    assert "stamp: Verified OK (openssl)" in fetched.stdout
    after = tramite(stack, tokens["MS"], idt)
    assert after["estado"] == 6
    assert [h["estado"] for h in after["historico"]] == [1, 2, 3, 4, 5, 6]
    assert "plataforma" not in {h["cliente"] for h in after["historico"]}
    assert idt not in pending(stack, tokens["MS"])

    history = run(stack, tokens["INSS"], "historico", "--nre", nre, cwd=tmp_path)
    assert history.returncode == 0, history.stderr
    assert "6 recibo de conclusão recebido" in history.stdout


def test_a_corrupt_component_is_refused_and_the_sender_gives_ciencia(
    stack: RunningStack, tokens: dict[str, str], tmp_path: Path
) -> None:
    [path] = files(tmp_path / "saida", 500)
    idt, _ = send(stack, tokens["MS"], [path], tmp_path, route=(MS_UNIT, INSS_UNIT))
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

    received = run(stack, tokens["INSS"], "receive", idt, "--out", tmp_path / "recebidos", cwd=tmp_path)
    assert received.returncode == 3, received.stdout + received.stderr
    assert "MISMATCH" in received.stdout
    assert "refused: estado 8" in received.stdout
    refused = tramite(stack, tokens["MS"], idt)
    assert refused["estado"] == 8
    assert refused["recusa"]["motivo"] == "02"
    assert sha256 in refused["recusa"]["justificativa"]
    assert pending(stack, tokens["MS"])[idt]["acoes"] == ["dar-ciencia"]

    acknowledged = run(stack, tokens["MS"], "ciencia", idt, cwd=tmp_path)
    assert acknowledged.returncode == 0, acknowledged.stderr
    assert "refused with motivo 02" in acknowledged.stdout
    assert tramite(stack, tokens["MS"], idt)["estado"] == 9
    assert idt not in pending(stack, tokens["MS"])


def test_a_refusal_by_decision_a_cancel_and_the_problem_on_a_409(
    stack: RunningStack, tokens: dict[str, str], tmp_path: Path
) -> None:
    [path] = files(tmp_path / "saida", 400)
    route = (MS_UNIT, INSS_UNIT)
    idt, nre = send(stack, tokens["MS"], [path], tmp_path, route=route)
    justification = "Espécie documental não mapeada no sistema do INSS."
    refused = run(
        stack, tokens["INSS"], "receive", idt, "--out", tmp_path / "r", "--recusar", "04",
        "--justificativa", justification, cwd=tmp_path,
    )  # fmt: skip
    assert refused.returncode == 0, refused.stdout + refused.stderr
    assert tramite(stack, tokens["INSS"], idt)["recusa"] == {
        "motivo": "04",
        "descricao": "espécie documental não mapeada",
        "justificativa": justification,
    }
    assert run(stack, tokens["MS"], "ciencia", idt, cwd=tmp_path).returncode == 0

    # The same process again under its NRE, then cancelled by the sender before the receiver acts.
    again, same_nre = send(
        stack,
        tokens["MS"],
        [path],
        tmp_path,
        "--nre",
        nre,
        "--nup",
        tramite(stack, tokens["MS"], idt)["nup"],
        route=route,
    )
    assert same_nre == nre
    cancelled = run(stack, tokens["MS"], "cancelar", again, cwd=tmp_path)
    assert cancelled.returncode == 0, cancelled.stderr
    assert tramite(stack, tokens["MS"], again)["estado"] == 7
    assert again not in pending(stack, tokens["INSS"])

    # Cancelling twice: the problem, as the API wrote it (pt-BR), with the current state.
    twice = run(stack, tokens["MS"], "cancelar", again, cwd=tmp_path)
    assert twice.returncode == 1
    assert "Erro 409" in twice.stderr
    assert "urn:pen:problema:conflito" in twice.stderr
    assert "estado atual: 7 (cancelado)" in twice.stderr


def delivered_to_the_ms(
    stack: RunningStack, tokens: dict[str, str], paths: list[Path], tmp: Path
) -> tuple[str, str]:
    """The INSS sends `paths` to the MS, the platform imports them, the INSS fetches the receipt (6).
    Returns (NRE, NUP)."""
    idt, nre = send(stack, tokens["INSS"], paths, tmp)
    wait_for_state(stack, tokens["INSS"], idt, 5)
    assert run(stack, tokens["INSS"], "recibo", idt, cwd=tmp).returncode == 0
    return nre, tramite(stack, tokens["INSS"], idt)["nup"]


def test_the_process_comes_back_with_its_documents_and_only_the_new_one_is_uploaded(
    stack: RunningStack, tokens: dict[str, str], tmp_path: Path
) -> None:
    """The process the INSS sent (imported at the MS by the platform) comes back from the MS's own system
    to the INSS: the documents it arrived with first, the same files, then the new one."""
    paths = files(tmp_path / "saida", 600, 200)
    nre, nup = delivered_to_the_ms(stack, tokens, paths, tmp_path)
    [reply] = files(tmp_path / "resposta", 300, prefix="resposta")

    back = run(
        stack, tokens["MS"], "send", "--from", MS_UNIT, "--to", INSS_UNIT, "--nre", nre, "--nup", nup,
        *paths, reply, cwd=tmp_path,
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
    nre, nup = delivered_to_the_ms(stack, tokens, paths, tmp_path)
    swapped = run(
        stack, tokens["MS"], "send", "--from", MS_UNIT, "--to", INSS_UNIT, "--nre", nre, "--nup", nup,
        paths[1], paths[0], cwd=tmp_path,
    )  # fmt: skip
    assert swapped.returncode == 1, swapped.stdout
    assert "urn:pen:problema:dados-invalidos" in swapped.stderr
    assert "- documentos.0:" in swapped.stderr


def test_one_send_to_several_receivers_each_imported_by_the_platform(
    stack: RunningStack, tokens: dict[str, str], tmp_path: Path
) -> None:
    """The INSS's own system sends one process to the MS and to the MGI at once: two trâmites under one
    NRE, the file uploaded once; both hosted agencies import it and the INSS fetches both receipts."""
    paths = files(tmp_path / "saida", 700)
    sent = run(stack, tokens["INSS"], "send", "--from", INSS_UNIT, "--to", MS_UNIT, "--to", "1003", *paths,
               cwd=tmp_path)  # fmt: skip
    assert sent.returncode == 0, sent.stdout + sent.stderr
    idts = re.findall(r"^IDT: (\S+)", sent.stdout, flags=re.M)
    assert len(idts) == 2
    nres = {tramite(stack, tokens["INSS"], idt)["nre"] for idt in idts}
    assert len(nres) == 1
    for idt in idts:
        wait_for_state(stack, tokens["INSS"], idt, 5)
        fetched = run(stack, tokens["INSS"], "recibo", idt, cwd=tmp_path)
        assert fetched.returncode == 0, fetched.stdout + fetched.stderr
        assert tramite(stack, tokens["INSS"], idt)["estado"] == 6
    receivers = sorted(tramite(stack, tokens["INSS"], idt)["destinatario"]["estrutura"] for idt in idts)
    assert receivers == sorted([MS_UNIT, "1003"])
