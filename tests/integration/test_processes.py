"""The processes pillar through the real handlers, on moto."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.domain.credentials import Scope
from chalicelib.domain.nup import parse_nup
from chalicelib.domain.structures import Structure
from chalicelib.services.processes import BRASILIA
from tests import servers
from tests.integration.conftest import Api, Stack, assert_problem

WHO = {"x-usuario": "maria.silva"}
VALID_CPF = "529.982.247-25"


@pytest.fixture
def ms(stack: Stack) -> dict[str, str]:
    """The MS's units: 101 is a protocol unit (25000), 102 hangs from it, 103 is another protocol unit."""
    registry = stack.services.registry
    registry.save(
        Structure(id="102", name="Divisão de Análise", acronym="DIAN", agency_id="", parent_id="101")
    )
    registry.save(
        Structure(
            id="103", name="Gabinete", acronym="GM", agency_id="", parent_id="100", protocol_code="25001"
        )
    )
    registry.save(Structure(id="201", name="Protocolo do INSS", acronym="PINSS", agency_id="", parent_id="200",
                            protocol_code="35000"))  # fmt: skip
    inss = stack.services.credentials.issue("200", "inss-sei", frozenset({Scope.PROCESSOS}))
    return {"token": stack.tokens["ms-sei"], "inss": inss.token}


def new_process(**changes: Any) -> dict[str, Any]:
    body = {
        "unidade": "101",
        "tipo": "Licitação: Pregão Eletrônico",
        "especificacao": "Aquisição de computadores",
        "interessados": [{"nome": "João da Silva", "documento": VALID_CPF}],
        "nivelAcesso": 1,
    }
    return {**body, **changes}


def create(api: Api, token: str, **changes: Any) -> dict[str, Any]:
    response = api.call("POST", "/processos", token, new_process(**changes), headers=WHO)
    assert response.status_code == 201, response.body
    return dict(response.json)


def digits(nup: str) -> str:
    return parse_nup(nup).digits


def test_create_issues_a_valid_nup_from_the_protocol_unit(api: Api, ms: dict[str, str]) -> None:
    year = datetime.now(BRASILIA).year
    first = create(api, ms["token"])
    second = create(api, ms["token"], unidade="102")  # a unit under 101 uses 101's code
    assert first["nup"].startswith(f"25000.000001/{year}-")
    assert second["nup"].startswith(f"25000.000002/{year}-")
    assert parse_nup(first["nup"]).is_current  # the check digits verify
    assert first["estado"] == "aberto"
    assert first["interessados"] == [{"nome": "João da Silva", "documento": VALID_CPF}]
    assert [u["unidade"] for u in first["unidadesAbertas"]] == ["101"]
    other_unit = create(api, ms["token"], unidade="103")
    assert other_unit["nup"].startswith(f"25001.000001/{year}-")


def test_read_is_for_the_owning_agency_only(api: Api, ms: dict[str, str]) -> None:
    nup = create(api, ms["token"])["nup"]
    assert api.call("GET", f"/processos/{digits(nup)}", ms["token"]).json["nup"] == nup
    assert_problem(api.call("GET", f"/processos/{digits(nup)}", ms["inss"]), 404, "nao-encontrado")
    wrong = digits(nup)[:-1] + str((int(digits(nup)[-1]) + 1) % 10)
    body = assert_problem(api.call("GET", f"/processos/{wrong}", ms["token"]), 400, "dados-invalidos")
    assert "inválido" in body["detail"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"interessados": []}, "interessados"),
        ({"interessados": [{"nome": "Ana", "documento": "529.982.247-26"}]}, "interessados.0.documento"),
        ({"nivelAcesso": 2}, "hipoteseLegal"),
        ({"nivelAcesso": 1, "hipoteseLegal": 1}, "hipoteseLegal"),
        ({"nivelAcesso": 2, "hipoteseLegal": 9999}, "hipoteseLegal"),
        ({"especificacao": "x" * 101}, "especificacao"),
        ({"interessados": [{"nome": "y" * 151}]}, "interessados.0.nome"),
        ({"unidade": "201"}, "unidade"),
        ({"unidade": "100"}, "unidade"),
    ],
)
def test_bad_metadata_is_refused_and_consumes_no_number(
    api: Api, ms: dict[str, str], changes: dict[str, Any], field: str
) -> None:
    response = api.call("POST", "/processos", ms["token"], new_process(**changes), headers=WHO)
    body = assert_problem(response, 400, "dados-invalidos")
    assert field in [e["campo"] for e in body["erros"]]
    assert create(api, ms["token"])["nup"][6:12] == "000001"  # the refused request took no number


def test_writes_need_the_acting_person(api: Api, ms: dict[str, str]) -> None:
    body = assert_problem(api.call("POST", "/processos", ms["token"], new_process()), 400, "dados-invalidos")
    assert body["erros"][0]["campo"] == "X-Usuario"


def test_restricted_process_with_legal_basis(api: Api, ms: dict[str, str]) -> None:
    created = create(api, ms["token"], nivelAcesso=2, hipoteseLegal=1)
    assert created["nivelAcessoEfetivo"] == 2
    assert created["hipoteseLegal"]["id"] == 1


def test_update_records_old_and_new_and_refuses_a_stale_version(api: Api, ms: dict[str, str]) -> None:
    created = create(api, ms["token"])
    path = f"/processos/{digits(created['nup'])}"
    change = {**new_process(especificacao="Aquisição de notebooks"), "versao": created["versao"]}
    updated = api.call("PATCH", path, ms["token"], change, headers=WHO)
    assert updated.status_code == 200, updated.body
    assert updated.json["especificacao"] == "Aquisição de notebooks"
    stale = api.call("PATCH", path, ms["token"], {**change, "especificacao": "Outra"}, headers=WHO)
    assert_problem(stale, 409, "conflito")
    history = api.call("GET", f"{path}/historico", ms["token"]).json
    assert (
        history["itens"][-1]["descricao"]
        == "especificação: Aquisição de computadores → Aquisição de notebooks"
    )
    assert api.call("GET", path, ms["token"]).json["especificacao"] == "Aquisição de notebooks"
    inbox = api.call("GET", "/unidades/101/processos", ms["token"]).json["itens"]
    assert [(i["tipo"], i["especificacao"]) for i in inbox] == [
        ("Licitação: Pregão Eletrônico", "Aquisição de notebooks")
    ]


def test_send_conclude_reopen_and_the_inbox(api: Api, ms: dict[str, str]) -> None:
    token = ms["token"]
    nup = create(api, token)["nup"]
    path = f"/processos/{digits(nup)}"
    tomorrow = (datetime.now(BRASILIA) + timedelta(days=1)).date().isoformat()
    sent = api.call("POST", f"{path}/envios", token,
                    {"unidadeOrigem": "101", "unidadesDestino": ["102", "103"], "retornoProgramado": tomorrow},
                    headers=WHO)  # fmt: skip
    assert sent.status_code == 200, sent.body
    assert sorted(u["unidade"] for u in sent.json["unidadesAbertas"]) == ["102", "103"]
    assert api.call("GET", "/unidades/101/processos", token).json["itens"] == []
    inbox = api.call("GET", "/unidades/102/processos", token).json["itens"]
    assert [(i["nup"], i["deUnidade"], i["retornoProgramado"], i["atrasado"]) for i in inbox] == [
        (nup, "101", tomorrow, False)
    ]
    assert_problem(
        api.call("POST", f"{path}/conclusao", token, {"unidade": "101"}, headers=WHO), 409, "conflito"
    )
    for unit in ("102", "103"):
        assert api.call("POST", f"{path}/conclusao", token, {"unidade": unit}, headers=WHO).status_code == 200
    concluded = api.call("GET", path, token).json
    assert concluded["estado"] == "concluido"
    update = {**new_process(), "unidade": "102", "versao": concluded["versao"]}
    assert (
        "concluído"
        in assert_problem(api.call("PATCH", path, token, update, headers=WHO), 409, "conflito")["detail"]
    )
    reopened = api.call("POST", f"{path}/reabertura", token, {"unidade": "102"}, headers=WHO)
    assert reopened.json["estado"] == "aberto"


def test_inbox_is_newest_first_with_pages(api: Api, ms: dict[str, str]) -> None:
    nups = [create(api, ms["token"])["nup"] for _ in range(3)]
    first = api.call("GET", "/unidades/101/processos?limite=2", ms["token"]).json
    second = api.call("GET", f"/unidades/101/processos?limite=2&cursor={first['cursor']}", ms["token"]).json
    assert [i["nup"] for i in first["itens"] + second["itens"]] == list(reversed(nups))
    assert_problem(api.call("GET", "/unidades/201/processos", ms["token"]), 404, "nao-encontrado")  # INSS's
    assert_problem(api.call("GET", "/unidades/999/processos", ms["token"]), 404, "nao-encontrado")


def test_an_inactive_units_inbox_still_lists_what_is_left_there(
    api: Api, stack: Stack, ms: dict[str, str]
) -> None:
    """Deactivating a unit in the directory leaves its processes there: its people must be able to see them
    to move them on, though nothing new may be created in it."""
    token = ms["token"]
    nup = create(api, token)["nup"]
    sent = api.call("POST", f"/processos/{digits(nup)}/envios", token,
                    {"unidadeOrigem": "101", "unidadesDestino": ["102"]}, headers=WHO)  # fmt: skip
    assert sent.status_code == 200, sent.body
    registry = stack.services.registry
    unit = registry.find("102")
    assert unit is not None
    registry.save(replace(unit, active=False))
    inbox = api.call("GET", "/unidades/102/processos", token)
    assert inbox.status_code == 200, inbox.body
    assert [i["nup"] for i in inbox.json["itens"]] == [nup]
    assert_problem(
        api.call("POST", "/processos", token, new_process(unidade="102"), headers=WHO), 400, "dados-invalidos"
    )


def test_relate_suspend_resume_and_merge(api: Api, ms: dict[str, str]) -> None:
    token = ms["token"]
    one, two = create(api, token)["nup"], create(api, token)["nup"]
    p1, p2 = f"/processos/{digits(one)}", f"/processos/{digits(two)}"
    related = api.call(
        "POST", f"{p1}/relacionamentos", token, {"unidade": "101", "processo": two}, headers=WHO
    )
    assert related.json["relacionados"] == [two]
    assert api.call("GET", p2, token).json["relacionados"] == [one]
    suspended = api.call(
        "POST", f"{p1}/sobrestamento", token, {"unidade": "101", "motivo": "Aguardando parecer"}, headers=WHO
    )
    assert (suspended.json["estado"], suspended.json["motivoSobrestamento"]) == (
        "sobrestado",
        "Aguardando parecer",
    )
    blocked = api.call(
        "POST", f"{p1}/envios", token, {"unidadeOrigem": "101", "unidadesDestino": ["102"]}, headers=WHO
    )
    assert "sobrestado" in assert_problem(blocked, 409, "conflito")["detail"]
    assert (
        api.call("POST", f"{p1}/retomada", token, {"unidade": "101"}, headers=WHO).json["estado"] == "aberto"
    )
    merged = api.call(
        "POST", f"{p1}/anexacao", token, {"unidade": "101", "principal": digits(two)}, headers=WHO
    )
    assert (merged.json["estado"], merged.json["anexadoA"]) == ("anexado", two)
    assert api.call("GET", p2, token).json["anexos"] == [one]
    assert_problem(
        api.call("POST", f"{p1}/reabertura", token, {"unidade": "102"}, headers=WHO), 409, "conflito"
    )


def test_history_is_a_verified_chain_and_tampering_is_detected(
    api: Api, stack: Stack, ms: dict[str, str]
) -> None:
    token = ms["token"]
    nup = create(api, token)["nup"]
    path = f"/processos/{digits(nup)}"
    api.call(
        "POST", f"{path}/envios", token, {"unidadeOrigem": "101", "unidadesDestino": ["102"]}, headers=WHO
    )
    history = api.call("GET", f"{path}/historico", token).json
    assert [e["seq"] for e in history["itens"]] == [1, 2]
    assert history["itens"][1]["hashAnterior"] == history["itens"][0]["hash"]
    assert history["itens"][0]["usuario"] == "maria.silva"
    assert history["verificacao"] == {"integro": True, "entradas": 2, "primeiraFalha": None, "motivo": None}
    table = boto3.client("dynamodb", endpoint_url=stack.endpoint, region_name=servers.REGION)
    table.update_item(
        TableName=stack.settings.table_processos,
        Key={"pk": {"S": f"P#100#{digits(nup)}"}, "sk": {"S": "H#000000001"}},  # MS's copy
        UpdateExpression="SET usuario = :u",
        ConditionExpression="attribute_exists(pk)",  # tamper with the entry, never create one
        ExpressionAttributeValues={":u": {"S": "outra.pessoa"}},
    )
    check = api.call("GET", f"{path}/historico", token).json["verificacao"]
    assert (check["integro"], check["primeiraFalha"]) == (False, 1)


def test_create_replay_with_idempotency_key_creates_nothing_new(api: Api, ms: dict[str, str]) -> None:
    headers = {**WHO, "idempotency-key": "autuacao-0001"}
    first = api.call("POST", "/processos", ms["token"], new_process(), headers=headers)
    again = api.call("POST", "/processos", ms["token"], new_process(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json["nup"] == again.json["nup"]
    assert create(api, ms["token"])["nup"][6:12] == "000002"


def test_send_replay_with_idempotency_key_moves_once(api: Api, ms: dict[str, str]) -> None:
    token = ms["token"]
    path = f"/processos/{digits(create(api, token)['nup'])}"
    headers = {**WHO, "idempotency-key": "envio-0001-abcd"}
    body = {"unidadeOrigem": "101", "unidadesDestino": ["102"]}
    first = api.call("POST", f"{path}/envios", token, body, headers=headers)
    again = api.call("POST", f"{path}/envios", token, body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json == again.json
    history = api.call("GET", f"{path}/historico", token).json["itens"]
    assert [e["seq"] for e in history] == [1, 2]  # one send recorded, not two
