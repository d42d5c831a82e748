"""The bus for agency systems through the real handlers, on the moto server (KMS included): send
from the bus-only agency (INSS) to the MS, upload the components straight to S3, confirm (custody,
state 2, stamped recibo de envio), pendências, the receiver's read (state 3), and the refusals."""

from __future__ import annotations

import base64
import os
from typing import Any

import boto3
import pytest

from chalicelib.domain.credentials import Scope
from chalicelib.domain.documents import blob_key
from chalicelib.domain.signatures import PublicKey, Stamp, parse_instant, verify_stamp
from chalicelib.domain.structures import Structure
from tests import servers
from tests.integration.conftest import Api, Stack, assert_problem
from tests.integration.test_documents import b64, put

PDF = b"%PDF-1.7\n" + os.urandom(400) + b"\n%%EOF\n"
ANNEX = b"%PDF-1.7\n" + os.urandom(300) + b"\n%%EOF\n"
NUP = "23037001462202165"
OTHER_NUP = "23037000002202039"
REPO = "1"


@pytest.fixture
def tokens(stack: Stack) -> dict[str, str]:
    registry = stack.services.registry
    registry.save(Structure(id="300", name="Receita Federal", acronym="RFB", agency_id=""))
    registry.save(Structure(id="102", name="Arquivo do MS", acronym="ARQ", agency_id="", parent_id="100",
                            can_receive=False))  # fmt: skip
    rfb = stack.services.credentials.issue("300", "rfb-bus", frozenset({Scope.BARRAMENTO}))
    return {"inss": stack.tokens["inss-bus"], "ms": stack.tokens["ms-admin"], "rfb": rfb.token}


def component(data: bytes, order: int = 1, name: str = "oficio.pdf") -> dict[str, Any]:
    return {"ordem": order, "nomeArquivo": name, "sha256": b64(data), "tamanho": len(data),
            "tipoMidia": "application/pdf"}  # fmt: skip


def manifest(*files: bytes, nup: str = NUP, receiver: str = "101", nre: str | None = None) -> dict[str, Any]:
    when = "2026-03-01T10:00:00-03:00"
    producer = {"nome": "Maria Souza", "unidade": "Protocolo do INSS"}
    return {
        "cabecalho": {
            "remetente": {"repositorio": REPO, "estrutura": "200"},
            "destinatario": {"repositorio": REPO, "estrutura": receiver},
            **({"nre": nre} if nre else {}),
        },
        "processo": {
            "nup": nup,
            "nivelAcesso": 1,
            "tipo": "Benefício: Revisão",
            "especificacao": "Revisão de aposentadoria",
            "dataProducao": when,
            "dataRegistro": when,
            "produtor": producer,
            "interessados": [{"nome": "João da Silva"}],
        },
        "documentos": [
            {
                "ordem": index + 1,
                "especie": 999,
                "origem": "externo",
                "nivelAcesso": 1,
                "dataProducao": when,
                "dataRegistro": when,
                "produtor": producer,
                "componentes": [component(data)],
            }
            for index, data in enumerate(files or (PDF, ANNEX))
        ],
    }


def send(api: Api, token: str, body: dict[str, Any]) -> Any:
    return api.call("POST", "/barramento/tramites", token, body)


def upload_all(answer: dict[str, Any], *files: bytes) -> None:
    by_hash = {b64(data): data for data in files}
    for item in answer["componentesPendentes"]:
        assert put(item["envioUnico"], by_hash[item["sha256"]]) == 200


def confirm(api: Api, token: str, idt: str) -> Any:
    return api.call("POST", f"/barramento/tramites/{idt}/componentes/confirmacao", token)


def test_send_upload_confirm_pendency_and_receiver_read(api: Api, tokens: dict[str, str]) -> None:
    sent = send(api, tokens["inss"], manifest(PDF, ANNEX))
    assert sent.status_code == 201, sent.body
    [tramite] = sent.json["tramites"]
    idt = tramite["idt"]
    assert tramite["estado"] == 1
    assert tramite["nup"] == NUP
    assert tramite["nre"]
    assert sorted(c["sha256"] for c in sent.json["componentesPendentes"]) == sorted([b64(PDF), b64(ANNEX)])
    assert sent.json["confirmacoes"] == [f"/barramento/tramites/{idt}/componentes/confirmacao"]

    # Nothing uploaded yet: 409 listing both.
    early = assert_problem(confirm(api, tokens["inss"], idt), 409, "conflito")
    assert {e["campo"] for e in early["erros"]} == {f"componentes.{b64(PDF)}", f"componentes.{b64(ANNEX)}"}
    assert api.call("GET", "/barramento/pendencias", tokens["ms"]).json["itens"] == []

    upload_all(sent.json, PDF, ANNEX)
    done = confirm(api, tokens["inss"], idt)
    assert done.status_code == 200, done.body
    assert done.json["tramite"]["estado"] == 2
    receipt = done.json["reciboEnvio"]
    record = base64.b64decode(receipt["registro"])
    assert receipt["conteudo"]["idt"] == idt
    assert receipt["conteudo"]["hashesComponentes"] == sorted([b64(PDF), b64(ANNEX)])
    keys = [PublicKey(k["id"], k["pem"]) for k in api.call("GET", "/publico/chaves").json["chaves"]]
    stamp = receipt["carimbo"]
    parsed = Stamp(stamp["algoritmo"], stamp["chave"], stamp["assinatura"], parse_instant(stamp["data"]))
    assert verify_stamp(record, parsed, keys)
    assert not verify_stamp(record + b" ", parsed, keys)
    # Confirming again answers the same receipt.
    again = confirm(api, tokens["inss"], idt)
    assert again.status_code == 200
    assert again.json["reciboEnvio"]["registro"] == receipt["registro"]

    pending = api.call("GET", "/barramento/pendencias", tokens["ms"])
    assert pending.status_code == 200, pending.body
    assert [(p["idt"], p["estado"], p["papel"]) for p in pending.json["itens"]] == [(idt, 2, "destinatario")]
    assert api.call("GET", "/barramento/pendencias", tokens["inss"]).json["itens"] == []

    # The sender's read changes nothing; the receiver's first read records the metadata (state 3).
    seen = api.call("GET", f"/barramento/tramites/{idt}", tokens["inss"])
    assert seen.status_code == 200
    assert seen.json["tramite"]["estado"] == 2
    assert seen.json["reciboEnvio"]["registro"] == receipt["registro"]
    read = api.call("GET", f"/barramento/tramites/{idt}", tokens["ms"])
    assert read.status_code == 200, read.body
    assert read.json["tramite"]["estado"] == 3
    assert [d["componentes"][0]["sha256"] for d in read.json["manifesto"]["documentos"]] == [
        b64(PDF),
        b64(ANNEX),
    ]
    assert [h["estado"] for h in read.json["tramite"]["historico"]] == [1, 2, 3]

    # Outsiders see nothing.
    assert_problem(api.call("GET", f"/barramento/tramites/{idt}", tokens["rfb"]), 404, "nao-encontrado")
    assert_problem(confirm(api, tokens["rfb"], idt), 404, "nao-encontrado")
    assert_problem(confirm(api, tokens["ms"], idt), 403, "sem-permissao")


def test_components_already_held_are_not_requested(api: Api, tokens: dict[str, str]) -> None:
    first = send(api, tokens["inss"], manifest(PDF))
    upload_all(first.json, PDF)
    assert confirm(api, tokens["inss"], first.json["tramites"][0]["idt"]).status_code == 200
    second = send(api, tokens["inss"], manifest(PDF, ANNEX, nup=OTHER_NUP))
    assert second.status_code == 201, second.body
    assert [c["sha256"] for c in second.json["componentesPendentes"]] == [b64(ANNEX)]


def test_corrupt_component_is_refused_and_discarded(api: Api, tokens: dict[str, str], stack: Stack) -> None:
    sent = send(api, tokens["inss"], manifest(PDF))
    idt = sent.json["tramites"][0]["idt"]
    bucket = stack.settings.bucket_documentos
    assert bucket is not None
    s3 = boto3.client("s3", endpoint_url=stack.endpoint, region_name=servers.REGION)
    s3.put_object(Bucket=bucket, Key=blob_key(b64(PDF)), Body=ANNEX)  # other bytes, no checksum
    problem = assert_problem(confirm(api, tokens["inss"], idt), 409, "conflito")
    assert [e["campo"] for e in problem["erros"]] == [f"componentes.{b64(PDF)}"]
    assert "descartado" in problem["erros"][0]["mensagem"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=blob_key(b64(PDF)))
    upload_all(sent.json, PDF)
    assert confirm(api, tokens["inss"], idt).json["tramite"]["estado"] == 2


def test_bad_manifest_lists_every_field(api: Api, tokens: dict[str, str]) -> None:
    body = manifest()
    body["processo"]["nivelAcesso"] = 3
    body["processo"]["interessados"] = []
    body["documentos"][1]["ordem"] = 5
    problem = assert_problem(send(api, tokens["inss"], body), 400, "dados-invalidos")
    assert {e["campo"] for e in problem["erros"]} >= {
        "processo.nivelAcesso",
        "processo.interessados",
        "documentos.1.ordem",
    }
    restricted = manifest()
    restricted["documentos"][0]["nivelAcesso"] = 2
    problem = assert_problem(send(api, tokens["inss"], restricted), 400, "dados-invalidos")
    assert [e["campo"] for e in problem["erros"]] == ["documentos.0.hipoteseLegal"]


def test_addresses_are_checked_against_the_registry(api: Api, tokens: dict[str, str]) -> None:
    cannot = assert_problem(send(api, tokens["inss"], manifest(receiver="102")), 400, "dados-invalidos")
    assert [e["campo"] for e in cannot["erros"]] == ["cabecalho.destinatario.estrutura"]
    assert_problem(send(api, tokens["inss"], manifest(receiver="999")), 404, "nao-encontrado")
    # The MS cannot send from an INSS address.
    assert_problem(send(api, tokens["ms"], manifest()), 403, "sem-permissao")


def test_nre_rules(api: Api, tokens: dict[str, str]) -> None:
    first = send(api, tokens["inss"], manifest())
    assert first.status_code == 201, first.body
    nre = first.json["tramites"][0]["nre"]
    # The same process again without its NRE: a duplicate.
    assert_problem(send(api, tokens["inss"], manifest()), 409, "conflito")
    # With its NRE while the first trâmite is open: refused by the NRE guard.
    assert_problem(send(api, tokens["inss"], manifest(nre=nre)), 409, "conflito")
    # An NRE of another process, or an unknown one.
    wrong = assert_problem(
        send(api, tokens["inss"], manifest(nup=OTHER_NUP, nre=nre)), 400, "dados-invalidos"
    )
    assert [e["campo"] for e in wrong["erros"]] == ["cabecalho.nre"]
    assert_problem(
        send(api, tokens["inss"], manifest(nup=OTHER_NUP, nre="desconhecido")), 400, "dados-invalidos"
    )


@pytest.mark.parametrize("failing", ["write", "save"])
def test_a_crash_during_confirmation_loses_nothing(
    api: Api, tokens: dict[str, str], stack: Stack, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """Fault injection: storing the receipt, or the move to state 2, fails once; the retried
    confirmation ends in state 2 with one receipt, the one that is stored."""
    sent = send(api, tokens["inss"], manifest(PDF))
    idt = sent.json["tramites"][0]["idt"]
    upload_all(sent.json, PDF)
    bus = stack.services.bus
    target = bus._records if failing == "write" else bus._tramites  # the record's write, the move
    original = getattr(target, failing)
    failures: list[int] = []

    def crash_once(*args: Any) -> Any:
        if not failures:
            failures.append(1)
            raise ConnectionError("injected: storage is unreachable")
        return original(*args)

    monkeypatch.setattr(target, failing, crash_once)
    assert confirm(api, tokens["inss"], idt).status_code == 500
    assert api.call("GET", f"/barramento/tramites/{idt}", tokens["inss"]).json["tramite"]["estado"] == 1
    retried = confirm(api, tokens["inss"], idt)
    assert retried.status_code == 200, retried.body
    assert retried.json["tramite"]["estado"] == 2
    stored = api.call("GET", f"/barramento/tramites/{idt}", tokens["inss"]).json["reciboEnvio"]
    assert stored["registro"] == retried.json["reciboEnvio"]["registro"]
