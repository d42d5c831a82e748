#!/usr/bin/env python3
"""A small client of the PEN bus (Barramento / Tramita.GOV.BR) for an agency that connects its OWN system.

Standard library only (urllib, json, hashlib, base64; the `openssl` command, when installed, checks the
platform's stamps). Copy it, read it, adapt it: every call the protocol needs is here, once, with a
comment saying why it is made that way. docs/BUS.md explains the protocol itself.

    # who am I and where is the bus (or pass --token / --base-url before the subcommand)
    export PEN_BASE_URL=http://127.0.0.1:8000
    export PEN_TOKEN=pen_...                      # a token with scope "barramento"

    python docs/examples/bus_client.py send --from 3002 --to 2002 oficio.pdf anexo.pdf   # sender
    python docs/examples/bus_client.py pendencias --espera 20                            # both sides
    python docs/examples/bus_client.py receive IDT --out recebidos/                      # receiver
    python docs/examples/bus_client.py receive IDT --out recebidos/ --recusar 01 --justificativa "..."
    python docs/examples/bus_client.py recibo IDT                                        # sender
    python docs/examples/bus_client.py ciencia IDT                                       # sender, refused
    python docs/examples/bus_client.py cancelar IDT                                      # sender, states 1-4
    python docs/examples/bus_client.py historico --nre NRE                               # either party

Exit codes: 0 done; 1 the API answered with a problem (printed in full, in Portuguese, as the API wrote
it); 2 bad command line or unreachable server; 3 an integrity check failed (a component's SHA-256 or a
receipt's stamp): the trâmite was refused or the receipt must not be trusted.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import mimetypes
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
REPOSITORY = "1"  # the Repositório de Estruturas id used by the addresses (repositorio, estrutura)
CHUNK = 1024 * 1024  # files are hashed, uploaded and downloaded in chunks: never whole in memory
ATTEMPTS = 4  # a request that fails for a transient reason is tried this many times in all
RETRY_STATUSES = {429, 500, 502, 503, 504}  # safe to repeat: POSTs carry their Idempotency-Key


class ApiProblem(Exception):
    """The API answered with an RFC 9457 problem (application/problem+json, texts in pt-BR)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(problem.get("detail") or problem.get("title") or f"HTTP {status}")
        self.status = status
        self.problem = problem


class IntegrityError(Exception):
    """A hash or a stamp did not check out."""


# --- HTTP ------------------------------------------------------------------------------------------------


class Bus:
    """The bus API over urllib: JSON in, JSON out, problems raised as ApiProblem."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        timeout: float = 30,
    ) -> Any:
        """One API call. POSTs get an Idempotency-Key made here ONCE and reused on every retry of this
        call: if the first attempt did reach the bus and only its answer was lost, the retry gets the
        first answer back instead of, say, starting a second trâmite. A new operation gets a new key."""
        url = self.base_url + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if method == "POST":
            headers["Idempotency-Key"] = f"cli-{uuid.uuid4()}"
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with _open(url, method, headers, data, timeout) as answer:
                    raw = answer.read()
                    return json.loads(raw) if raw else None
            except urllib.error.HTTPError as error:
                raw = error.read()
                if error.code in RETRY_STATUSES and attempt < ATTEMPTS:
                    _backoff(attempt, error.headers.get("Retry-After"))
                    continue
                raise ApiProblem(error.code, _problem(error.code, raw)) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                if attempt < ATTEMPTS:
                    _backoff(attempt, None)
                    continue
                raise SystemExit(f"error: cannot reach {self.base_url}: {error}") from None
        raise AssertionError("unreachable")


def _backoff(attempt: int, retry_after: str | None) -> None:
    """Exponential backoff with jitter, or what the server asked for."""
    delay = float(retry_after) if retry_after and retry_after.isdigit() else 0.5 * 2 ** (attempt - 1)
    time.sleep(delay + random.uniform(0, 0.25))  # noqa: S311 (jitter, not a secret)


def _problem(status: int, raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    return {"status": status, "title": f"HTTP {status}", "detail": raw.decode("utf-8", "replace")[:500]}


def _open(url: str, method: str, headers: dict[str, str], data: Any, timeout: float) -> Any:
    """urlopen for http(s) URLs only: a URL the network handed us (presigned) must never be file:..."""
    if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
        raise SystemExit(f"error: refusing a request to a non-HTTP URL: {url}")
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 (checked)
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (checked above)


def presigned_upload(request: dict[str, Any], path: Path, size: int) -> None:
    """PUT a file's bytes straight to the content store (never through the API) with EXACTLY the headers
    the bus gave: they carry the declared SHA-256, so the store refuses any other bytes. The file is
    streamed from disk."""
    with path.open("rb") as stream:
        headers = {**request.get("cabecalhos", {}), "Content-Length": str(size)}
        try:
            with _open(request["url"], request.get("metodo", "PUT"), headers, stream, 300) as answer:
                answer.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")[:500]
            raise SystemExit(
                f"error: the content store refused {path.name}: HTTP {error.code} {detail}"
            ) from None


def presigned_download(request: dict[str, Any], target: Path) -> tuple[str, int]:
    """GET a component from the content store into `target`; returns (SHA-256 base64, size) of what
    actually arrived. Hashing while writing: the check needs no second read."""
    digest, size = hashlib.sha256(), 0
    headers = dict(request.get("cabecalhos", {}))
    answer = _open(request["url"], request.get("metodo", "GET"), headers, None, 300)
    with answer, target.open("wb") as out:
        while chunk := answer.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return base64.b64encode(digest.digest()).decode("ascii"), size


# --- hashes, NUP, stamps ------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    """SHA-256 in standard base64 (44 characters): the form the manifest and the receipts use."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode("ascii")


def nup_check_digits(first15: str) -> str:
    """The two check digits of a 17-digit NUP (Portaria Interministerial 11/2019): weights 2, 3, ...
    from the rightmost digit, dv = 11 - (sum mod 11), 10 -> 0 and 11 -> 1; the second digit is computed
    the same way over the 15 digits plus the first one."""

    def digit(digits: str) -> int:
        total = sum(int(d) * weight for weight, d in enumerate(reversed(digits), start=2))
        return (11 - total % 11) % 10

    first = digit(first15)
    return f"{first}{digit(first15 + str(first))}"


def demo_nup(protocol_code: str) -> str:
    """A NUP for a demonstration: your own system already has the process's real NUP; use that."""
    first15 = f"{protocol_code}{random.randint(1, 999_999):06d}{dt.date.today().year}"  # noqa: S311
    return first15 + nup_check_digits(first15)


def verify_stamp(bus: Bus, registro_b64: str, carimbo: dict[str, Any]) -> bool | None:
    """Checks a platform stamp (`carimbo`) over the exact bytes it covers (`registro`, base64 of RFC 8785
    canonical JSON) with the public key published at /publico/chaves, using plain openssl:

        openssl dgst -sha256 -verify key.pem -signature sig.der registro.bin

    True: verified. False: the signature does not match (do not trust the receipt). None: openssl is not
    installed here, nothing was checked (the command above is printed so you can run it elsewhere)."""
    if carimbo.get("algoritmo") != "ECDSA_SHA_256":
        raise IntegrityError(f"unknown stamp algorithm {carimbo.get('algoritmo')!r}")
    keys = {k["id"]: k["pem"] for k in bus.call("GET", "/publico/chaves")["chaves"]}
    pem = keys.get(carimbo["chave"])
    if pem is None:
        raise IntegrityError(f"the stamp's key {carimbo['chave']} is not published at /publico/chaves")
    openssl = shutil.which("openssl")
    if openssl is None:
        print("  openssl not found: stamp NOT checked; verify it elsewhere with")
        print("  openssl dgst -sha256 -verify key.pem -signature sig.der registro.bin")
        return None
    with tempfile.TemporaryDirectory() as folder:
        key, sig, msg = Path(folder, "key.pem"), Path(folder, "sig.der"), Path(folder, "registro.bin")
        key.write_text(pem, encoding="ascii")
        sig.write_bytes(base64.b64decode(carimbo["assinatura"], validate=True))
        msg.write_bytes(base64.b64decode(registro_b64, validate=True))
        checked = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
            [openssl, "dgst", "-sha256", "-verify", str(key), "-signature", str(sig), str(msg)],
            capture_output=True,
            text=True,
            check=False,
        )
    return checked.returncode == 0 and "Verified OK" in checked.stdout


def check_record(registro_b64: str, conteudo: dict[str, Any], idt: str) -> dict[str, Any]:
    """What was signed is `registro`, not `conteudo`: read the fields from the signed bytes, and make
    sure the convenience copy says the same and the receipt is about this trâmite."""
    signed = json.loads(base64.b64decode(registro_b64, validate=True))
    if signed != conteudo:
        raise IntegrityError("the receipt's 'conteudo' differs from the signed 'registro'")
    if signed.get("idt") != idt:
        raise IntegrityError(f"the receipt is for trâmite {signed.get('idt')}, not {idt}")
    return dict(signed)


# --- the manifest -----------------------------------------------------------------------------------


def build_manifest(args: argparse.Namespace, files: list[Path], nup: str) -> dict[str, Any]:
    """The manifest: header (addresses, NRE), the process's metadata and one document per file, each with
    its component identified by SHA-256. A real system fills this from its own records (espécie, access
    level, dates, producers, history, signatures); docs/openapi.json has every field.

    Sending back a process that already travelled (with --nre): list FIRST every document it arrived
    with, in the same order and with the very same files (same SHA-256), then the new ones."""
    now = dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")
    producer = {"nome": args.produtor, "unidade": args.unidade_produtora}
    receivers = [{"repositorio": REPOSITORY, "estrutura": unit} for unit in args.to]
    header: dict[str, Any] = {"remetente": {"repositorio": REPOSITORY, "estrutura": args.sender}}
    if len(receivers) == 1:
        header["destinatario"] = receivers[0]
    else:
        header["destinatarios"] = receivers  # one trâmite per receiver, same NRE, components sent once
    if args.nre:
        header["nre"] = args.nre
    return {
        "cabecalho": header,
        "processo": {
            "nup": nup,
            "nivelAcesso": 1,  # 1 público; 2 restrito needs hipoteseLegal; 3 sigiloso never travels
            "tipo": args.tipo,
            "especificacao": args.especificacao,
            "dataProducao": now,
            "dataRegistro": now,
            "produtor": producer,
            "interessados": [{"nome": name} for name in args.interessado],
        },
        "documentos": [
            {
                "ordem": index,  # 1-based; never changes once the document has travelled
                "especie": 999,  # national espécie documental code (999 "Outra")
                "origem": "externo",  # an uploaded file (an internal document would need a signature)
                "nivelAcesso": 1,
                "dataProducao": now,
                "dataRegistro": now,
                "produtor": producer,
                "componentes": [
                    {
                        "ordem": 1,
                        "nomeArquivo": path.name,
                        "sha256": sha256_of(path),
                        "tamanho": path.stat().st_size,
                        "tipoMidia": mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                    }
                ],
            }
            for index, path in enumerate(files, start=1)
        ],
    }


def components(manifest: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(document order, component) for every component of a manifest, in document order."""
    for document in sorted(manifest.get("documentos", []), key=lambda d: d["ordem"]):
        for component in sorted(document.get("componentes", []), key=lambda c: c["ordem"]):
            yield document["ordem"], component


# --- subcommands --------------------------------------------------------------------------------------


def cmd_send(bus: Bus, args: argparse.Namespace) -> int:
    files = [Path(f) for f in args.files]
    for path in files:
        if not path.is_file():
            raise SystemExit(f"error: {path} is not a file")
    nup = args.nup
    if not nup:
        unit = bus.call("GET", f"/barramento/estruturas/{args.sender}")
        code = unit.get("codigoProtocolo")
        if not code:
            raise SystemExit(f"error: unit {args.sender} has no protocol code; pass --nup")
        nup = demo_nup(code)
    manifest = build_manifest(args, files, nup)

    # 1. The manifest. The bus checks it (every bad field is listed at once), gives one IDT per receiver
    #    and an NRE (new, or the one you passed), and lists the components it does NOT hold yet.
    sent = bus.call("POST", "/barramento/tramites", manifest)
    tramites = sent["tramites"]
    print(f"NUP: {tramites[0]['nup']}")
    print(f"NRE: {tramites[0]['nre']}")

    # 2. Upload only what the bus asked for, each to its own presigned request. Components it already
    #    holds (same SHA-256, e.g. sent in an earlier trâmite) are not asked for and not sent again.
    by_hash = {c["sha256"]: path for path, (_, c) in zip(files, components(manifest), strict=True)}
    asked = sent["componentesPendentes"]
    for item in asked:
        path = by_hash[item["sha256"]]
        presigned_upload(item["envioUnico"], path, item["tamanho"])
        print(f"uploaded {path.name} ({item['tamanho']} bytes, sha256 {item['sha256']})")
    if len(asked) < len(by_hash):
        print(f"{len(by_hash) - len(asked)} component(s) already in the bus's custody: not sent again")

    # 3. Confirm each trâmite: the bus re-checks size and SHA-256 of every component in custody, moves
    #    to state 2 and answers with the recibo de envio, stamped with the platform key.
    failed = False
    for tramite, path in zip(tramites, sent["confirmacoes"], strict=True):
        custody = bus.call("POST", path)
        receipt = custody["reciboEnvio"]
        check_record(receipt["registro"], receipt["conteudo"], tramite["idt"])
        verified = verify_stamp(bus, receipt["registro"], receipt["carimbo"])
        failed |= verified is False
        receiver = tramite["destinatario"]["estrutura"]
        print(f"IDT: {tramite['idt']} (to {receiver}) estado {custody['tramite']['estado']}")
        print(f"  recibo de envio: {_stamp_status(verified)}")
    return 3 if failed else 0


def cmd_pendencias(bus: Bus, args: argparse.Namespace) -> int:
    """Pending work: as receiver, trâmites in 2-4 to receive; as sender, receipts (5) and refusals (8).
    With --espera the request waits up to that many seconds for something to arrive (long-poll): loop on
    it instead of polling every few seconds."""
    cursor: str | None = None
    count = 0
    while True:
        page = bus.call(
            "GET",
            "/barramento/pendencias",
            query={"espera": args.espera or None, "cursor": cursor},
            timeout=args.espera + 30,
        )
        for item in page["itens"]:
            count += 1
            actions = ", ".join(item["acoes"])
            print(f"{item['idt']}  estado {item['estado']}  {item['papel']}  desde {item['desde']}")
            print(f"  next: {actions}")
        cursor = page.get("cursor")
        if not cursor:
            break
    if not count:
        print("no pendências")
    return 0


def cmd_receive(bus: Bus, args: argparse.Namespace) -> int:
    idt = args.idt
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # 1. The metadata: the receiver's first read moves the trâmite from 2 to 3 (metadados recebidos).
    detail = bus.call("GET", f"/barramento/tramites/{_q(idt)}")
    tramite, manifest = detail["tramite"], detail["manifesto"]
    (out / "manifesto.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"trâmite {idt}: NUP {tramite['nup']}, NRE {tramite['nre']}, from {tramite['orgaoRemetente']}")

    # 2. Every component, each downloaded from its presigned GET and hashed again HERE: the bus checked it
    #    when it took custody, but only your own check proves what reached your system. The last download
    #    moves the trâmite to 4 (componentes recebidos).
    bad: list[str] = []
    fetched: dict[str, Path] = {}
    for order, component in components(manifest):
        declared = component["sha256"]
        target = out / _local_name(order, component)
        if declared in fetched:  # the same bytes twice in one process: one download is enough
            shutil.copyfile(fetched[declared], target)
            continue
        got, size = _download_checked(bus, idt, declared, target)
        if got != declared or size != component["tamanho"]:
            bad.append(
                f"documento {order}, {component['nomeArquivo']}: SHA-256 declarado {declared} "
                f"({component['tamanho']} bytes), recebido {got} ({size} bytes)"
            )
            print(f"MISMATCH {target.name}: expected {declared}, got {got}")
            continue
        fetched[declared] = target
        print(f"ok {target.name} ({size} bytes, sha256 {got})")

    # 3a. Refuse: because a component is corrupt (motivo 02), or because your system cannot take the
    #     process (--recusar: 01 format, 03 missing components, 04 espécie not mapped, 99 other).
    if bad or args.recusar:
        motivo = args.recusar or "02"
        justificativa = args.justificativa or ("; ".join(bad) if bad else None)
        refusal = {"motivo": motivo, "justificativa": (justificativa or "")[:1000] or None}
        refused = bus.call("POST", f"/barramento/tramites/{_q(idt)}/recusa", refusal)["tramite"]
        print(f"refused: estado {refused['estado']} ({refused['descricaoEstado']}), motivo {motivo}")
        return 3 if bad else 0

    # 3b. Accept: the bus builds and stamps the recibo de conclusão (IDT, NRE, date, addresses and the
    #     sorted component hashes): state 5. The sender's fetch of it ends the trâmite (6).
    done = bus.call("POST", f"/barramento/tramites/{_q(idt)}/recibo")
    recibo = done["recibo"]
    signed = check_record(recibo["registro"], recibo["conteudo"], idt)
    expected = sorted({c["sha256"] for _, c in components(manifest)})
    if signed["hashesComponentes"] != expected:
        raise IntegrityError("the recibo de conclusão does not list the components received")
    print(
        f"recibo de conclusão sent: estado {done['tramite']['estado']} ({done['tramite']['descricaoEstado']})"
    )
    return 0


def _download_checked(bus: Bus, idt: str, sha256: str, target: Path) -> tuple[str, int]:
    """Asks the bus for the component's presigned GET and downloads it; a mismatch is tried once more
    (a broken transfer is far likelier than corrupt custody) before the caller refuses."""
    got, size = "", 0
    for _ in range(2):
        answer = bus.call("GET", f"/barramento/tramites/{_q(idt)}/componentes", query={"sha256": sha256})
        got, size = presigned_download(answer["download"], target)
        if got == sha256:
            break
    return got, size


def _local_name(order: int, component: dict[str, Any]) -> str:
    """A safe local file name: never trust a name from the network as a path."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(component["nomeArquivo"]).name).strip("._") or "componente"
    return f"{order:03d}-{component['ordem']:02d}-{name}"


def cmd_recibo(bus: Bus, args: argparse.Namespace) -> int:
    """The sender's fetch of the recibo de conclusão; the first one moves 5 -> 6 (processo entregue).
    Checks the signed record, that it lists exactly the components sent, and the stamp."""
    idt = args.idt
    answer = bus.call("GET", f"/barramento/tramites/{_q(idt)}/recibo")
    recibo, tramite = answer["recibo"], answer["tramite"]
    signed = check_record(recibo["registro"], recibo["conteudo"], idt)
    manifest = bus.call("GET", f"/barramento/tramites/{_q(idt)}")["manifesto"]  # the sender's read: no move
    expected = sorted({c["sha256"] for _, c in components(manifest)})
    if signed["hashesComponentes"] != expected:
        raise IntegrityError("the recibo de conclusão does not list the components that were sent")
    verified = verify_stamp(bus, recibo["registro"], recibo["carimbo"])
    print(f"trâmite {idt}: estado {tramite['estado']} ({tramite['descricaoEstado']})")
    print(f"recibo de conclusão of {signed['data']} over {len(expected)} component(s)")
    print(f"stamp key: {recibo['carimbo']['chave']}")
    print(f"stamp: {_stamp_status(verified)}")
    if args.salvar:
        folder = Path(args.salvar)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{idt}.registro.json").write_bytes(base64.b64decode(recibo["registro"]))
        (folder / f"{idt}.assinatura.der").write_bytes(base64.b64decode(recibo["carimbo"]["assinatura"]))
        print(f"receipt kept in {folder}")
    return 3 if verified is False else 0


def _stamp_status(verified: bool | None) -> str:
    if verified is None:
        return "not checked (no openssl)"
    return "Verified OK (openssl)" if verified else "SIGNATURE DOES NOT VERIFY"


def cmd_ciencia(bus: Bus, args: argparse.Namespace) -> int:
    """The sender acknowledges a refusal (8 -> 9): the process is free again at the origin, and can be
    fixed and sent again under the same NRE."""
    tramite = bus.call("POST", f"/barramento/tramites/{_q(args.idt)}/ciencia")["tramite"]
    refusal = tramite.get("recusa") or {}
    print(f"trâmite {args.idt}: estado {tramite['estado']} ({tramite['descricaoEstado']})")
    if refusal:
        print(f"refused with motivo {refusal['motivo']} ({refusal['descricao']})")
        print(f"  justificativa: {refusal.get('justificativa')}")
    return 0


def cmd_cancelar(bus: Bus, args: argparse.Namespace) -> int:
    """The sender cancels a trâmite in states 1-4 (-> 7). After the receipt (5, 6) the bus answers 409."""
    tramite = bus.call("DELETE", f"/barramento/tramites/{_q(args.idt)}")["tramite"]
    print(f"trâmite {args.idt}: estado {tramite['estado']} ({tramite['descricaoEstado']})")
    return 0


def cmd_historico(bus: Bus, args: argparse.Namespace) -> int:
    """Every trâmite of an IDT, NRE or NUP that your agency is party to, with each state change."""
    query = {"idt": args.idt, "nre": args.nre, "nup": args.nup}
    cursor: str | None = None
    found = 0
    while True:
        page = bus.call("GET", "/barramento/tramites", query={**query, "cursor": cursor})
        for tramite in page["itens"]:
            found += 1
            sender, receiver = tramite["remetente"]["estrutura"], tramite["destinatario"]["estrutura"]
            print(f"IDT {tramite['idt']}  NRE {tramite['nre']}  NUP {tramite['nup']}  {sender} -> {receiver}")
            print(f"  estado {tramite['estado']} ({tramite['descricaoEstado']})")
            for change in tramite["historico"]:
                print(
                    f"    {change['data']}  {change['estado']:>2} {change['descricao']}  by {change['orgao']}"
                )
            if tramite.get("recusa"):
                refusal = tramite["recusa"]
                print(f"  recusa: motivo {refusal['motivo']} ({refusal['descricao']})")
                print(f"    justificativa: {refusal.get('justificativa')}")
        cursor = page.get("cursor")
        if not cursor:
            break
    if not found:
        print("no trâmites")
    return 0


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


# --- command line --------------------------------------------------------------------------------------


def print_problem(error: ApiProblem) -> None:
    """A problem as the API wrote it (pt-BR): title, detail, each bad field, and the trâmite's current
    state when a move was not allowed (409 with estadoAtual)."""
    p = error.problem
    print(
        f"Erro {p.get('status', error.status)}: {p.get('title', '')} ({p.get('type', 'sem tipo')})",
        file=sys.stderr,
    )
    if p.get("detail"):
        print(f"  {p['detail']}", file=sys.stderr)
    for field in p.get("erros") or []:
        print(f"  - {field.get('campo')}: {field.get('mensagem')}", file=sys.stderr)
    if "estadoAtual" in p:
        print(f"  estado atual: {p['estadoAtual']} ({p.get('descricaoEstadoAtual', '')})", file=sys.stderr)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(description="Example client of the PEN bus (scope barramento).")
    main.add_argument("--base-url", default=os.environ.get("PEN_BASE_URL", DEFAULT_BASE_URL))
    main.add_argument("--token", default=os.environ.get("PEN_TOKEN"), help="or set PEN_TOKEN")
    sub = main.add_subparsers(dest="command", required=True)

    send = sub.add_parser("send", help="send files as a process to one or more units")
    send.add_argument("--from", dest="sender", required=True, help="your sending unit (estrutura id)")
    send.add_argument("--to", action="append", required=True, help="receiving unit; repeat for several")
    send.add_argument("--nup", help="the process's NUP (default: a demonstration NUP of the sending unit)")
    send.add_argument("--nre", help="the NRE, when the process already travelled through the bus")
    send.add_argument("--tipo", default="Demonstração: Envio pelo barramento")
    send.add_argument("--especificacao", default="Processo enviado pelo cliente de exemplo")
    send.add_argument("--interessado", action="append", default=None, help="repeat for several")
    send.add_argument("--produtor", default="Sistema próprio (exemplo)")
    send.add_argument("--unidade-produtora", default="Protocolo")
    send.add_argument("files", nargs="+", help="one document per file, in this order")
    send.set_defaults(run=cmd_send)

    pend = sub.add_parser("pendencias", help="list pending work (long-poll with --espera)")
    pend.add_argument("--espera", type=int, default=0, help="seconds to wait when nothing is pending (<= 20)")
    pend.set_defaults(run=cmd_pendencias)

    receive = sub.add_parser("receive", help="receive a trâmite: metadata, components, recibo or recusa")
    receive.add_argument("idt")
    receive.add_argument("--out", required=True, help="folder for the manifest and the files")
    receive.add_argument("--recusar", metavar="MOTIVO", choices=["01", "02", "03", "04", "99"])
    receive.add_argument("--justificativa", help="up to 1000 characters; required with motivo 99")
    receive.set_defaults(run=cmd_receive)

    recibo = sub.add_parser("recibo", help="fetch and verify the recibo de conclusão (sender)")
    recibo.add_argument("idt")
    recibo.add_argument("--salvar", metavar="DIR", help="keep the signed record and signature here")
    recibo.set_defaults(run=cmd_recibo)

    for name, run, text in (
        ("ciencia", cmd_ciencia, "acknowledge a refusal (sender)"),
        ("cancelar", cmd_cancelar, "cancel a trâmite in states 1-4 (sender)"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("idt")
        command.set_defaults(run=run)

    history = sub.add_parser("historico", help="trâmites of an IDT, NRE or NUP with their state history")
    which = history.add_mutually_exclusive_group(required=True)
    which.add_argument("--idt")
    which.add_argument("--nre")
    which.add_argument("--nup")
    history.set_defaults(run=cmd_historico)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.token:
        print("error: pass --token or set PEN_TOKEN", file=sys.stderr)
        return 2
    if getattr(args, "interessado", ...) is None:
        args.interessado = ["Interessado de demonstração"]
    bus = Bus(args.base_url, args.token)
    try:
        code: int = args.run(bus, args)
    except ApiProblem as error:
        print_problem(error)
        return 1
    except IntegrityError as error:
        print(f"integrity check failed: {error}", file=sys.stderr)
        return 3
    except SystemExit as error:
        if isinstance(error.code, str):
            print(error.code, file=sys.stderr)
            return 2
        raise
    return code


if __name__ == "__main__":
    sys.exit(main())
