"""Public tracking through the HTTP API and the real stream handler: processes created by the agency
API reach the public base when the processes table's stream is delivered (as Lambda does), and
citizens look them up and search them; outside systems post their records."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from chalicelib.domain.nup import Nup, parse_nup
from infra.local.worker import Worker
from tests.integration.conftest import Api, Stack, assert_problem, drain

WHO = {"x-usuario": "maria.silva"}
CPF = "529.982.247-25"


def new_process(**changes: Any) -> dict[str, Any]:
    body = {
        "unidade": "101",
        "tipo": "Licitação: Pregão Eletrônico",
        "especificacao": "Aquisição de computadores",
        "interessados": [{"nome": "João da Silva", "documento": CPF}],
        "nivelAcesso": 1,
    }
    return {**body, **changes}


def create(api: Api, stack: Stack, **changes: Any) -> dict[str, Any]:
    response = api.call("POST", "/processos", stack.tokens["ms-admin"], new_process(**changes), headers=WHO)
    assert response.status_code == 201, response.body
    return dict(response.json)


def change(api: Api, stack: Stack, created: dict[str, Any], **changes: Any) -> dict[str, Any]:
    path = f"/processos/{digits(created['nup'])}"
    current = api.call("GET", path, stack.tokens["ms-admin"]).json
    body = {**new_process(**changes), "versao": current["versao"]}
    response = api.call("PATCH", path, stack.tokens["ms-admin"], body, headers=WHO)
    assert response.status_code == 200, response.body
    return dict(response.json)


def digits(nup: str) -> str:
    return parse_nup(nup).digits


def lookup(api: Api, nup: str, headers: dict[str, str] | None = None) -> Any:
    return api.call("GET", f"/publico/processos/{digits(nup)}", headers=headers)


# --- lookup ------------------------------------------------------------------------------------------


def test_a_public_process_is_looked_up_cacheably_with_a_masked_cpf(
    api: Api, stack: Stack, worker: Worker
) -> None:
    created = create(api, stack)
    send = api.call("POST", f"/processos/{digits(created['nup'])}/envios", stack.tokens["ms-admin"],
                    {"unidadeOrigem": "101", "unidadesDestino": ["102"], "manterAberto": False},
                    headers=WHO)  # fmt: skip
    assert send.status_code in (200, 201), send.body
    assert lookup(api, created["nup"]).status_code == 404  # not before the stream is delivered
    drain(worker)
    response = lookup(api, created["nup"])
    assert response.status_code == 200, response.body
    shown = response.json
    assert shown["nup"] == created["nup"]
    assert shown["orgao"] == {"id": "100", "sigla": "MS", "nome": "Ministério da Saúde"}
    assert shown["nivelAcesso"] == 1
    assert shown["tipo"] == "Licitação: Pregão Eletrônico"
    assert shown["interessados"] == [{"nome": "João da Silva", "documento": "***.982.247-**"}]
    assert [a["unidade"] for a in shown["andamentos"]] == ["PROT", "PROT"]  # newest first
    assert shown["andamentos"][0]["data"].endswith("Z")
    assert CPF.encode() not in response.body
    assert response.lower_headers["cache-control"] == "public, max-age=60"
    etag = response.lower_headers["etag"]
    again = lookup(api, created["nup"], headers={"if-none-match": etag})
    assert again.status_code == 304
    assert not again.body
    masked = api.call("GET", f"/publico/processos?nup={created['nup']}")
    assert masked.status_code == 200
    assert masked.json == shown


def test_a_wrong_check_digit_is_a_400_saying_so(api: Api, stack: Stack) -> None:
    nup = Nup.issue("25000", 1, 2026).digits
    wrong = nup[:15] + ("00" if nup[15:] != "00" else "01")
    body = assert_problem(api.call("GET", f"/publico/processos/{wrong}"), 400, "dados-invalidos")
    assert "dígitos verificadores" in body["detail"]


def test_a_process_turning_secret_answers_exactly_like_an_unknown_nup(
    api: Api, stack: Stack, worker: Worker
) -> None:
    created = create(api, stack)
    drain(worker)
    assert lookup(api, created["nup"]).status_code == 200
    change(api, stack, created, nivelAcesso=3, hipoteseLegal=1)
    drain(worker)
    secret = lookup(api, created["nup"])
    unknown = lookup(api, Nup.issue("25000", 999_999, 2026).masked)
    assert_problem(secret, 404, "nao-encontrado")
    assert (secret.json["detail"], secret.json["title"]) == (unknown.json["detail"], unknown.json["title"])
    assert set(secret.json) == set(unknown.json)
    assert secret.lower_headers.get("cache-control") == unknown.lower_headers.get("cache-control")


def test_restricted_processes_are_published_only_after_the_agency_opts_in(
    api: Api, stack: Stack, worker: Worker
) -> None:
    created = create(api, stack, nivelAcesso=2, hipoteseLegal=1)
    drain(worker)
    assert_problem(lookup(api, created["nup"]), 404, "nao-encontrado")
    admin = stack.tokens["ms-admin"]
    assert api.call("GET", "/orgaos/100/publicacao", admin).json == {"publicarRestritos": False}
    put = api.call("PUT", "/orgaos/100/publicacao", admin, {"publicarRestritos": True})
    assert put.status_code == 200
    assert put.json == {"publicarRestritos": True}
    other = api.call(
        "PUT", "/orgaos/100/publicacao", stack.tokens["inss-admin"], {"publicarRestritos": False}
    )
    assert_problem(other, 404, "nao-encontrado")
    change(api, stack, created, nivelAcesso=2, hipoteseLegal=1, especificacao="Outra")  # the next event
    drain(worker)
    shown = lookup(api, created["nup"])
    assert shown.status_code == 200, shown.body
    assert set(shown.json) == {"nup", "orgao", "nivelAcesso", "andamentos", "operacoes", "atualizadoEm"}
    assert shown.json["nivelAcesso"] == 2
    text = json.dumps(shown.json, ensure_ascii=False)
    assert "João" not in text
    assert "computadores" not in text
    assert "Outra" not in text


# --- search ------------------------------------------------------------------------------------------


def test_search_by_name_agency_type_and_dates_with_cursor_pages(
    api: Api, stack: Stack, worker: Worker
) -> None:
    one = create(api, stack, interessados=[{"nome": "Álvaro Mendes"}])
    two = create(api, stack, interessados=[{"nome": "alvaro souza"}], tipo="Pedido de Acesso")
    create(api, stack, interessados=[{"nome": "Bruna Lima"}])
    create(api, stack, interessados=[{"nome": "Alvarenga Sigiloso"}], nivelAcesso=3, hipoteseLegal=1)
    drain(worker)

    def search(query: str) -> Any:
        response = api.call("GET", f"/publico/pesquisa?{query}")
        assert response.status_code == 200, response.body
        return response.json

    first = search("nome=ALVA&limite=1")
    assert [i["nup"] for i in first["itens"]] == [one["nup"]]
    assert first["cursor"]
    second = search(f"nome=ALVA&limite=1&cursor={first['cursor']}")
    assert [i["nup"] for i in second["itens"]] == [two["nup"]]
    assert second["cursor"] is None  # the secret "Alvarenga" is not in the index
    assert len(search("orgao=100")["itens"]) == 3
    by_type = search("tipo=pedido%20de%20acesso")["itens"]
    assert [(i["nup"], i["tipo"], i["orgao"]["sigla"]) for i in by_type] == [
        (two["nup"], "Pedido de Acesso", "MS")
    ]
    today = by_type[0]["dataAutuacao"]
    assert len(search(f"orgao=100&de={today}&ate={today}")["itens"]) == 3
    assert search("orgao=100&ate=2000-01-01")["itens"] == []
    assert search("orgao=200")["itens"] == []
    assert_problem(api.call("GET", "/publico/pesquisa?de=2026-01-01"), 400, "dados-invalidos")
    assert_problem(api.call("GET", "/publico/pesquisa?nome=al"), 400, "dados-invalidos")


# --- outside systems -------------------------------------------------------------------------------


def record(sequence: int, *items: str, unit_code: str = "25000", **changes: Any) -> dict[str, Any]:
    body = {
        "nup": Nup.issue(unit_code, sequence, 2026).masked,
        "nivelAcesso": 1,
        "dataAutuacao": "2026-01-05",
        "tipo": "Requerimento",
        "especificacao": "Pedido de certidão",
        "interessados": [{"nome": "Carla Dias", "documento": CPF}],
        "documentos": [{"especie": "Requerimento", "numero": "12", "data": "2026-01-05"}],
        "andamentos": [
            {"id": item, "data": f"2026-01-{5 + i:02d}T10:00:00-03:00", "unidade": "PROT", "operacao": "02"}
            for i, item in enumerate(items)
        ],
    }
    return {**body, **changes}


def post(api: Api, stack: Stack, records: list[Any], client_name: str = "ms-sei") -> Any:
    return api.call(
        "POST", "/protocolo-integrado/registros", stack.tokens[client_name], {"registros": records}
    )


def test_outside_records_are_validated_per_item_and_resending_is_idempotent(api: Api, stack: Stack) -> None:
    good = record(800_001, "a1", "a2")
    bad_operation = record(800_002, "b1")
    bad_operation["andamentos"][0]["operacao"] = "19"
    bad_cpf = record(800_003, "c1", interessados=[{"nome": "X", "documento": "529.982.247-26"}])
    foreign = record(800_004, "d1", unit_code="30000")
    response = post(api, stack, [good, bad_operation, bad_cpf, foreign, "não é um objeto"])
    assert response.status_code == 200, response.body
    results = response.json["resultados"]
    assert [r["situacao"] for r in results] == ["registrado", "recusado", "recusado", "recusado", "recusado"]
    assert results[1]["erros"][0]["campo"] == "registros.1.andamentos.0.operacao"
    assert results[2]["erros"][0]["campo"] == "registros.2.interessados.0.documento"
    assert results[3]["erros"][0]["campo"] == "registros.3.nup"
    assert (response.json["registrados"], response.json["recusados"]) == (1, 4)
    shown = lookup(api, good["nup"]).json
    assert shown["interessados"] == [{"nome": "Carla Dias", "documento": "***.982.247-**"}]
    assert [a["data"] for a in shown["andamentos"]] == ["2026-01-06T13:00:00Z", "2026-01-05T13:00:00Z"]
    for bad in (bad_operation, bad_cpf, foreign):
        assert lookup(api, bad["nup"]).status_code == 404

    again = post(api, stack, [good])
    assert [r["situacao"] for r in again.json["resultados"]] == ["inalterado"]
    grown = post(api, stack, [record(800_001, "a1", "a2", "a3")])
    assert [r["situacao"] for r in grown.json["resultados"]] == ["registrado"]
    assert len(lookup(api, good["nup"]).json["andamentos"]) == 3


def test_a_batch_over_one_hundred_is_refused_whole(api: Api, stack: Stack) -> None:
    batch = [record(810_000 + i, f"x{i}") for i in range(101)]
    body = assert_problem(post(api, stack, batch), 413, "corpo-muito-grande")
    assert "100" in body["detail"]
    assert lookup(api, batch[0]["nup"]).status_code == 404


def test_outside_records_need_the_processos_scope(api: Api, stack: Stack) -> None:
    assert_problem(post(api, stack, [record(820_001, "a")], client_name="inss-bus"), 403, "sem-permissao")


@pytest.mark.parametrize(
    ("codes", "bound"),
    [(("05", "02", "04", "01", "06"), 4096), (tuple(f"{n:02d}" for n in range(1, 19)), 4608)],
    ids=["the-operations-a-process-goes-through", "every-one-of-the-18-operations"],
)
def test_a_lookup_of_a_process_with_fifty_movements_stays_small(
    api: Api, stack: Stack, codes: tuple[str, ...], bound: int
) -> None:
    """Under 4 KB raw for a process's usual operations: they travel as codes, their names once per
    answer (bench/tracking.py records the figures); even with all 18 names the answer stays small.
    A leaked or repeated field would break the bound."""
    items = [
        {"id": f"m{i}", "data": f"2026-01-{1 + i // 2:02d}T{10 + i % 2}:00:00Z", "unidade": "PROT",
         "operacao": codes[i % len(codes)]}
        for i in range(50)
    ]  # fmt: skip
    sent = record(830_001 + len(codes), dataAutuacao="2026-01-01", andamentos=items)
    assert post(api, stack, [sent]).json["registrados"] == 1
    response = lookup(api, sent["nup"])
    assert len(response.json["andamentos"]) == 50
    assert len(response.json["operacoes"]) == len(codes)
    assert len(response.body) < bound, len(response.body)
    assert len(gzip.compress(response.body)) < 1024
