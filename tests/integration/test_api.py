"""The agency API through the real handlers, the authorizer and the local gateway, on moto."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from chalicelib.domain.credentials import ApiClient
from chalicelib.domain.structures import Structure
from tests.fakes import secret_of
from tests.integration.conftest import Api, Stack, assert_problem


def client_state(stack: Stack, name: str) -> ApiClient:
    client = stack.services.credentials._clients.get(stack.client_ids[name])
    assert client is not None
    return client


def test_health_is_public(api: Api) -> None:
    response = api.call("GET", "/saude")
    assert response.status_code == 200
    assert response.json["status"] == "ok"


def test_structures_list_with_any_scope(api: Api, stack: Stack) -> None:
    response = api.call("GET", "/barramento/estruturas", stack.tokens["ms-sei"])
    assert response.status_code == 200
    assert [s["sigla"] for s in response.json["itens"]] == ["INSS", "MS", "PROT"]
    assert response.json["cursor"] is None
    prot = response.json["itens"][2]
    assert (prot["tipo"], prot["orgaoId"], prot["codigoProtocolo"]) == ("unidade", "100", "25000")


def test_structures_filters_and_cursor_pagination(api: Api, stack: Stack) -> None:
    token = stack.tokens["inss-bus"]
    assert [s["id"] for s in api.call("GET", "/barramento/estruturas?sigla=prot", token).json["itens"]] == [
        "101"
    ]
    assert [s["id"] for s in api.call("GET", "/barramento/estruturas?nome=saude", token).json["itens"]] == [
        "100"
    ]
    assert [s["id"] for s in api.call("GET", "/barramento/estruturas?orgao=100", token).json["itens"]] == [
        "100",
        "101",
    ]
    agencies = api.call("GET", "/barramento/estruturas?apenasOrgaos=true", token).json["itens"]
    assert [(s["id"], s["tipo"]) for s in agencies] == [("200", "orgao"), ("100", "orgao")]
    first = api.call("GET", "/barramento/estruturas?limite=2", token).json
    second = api.call("GET", f"/barramento/estruturas?limite=2&cursor={first['cursor']}", token).json
    assert [s["id"] for s in first["itens"] + second["itens"]] == ["200", "100", "101"]
    assert second["cursor"] is None


def test_bad_query_lists_each_field_in_portuguese(api: Api, stack: Stack) -> None:
    response = api.call(
        "GET", "/barramento/estruturas?limite=0&podeReceber=talvez&extra=1", stack.tokens["ms-sei"]
    )
    body = assert_problem(response, 400, "dados-invalidos")
    assert {e["campo"]: e["mensagem"] for e in body["erros"]} == {
        "limite": "deve ser no mínimo 1",
        "podeReceber": "deve ser verdadeiro ou falso (true/false)",
        "extra": "campo desconhecido",
    }


def test_tampered_cursor_is_a_clear_400(api: Api, stack: Stack) -> None:
    body = assert_problem(api.call("GET", "/barramento/estruturas?cursor=abc", stack.tokens["ms-sei"]), 400,
                          "dados-invalidos")  # fmt: skip
    assert body["erros"][0]["campo"] == "cursor"


def test_one_structure_and_unknown_ones(api: Api, stack: Stack) -> None:
    token = stack.tokens["inss-bus"]
    assert api.call("GET", "/barramento/estruturas/101", token).json["nome"] == "Protocolo Central do MS"
    assert (
        "999"
        in assert_problem(api.call("GET", "/barramento/estruturas/999", token), 404, "nao-encontrado")[
            "detail"
        ]
    )
    assert_problem(api.call("GET", "/barramento/estruturas/abc", token), 400, "dados-invalidos")


def test_who_am_i(api: Api, stack: Stack) -> None:
    body = api.call("GET", "/orgaos/eu", stack.tokens["inss-bus"]).json
    assert body == {
        "orgao": body["orgao"],
        "clienteId": stack.client_ids["inss-bus"],
        "escopos": ["barramento"],
    }
    assert body["orgao"]["sigla"] == "INSS"


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Basic dXNlcjpwYXNz", "pen_0123456789abcdef_" + "a" * 43,
     "Bearer pen_0123456789abcdef_" + "a" * 43, "Bearer not-a-token"],
)  # fmt: skip
def test_missing_malformed_or_unknown_tokens_are_401(api: Api, header: str | None) -> None:
    headers = {} if header is None else {"authorization": header}
    assert_problem(api.call("GET", "/barramento/estruturas", headers=headers), 401, "nao-autenticado")


def test_revoked_and_expired_tokens_are_401(api: Api, stack: Stack) -> None:
    stack.services.credentials.revoke(stack.client_ids["ms-sei"])
    assert_problem(api.call("GET", "/orgaos/eu", stack.tokens["ms-sei"]), 401, "nao-autenticado")
    current = client_state(stack, "inss-bus")
    stack.services.credentials._clients.put(replace(current, expires_at=current.created_at))
    assert_problem(api.call("GET", "/orgaos/eu", stack.tokens["inss-bus"]), 401, "nao-autenticado")


def test_a_scope_the_token_lacks_is_403(api: Api, stack: Stack) -> None:
    assert_problem(api.call("GET", "/orgaos/200/clientes", stack.tokens["inss-bus"]), 403, "sem-permissao")
    assert api.call("GET", "/orgaos/200/clientes", stack.tokens["inss-admin"]).status_code == 200


def test_another_agency_in_the_path_is_404_without_data(api: Api, stack: Stack) -> None:
    response = api.call("GET", "/orgaos/100/clientes", stack.tokens["inss-admin"])
    body = assert_problem(response, 404, "nao-encontrado")
    assert "ms-" not in response.body.decode()
    assert stack.client_ids["ms-admin"] not in json.dumps(body)
    revoke = api.call("POST", f"/orgaos/100/clientes/{stack.client_ids['ms-sei']}/revogacao",
                      stack.tokens["inss-admin"], {"motivo": "tentativa"})  # fmt: skip
    assert_problem(revoke, 404, "nao-encontrado")
    assert client_state(stack, "ms-sei").revoked_at is None


def test_clients_list_never_shows_tokens_or_hashes(api: Api, stack: Stack) -> None:
    response = api.call("GET", "/orgaos/100/clientes", stack.tokens["ms-admin"])
    assert sorted(c["nome"] for c in response.json["itens"]) == ["ms-admin", "ms-sei"]
    text = response.body.decode()
    for name in ("ms-admin", "ms-sei"):
        assert secret_of(stack.tokens[name]) not in text
        assert client_state(stack, name).token_hash not in text


def test_revocation_through_the_api_is_refused_at_once(api: Api, stack: Stack) -> None:
    path = f"/orgaos/100/clientes/{stack.client_ids['ms-sei']}/revogacao"
    assert api.call("GET", "/orgaos/eu", stack.tokens["ms-sei"]).status_code == 200
    response = api.call("POST", path, stack.tokens["ms-admin"], {"motivo": "token vazado"})
    assert response.status_code == 200
    assert response.json["revogadoEm"] is not None
    assert_problem(api.call("GET", "/orgaos/eu", stack.tokens["ms-sei"]), 401, "nao-autenticado")


def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(api: Api, stack: Stack) -> None:
    path = f"/orgaos/100/clientes/{stack.client_ids['ms-sei']}/revogacao"
    key = {"idempotency-key": "revoga-ms-sei-0001"}
    first = api.call("POST", path, stack.tokens["ms-admin"], {"motivo": "token vazado"}, headers=key)
    replay = api.call("POST", path, stack.tokens["ms-admin"], {"motivo": "token vazado"}, headers=key)
    assert first.status_code == replay.status_code == 200
    assert first.json == replay.json
    other = api.call("POST", path, stack.tokens["ms-admin"], {"motivo": "outro motivo"}, headers=key)
    assert_problem(other, 422, "chave-de-idempotencia-reutilizada")
    bad_key = api.call(
        "POST", path, stack.tokens["ms-admin"], {"motivo": "xyz"}, headers={"idempotency-key": "a b"}
    )
    assert_problem(bad_key, 400, "dados-invalidos")


REVOKE_BAD_BODIES = [
    pytest.param(b"x" * (10 * 1024 * 1024 + 1), 413, "corpo-muito-grande", id="10MB"),
    pytest.param(b"x" * (2 * 1024 * 1024), 413, "corpo-muito-grande", id="2MB"),
    pytest.param(b"[1, 2]", 400, "dados-invalidos", id="not-an-object"),
    pytest.param(b'{"motivo": ', 400, "dados-invalidos", id="malformed-json"),
    pytest.param(b"", 400, "dados-invalidos", id="empty"),
    pytest.param(b'{"motivo": "ok ok", "revogar": true}', 400, "dados-invalidos", id="unknown-field"),
    pytest.param(b'{"motivo": 42}', 400, "dados-invalidos", id="wrong-type"),
    pytest.param(b'{"motivo": "x"}', 400, "dados-invalidos", id="too-short"),
]


@pytest.mark.parametrize(("raw", "status", "slug"), REVOKE_BAD_BODIES)
def test_bad_bodies_get_a_problem_and_change_nothing(
    api: Api, stack: Stack, raw: bytes, status: int, slug: str
) -> None:
    path = f"/orgaos/100/clientes/{stack.client_ids['ms-sei']}/revogacao"
    assert_problem(api.call("POST", path, stack.tokens["ms-admin"], raw=raw), status, slug)
    assert client_state(stack, "ms-sei").revoked_at is None
    assert api.call("GET", "/orgaos/eu", stack.tokens["ms-sei"]).status_code == 200


def test_field_errors_name_each_field(api: Api, stack: Stack) -> None:
    path = f"/orgaos/100/clientes/{stack.client_ids['ms-sei']}/revogacao"
    body = assert_problem(
        api.call("POST", path, stack.tokens["ms-admin"], {"motivo": 1, "x": 2}), 400, "dados-invalidos"
    )
    assert {e["campo"]: e["mensagem"] for e in body["erros"]} == {
        "motivo": "deve ser um texto",
        "x": "campo desconhecido",
    }


def test_gateway_and_framework_errors_are_problems(api: Api, stack: Stack) -> None:
    token = stack.tokens["ms-admin"]
    assert_problem(api.call("GET", "/nao-existe"), 404, "nao-encontrado")
    assert_problem(api.call("GET", "/nao-existe", token), 404, "nao-encontrado")
    assert_problem(api.call("DELETE", "/saude"), 405, "metodo-nao-permitido")
    path = f"/orgaos/100/clientes/{stack.client_ids['ms-sei']}/revogacao"
    wrong_type = api.call("POST", path, token, raw=b"motivo=x", headers={"content-type": "text/plain"})
    assert_problem(wrong_type, 415, "tipo-de-midia-nao-suportado")
    assert client_state(stack, "ms-sei").revoked_at is None


def test_correlation_id_is_echoed_or_created(api: Api) -> None:
    given = api.call("GET", "/saude", headers={"x-correlation-id": "abc-123"})
    assert given.lower_headers["x-correlation-id"] == "abc-123"
    made = api.call("GET", "/saude", headers={"x-correlation-id": "bad value\n"})
    assert len(made.lower_headers["x-correlation-id"]) == 36
    problem = api.call("GET", "/nao-existe", headers={"x-correlation-id": "trace-404"})
    assert problem.lower_headers["x-correlation-id"] == "trace-404"


def test_tokens_never_reach_the_logs(api: Api, stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    token = stack.tokens["ms-admin"]
    api.call("GET", "/orgaos/eu", token)
    # A wrong last character (a token ending in "A" happens: 1 in 16, so never reuse that letter).
    api.call("GET", "/orgaos/eu", token[:-1] + ("B" if token[-1] != "B" else "C"))
    api.call("GET", "/orgaos/eu", "Bearer " + token)
    api.call(
        "POST",
        f"/orgaos/100/clientes/{stack.client_ids['ms-sei']}/revogacao",
        token,
        {"motivo": "teste de log"},
    )
    # Every field of every record, as the JSON formatter would write them.
    text = "\n".join(json.dumps(vars(r), default=str, ensure_ascii=False) for r in caplog.records)
    app_logger = logging.getLogger("pen")
    state = f"level {app_logger.level}, disabled {app_logger.disabled}, propagate {app_logger.propagate}, "
    state += f"handlers {app_logger.handlers}, logging.disable {logging.root.manager.disable}"
    assert text.count('"msg": "request"') >= 2, state  # the access log really was captured
    assert text.count('"msg": "token refused"') >= 2
    secret = secret_of(token)
    assert secret not in text
    assert secret[:-1] not in text
    for name in stack.tokens:
        assert secret_of(stack.tokens[name]) not in text


def test_unit_ids_show_their_agency(api: Api, stack: Stack) -> None:
    stack.services.registry.save(
        Structure(id="102", name="Arquivo", acronym="ARQ", agency_id="", parent_id="101")
    )
    body = api.call("GET", "/barramento/estruturas/102", stack.tokens["ms-sei"]).json
    assert (body["orgaoId"], body["paiId"], body["tipo"]) == ("100", "101", "unidade")
