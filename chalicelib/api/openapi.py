"""The OpenAPI 3.1 document, generated from the route catalogue and the API models.

`python -m chalicelib.api.openapi > docs/openapi.json` writes the committed copy; a test checks that
the copy equals what the code generates, so the document can never fall behind the code.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api import problems
from chalicelib.api.models import Problem
from chalicelib.handlers.catalog import ANY_SCOPE, ROUTES, RouteSpec

TITLE = "PEN — Processo Eletrônico Nacional (API)"
VERSION = "0.1.0"
REF = "#/components/schemas/{model}"

_STATUS_TEXT = {
    400: "Dados inválidos ou requisição malformada",
    401: "Credencial ausente, malformada, expirada ou revogada",
    403: "O token não tem o escopo exigido",
    404: "Não encontrado (ou de outro órgão)",
    409: "Conflito com o estado atual",
    410: "Conteúdo não mais disponível (documento cancelado)",
    413: "Corpo muito grande (ou arquivo acima do limite do órgão)",
    415: "Tipo de mídia não suportado (ou tipo de arquivo não aceito pelo órgão)",
    422: "Idempotency-Key reutilizada com outro conteúdo",
    429: "Limite atingido (por exemplo, pedidos por endereço de e-mail)",
    500: "Erro interno",
}


def _models() -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {"Problem": Problem}
    for spec in ROUTES:
        for model in (spec.body, spec.response):
            if model is not None:
                seen[model.__name__] = model
    return list(seen.values())


def _query_parameters(spec: RouteSpec, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    if spec.query is None:
        return []
    schema = spec.query.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in prop.items() if k not in {"title", "description"}},
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema["properties"].items()
    ]


def _operation(spec: RouteSpec, schemas: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": spec.operation_id,
        "summary": spec.summary,
        "tags": [spec.tag],
    }
    if spec.description:
        operation["description"] = spec.description
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"\{([^}]+)\}", spec.path)
    ]
    query = _query_parameters(spec, schemas)
    parameters += query
    if spec.person:
        parameters.append(
            {
                "name": "X-Usuario",
                "in": "header",
                "required": True,
                "description": "A pessoa que age (nome, login ou CPF); registrada no histórico.",
                "schema": {"type": "string", "maxLength": 100},
            }
        )
    if spec.idempotent:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Repetir a chave devolve a primeira resposta; com outro corpo, 422.",
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:\\-]{8,128}$"},
            }
        )
    parameters.append(
        {
            "name": "X-Correlation-Id",
            "in": "header",
            "required": False,
            "description": "Devolvido na resposta; informe-o ao suporte.",
            "schema": {"type": "string", "maxLength": 100},
        }
    )
    operation["parameters"] = parameters
    if spec.body is not None:
        operation["requestBody"] = {
            "required": spec.body_required,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=spec.body.__name__)}}},
        }
    ok: dict[str, Any] = {"description": "Sucesso"}
    if spec.response is not None:
        ok["content"] = {"application/json": {"schema": {"$ref": REF.format(model=spec.response.__name__)}}}
    elif spec.media_type != "application/json":
        ok["content"] = {spec.media_type: {"schema": {"type": "string"}}}
    else:
        ok["content"] = {"application/json": {"schema": {"type": "object"}}}
    responses: dict[str, Any] = {str(spec.status): ok}
    for status in sorted(_error_statuses(spec, bool(query))):
        responses[str(status)] = {"$ref": f"#/components/responses/Problem{status}"}
    operation["responses"] = responses
    if spec.access is not None:
        scopes = [] if spec.access == ANY_SCOPE else [str(spec.access)]
        operation["security"] = [{"token": scopes}]
        operation["x-escopo"] = "qualquer escopo" if spec.access == ANY_SCOPE else str(spec.access)
    else:
        operation["security"] = []
    return operation


def _error_statuses(spec: RouteSpec, has_query: bool) -> set[int]:
    statuses = set(spec.errors) | {500}
    if spec.access is not None:
        statuses |= {401, 403}
    if spec.body is not None:
        statuses |= {400, 413, 415}
    if spec.idempotent or spec.person or has_query:
        statuses.add(400)  # a malformed header or query parameter (found by tests/e2e/test_fuzz.py)
    return statuses


@cache
def build_document() -> dict[str, Any]:
    _, defs = models_json_schema([(m, "serialization") for m in _models()], ref_template=REF)
    schemas: dict[str, Any] = dict(sorted(defs.get("$defs", {}).items()))
    paths: dict[str, Any] = {}
    for spec in sorted(ROUTES, key=lambda s: (s.path, s.method)):
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, schemas)
    problem_ref = {"$ref": REF.format(model="Problem")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "API das agências (processos e barramento) e do público. Erros seguem a RFC 9457 "
                "(application/problem+json), com `detail` em português e a lista `erros` por campo. "
                f"Tipos de problema: {', '.join(p.uri for p in problems.ALL)}."
            ),
        },
        "servers": [{"url": "/", "description": "Mesmo endereço que serviu este documento"}],
        "tags": [{"name": tag} for tag in sorted({s.tag for s in ROUTES})],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                f"Problem{status}": {
                    "description": text,
                    "content": {problems.MEDIA_TYPE: {"schema": problem_ref}},
                }
                for status, text in _STATUS_TEXT.items()
            },
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Token do cliente de API do órgão, emitido pela operação da plataforma. "
                    "Escopos: processos, barramento, admin.",
                }
            },
        },
    }


def main() -> None:
    import chalicelib.handlers.blueprints  # noqa: F401 - loading the handlers fills the catalogue

    print(json.dumps(build_document(), ensure_ascii=False, indent=2, sort_keys=False))


if __name__ == "__main__":
    main()
