"""Electronic signatures through the real handlers, on the moto server (KMS included): signing, the
immutability it brings, the public authenticity lookup and its privacy, the published keys, and the
stamps checked by the openssl command line (never by the project's own code)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from pynamodb.connection.base import Connection

from chalicelib import bootstrap
from chalicelib.domain.credentials import Scope
from chalicelib.domain.processes import AccessLevel
from chalicelib.domain.signatures import SignatureRecord, Stamp, crc_code, verification_code
from chalicelib.domain.structures import Structure
from chalicelib.services.documents import DocumentInput
from chalicelib.services.processes import Actor
from tests import servers
from tests.integration.conftest import Api, Stack, assert_problem
from tests.integration.test_documents import PDF, WHO, http, internal, new_process, state, upload_and_confirm

MARIA = {"unidade": "101", "nome": "Maria Antônia Gonçalves", "cargo": "Coordenadora-Geral de Protocolo"}
JOAO = {"unidade": "101", "nome": "João Pereira", "cargo": "Diretor de Administração"}
AS_JOAO = {"x-usuario": "joao.pereira"}
HTML = "<p>Senhor Diretor,</p>"
AUTHENTICITY = "/publico/documentos/autenticidade"


@pytest.fixture
def ms(stack: Stack) -> dict[str, str]:
    registry = stack.services.registry
    registry.save(Structure(id="201", name="Protocolo do INSS", acronym="PINSS", agency_id="", parent_id="200",
                            protocol_code="35000"))  # fmt: skip
    inss = stack.services.credentials.issue("200", "inss-sei", frozenset({Scope.PROCESSOS}))
    return {"token": stack.tokens["ms-sei"], "inss": inss.token}


def new_document(api: Api, token: str, nup: str, **changes: Any) -> dict[str, Any]:
    created = api.call("POST", f"/processos/{nup}/documentos/internos", token, internal(conteudo=HTML, **changes),
                       headers=WHO)  # fmt: skip
    assert created.status_code == 201, created.body
    return dict(created.json)


def sign(api: Api, token: str, nup: str, order: int, body: dict[str, Any], **headers: str) -> Any:
    return api.call("POST", f"/processos/{nup}/documentos/{order}/assinaturas", token, body,
                    headers={**WHO, **headers})  # fmt: skip


def lookup(api: Api, code: str, crc: str) -> Any:
    return api.call("GET", f"{AUTHENTICITY}?codigo={code}&crc={crc}")


def openssl_verify(
    tmp_path: Path, pem: str, signature_b64: str, message: bytes
) -> subprocess.CompletedProcess[str]:
    """`openssl dgst -sha256 -verify chave.pem -signature assinatura.der registro.json`, from files."""
    binary = shutil.which("openssl")
    assert binary is not None, "openssl is needed: sudo apt-get install -y openssl"
    name = uuid.uuid4().hex
    pub, sig, msg = tmp_path / f"{name}.pem", tmp_path / f"{name}.der", tmp_path / f"{name}.json"
    pub.write_text(pem, encoding="ascii")
    sig.write_bytes(base64.b64decode(signature_b64, validate=True))
    msg.write_bytes(message)
    return subprocess.run([binary, "dgst", "-sha256", "-verify", str(pub), "-signature", str(sig), str(msg)],
                          capture_output=True, text=True, check=False, timeout=30)  # fmt: skip


@pytest.fixture
def dynamodb_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    calls: Counter[str] = Counter()
    original = Connection._make_api_call

    def counting(self: Connection, operation_name: str, *args: Any, **kwargs: Any) -> Any:
        calls[operation_name] += 1
        return original(self, operation_name, *args, **kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", counting)
    return calls


@pytest.fixture
def kms_signs() -> Iterator[list[str]]:
    """Records every KMS Sign call the app makes."""
    calls: list[str] = []
    kms = bootstrap.services().signatures._signer._kms  # type: ignore[attr-defined]

    def on_sign(**_: Any) -> None:
        calls.append("sign")

    kms.meta.events.register("before-call.kms.Sign", on_sign)
    yield calls
    kms.meta.events.unregister("before-call.kms.Sign", on_sign)


# --- signing ------------------------------------------------------------------------------------------


def test_two_people_sign_and_the_content_is_then_immutable(
    api: Api, stack: Stack, ms: dict[str, str]
) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    doc = new_document(api, token, nup)
    first = sign(api, token, nup, 1, MARIA)
    assert first.status_code == 201, first.body
    signed = first.json
    assert (signed["assinado"], signed["editavel"], signed["versao"]) == (True, False, 2)
    code, crc = signed["autenticacao"]["codigoVerificador"], signed["autenticacao"]["crc"]
    assert re.fullmatch(r"[0-9]{10}", code)
    assert re.fullmatch(r"[0-9A-F]{8}", crc)
    # People check it on the site's page (printed on the document); systems on the public API.
    site = stack.settings.public_base_url.rstrip("/")
    assert signed["autenticacao"]["consulta"] == f"{site}/autenticidade.html?codigo={code}&crc={crc}"
    assert signed["autenticacao"]["consultaApi"] == f"{AUTHENTICITY}?codigo={code}&crc={crc}"
    assert api.call("GET", signed["autenticacao"]["consultaApi"]).status_code == 200
    [maria] = signed["assinaturas"]
    record = json.loads(maria["registro"])
    assert record == {
        "formato": "pen-assinatura-v1",
        "documento": record["documento"],
        "conteudoSha256": hashlib.sha256(HTML.encode()).hexdigest(),  # the stored sanitised bytes
        "signatario": MARIA["nome"],
        "cargo": MARIA["cargo"],
        "assinadoEm": record["assinadoEm"],
        "orgao": "100",
        "unidade": "101",
    }
    assert datetime.fromisoformat(record["assinadoEm"]) == datetime.fromisoformat(maria["assinadoEm"])
    assert nup not in record["documento"]  # records are public; they never carry the NUP
    assert base64.b64decode(maria["registroBase64"]) == maria["registro"].encode()
    assert (maria["usuario"], maria["carimbo"]["algoritmo"]) == ("maria.silva", "ECDSA_SHA_256")

    second = sign(api, token, nup, 1, JOAO, **AS_JOAO)
    assert second.status_code == 201, second.body
    both = second.json["assinaturas"]
    assert [s["signatario"] for s in both] == [MARIA["nome"], JOAO["nome"]]
    assert json.loads(both[1]["registro"])["documento"] == record["documento"]
    assert second.json["autenticacao"] == signed["autenticacao"]  # the document keeps its codes
    assert both[0] == maria  # an earlier signature is never rewritten

    history = api.call("GET", f"/processos/{nup}/historico", token).json
    assert history["verificacao"]["integro"] is True
    assert [(h["operacao"]["codigo"], h["usuario"], h["descricao"]) for h in history["itens"][-2:]] == [
        ("01", "maria.silva", f"Documento Ofício nº {doc['numero']} (documento 1) assinado (1ª assinatura, "
                              f"como {MARIA['cargo']})"),
        ("01", "joao.pereira", f"Documento Ofício nº {doc['numero']} (documento 1) assinado (2ª assinatura, "
                               f"como {JOAO['cargo']})"),
    ]  # fmt: skip

    before = state(api, token, nup)
    edit = {"unidade": "101", "conteudo": "<p>Outro texto</p>", "versao": second.json["versao"]}
    refused = api.call("PATCH", f"/processos/{nup}/documentos/1", token, edit, headers=WHO)
    assert assert_problem(refused, 409, "conflito")["detail"] == (
        "O documento 1 já foi assinado e não pode mais ser alterado."
    )
    again = sign(api, token, nup, 1, MARIA)  # the same person cannot sign twice
    assert assert_problem(again, 409, "conflito")["detail"] == "maria.silva já assinou o documento 1."
    assert state(api, token, nup) == before


def test_an_external_document_is_signed_over_its_confirmed_checksum(api: Api, ms: dict[str, str]) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    upload_and_confirm(api, token, nup, PDF)
    signed = sign(api, token, nup, 1, MARIA)
    assert signed.status_code == 201, signed.body
    record = json.loads(signed.json["assinaturas"][0]["registro"])
    assert record["conteudoSha256"] == hashlib.sha256(PDF).hexdigest()


def test_signing_what_was_not_read_a_cancelled_document_or_a_closed_process_is_refused(
    api: Api, ms: dict[str, str]
) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    new_document(api, token, nup)
    new_document(api, token, nup)
    api.call("POST", f"/processos/{nup}/documentos/2/cancelamento", token,
             {"unidade": "101", "motivo": "Gerado por engano"}, headers=WHO)  # fmt: skip
    before = state(api, token, nup)
    stale = sign(
        api, token, nup, 1, {**MARIA, "sha256": base64.b64encode(hashlib.sha256(b"x").digest()).decode()}
    )
    assert "alterado desde a leitura" in assert_problem(stale, 409, "conflito")["detail"]
    cancelled = sign(api, token, nup, 2, MARIA)
    assert assert_problem(cancelled, 409, "conflito")["detail"] == (
        "O documento 2 foi cancelado e não pode ser assinado."
    )
    assert_problem(sign(api, token, nup, 3, MARIA), 404, "nao-encontrado")
    for bad in ({**MARIA, "nome": " "}, {**MARIA, "cargo": "x" * 101}, {"unidade": "101", "nome": "Maria"}):
        assert_problem(sign(api, token, nup, 1, bad), 400, "dados-invalidos")
    assert state(api, token, nup) == before

    api.call("POST", f"/processos/{nup}/conclusao", token, {"unidade": "101"}, headers=WHO)
    before = state(api, token, nup)
    closed = sign(api, token, nup, 1, MARIA)
    assert "concluído" in assert_problem(closed, 409, "conflito")["detail"]
    assert state(api, token, nup) == before


def test_another_agency_cannot_sign(api: Api, ms: dict[str, str]) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    new_document(api, token, nup)
    before = state(api, token, nup)
    response = sign(api, ms["inss"], nup, 1, {**MARIA, "unidade": "201"})
    assert_problem(response, 404, "nao-encontrado")
    assert HTML not in response.body.decode()
    assert state(api, token, nup) == before


def test_an_idempotency_key_replay_returns_the_first_signature(
    api: Api, ms: dict[str, str], kms_signs: list[str]
) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    new_document(api, token, nup)
    key = {"idempotency-key": "assinatura-0001"}
    first = sign(api, token, nup, 1, MARIA, **key)
    replay = sign(api, token, nup, 1, MARIA, **key)
    assert first.status_code == replay.status_code == 201
    assert first.json == replay.json
    assert kms_signs == ["sign"]  # the replay did not even reach KMS
    document = api.call("GET", f"/processos/{nup}/documentos/1", token).json
    assert len(document["assinaturas"]) == 1
    history = api.call("GET", f"/processos/{nup}/historico", token).json["itens"]
    assert sum("assinado" in h["descricao"] for h in history) == 1
    assert_problem(sign(api, token, nup, 1, JOAO, **key), 422, "chave-de-idempotencia-reutilizada")


def test_when_the_transaction_loses_a_race_nothing_is_stored(
    api: Api, stack: Stack, ms: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """KMS signs first; another change lands before the transaction, which then fails: a 409, no
    signature, no history entry, no lookup key. The orphan stamp points nowhere."""
    token = ms["token"]
    nup = new_process(api, token)
    new_document(api, token, nup)
    services = bootstrap.services()
    signer = services.signatures._signer
    original = signer.sign
    stamped: list[tuple[bytes, Stamp]] = []

    def sign_then_race(message: bytes) -> Stamp:
        stamp = original(message)
        stamped.append((message, stamp))
        services.documents.create_internal(  # another person adds a document meanwhile
            Actor("100", "joao.pereira"), nup, DocumentInput("101", 88, AccessLevel.PUBLICO), "<p>Outro</p>"
        )
        return stamp

    monkeypatch.setattr(signer, "sign", sign_then_race)
    before_documents = api.call("GET", f"/processos/{nup}/documentos", token).json["itens"]
    lost = sign(api, token, nup, 1, MARIA)
    assert_problem(lost, 409, "conflito")
    monkeypatch.undo()

    [(message, stamp)] = stamped
    after = api.call("GET", f"/processos/{nup}/documentos", token).json["itens"]
    assert after[0] == before_documents[0]  # unsigned, unchanged
    history = api.call("GET", f"/processos/{nup}/historico", token).json["itens"]
    assert not any("assinado" in h["descricao"] for h in history)
    record = SignatureRecord.from_canonical(message)
    assert_problem(lookup(api, verification_code(stamp), crc_code(record)), 404, "nao-encontrado")
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.endpoint, region_name=servers.REGION)
    key = {"pk": {"S": f"VER#{verification_code(stamp)}"}, "sk": {"S": f"CRC#{crc_code(record)}"}}
    assert "Item" not in dynamodb.get_item(TableName=stack.settings.table_processos, Key=key)

    retried = sign(api, token, nup, 1, MARIA)  # reading again and repeating works
    assert retried.status_code == 201, retried.body


# --- the public side ------------------------------------------------------------------------------------


def test_authenticity_answers_and_openssl_verifies_the_stamp_with_the_published_key(
    api: Api, ms: dict[str, str], dynamodb_calls: Counter[str], tmp_path: Path
) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    doc = new_document(api, token, nup)
    sign(api, token, nup, 1, MARIA)
    signed = sign(api, token, nup, 1, JOAO, **AS_JOAO).json
    code, crc = signed["autenticacao"]["codigoVerificador"], signed["autenticacao"]["crc"]

    dynamodb_calls.clear()
    found = lookup(api, code, crc.lower())  # no credential; the CRC in either case
    assert found.status_code == 200, found.body
    # The key (GetItem), then the process as it is now (Query), and the signers' agency and unit names
    # from the registry, which caches them (a GetItem for each one it does not hold yet).
    assert set(dynamodb_calls) == {"GetItem", "Query"}
    assert dynamodb_calls["Query"] == 1
    assert 1 <= dynamodb_calls["GetItem"] <= 3
    assert found.lower_headers["cache-control"] == "no-store"
    answer = found.json
    assert {k: v for k, v in answer.items() if k != "assinaturas"} == {
        "codigoVerificador": code,
        "crc": crc,
        "acesso": "publico",
        "processo": signed["processo"],
        "documento": {
            "especie": {"codigo": 88, "nome": "Ofício"},
            "numero": doc["numero"],
            "origem": "interno",
        },
        "cancelado": False,
        "canceladoEm": None,
        "conteudoSha256": hashlib.sha256(HTML.encode()).hexdigest(),
        "conteudo": f"/publico/documentos/conteudo?codigo={code}&crc={crc}",
        "chaves": "/publico/chaves",
    }
    public = [{k: v for k, v in s.items() if k != "usuario"} for s in signed["assinaturas"]]
    shown = [
        {k: v for k, v in s.items() if k not in ("orgaoNome", "unidadeNome")} for s in answer["assinaturas"]
    ]
    assert shown == public  # who, as what, when; never the X-Usuario
    # ...and where, by name, for people (the signed record names the agency and unit by id)
    registry = bootstrap.services().registry
    for signature in answer["assinaturas"]:
        assert signature["orgaoNome"] == "Ministério da Saúde"
        unit = registry.find(signature["unidade"])
        assert unit is not None
        assert signature["unidadeNome"] == unit.name

    keys = api.call("GET", "/publico/chaves")
    assert keys.status_code == 200, keys.body
    assert keys.lower_headers["cache-control"] == "public, max-age=3600"
    by_id = {k["id"]: k for k in keys.json["chaves"]}
    for signature in answer["assinaturas"]:
        stamp = signature["carimbo"]
        key = by_id[stamp["chave"]]
        assert (key["algoritmo"], key["curva"]) == ("ECDSA_SHA_256", "P-256")
        record = base64.b64decode(signature["registroBase64"])
        assert record == signature["registro"].encode("utf-8")
        verified = openssl_verify(tmp_path, key["pem"], stamp["assinatura"], record)
        assert (verified.returncode, verified.stdout.strip()) == (0, "Verified OK"), verified.stderr

        tampered = record.replace(b"Diretor de Administra", b"Diretor-Geral de Administra").replace(
            b"Coordenadora-Geral", b"Coordenadora"
        )
        assert tampered != record
        refused = openssl_verify(tmp_path, key["pem"], stamp["assinatura"], tampered)
        assert refused.returncode == 1
        assert "Verification failure" in refused.stdout + refused.stderr
    # One stamp does not verify another signature's record.
    other = openssl_verify(tmp_path, by_id[answer["assinaturas"][0]["carimbo"]["chave"]]["pem"],
                           answer["assinaturas"][0]["carimbo"]["assinatura"],
                           base64.b64decode(answer["assinaturas"][1]["registroBase64"]))  # fmt: skip
    assert other.returncode == 1


def test_wrong_or_malformed_codes(api: Api, ms: dict[str, str], dynamodb_calls: Counter[str]) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    new_document(api, token, nup)
    codes = sign(api, token, nup, 1, MARIA).json["autenticacao"]
    code, crc = codes["codigoVerificador"], codes["crc"]
    other_code = f"{(int(code) + 1) % 10**10:010d}"
    other_crc = f"{(int(crc, 16) + 1) % 2**32:08X}"
    dynamodb_calls.clear()
    for wrong in ((code, other_crc), (other_code, crc)):
        missing = assert_problem(lookup(api, *wrong), 404, "nao-encontrado")
        assert missing["detail"] == "Nenhum documento com este código verificador e CRC."
    assert dict(dynamodb_calls) == {"GetItem": 2}  # one read by key each; never a Scan
    for query in (f"codigo={code[:-1]}&crc={crc}", f"codigo={code}&crc=XYZ12345", f"codigo={code}", "",
                  f"codigo={code}&crc={crc}&nup={nup}"):  # fmt: skip
        assert_problem(api.call("GET", f"{AUTHENTICITY}?{query}"), 400, "dados-invalidos")


def test_restricted_documents_answer_only_signatures_hash_and_stamps(api: Api, ms: dict[str, str]) -> None:
    """What a restricted answer shows is decided on the levels as they are now, not when signed."""
    token = ms["token"]
    nup = new_process(api, token)
    new_document(api, token, nup)
    public = sign(api, token, nup, 1, MARIA).json["autenticacao"]
    restricted_doc = new_document(api, token, nup, nivelAcesso=2, hipoteseLegal=4)
    restricted = sign(api, token, nup, restricted_doc["ordem"], MARIA).json["autenticacao"]

    masked = api.call("GET", f"/processos/{nup}", token).json["nup"]
    for codes in (public, restricted):  # the process is now restrito (effective level)
        answer = lookup(api, codes["codigoVerificador"], codes["crc"])
        assert answer.status_code == 200, answer.body
        body = answer.json
        assert (body["acesso"], body["processo"], body["documento"]) == ("restrito", None, None)
        assert body["conteudoSha256"] == hashlib.sha256(HTML.encode()).hexdigest()
        assert [s["signatario"] for s in body["assinaturas"]] == [MARIA["nome"]]
        assert body["conteudo"] is None
        refused = api.call(
            "GET", f"/publico/documentos/conteudo?codigo={codes['codigoVerificador']}&crc={codes['crc']}"
        )
        assert "não é público" in assert_problem(refused, 404, "nao-encontrado")["detail"]
        assert body["assinaturas"][0]["carimbo"]["assinatura"]
        text = answer.body.decode()
        for secret in (nup, masked, "Senhor Diretor", "Ofício", "maria.silva"):
            assert secret not in text

    api.call("POST", f"/processos/{nup}/documentos/{restricted_doc['ordem']}/cancelamento", token,
             {"unidade": "101", "motivo": "Substituído"}, headers=WHO)  # fmt: skip
    reopened = lookup(api, public["codigoVerificador"], public["crc"]).json
    assert (reopened["acesso"], reopened["processo"]) == ("publico", masked)  # público again
    cancelled = lookup(api, restricted["codigoVerificador"], restricted["crc"]).json
    assert (cancelled["acesso"], cancelled["cancelado"]) == ("restrito", True)
    assert cancelled["canceladoEm"] is not None


def test_a_public_signed_document_content_is_served_by_a_presigned_link(api: Api, ms: dict[str, str]) -> None:
    """What the citizens' site's "Abrir o conteúdo" uses: the code and CRC give a short-lived GET of
    the bytes, which never pass through the API; not once the document is cancelled."""
    token = ms["token"]
    nup = new_process(api, token)
    new_document(api, token, nup)
    codes = sign(api, token, nup, 1, MARIA).json["autenticacao"]
    path = lookup(api, codes["codigoVerificador"], codes["crc"]).json["conteudo"]
    link = api.call("GET", path)
    assert link.status_code == 200, link.body
    assert link.lower_headers["cache-control"] == "no-store"
    fetched = http("GET", link.json["url"])
    assert fetched.status == 200
    assert fetched.read() == HTML.encode()
    assert fetched.headers["Content-Type"] == "text/html; charset=utf-8"
    assert_problem(api.call("GET", path.replace(codes["crc"], "00000000")), 404, "nao-encontrado")

    api.call("POST", f"/processos/{nup}/documentos/1/cancelamento", token,
             {"unidade": "101", "motivo": "Substituído"}, headers=WHO)  # fmt: skip
    assert lookup(api, codes["codigoVerificador"], codes["crc"]).json["conteudo"] is None
    assert_problem(api.call("GET", path), 410, "conteudo-indisponivel")
