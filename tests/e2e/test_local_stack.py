"""`python -m infra.local` (what `make run` starts) as a person uses it: a real process on free ports,
real HTTP, the worker delivering real (moto) e-mail, and a clean stop on Ctrl-C or SIGTERM.

The stack's files go to a temporary PEN_LOCAL_DIR, so a developer's running demo is never touched.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from infra.local.audit import ENV_AUDIT_FILE
from infra.local.stack import READY_LINE
from infra.local.state import (
    CREDENTIALS_FILE,
    ENV_API_PORT,
    ENV_LOCAL_DIR,
    ENV_MOTO_PORT,
    ENV_SITE_PORT,
    STACK_FILE,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 180  # seconds: a loaded 2-core machine (CI, or several stacks at once) is slow to start one
IMPORT_TIMEOUT = 30.0  # the worker imports the seeded trâmites within a second or two
STOP_TIMEOUT = 10.0
DEMO_AGENCIES = {"MGI", "MS", "INSS"}
DEMO_CONTACTS = {
    "protocolo@mgi.example.gov.br",
    "protocolo@ms.example.gov.br",
    "protocolo@inss.example.gov.br",
}


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    api_port: int
    moto_port: int
    site_port: int
    local_dir: Path
    console: Path
    audit_file: Path  # every AWS call the app's functions made (infra/local/audit.py)

    @property
    def site_url(self) -> str:
        return f"http://127.0.0.1:{self.site_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def output(self) -> str:
        return self.console.read_text(encoding="utf-8", errors="replace")

    def env(self) -> dict[str, str]:
        return {**os.environ, ENV_LOCAL_DIR: str(self.local_dir), "PYTHONUNBUFFERED": "1"}

    def credentials(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = json.loads(
            (self.local_dir / CREDENTIALS_FILE).read_text(encoding="utf-8")
        )
        return data

    def stop(self, signum: int = signal.SIGINT) -> int | None:
        """Sends the signal and waits; returns the exit code, or None if it had to be killed."""
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
            return None


def start_stack(folder: Path, **extra_env: str) -> RunningStack:
    api_port, moto_port, site_port = free_ports(3)
    folder.mkdir(parents=True, exist_ok=True)
    console = folder / "console.log"
    audit_file = folder / "aws-calls.jsonl"
    env = {
        **os.environ,
        **extra_env,
        ENV_AUDIT_FILE: str(audit_file),
        ENV_API_PORT: str(api_port),
        ENV_MOTO_PORT: str(moto_port),
        ENV_SITE_PORT: str(site_port),
        ENV_LOCAL_DIR: str(folder / "state"),
        "PYTHONUNBUFFERED": "1",
    }
    with console.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.local"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    stack = RunningStack(process, api_port, moto_port, site_port, folder / "state", console, audit_file)
    deadline = time.monotonic() + READY_TIMEOUT
    while READY_LINE not in stack.output():
        if process.poll() is not None:
            pytest.fail(f"the local stack exited with {process.returncode}:\n{stack.output()}")
        if time.monotonic() > deadline:
            stack.stop()
            pytest.fail(f"the local stack was not ready after {READY_TIMEOUT} s:\n{stack.output()}")
        time.sleep(0.1)
    return stack


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def get(url: str, token: str | None = None, timeout: float = 10) -> Reply:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(
                response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
            )
    except urllib.error.HTTPError as error:
        return Reply(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def assert_problem(reply: Reply, status: int, slug: str) -> None:
    assert reply.status == status, reply.body
    assert reply.headers["content-type"].startswith("application/problem+json")
    problem = reply.json()
    assert problem["type"] == f"urn:pen:problema:{slug}"
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]


def test_health(stack: RunningStack) -> None:
    reply = get(f"{stack.api_url}/saude")
    assert reply.status == 200
    assert reply.json()["status"] == "ok"
    assert reply.json()["estagio"] == "local"


def test_openapi_document_is_valid_openapi_3_1(stack: RunningStack) -> None:
    reply = get(f"{stack.api_url}/openapi.json")
    assert reply.status == 200
    document = reply.json()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_demo_token_lists_the_demo_agencies(stack: RunningStack) -> None:
    credentials = stack.credentials()
    assert {c["sigla"] for c in credentials} == DEMO_AGENCIES
    for credential in credentials:
        reply = get(f"{stack.api_url}/barramento/estruturas", credential["token"])
        assert reply.status == 200, reply.body
        items = reply.json()["itens"]
        assert {s["sigla"] for s in items if s["tipo"] == "orgao"} == DEMO_AGENCIES
        protocol_units = [s for s in items if s["codigoProtocolo"]]
        assert all(len(s["codigoProtocolo"]) == 5 for s in protocol_units)
        assert {s["orgaoId"] for s in protocol_units} >= {c["orgaoId"] for c in credentials if c["hospedado"]}


def test_demo_scopes_and_files(stack: RunningStack) -> None:
    scopes = {c["sigla"]: set(c["escopos"]) for c in stack.credentials()}
    assert scopes == {
        "MGI": {"processos", "barramento", "admin"},
        "MS": {"processos", "barramento", "admin"},
        "INSS": {"barramento", "processos"},
    }
    described = json.loads((stack.local_dir / STACK_FILE).read_text(encoding="utf-8"))
    assert described["api_url"] == stack.api_url
    assert described["endpoint"] == f"http://127.0.0.1:{stack.moto_port}"
    assert described["stage"] == "local"
    assert all(c["token"] in stack.output() for c in stack.credentials())  # printed for the person


def test_the_inss_demo_tramite_is_imported_into_the_ms_by_the_platform(stack: RunningStack) -> None:
    """The seed's trâmite from the INSS (bus only) to the MS (hosted): the worker imports it into the MS's
    protocol unit and sends the recibo de conclusão, so the INSS soon has the recibo to fetch (state 5)."""
    tokens = {c["sigla"]: c["token"] for c in stack.credentials()}
    deadline = time.monotonic() + IMPORT_TIMEOUT
    found: dict[str, Any] | None = None
    while found is None and time.monotonic() < deadline:
        reply = get(f"{stack.api_url}/barramento/pendencias?espera=10", tokens["INSS"], timeout=30)
        assert reply.status == 200, reply.body
        found = next((p for p in reply.json()["itens"] if p["estado"] == 5), None)
    assert found is not None, f"no recibo for the INSS after {IMPORT_TIMEOUT} s:\n{stack.output()}"
    assert (found["papel"], found["acoes"]) == ("remetente", ["obter-recibo"])
    [listed] = get(f"{stack.api_url}/barramento/tramites?idt={found['idt']}", tokens["INSS"]).json()["itens"]
    assert (listed["remetente"]["estrutura"], listed["destinatario"]["estrutura"]) == ("3002", "2002")
    assert [h["estado"] for h in listed["historico"]] == [1, 2, 3, 4, 5]
    imported = get(f"{stack.api_url}/processos/{listed['nup']}", tokens["MS"])
    assert imported.status == 200, imported.body
    process = imported.json()
    assert (process["orgaoId"], process["nre"], process["estado"]) == ("2001", listed["nre"], "aberto")
    assert [u["unidade"] for u in process["unidadesAbertas"]] == ["2002"]
    ms_pending = get(f"{stack.api_url}/barramento/pendencias", tokens["MS"]).json()["itens"]
    assert found["idt"] not in {p["idt"] for p in ms_pending}  # nothing left for the MS to do on it


def test_the_mgi_demo_process_is_delivered_to_the_ms_hosted_to_hosted(stack: RunningStack) -> None:
    """The seed's hosted send MGI (SEGES) -> MS (protocol): imported at the MS, the receipt fetched for the
    MGI by the platform (state 6), the MGI's copy concluded and unlocked, the MS holding a copy."""
    tokens = {c["sigla"]: c["token"] for c in stack.credentials()}
    deadline = time.monotonic() + IMPORT_TIMEOUT
    tramite: dict[str, Any] | None = None
    sender: dict[str, Any] | None = None
    # The worker fetches the recibo (state 6) and then, in its next write, concludes the MGI's copy:
    # the trip is over when both are visible.
    while time.monotonic() < deadline:
        inbox = get(f"{stack.api_url}/unidades/2002/processos", tokens["MS"])
        assert inbox.status == 200, inbox.body
        nups = [i["nup"] for i in inbox.json()["itens"] if i["nup"].startswith("10001.")]  # MGI's protocol
        if nups:
            digits = "".join(c for c in nups[0] if c.isdigit())
            listed = get(f"{stack.api_url}/barramento/tramites?nup={digits}", tokens["MGI"])
            assert listed.status == 200, listed.body
            [tramite] = listed.json()["itens"]
            sender = get(f"{stack.api_url}/processos/{tramite['nup']}", tokens["MGI"]).json()
            if tramite["estado"] == 6 and sender["estado"] == "concluido":
                break
        time.sleep(0.5)
    assert tramite is not None, f"the MS never listed the MGI's process:\n{stack.output()}"
    assert sender is not None
    assert tramite["estado"] == 6, f"{tramite}\n{stack.output()}"
    assert (tramite["remetente"]["estrutura"], tramite["destinatario"]["estrutura"]) == ("1003", "2002")
    assert [h["estado"] for h in tramite["historico"]] == [1, 2, 3, 4, 5, 6]
    assert {h["cliente"] for h in tramite["historico"] if h["orgao"] != "barramento"} == {"plataforma"}
    assert (sender["estado"], sender["bloqueadoPor"], sender["unidadesAbertas"]) == ("concluido", [], [])
    copy = get(f"{stack.api_url}/processos/{tramite['nup']}", tokens["MS"]).json()
    assert (copy["orgaoId"], copy["nre"]) == ("2001", tramite["nre"])
    assert [u["unidade"] for u in copy["unidadesAbertas"]] == ["2002"]
    documents = get(f"{stack.api_url}/processos/{tramite['nup']}/documentos", tokens["MS"])
    assert documents.status == 200, documents.body
    assert len(documents.json()["itens"]) == 1


def test_no_token_is_a_401_problem(stack: RunningStack) -> None:
    assert_problem(get(f"{stack.api_url}/barramento/estruturas"), 401, "nao-autenticado")


def test_bad_token_is_a_401_problem(stack: RunningStack) -> None:
    assert_problem(get(f"{stack.api_url}/barramento/estruturas", "pen_0000"), 401, "nao-autenticado")


def test_a_method_the_api_does_not_define_is_a_405_problem(stack: RunningStack) -> None:
    request = urllib.request.Request(f"{stack.api_url}/saude", method="TRACE")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    reply = Reply(
        error.value.code, {k.lower(): v for k, v in error.value.headers.items()}, error.value.read()
    )
    assert_problem(reply, 405, "metodo-nao-permitido")


def test_unknown_path_is_a_404_problem(stack: RunningStack) -> None:
    assert_problem(get(f"{stack.api_url}/nao/existe"), 404, "nao-encontrado")


def test_the_worker_delivered_the_seed_notices(stack: RunningStack) -> None:
    """Seeding issued one token per agency; each issue queued a notice the worker sent through SES."""
    deadline = time.monotonic() + 20
    output = ""
    while time.monotonic() < deadline:
        shown = subprocess.run(
            [sys.executable, "-m", "infra.local.mail"],
            cwd=ROOT,
            env=stack.env(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert shown.returncode == 0, shown.stderr
        output = shown.stdout
        if output.count("Subject: [PEN] Token de API emitido") >= len(DEMO_CONTACTS):
            break
        time.sleep(0.5)
    assert output.count("Subject: [PEN] Token de API emitido") == len(DEMO_CONTACTS), output
    for contact in DEMO_CONTACTS:
        assert f"To:      {contact}" in output
    assert "Ministério da Gestão e da Inovação em Serviços Públicos (MGI)" in output  # the decoded body
    assert "worker send_mail:" in stack.output()


def ops(stack: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.ops", "--local", *args],
        cwd=ROOT,
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_token_revoked_with_the_operator_cli_is_refused_at_once(stack: RunningStack) -> None:
    mgi = next(c for c in stack.credentials() if c["sigla"] == "MGI")
    issued = ops(
        stack, "token", "issue", "--agency", mgi["orgaoId"], "--name", "e2e", "--scopes", "barramento"
    )
    assert issued.returncode == 0, issued.stderr
    token = next(line.split()[1] for line in issued.stdout.splitlines() if line.startswith("token"))
    client_id = next(line.split()[1] for line in issued.stdout.splitlines() if line.startswith("client"))
    assert get(f"{stack.api_url}/orgaos/eu", token).status == 200
    revoked = ops(stack, "token", "revoke", client_id, "--reason", "teste e2e")
    assert revoked.returncode == 0, revoked.stderr
    assert_problem(get(f"{stack.api_url}/orgaos/eu", token), 401, "nao-autenticado")
    assert get(f"{stack.api_url}/orgaos/eu", mgi["token"]).status == 200  # the others still work


def test_a_burst_of_signals_still_stops_it(tmp_path: Path) -> None:
    """Stopping `make run` can deliver several signals at once (make, timeout and the shell each forward
    one). Found: a second signal arriving while the first one's handler held the stop Event's lock
    deadlocked the stop (2 of 9 tries by hand; this test failed 2 of 3 runs on that code). The handler now
    only records the signal. Signals keep coming until the process is gone, so one may land in Python's
    own exit and end it by that signal: what must hold is that the stop finished, not the exit code
    (test_a_signal_stops_everything_and_exits_0 checks that)."""
    running = start_stack(tmp_path)
    exited = False
    try:
        assert get(f"{running.api_url}/saude").status == 200
        for number in range(4000):  # about 4 s at most, a signal a millisecond
            if running.process.poll() is not None:
                break
            running.process.send_signal(signal.SIGTERM if number % 2 else signal.SIGINT)
            time.sleep(0.001)
        running.process.wait(timeout=STOP_TIMEOUT)
        exited = True
    except subprocess.TimeoutExpired:
        pass
    finally:
        running.stop(signal.SIGKILL)
    assert exited, f"still running {STOP_TIMEOUT} s after the signals:\n{running.output()}"
    assert "Local stack stopped." in running.output()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_everything_and_exits_0(tmp_path: Path, signum: int) -> None:
    running = start_stack(tmp_path)
    try:
        assert get(f"{running.api_url}/saude").status == 200
        started = time.monotonic()
        code = running.stop(signum)
        elapsed = time.monotonic() - started
    finally:
        running.stop(signal.SIGKILL)
    assert code == 0, running.output()
    # Not a speed check: a worker thread that ignored the stop would hold it past its 10 s join.
    assert elapsed < 10, f"stopping took {elapsed:.1f} s"
    assert port_is_free(running.api_port)
    assert port_is_free(running.moto_port)
    assert not (running.local_dir / STACK_FILE).exists()
    assert "Local stack stopped." in running.output()
    mail = subprocess.run(
        [sys.executable, "-m", "infra.local.mail"],
        cwd=ROOT,
        env=running.env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert mail.returncode == 1
    assert "not running" in mail.stderr
