"""The committed OpenAPI document is what the code generates, and it is valid OpenAPI 3.1."""

from __future__ import annotations

import json
from pathlib import Path

from openapi_spec_validator import validate

import app
from chalicelib.api.openapi import build_document
from chalicelib.handlers.catalog import ROUTES

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_committed_document_equals_the_generated_one() -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert committed == build_document(), "docs/openapi.json is stale: run `make openapi`"


def test_document_is_valid_openapi_3_1() -> None:
    document = build_document()
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_every_chalice_route_is_documented() -> None:
    documented = {(path, method.upper()) for path, ops in build_document()["paths"].items() for method in ops}
    registered = {(path, method) for path, methods in app.app.routes.items() for method in methods}
    assert documented == registered
    assert len(ROUTES) == len(registered)


def test_protected_routes_declare_the_bearer_scheme_and_their_errors() -> None:
    paths = build_document()["paths"]
    revoke = paths["/orgaos/{orgao_id}/clientes/{cliente_id}/revogacao"]["post"]
    assert revoke["security"] == [{"token": ["admin"]}]
    assert {"400", "401", "403", "404", "413", "415", "422"} <= set(revoke["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in revoke["parameters"])
    assert paths["/saude"]["get"]["security"] == []
