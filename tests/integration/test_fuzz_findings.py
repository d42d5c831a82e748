"""What the API fuzzer (tests/e2e/test_fuzz.py, `make fuzz`) found, each kept as a plain regression
test through the real handlers on the moto server."""

from __future__ import annotations

import pytest

from chalicelib.api.openapi import build_document
from tests.integration.conftest import Api, assert_problem
from tests.integration.test_bus import tokens

__all__ = ["tokens"]  # the fixture, shared with test_bus


@pytest.mark.parametrize("nup", ["Jøæ±.", "-", "٣", "abc/def"])
def test_a_nup_filter_without_digits_finds_nothing_instead_of_failing(
    api: Api, tokens: dict[str, str], nup: str
) -> None:
    """Found: GET /barramento/tramites?nup=Jøæ± answered 500 (the digits of the filter were empty, and
    DynamoDB refuses an empty key)."""
    answer = api.call("GET", f"/barramento/tramites?nup={_quote(nup)}", tokens["inss"])
    assert answer.status_code == 200, answer.body
    assert answer.json["itens"] == []


@pytest.mark.parametrize("route", ["ciencia", "componentes/confirmacao"])
def test_a_malformed_idempotency_key_is_a_documented_400(
    api: Api, tokens: dict[str, str], route: str
) -> None:
    """Found: these routes answered 400 for a bad Idempotency-Key, a status their operation in
    docs/openapi.json did not list."""
    answer = api.call(
        "POST", f"/barramento/tramites/1/{route}", tokens["inss"], headers={"Idempotency-Key": "curta"}
    )
    problem = assert_problem(answer, 400, "dados-invalidos")
    assert [e["campo"] for e in problem["erros"]] == ["Idempotency-Key"]
    operation = build_document()["paths"][f"/barramento/tramites/{{idt}}/{route}"]["post"]
    assert "400" in operation["responses"]


def test_every_operation_with_a_header_or_query_it_validates_documents_400() -> None:
    for path, operations in build_document()["paths"].items():
        for method, operation in operations.items():
            validated = [
                p["name"]
                for p in operation.get("parameters", [])
                if p["in"] == "query" or p["name"] in ("Idempotency-Key", "X-Usuario")
            ]
            if validated:
                assert "400" in operation["responses"], f"{method.upper()} {path} validates {validated}"


def test_a_route_without_a_body_takes_any_content_type(api: Api, tokens: dict[str, str]) -> None:
    """Found: GET /processos/{nup}/documentos/{ordem} sent with `Content-Type: Q` answered 415, a status
    its operation does not list (Chalice checks the type even where no body is read)."""
    calls = [
        ("GET", "/barramento/estruturas", "/barramento/estruturas"),
        ("GET", "/processos/35000000001202611/documentos/1", "/processos/{nup}/documentos/{ordem}"),
        ("DELETE", "/barramento/tramites/1", "/barramento/tramites/{idt}"),
    ]
    for method, path, template in calls:
        answer = api.call(method, path, tokens["ms"], headers={"Content-Type": "Q"})
        documented = build_document()["paths"][template][method.lower()]["responses"]
        assert answer.status_code != 415, f"{method} {path}: {answer.body!r}"
        assert str(answer.status_code) in documented, f"{method} {path}: {answer.status_code}"
    # A route with a body still says which type it reads.
    refused = api.call("POST", "/processos", tokens["ms"], headers={"Content-Type": "text/plain"})
    assert_problem(refused, 415, "tipo-de-midia-nao-suportado")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")
