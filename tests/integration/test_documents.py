"""Documents of a process through the real handlers, on the moto server: internal documents (sanitised
HTML, numbering, edits), external uploads (presigned PUT or parts, confirm), download, cancel."""

from __future__ import annotations

import base64
import hashlib
import os
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest
from pynamodb.connection.base import Connection

from chalicelib import bootstrap
from chalicelib.domain.credentials import Scope
from chalicelib.domain.structures import Structure
from chalicelib.services.processes import BRASILIA
from tests import servers
from tests.integration.conftest import Api, Stack, assert_problem

WHO = {"x-usuario": "maria.silva"}
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + os.urandom(512) + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(256)


@pytest.fixture
def ms(stack: Stack) -> dict[str, str]:
    registry = stack.services.registry
    registry.save(
        Structure(id="102", name="Divisão de Análise", acronym="DIAN", agency_id="", parent_id="101")
    )
    registry.save(Structure(id="201", name="Protocolo do INSS", acronym="PINSS", agency_id="", parent_id="200",
                            protocol_code="35000"))  # fmt: skip
    inss = stack.services.credentials.issue("200", "inss-sei", frozenset({Scope.PROCESSOS}))
    return {"token": stack.tokens["ms-sei"], "inss": inss.token}


def b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def new_process(api: Api, token: str, **changes: Any) -> str:
    body = {
        "unidade": "101",
        "tipo": "Licitação: Pregão Eletrônico",
        "especificacao": "Aquisição de computadores",
        "interessados": [{"nome": "João da Silva"}],
        "nivelAcesso": 1,
        **changes,
    }
    response = api.call("POST", "/processos", token, body, headers=WHO)
    assert response.status_code == 201, response.body
    return "".join(c for c in response.json["nup"] if c.isdigit())


def internal(**changes: Any) -> dict[str, Any]:
    return {
        "unidade": "101",
        "especie": 88,
        "nivelAcesso": 1,
        "conteudo": "<p>Senhor Diretor,</p>",
        **changes,
    }


def external(data: bytes, **changes: Any) -> dict[str, Any]:
    body = {"unidade": "101", "especie": 999, "nivelAcesso": 1, "nomeArquivo": "proposta comercial.pdf",
            "tipoMidia": "application/pdf", "tamanho": len(data), "sha256": b64(data)}  # fmt: skip
    return {**body, **changes}


def http(method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        return urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        return error


def put(presigned: dict[str, Any], data: bytes) -> int:
    headers = {"Content-Type": "application/octet-stream", **presigned["cabecalhos"]}
    response = http(presigned["metodo"], presigned["url"], data, headers)
    return int(response.status)


def state(api: Api, token: str, nup: str) -> tuple[int, int, list[Any]]:
    """What must not change after a refused request: the process version, its history, its documents."""
    process = api.call("GET", f"/processos/{nup}", token).json
    history = api.call("GET", f"/processos/{nup}/historico", token).json["itens"]
    documents = api.call("GET", f"/processos/{nup}/documentos", token).json["itens"]
    return process["versao"], len(history), documents


def upload_and_confirm(api: Api, token: str, nup: str, data: bytes, **changes: Any) -> dict[str, Any]:
    started = api.call("POST", f"/processos/{nup}/documentos/externos", token, external(data, **changes),
                       headers=WHO)  # fmt: skip
    assert started.status_code == 201, started.body
    if not started.json["jaArmazenado"]:
        assert put(started.json["envioUnico"], data) == 200
    confirmed = api.call("POST", started.json["confirmacao"], token, headers=WHO)
    assert confirmed.status_code == 201, confirmed.body
    return dict(confirmed.json)


def s3(stack: Stack) -> Any:
    return boto3.client("s3", endpoint_url=stack.endpoint, region_name=servers.REGION)


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Counts DynamoDB calls (PynamoDB's) and S3 calls (the content store's client)."""
    calls: Counter[str] = Counter()
    original = Connection._make_api_call

    def counting(self: Connection, operation_name: str, *args: Any, **kwargs: Any) -> Any:
        calls[f"dynamodb.{operation_name}"] += 1
        return original(self, operation_name, *args, **kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", counting)
    s3_client = bootstrap.services().documents._blobs._s3  # type: ignore[attr-defined]

    def on_s3(model: Any, **_: Any) -> None:
        calls[f"s3.{model.name}"] += 1

    s3_client.meta.events.register("before-call.s3", on_s3)
    yield calls
    s3_client.meta.events.unregister("before-call.s3", on_s3)


@pytest.fixture
def multipart_settings(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """A small single-upload limit and part size (100 MiB and 5 MiB by default) so parts stay tiny."""
    monkeypatch.setenv("PEN_DOCUMENTOS_LIMITE_ENVIO_UNICO", "1024")
    monkeypatch.setenv("PEN_DOCUMENTOS_PARTE_MINIMA", "1024")
    monkeypatch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", 1024)
    bootstrap.reset()


# --- internal documents ------------------------------------------------------------------------------


def test_internal_documents_are_sanitised_numbered_and_editable(
    api: Api, stack: Stack, ms: dict[str, str]
) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    year = datetime.now(BRASILIA).year
    html = '<p onclick="x()">Senhor,<script>alert(1)</script></p><a href="javascript:alert(1)">ver</a>'
    first = api.call(
        "POST", f"/processos/{nup}/documentos/internos", token, internal(conteudo=html), headers=WHO
    )
    assert first.status_code == 201, first.body
    doc = first.json
    assert (doc["ordem"], doc["origem"], doc["numero"], doc["especie"]) == (
        1, "interno", f"1/{year}", {"codigo": 88, "nome": "Ofício"}
    )  # fmt: skip
    assert (doc["assinado"], doc["editavel"], doc["versao"]) == (False, True, 1)
    clean = b'<p>Senhor,</p><a rel="noopener noreferrer">ver</a>'
    assert doc["componente"]["sha256"] == b64(clean)
    stored = s3(stack).get_object(Bucket=stack.settings.bucket_documentos,
                                  Key="sha256/" + hashlib.sha256(clean).hexdigest())  # fmt: skip
    assert stored["Body"].read() == clean
    second = api.call("POST", f"/processos/{nup}/documentos/internos", token, internal(), headers=WHO).json
    other_kind = api.call("POST", f"/processos/{nup}/documentos/internos", token, internal(especie=42),
                          headers=WHO).json  # fmt: skip
    api.call("POST", f"/processos/{nup}/envios", token,
             {"unidadeOrigem": "101", "unidadesDestino": ["102"], "manterAberto": True}, headers=WHO)  # fmt: skip
    other_unit = api.call("POST", f"/processos/{nup}/documentos/internos", token, internal(unidade="102"),
                          headers=WHO).json  # fmt: skip
    assert [(d["ordem"], d["numero"]) for d in (second, other_kind, other_unit)] == [
        (2, f"2/{year}"), (3, f"1/{year}"), (4, f"1/{year}")
    ]  # fmt: skip

    path = f"/processos/{nup}/documentos/1"
    edit = {"unidade": "101", "conteudo": "<p>Senhora Diretora,</p>", "versao": 1}
    edited = api.call("PATCH", path, token, edit, headers=WHO)
    assert edited.status_code == 200, edited.body
    assert (edited.json["versao"], edited.json["componente"]["sha256"]) == (
        2,
        b64(b"<p>Senhora Diretora,</p>"),
    )
    assert edited.json["numero"] == f"1/{year}"  # the number stays
    assert_problem(api.call("PATCH", path, token, edit, headers=WHO), 409, "conflito")  # stale version
    history = api.call("GET", f"/processos/{nup}/historico", token).json["itens"]
    assert [h["descricao"] for h in history][-1] == f"Documento Ofício nº 1/{year} (documento 1) alterado"

    # Once signed, the content is immutable (more in test_signatures.py).
    signature = {"unidade": "101", "nome": "Maria Silva", "cargo": "Chefe do Protocolo"}
    signed = api.call("POST", f"{path}/assinaturas", token, signature, headers=WHO)
    assert signed.status_code == 201, signed.body
    before = state(api, token, nup)
    refused = api.call("PATCH", path, token, {**edit, "versao": signed.json["versao"]}, headers=WHO)
    assert "assinado" in assert_problem(refused, 409, "conflito")["detail"]
    assert state(api, token, nup) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"especie": 187}, "especie"),
        ({"nivelAcesso": 2}, "hipoteseLegal"),
        ({"nivelAcesso": 1, "hipoteseLegal": 4}, "hipoteseLegal"),
        ({"conteudo": "<script>alert(1)</script><img src=x>"}, "conteudo"),
        ({"unidade": "201"}, "unidade"),
        ({"descricao": "x" * 251}, "descricao"),
        ({"conteudo": 42}, "conteudo"),
    ],
)
def test_bad_internal_document_is_refused_and_takes_no_number(
    api: Api, ms: dict[str, str], changes: dict[str, Any], field: str
) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    before = state(api, token, nup)
    response = api.call(
        "POST", f"/processos/{nup}/documentos/internos", token, internal(**changes), headers=WHO
    )
    body = assert_problem(response, 400, "dados-invalidos")
    assert field in [e["campo"] for e in body["erros"]]
    assert state(api, token, nup) == before
    created = api.call("POST", f"/processos/{nup}/documentos/internos", token, internal(), headers=WHO).json
    assert (created["ordem"], created["numero"].split("/")[0]) == (1, "1")


def test_adding_needs_the_process_writable_in_the_unit(api: Api, ms: dict[str, str]) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    api.call("POST", f"/processos/{nup}/conclusao", token, {"unidade": "101"}, headers=WHO)
    before = state(api, token, nup)
    for path, body in [("internos", internal()), ("externos", external(PDF))]:
        response = api.call("POST", f"/processos/{nup}/documentos/{path}", token, body, headers=WHO)
        assert "concluído" in assert_problem(response, 409, "conflito")["detail"]
    assert state(api, token, nup) == before


# --- external documents ------------------------------------------------------------------------------


def test_external_upload_confirm_content_addressed_and_deduplicated(
    api: Api, stack: Stack, ms: dict[str, str], aws_calls: Counter[str]
) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    started = api.call("POST", f"/processos/{nup}/documentos/externos", token, external(PDF), headers=WHO)
    assert started.status_code == 201, started.body
    ticket = started.json
    assert ticket["jaArmazenado"] is False
    assert ticket["partes"] == []
    assert ticket["conclusaoPartes"] is None
    single = ticket["envioUnico"]
    assert single["metodo"] == "PUT"
    assert single["cabecalhos"] == {"Content-Type": "application/pdf", "x-amz-checksum-sha256": b64(PDF)}
    assert "x-amz-checksum-sha256" in single["url"].lower()  # a signed header: S3 rejects other bytes
    assert state(api, token, nup)[2] == []  # a pending upload is not a document
    assert put(single, PDF) == 200

    aws_calls.clear()
    confirmed = api.call("POST", ticket["confirmacao"], token, headers=WHO)
    assert confirmed.status_code == 201, confirmed.body
    # Confirming: one HeadObject, one GET (moto keeps no checksums, so the adapter hashes the object;
    # on AWS it is a ranged GET of the first bytes) and one DynamoDB transaction; bytes never pass here.
    assert {k: v for k, v in aws_calls.items() if k.startswith("s3.")} == {
        "s3.HeadObject": 1,
        "s3.GetObject": 1,
    }
    assert aws_calls["dynamodb.TransactWriteItems"] == 1
    assert aws_calls["dynamodb.Query"] == 1  # the process with its documents
    assert not {"dynamodb.PutItem", "dynamodb.UpdateItem", "dynamodb.DeleteItem"} & set(aws_calls)
    doc = confirmed.json
    assert (doc["ordem"], doc["origem"], doc["numero"]) == (1, "externo", None)
    assert doc["componente"] == {"nomeArquivo": "proposta comercial.pdf", "tipoMidia": "application/pdf",
                                 "tamanho": len(PDF), "sha256": b64(PDF), "verificacao": "objeto"}  # fmt: skip
    key = "sha256/" + hashlib.sha256(PDF).hexdigest()
    assert s3(stack).get_object(Bucket=stack.settings.bucket_documentos, Key=key)["Body"].read() == PDF
    again = api.call("POST", ticket["confirmacao"], token, headers=WHO)  # the upload was consumed
    assert_problem(again, 404, "nao-encontrado")

    # The same bytes again, in another process: already stored, nothing to upload.
    other = new_process(api, token)
    second = api.call(
        "POST", f"/processos/{other}/documentos/externos", token, external(PDF), headers=WHO
    ).json
    assert (second["jaArmazenado"], second["envioUnico"], second["partes"]) == (True, None, [])
    copy = api.call("POST", second["confirmacao"], token, headers=WHO)
    assert copy.status_code == 201, copy.body
    assert copy.json["componente"]["sha256"] == b64(PDF)
    listed = s3(stack).list_objects_v2(Bucket=stack.settings.bucket_documentos, Prefix="sha256/")
    assert [o["Key"] for o in listed.get("Contents", [])] == [key]


@pytest.mark.parametrize(
    ("declared", "uploaded", "field"),
    [
        (external(PDF, tamanho=len(PDF) + 1), PDF, "tamanho"),  # wrong size
        (external(PDF), PDF[:-1] + b"!", "sha256"),  # other bytes under the declared checksum
        (
            external(PNG, tipoMidia="application/pdf", nomeArquivo="foto.pdf"),
            PNG,
            "tipoMidia",
        ),  # sniffed: PNG
    ],
)
def test_confirm_refuses_what_does_not_match_and_changes_nothing(  # noqa: PLR0917 - fixtures + cases
    api: Api, stack: Stack, ms: dict[str, str], declared: dict[str, Any], uploaded: bytes, field: str
) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    ticket = api.call("POST", f"/processos/{nup}/documentos/externos", token, declared, headers=WHO).json
    assert put(ticket["envioUnico"], uploaded) == 200  # moto stores it; real S3 would refuse wrong bytes
    before = state(api, token, nup)
    body = assert_problem(
        api.call("POST", ticket["confirmacao"], token, headers=WHO), 409, "conteudo-divergente"
    )
    assert [e["campo"] for e in body["erros"]] == [field]
    assert state(api, token, nup) == before
    if field == "sha256":  # wrong bytes never stay under another content's address
        listed = s3(stack).list_objects_v2(Bucket=stack.settings.bucket_documentos, Prefix="sha256/")
        assert listed.get("KeyCount", 0) == 0


def test_confirm_before_the_upload_and_abandoned_uploads_leave_nothing(api: Api, ms: dict[str, str]) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    before = state(api, token, nup)
    ticket = api.call("POST", f"/processos/{nup}/documentos/externos", token, external(PDF), headers=WHO).json
    early = api.call("POST", ticket["confirmacao"], token, headers=WHO)
    assert "não foi recebido" in assert_problem(early, 409, "conflito")["detail"]
    assert state(api, token, nup) == before  # never uploaded, never confirmed: nothing in the process


@pytest.mark.parametrize(
    ("changes", "status", "slug", "field"),
    [
        ({"tamanho": 1024**3 + 1}, 413, "arquivo-muito-grande", "tamanho"),
        ({"tipoMidia": "text/plain"}, 415, "tipo-de-arquivo-nao-aceito", "tipoMidia"),
        ({"sha256": hashlib.sha256(PDF).hexdigest()[:44]}, 400, "dados-invalidos", "sha256"),
        ({"sha256": "A" * 42 + "=="}, 400, "dados-invalidos", "sha256"),  # 31 bytes, not 32
        ({"tipoMidia": "PDF"}, 400, "dados-invalidos", "tipoMidia"),
        ({"nomeArquivo": "../etc/passwd"}, 400, "dados-invalidos", "nomeArquivo"),
        ({"tamanho": 0}, 400, "dados-invalidos", "tamanho"),
        (
            {"partes": {"tamanhoParte": 5 * 1024 * 1024, "sha256": [b64(PDF)]}},
            400,
            "dados-invalidos",
            "partes",
        ),
        ({"tamanho": 200 * 1024 * 1024}, 400, "dados-invalidos", "partes"),  # large files go in parts
    ],
)
def test_bad_or_over_the_limit_declarations_are_refused(  # noqa: PLR0917 - fixtures + cases
    api: Api, ms: dict[str, str], changes: dict[str, Any], status: int, slug: str, field: str
) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    before = state(api, token, nup)
    response = api.call("POST", f"/processos/{nup}/documentos/externos", token, external(PDF, **changes),
                        headers=WHO)  # fmt: skip
    body = assert_problem(response, status, slug)
    assert field in [e["campo"] for e in body["erros"]]
    assert state(api, token, nup) == before


def test_limits_per_agency_come_from_the_settings(
    api: Api, ms: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "PEN_DOCUMENTOS_LIMITES_POR_ORGAO", '{"100": {"tamanhoMaximo": 100, "tipos": ["image/png"]}}'
    )
    bootstrap.reset()
    token = ms["token"]
    nup = new_process(api, token)
    too_big = api.call("POST", f"/processos/{nup}/documentos/externos", token, external(PDF), headers=WHO)
    assert "100 bytes" in assert_problem(too_big, 413, "arquivo-muito-grande")["detail"]
    small = external(PDF[:50])
    assert_problem(api.call("POST", f"/processos/{nup}/documentos/externos", token, small, headers=WHO),
                   415, "tipo-de-arquivo-nao-aceito")  # fmt: skip


def test_multipart_upload_with_presigned_parts(
    api: Api, ms: dict[str, str], multipart_settings: None
) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    data = PDF + os.urandom(3000)
    parts = [data[i : i + 1024] for i in range(0, len(data), 1024)]
    declared = external(data, partes={"tamanhoParte": 1024, "sha256": [b64(p) for p in parts]})
    ticket = api.call("POST", f"/processos/{nup}/documentos/externos", token, declared, headers=WHO).json
    assert ticket["envioUnico"] is None
    assert len(ticket["partes"]) == len(parts) == 4
    assert [p["tamanho"] for p in ticket["partes"]] == [1024, 1024, 1024, len(data) - 3072]
    early = api.call("POST", ticket["conclusaoPartes"], token, headers=WHO)
    assert_problem(early, 409, "conteudo-divergente")  # no part uploaded yet
    for presigned, part in zip(ticket["partes"], parts, strict=True):
        assert presigned["cabecalhos"] == {"x-amz-checksum-sha256": b64(part)}
        assert put(presigned, part) == 200
    done = api.call("POST", ticket["conclusaoPartes"], token, headers=WHO)
    assert done.status_code == 200, done.body
    confirmed = api.call("POST", ticket["confirmacao"], token, headers=WHO)
    assert confirmed.status_code == 201, confirmed.body
    assert confirmed.json["componente"]["sha256"] == b64(data)
    url = api.call("GET", f"/processos/{nup}/documentos/1/download", token).json["url"]
    assert http("GET", url).read() == data


def test_multipart_with_parts_that_do_not_match_is_refused(
    api: Api, ms: dict[str, str], multipart_settings: None
) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    data = PDF + os.urandom(2000)
    parts = [data[i : i + 1024] for i in range(0, len(data), 1024)]
    declared = external(data, partes={"tamanhoParte": 1024, "sha256": [b64(p) for p in parts]})
    ticket = api.call("POST", f"/processos/{nup}/documentos/externos", token, declared, headers=WHO).json
    for presigned, part in zip(ticket["partes"], [parts[0], b"x" * 1024, parts[2]], strict=True):
        put(presigned, part)  # moto takes part 2's wrong bytes; S3 would refuse them
    api.call("POST", ticket["conclusaoPartes"], token, headers=WHO)
    before = state(api, token, nup)
    body = assert_problem(
        api.call("POST", ticket["confirmacao"], token, headers=WHO), 409, "conteudo-divergente"
    )
    assert body["erros"][0]["campo"] == "sha256"
    assert state(api, token, nup) == before


# --- download, cancel, tenancy, access levels ---------------------------------------------------------


def test_download_then_cancel_stops_serving_the_content(api: Api, ms: dict[str, str]) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    upload_and_confirm(api, token, nup, PDF, nomeArquivo="relatório técnico.pdf")
    download = api.call("GET", f"/processos/{nup}/documentos/1/download", token)
    assert download.status_code == 200, download.body
    link = download.json
    assert (link["nomeArquivo"], link["tamanho"], link["sha256"]) == (
        "relatório técnico.pdf",
        len(PDF),
        b64(PDF),
    )
    fetched = http("GET", link["url"])
    assert fetched.status == 200
    assert fetched.read() == PDF
    disposition = fetched.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "relat%C3%B3rio%20t%C3%A9cnico.pdf" in disposition

    cancelled = api.call("POST", f"/processos/{nup}/documentos/1/cancelamento", token,
                         {"unidade": "101", "motivo": "Juntado por engano"}, headers=WHO)  # fmt: skip
    assert cancelled.status_code == 200, cancelled.body
    assert cancelled.json["cancelamento"]["motivo"] == "Juntado por engano"
    gone = api.call("GET", f"/processos/{nup}/documentos/1/download", token)
    assert "cancelado" in assert_problem(gone, 410, "conteudo-indisponivel")["detail"]
    listed = api.call("GET", f"/processos/{nup}/documentos", token).json["itens"]
    assert [(d["ordem"], d["cancelamento"] is not None) for d in listed] == [(1, True)]  # still in the tree
    again = api.call("POST", f"/processos/{nup}/documentos/1/cancelamento", token,
                     {"unidade": "101", "motivo": "De novo"}, headers=WHO)  # fmt: skip
    assert_problem(again, 409, "conflito")
    history = api.call("GET", f"/processos/{nup}/historico", token).json["itens"]
    assert (history[-1]["operacao"]["codigo"], history[-1]["descricao"]) == (
        "03", "Documento Outra (documento 1) cancelado: Juntado por engano"
    )  # fmt: skip


def test_another_agency_gets_404_and_no_data(api: Api, ms: dict[str, str]) -> None:
    token, inss = ms["token"], ms["inss"]
    nup = new_process(api, token)
    upload_and_confirm(api, token, nup, PDF)
    ticket = api.call("POST", f"/processos/{nup}/documentos/externos", token, external(PNG,
                      tipoMidia="image/png"), headers=WHO).json  # fmt: skip
    for method, path in [
        ("GET", f"/processos/{nup}/documentos"),
        ("GET", f"/processos/{nup}/documentos/1"),
        ("GET", f"/processos/{nup}/documentos/1/download"),
        ("POST", ticket["confirmacao"]),
    ]:
        response = api.call(method, path, inss, headers=WHO)
        assert_problem(response, 404, "nao-encontrado")
        assert b64(PDF) not in response.body.decode()
    post = api.call(
        "POST", f"/processos/{nup}/documentos/internos", inss, internal(unidade="201"), headers=WHO
    )
    assert_problem(post, 404, "nao-encontrado")


def test_effective_access_level_follows_the_most_restrictive_document(api: Api, ms: dict[str, str]) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    base = f"/processos/{nup}/documentos/internos"
    api.call("POST", base, token, internal(nivelAcesso=2, hipoteseLegal=4), headers=WHO)
    assert api.call("GET", f"/processos/{nup}", token).json["nivelAcessoEfetivo"] == 2
    secret = api.call("POST", base, token, internal(nivelAcesso=3, hipoteseLegal=4), headers=WHO).json
    process = api.call("GET", f"/processos/{nup}", token).json
    assert (process["nivelAcesso"], process["nivelAcessoEfetivo"]) == (1, 3)
    api.call("POST", f"/processos/{nup}/documentos/{secret['ordem']}/cancelamento", token,
             {"unidade": "101", "motivo": "Substituído"}, headers=WHO)  # fmt: skip
    assert api.call("GET", f"/processos/{nup}", token).json["nivelAcessoEfetivo"] == 2
    assert api.call("GET", f"/processos/{nup}/documentos", token).json["nivelAcessoEfetivo"] == 2


def test_reading_the_documents_is_one_query_with_pages(
    api: Api, ms: dict[str, str], aws_calls: Counter[str]
) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    for _ in range(3):
        api.call("POST", f"/processos/{nup}/documentos/internos", token, internal(), headers=WHO)
    aws_calls.clear()
    first = api.call("GET", f"/processos/{nup}/documentos?limite=2", token).json
    assert aws_calls["dynamodb.Query"] == 1
    assert not any(k.startswith("s3.") for k in aws_calls)
    second = api.call("GET", f"/processos/{nup}/documentos?limite=2&cursor={first['cursor']}", token).json
    assert [d["ordem"] for d in first["itens"] + second["itens"]] == [1, 2, 3]
    assert second["cursor"] is None
    assert_problem(api.call("GET", f"/processos/{nup}/documentos/9", token), 404, "nao-encontrado")
    assert_problem(api.call("GET", f"/processos/{nup}/documentos/zero", token), 400, "dados-invalidos")


def test_idempotency_key_replays_return_the_first_result(api: Api, ms: dict[str, str]) -> None:
    token = ms["token"]
    nup = new_process(api, token)
    headers = {**WHO, "idempotency-key": "documento-0001"}
    path = f"/processos/{nup}/documentos/internos"
    first = api.call("POST", path, token, internal(), headers=headers)
    again = api.call("POST", path, token, internal(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json == again.json
    assert len(api.call("GET", f"/processos/{nup}/documentos", token).json["itens"]) == 1
    other_body = api.call("POST", path, token, internal(especie=42), headers=headers)
    assert_problem(other_body, 422, "chave-de-idempotencia-reutilizada")

    ticket = api.call("POST", f"/processos/{nup}/documentos/externos", token, external(PDF), headers=WHO).json
    put(ticket["envioUnico"], PDF)
    confirm_headers = {**WHO, "idempotency-key": "confirmacao-0001"}
    confirmed = api.call("POST", ticket["confirmacao"], token, headers=confirm_headers)
    replay = api.call("POST", ticket["confirmacao"], token, headers=confirm_headers)
    assert confirmed.status_code == replay.status_code == 201
    assert confirmed.json == replay.json
    assert len(api.call("GET", f"/processos/{nup}/documentos", token).json["itens"]) == 2
