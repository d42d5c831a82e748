"""The rest of a trâmite's life through the real handlers, on the moto server (KMS included): the
receiver downloads the components (4), sends the recibo de conclusão (5, checked with the openssl
command and the key from /publico/chaves), the sender fetches it (6); refusal (8) and ciência (9);
cancel (7); automatic cancel (10); several receivers in one send; the listing with the state history;
the long-poll; and the 409s that name the current state."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

import app as app_module
from chalicelib.domain.bus import Actor, ReceiptRecord, Refusal, RefusalReason, refuse
from infra.local.worker import Worker
from tests import servers
from tests.integration.conftest import Api, Stack, assert_problem, queue_urls
from tests.integration.test_bus import ANNEX, NUP, PDF, confirm, manifest, send, tokens, upload_all
from tests.integration.test_documents import b64, http, put
from tests.integration.test_kms_signer import openssl, openssl_verify

__all__ = ["tokens"]  # the fixture, shared with test_bus


def in_custody(api: Api, token: str, body: dict[str, Any], *files: bytes) -> list[str]:
    """Sends, uploads and confirms every trâmite of the send: each in state 2. Returns the IDTs."""
    sent = send(api, token, body)
    assert sent.status_code == 201, sent.body
    upload_all(sent.json, *files)
    idts = [t["idt"] for t in sent.json["tramites"]]
    for idt in idts:
        assert confirm(api, token, idt).json["tramite"]["estado"] == 2
    return idts


def download(api: Api, token: str, idt: str, data: bytes) -> Any:
    answer = api.call("GET", f"/barramento/tramites/{idt}/componentes?sha256={_quote(b64(data))}", token)
    if answer.status_code == 200:
        fetched = http("GET", answer.json["download"]["url"])
        assert fetched.status == 200
        assert hashlib.sha256(fetched.read()).digest() == hashlib.sha256(data).digest()
    return answer


def _quote(value: str) -> str:
    return value.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")


def received(api: Api, tokens: dict[str, str], nup: str = NUP) -> str:
    """A trâmite from the INSS to the MS in state 4 (metadata and both components downloaded)."""
    [idt] = in_custody(api, tokens["inss"], manifest(PDF, ANNEX, nup=nup), PDF, ANNEX)
    assert api.call("GET", f"/barramento/tramites/{idt}", tokens["ms"]).json["tramite"]["estado"] == 3
    assert download(api, tokens["ms"], idt, PDF).json["tramite"]["estado"] == 3
    assert download(api, tokens["ms"], idt, PDF).json["tramite"]["estado"] == 3  # again: harmless
    assert download(api, tokens["ms"], idt, ANNEX).json["tramite"]["estado"] == 4
    return idt


def test_receipt_verifies_with_openssl_and_the_sender_fetch_ends_the_tramite(
    api: Api, tokens: dict[str, str], tmp_path: Path
) -> None:
    idt = received(api, tokens)
    assert [p["idt"] for p in api.call("GET", "/barramento/pendencias", tokens["ms"]).json["itens"]] == [idt]

    sent = api.call("POST", f"/barramento/tramites/{idt}/recibo", tokens["ms"])
    assert sent.status_code == 201, sent.body
    assert sent.json["tramite"]["estado"] == 5
    recibo = sent.json["recibo"]
    record = base64.b64decode(recibo["registro"])
    parsed = ReceiptRecord.from_canonical(record)  # canonical RFC 8785 of the documented format
    assert (parsed.idt, parsed.receiver.structure_id, parsed.sender.structure_id) == (idt, "101", "200")
    assert list(parsed.component_hashes) == sorted([b64(PDF), b64(ANNEX)])
    assert recibo["conteudo"] == json.loads(record)

    keys = {k["id"]: k["pem"] for k in api.call("GET", "/publico/chaves").json["chaves"]}
    pem = keys[recibo["carimbo"]["chave"]]
    checked = openssl_verify(tmp_path, pem, recibo["carimbo"]["assinatura"], record)
    assert checked.returncode == 0, checked.stderr
    assert "Verified OK" in checked.stdout
    tampered = openssl_verify(tmp_path, pem, recibo["carimbo"]["assinatura"], record.replace(b"101", b"102"))
    assert tampered.returncode != 0

    # Now the sender has the pendência; the receiver nothing.
    assert api.call("GET", "/barramento/pendencias", tokens["ms"]).json["itens"] == []
    [pending] = api.call("GET", "/barramento/pendencias", tokens["inss"]).json["itens"]
    assert (pending["idt"], pending["estado"], pending["papel"]) == (idt, 5, "remetente")

    # The receiver may read its receipt back without a move; the sender's fetch moves to 6, once.
    assert api.call("GET", f"/barramento/tramites/{idt}/recibo", tokens["ms"]).json["tramite"]["estado"] == 5
    fetched = api.call("GET", f"/barramento/tramites/{idt}/recibo", tokens["inss"])
    assert fetched.status_code == 200, fetched.body
    assert fetched.json["tramite"]["estado"] == 6
    assert fetched.json["recibo"] == recibo
    again = api.call("GET", f"/barramento/tramites/{idt}/recibo", tokens["inss"])
    assert [h["estado"] for h in again.json["tramite"]["historico"]] == [1, 2, 3, 4, 5, 6]
    assert api.call("GET", "/barramento/pendencias", tokens["inss"]).json["itens"] == []

    # Over: no second receipt, no cancel, no refusal; each 409 names the current state.
    for method, path, body in [
        ("POST", f"/barramento/tramites/{idt}/recibo", None),
        ("DELETE", f"/barramento/tramites/{idt}", None),
        ("POST", f"/barramento/tramites/{idt}/recusa", {"motivo": "02"}),
    ]:
        token = tokens["inss"] if method == "DELETE" else tokens["ms"]
        problem = assert_problem(api.call(method, path, token, body), 409, "conflito")
        assert problem["estadoAtual"] == 6
        assert problem["descricaoEstadoAtual"] == "recibo de conclusão recebido"


def test_receipt_needs_every_component_downloaded(api: Api, tokens: dict[str, str]) -> None:
    [idt] = in_custody(api, tokens["inss"], manifest(PDF, ANNEX), PDF, ANNEX)
    # Components before the metadata: 409 in state 2.
    assert assert_problem(download(api, tokens["ms"], idt, PDF), 409, "conflito")["estadoAtual"] == 2
    api.call("GET", f"/barramento/tramites/{idt}", tokens["ms"])
    download(api, tokens["ms"], idt, PDF)
    early = assert_problem(
        api.call("POST", f"/barramento/tramites/{idt}/recibo", tokens["ms"]), 409, "conflito"
    )
    assert early["estadoAtual"] == 3
    # Not one of its components; not a party; the sender cannot send the receipt.
    unknown = api.call(
        "GET", f"/barramento/tramites/{idt}/componentes?sha256={_quote(b64(b'x'))}", tokens["ms"]
    )
    assert_problem(unknown, 404, "nao-encontrado")
    assert_problem(download(api, tokens["rfb"], idt, PDF), 404, "nao-encontrado")
    assert_problem(
        api.call("POST", f"/barramento/tramites/{idt}/recibo", tokens["inss"]), 403, "sem-permissao"
    )


def test_refusal_then_ciencia_unlocks_the_nre(api: Api, tokens: dict[str, str]) -> None:
    [idt] = in_custody(api, tokens["inss"], manifest(PDF), PDF)
    nre = api.call("GET", f"/barramento/tramites?idt={idt}", tokens["inss"]).json["itens"][0]["nre"]
    bad = api.call("POST", f"/barramento/tramites/{idt}/recusa", tokens["ms"], {"motivo": "99"})
    assert {e["campo"] for e in assert_problem(bad, 400, "dados-invalidos")["erros"]} == {"justificativa"}
    unknown = api.call("POST", f"/barramento/tramites/{idt}/recusa", tokens["ms"], {"motivo": "07"})
    assert_problem(unknown, 400, "dados-invalidos")
    too_long = {"motivo": "99", "justificativa": "x" * 1001}
    assert_problem(
        api.call("POST", f"/barramento/tramites/{idt}/recusa", tokens["ms"], too_long), 400, "dados-invalidos"
    )
    assert_problem(
        api.call("POST", f"/barramento/tramites/{idt}/recusa", tokens["inss"], {"motivo": "02"}),
        403,
        "sem-permissao",
    )

    refusal = {"motivo": "03", "justificativa": "Falta o anexo II citado no ofício."}
    refused = api.call("POST", f"/barramento/tramites/{idt}/recusa", tokens["ms"], refusal)
    assert refused.status_code == 200, refused.body
    assert refused.json["tramite"]["estado"] == 8
    assert refused.json["tramite"]["recusa"] == {
        "motivo": "03",
        "descricao": "falta de componentes digitais",
        "justificativa": "Falta o anexo II citado no ofício.",
    }
    [pending] = api.call("GET", "/barramento/pendencias", tokens["inss"]).json["itens"]
    assert (pending["estado"], pending["acoes"]) == (8, ["dar-ciencia"])
    # Still open: the NRE cannot start another trâmite until the sender's ciência.
    assert_problem(send(api, tokens["inss"], manifest(PDF, nre=nre)), 409, "conflito")
    assert_problem(
        api.call("POST", f"/barramento/tramites/{idt}/ciencia", tokens["ms"]), 403, "sem-permissao"
    )
    done = api.call("POST", f"/barramento/tramites/{idt}/ciencia", tokens["inss"])
    assert done.status_code == 200, done.body
    assert done.json["tramite"]["estado"] == 9
    assert done.json["tramite"]["recusa"]["motivo"] == "03"
    again = send(api, tokens["inss"], manifest(PDF, nre=nre))
    assert again.status_code == 201, again.body
    assert again.json["tramites"][0]["nre"] == nre


def test_cancel_from_the_sender_only_and_never_after_the_receipt(api: Api, tokens: dict[str, str]) -> None:
    [idt] = in_custody(api, tokens["inss"], manifest(PDF), PDF)
    assert_problem(api.call("DELETE", f"/barramento/tramites/{idt}", tokens["ms"]), 403, "sem-permissao")
    assert_problem(api.call("DELETE", f"/barramento/tramites/{idt}", tokens["rfb"]), 404, "nao-encontrado")
    cancelled = api.call("DELETE", f"/barramento/tramites/{idt}", tokens["inss"])
    assert cancelled.status_code == 200, cancelled.body
    assert cancelled.json["tramite"]["estado"] == 7
    assert api.call("GET", "/barramento/pendencias", tokens["ms"]).json["itens"] == []
    problem = assert_problem(
        api.call("DELETE", f"/barramento/tramites/{idt}", tokens["inss"]), 409, "conflito"
    )
    assert problem["estadoAtual"] == 7


def test_one_send_to_several_receivers(api: Api, tokens: dict[str, str]) -> None:
    body = manifest(PDF)
    del body["cabecalho"]["destinatario"]
    body["cabecalho"]["destinatarios"] = [
        {"repositorio": "1", "estrutura": "101"},
        {"repositorio": "1", "estrutura": "300"},
    ]
    sent = send(api, tokens["inss"], body)
    assert sent.status_code == 201, sent.body
    first, second = sent.json["tramites"]
    assert (first["orgaoDestinatario"], second["orgaoDestinatario"]) == ("100", "300")
    assert first["nre"] == second["nre"]
    assert first["idt"] != second["idt"]
    assert [c["sha256"] for c in sent.json["componentesPendentes"]] == [b64(PDF)]  # uploaded once
    upload_all(sent.json, PDF)
    for idt in (first["idt"], second["idt"]):
        assert confirm(api, tokens["inss"], idt).json["tramite"]["estado"] == 2
    assert [p["idt"] for p in api.call("GET", "/barramento/pendencias", tokens["ms"]).json["itens"]] == [
        first["idt"]
    ]
    assert [p["idt"] for p in api.call("GET", "/barramento/pendencias", tokens["rfb"]).json["itens"]] == [
        second["idt"]
    ]
    # Each receiver sees its own trâmite only; the sender both.
    listed = api.call("GET", f"/barramento/tramites?nre={first['nre']}", tokens["inss"]).json["itens"]
    assert sorted(t["idt"] for t in listed) == sorted([first["idt"], second["idt"]])  # same moment
    mine = api.call("GET", f"/barramento/tramites?nre={first['nre']}", tokens["ms"]).json["itens"]
    assert [t["idt"] for t in mine] == [first["idt"]]

    both = dict(
        body, cabecalho=dict(body["cabecalho"], destinatario={"repositorio": "1", "estrutura": "101"})
    )
    assert_problem(send(api, tokens["inss"], both), 400, "dados-invalidos")
    twice = manifest(PDF, nup="23037000002202039")
    del twice["cabecalho"]["destinatario"]
    twice["cabecalho"]["destinatarios"] = [{"repositorio": "1", "estrutura": "101"}] * 2
    repeated = assert_problem(send(api, tokens["inss"], twice), 400, "dados-invalidos")
    assert [e["campo"] for e in repeated["erros"]] == ["cabecalho.destinatarios.1"]


def test_listing_shows_every_state_change_and_who_made_it(
    api: Api, tokens: dict[str, str], stack: Stack
) -> None:
    idt = received(api, tokens)
    by_nup = api.call("GET", f"/barramento/tramites?nup={NUP}", tokens["ms"])
    assert by_nup.status_code == 200, by_nup.body
    [tramite] = by_nup.json["itens"]
    history = [(h["estado"], h["orgao"], h["cliente"]) for h in tramite["historico"]]
    inss, ms = stack.client_ids["inss-bus"], stack.client_ids["ms-admin"]
    assert history == [(1, "200", inss), (2, "barramento", "barramento"), (3, "100", ms), (4, "100", ms)]
    assert all(h["data"] and h["detalhe"] for h in tramite["historico"])
    masked = api.call("GET", "/barramento/tramites?nup=23037.001462/2021-65", tokens["ms"]).json["itens"]
    assert [t["idt"] for t in masked] == [idt]
    assert api.call("GET", f"/barramento/tramites?idt={idt}", tokens["rfb"]).json["itens"] == []
    none = assert_problem(api.call("GET", "/barramento/tramites", tokens["ms"]), 400, "dados-invalidos")
    assert {e["campo"] for e in none["erros"]} == {"idt", "nre", "nup"}
    assert_problem(
        api.call("GET", f"/barramento/tramites?idt={idt}&nup={NUP}", tokens["ms"]), 400, "dados-invalidos"
    )


def test_long_poll_waits_for_a_pendency_and_is_bounded(
    api: Api, tokens: dict[str, str], stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus = stack.services.bus
    sleeps: list[float] = []

    def arrive_while_waiting(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:  # another agency's send lands during the wait
            in_custody(api, tokens["inss"], manifest(PDF), PDF)

    monkeypatch.setattr(bus, "_sleep", arrive_while_waiting)
    waited = api.call("GET", "/barramento/pendencias?espera=20", tokens["ms"])
    assert waited.status_code == 200, waited.body
    assert len(waited.json["itens"]) == 1
    assert sleeps == [1.0, 1.0, 1.0]
    # Nothing pending: it gives up after `espera` seconds, no more.
    sleeps.clear()
    assert api.call("GET", "/barramento/pendencias?espera=2", tokens["rfb"]).json["itens"] == []
    assert sleeps == [1.0, 1.0]
    assert_problem(api.call("GET", "/barramento/pendencias?espera=21", tokens["ms"]), 400, "dados-invalidos")


def test_the_schedule_cancels_tramites_stuck_past_the_deadline(
    api: Api, tokens: dict[str, str], stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    [stuck] = in_custody(api, tokens["inss"], manifest(PDF), PDF)
    moving = send(api, tokens["inss"], manifest(ANNEX, nup="23037000002202039")).json["tramites"][0]["idt"]
    bus = stack.services.bus
    assert bus.cancel_stalled() == []  # nothing is due yet
    real_clock = bus._clock
    later = real_clock.now() + timedelta(days=8, minutes=1)

    class Later:
        def now(self) -> Any:
            return later

    monkeypatch.setattr(bus, "_clock", Later())
    # The app's own scheduled handler, run by the local stack's worker as on `make run`.
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint, region_name=servers.REGION)
    env = queue_urls()
    worker = Worker.for_stack(app_module.app, sqs, env, stage=stack.settings.stage, region=servers.REGION,
                              log=lambda _: None)  # fmt: skip
    assert "cancel_stalled_tramites" in [s.name for s in worker.schedules]
    assert worker.run_schedule("cancel_stalled_tramites") == {"cancelados": 2}
    assert bus.cancel_stalled() == []  # a second run finds nothing
    for idt in (stuck, moving):
        tramite = api.call("GET", f"/barramento/tramites?idt={idt}", tokens["inss"]).json["itens"][0]
        assert tramite["estado"] == 10
        assert tramite["historico"][-1]["orgao"] == "barramento"
    assert api.call("GET", "/barramento/pendencias", tokens["ms"]).json["itens"] == []


def test_a_receipt_racing_a_refusal_after_the_same_read_gets_409(
    api: Api, tokens: dict[str, str], stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal lands between the receipt's read and its write: the receipt's conditional write
    fails, the re-read finds state 8, and the caller gets 409 naming it. (The concurrent version of
    this race runs on DynamoDB Local in tests/contract/test_tramite_repository.py.)"""
    idt = received(api, tokens)
    bus = stack.services.bus
    repository = bus._tramites
    original_save = repository.save
    raced: list[bool] = []

    def refusal_lands_first(tramite: Any) -> Any:
        if not raced:
            raced.append(True)
            current = repository.get(idt)
            assert current is not None
            refusal = Refusal(RefusalReason.OUTRO, "Duplicado.")
            original_save(refuse(current, Actor("100", "outro"), current.updated_at, refusal))
        return original_save(tramite)

    monkeypatch.setattr(repository, "save", refusal_lands_first)
    lost = assert_problem(
        api.call("POST", f"/barramento/tramites/{idt}/recibo", tokens["ms"]), 409, "conflito"
    )
    assert lost["estadoAtual"] == 8
    listed = api.call("GET", f"/barramento/tramites?idt={idt}", tokens["ms"]).json["itens"][0]
    assert [h["estado"] for h in listed["historico"]] == [1, 2, 3, 4, 8]


def test_the_return_path_keeps_every_delivered_document_and_appends_only(
    api: Api, tokens: dict[str, str]
) -> None:
    """INSS -> MS delivered; the MS sends it back under the same NRE: with a document re-rendered it is
    refused (each divergence named); with the originals unchanged plus a new one, only the new one is
    requested."""
    idt = received(api, tokens)
    api.call("POST", f"/barramento/tramites/{idt}/recibo", tokens["ms"])
    nre = api.call("GET", f"/barramento/tramites/{idt}/recibo", tokens["inss"]).json["tramite"]["nre"]
    reply = b"%PDF-1.7\nparecer do MS\n%%EOF\n"

    def back(*files: bytes) -> dict[str, Any]:
        body = manifest(*files, receiver="200", nre=nre)
        body["cabecalho"]["remetente"] = {"repositorio": "1", "estrutura": "101"}
        return body

    rerendered = PDF + b"\n% assinatura embutida"
    changed = assert_problem(send(api, tokens["ms"], back(rerendered, ANNEX, reply)), 400, "dados-invalidos")
    assert "mesmos SHA-256" in changed["detail"]
    assert [e["campo"] for e in changed["erros"]] == ["documentos.0.componentes.0.sha256"]

    returned = send(api, tokens["ms"], back(PDF, ANNEX, reply))
    assert returned.status_code == 201, returned.body
    assert [c["sha256"] for c in returned.json["componentesPendentes"]] == [b64(reply)]
    assert returned.json["tramites"][0]["nre"] == nre


# --- large components: uploaded in parts ---------------------------------------------------------------


@pytest.fixture
def small_parts(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1 KiB single-upload limit and part size (100 MiB and 5 MiB by default) so parts stay tiny."""
    monkeypatch.setattr(stack.services.bus, "_single_upload_max", 1024)
    monkeypatch.setattr(stack.services.bus, "_min_part_size", 1024)
    monkeypatch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", 1024)


def test_a_large_component_goes_in_parts_joined_at_custody(
    api: Api, tokens: dict[str, str], small_parts: None
) -> None:
    video = b"%PDF-1.7\n" + os.urandom(3500) + b"\n%%EOF\n"
    parts = [video[i : i + 1024] for i in range(0, len(video), 1024)]
    body = manifest(video)
    declared = body["documentos"][0]["componentes"][0]
    assert_problem(send(api, tokens["inss"], body), 400, "dados-invalidos")  # above the limit, no parts
    declared["partes"] = {"tamanhoParte": 1024, "sha256": [b64(p) for p in parts[:-1]]}
    short = assert_problem(send(api, tokens["inss"], body), 400, "dados-invalidos")
    assert [e["campo"] for e in short["erros"]] == ["documentos.0.componentes.0.partes.sha256"]

    declared["partes"]["sha256"] = [b64(p) for p in parts]
    sent = send(api, tokens["inss"], body)
    assert sent.status_code == 201, sent.body
    [pending] = sent.json["componentesPendentes"]
    assert pending["envioUnico"] is None
    assert len(pending["partes"]) == len(parts) == 4
    idt = sent.json["tramites"][0]["idt"]
    for presigned, part in list(zip(pending["partes"], parts, strict=True))[:-1]:
        assert put(presigned, part) == 200
    missing = assert_problem(confirm(api, tokens["inss"], idt), 409, "conflito")
    assert [e["campo"] for e in missing["erros"]] == [f"componentes.{b64(video)}"]
    # A bad last part (S3 refuses it by its SHA-256; the emulator does not, so custody must): the
    # joined file is discarded, and fresh requests (a new upload in parts) take the right bytes.
    assert put(pending["partes"][-1], b"x" * len(parts[-1])) == 200
    corrupt = assert_problem(confirm(api, tokens["inss"], idt), 409, "conflito")
    assert "descartado" in corrupt["erros"][0]["mensagem"]
    again = api.call("GET", f"/barramento/tramites/{idt}/componentes/pendentes", tokens["inss"])
    assert again.status_code == 200, again.body
    [fresh] = again.json["componentesPendentes"]
    assert len(fresh["partes"]) == 4
    assert fresh["partes"][0]["url"] != pending["partes"][0]["url"]  # another multipart upload
    for presigned, part in zip(fresh["partes"], parts, strict=True):
        assert put(presigned, part) == 200
    assert_problem(api.call("GET", f"/barramento/tramites/{idt}/componentes/pendentes", tokens["ms"]), 403,
                   "sem-permissao")  # fmt: skip
    done = confirm(api, tokens["inss"], idt)
    assert done.status_code == 200, done.body
    assert done.json["tramite"]["estado"] == 2

    nothing = api.call("GET", f"/barramento/tramites/{idt}/componentes/pendentes", tokens["inss"])
    assert_problem(nothing, 409, "conflito")  # state 2: nothing left to upload
    api.call("GET", f"/barramento/tramites/{idt}", tokens["ms"])
    assert download(api, tokens["ms"], idt, video).json["tramite"]["estado"] == 4  # whole, same SHA-256


# --- the receiver's own signature -------------------------------------------------------------------------


def test_the_receiver_adds_its_own_signature_made_with_openssl(
    api: Api, tokens: dict[str, str], tmp_path: Path
) -> None:
    """The MS registers a public key, signs the recibo's declaration with the openssl command and its
    private key, and sends the signature with the recibo: the bus checks it, the stamped record carries
    it, and both signatures verify with openssl."""
    private = tmp_path / "ms.key"
    public = tmp_path / "ms.pem"
    assert openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", private).returncode == 0
    assert openssl("ec", "-in", private, "-pubout", "-out", public).returncode == 0
    admin = tokens["ms"]
    assert_problem(
        api.call("POST", "/orgaos/100/chaves", admin, {"pem": "não é uma chave"}), 400, "dados-invalidos"
    )
    registered = api.call("POST", "/orgaos/100/chaves", admin, {"pem": public.read_text()})
    assert registered.status_code == 201, registered.body
    key_id = registered.json["id"]
    assert registered.json["algoritmo"] == "ECDSA_P256_SHA256"
    assert [k["id"] for k in api.call("GET", "/orgaos/100/chaves", admin).json["itens"]] == [key_id]
    assert_problem(api.call("GET", "/orgaos/200/chaves", admin), 404, "nao-encontrado")  # another agency's

    idt = received(api, tokens)
    assert_problem(api.call("GET", f"/barramento/tramites/{idt}/recibo/declaracao", tokens["inss"]), 403,
                   "sem-permissao")  # fmt: skip
    declared = api.call("GET", f"/barramento/tramites/{idt}/recibo/declaracao", tokens["ms"])
    assert declared.status_code == 200, declared.body
    statement = base64.b64decode(declared.json["registro"])
    assert declared.json["conteudo"]["formato"] == "pen-recibo-conclusao-destinatario-v1"
    (tmp_path / "declaracao.json").write_bytes(statement)
    signed = openssl(
        "dgst", "-sha256", "-sign", private, "-out", tmp_path / "sig.der", tmp_path / "declaracao.json"
    )
    assert signed.returncode == 0, signed.stderr
    value = base64.b64encode((tmp_path / "sig.der").read_bytes()).decode()

    def post(signature: dict[str, str]) -> Any:
        return api.call("POST", f"/barramento/tramites/{idt}/recibo", tokens["ms"], {"assinatura": signature})

    forged = assert_problem(post({"chave": key_id, "valor": base64.b64encode(b"x" * 70).decode()}), 400,
                            "dados-invalidos")  # fmt: skip
    assert [e["campo"] for e in forged["erros"]] == ["assinatura.valor"]
    unknown = assert_problem(post({"chave": "nao-existe", "valor": value}), 400, "dados-invalidos")
    assert [e["campo"] for e in unknown["erros"]] == ["assinatura.chave"]
    assert api.call("GET", f"/barramento/tramites?idt={idt}", tokens["ms"]).json["itens"][0]["estado"] == 4

    done = post({"chave": key_id, "valor": value})
    assert done.status_code == 201, done.body
    recibo = done.json["recibo"]
    assert recibo["conteudo"]["assinaturaDestinatario"] == {"chave": key_id, "valor": value}
    record = base64.b64decode(recibo["registro"])
    keys = {k["id"]: k["pem"] for k in api.call("GET", "/publico/chaves").json["chaves"]}
    platform = openssl_verify(
        tmp_path, keys[recibo["carimbo"]["chave"]], recibo["carimbo"]["assinatura"], record
    )
    assert platform.returncode == 0, platform.stderr
    receiver = openssl_verify(tmp_path, public.read_text(), value, statement)
    assert receiver.returncode == 0, receiver.stderr

    revoked = api.call("POST", f"/orgaos/100/chaves/{key_id}/revogacao", admin)
    assert revoked.status_code == 200, revoked.body
    assert revoked.json["ativa"] is False
    other = received(api, tokens, nup="23037000002202039")
    assert_problem(
        api.call(
            "POST",
            f"/barramento/tramites/{other}/recibo",
            tokens["ms"],
            {"assinatura": {"chave": key_id, "valor": value}},
        ),
        400,
        "dados-invalidos",
    )
