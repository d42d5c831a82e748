"""Turns request bodies and query strings into API models, with every bad field listed in pt-BR."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from chalicelib.domain.errors import FieldError, InvalidInput

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "missing": "campo obrigatório",
    "extra_forbidden": "campo desconhecido",
    "string_type": "deve ser um texto",
    "bool_type": "deve ser verdadeiro ou falso (true/false)",
    "bool_parsing": "deve ser verdadeiro ou falso (true/false)",
    "int_type": "deve ser um número inteiro",
    "int_parsing": "deve ser um número inteiro",
    "int_from_float": "deve ser um número inteiro",
    "list_type": "deve ser uma lista",
    "dict_type": "deve ser um objeto",
    "model_type": "deve ser um objeto",
    "string_pattern_mismatch": "não está no formato esperado",
    "datetime_type": "deve ser uma data e hora ISO 8601",
    "datetime_parsing": "deve ser uma data e hora ISO 8601",
    "datetime_from_date_parsing": "deve ser uma data e hora ISO 8601",
    "value_error": "valor inválido",
}


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "string_too_long":
        return f"deve ter no máximo {ctx.get('max_length')} caracteres"
    if kind == "string_too_short":
        return f"deve ter no mínimo {ctx.get('min_length')} caractere(s)"
    if kind in {"greater_than_equal", "greater_than"}:
        return f"deve ser no mínimo {ctx.get('ge', ctx.get('gt'))}"
    if kind in {"less_than_equal", "less_than"}:
        return f"deve ser no máximo {ctx.get('le', ctx.get('lt'))}"
    if kind in {"literal_error", "enum"}:
        return f"deve ser um de: {ctx.get('expected')}"
    if kind in {"too_short", "too_long"}:
        return "tem um número de itens fora do permitido"
    return _MESSAGES.get(kind, "valor inválido")


def field_errors(error: ValidationError) -> list[FieldError]:
    return [
        FieldError(".".join(str(p) for p in e["loc"]) or "corpo", _message(e))
        for e in error.errors(include_url=False)
    ]


def parse_model(model: type[M], data: Any, what: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(f"{what} tem campos inválidos.", field_errors(error)) from None


def parse_body(model: type[M], raw: bytes | None) -> M:
    if not raw:
        raise InvalidInput("O corpo da requisição é obrigatório: envie um objeto JSON.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("O corpo da requisição não é um JSON válido.") from None
    if not isinstance(data, dict):
        raise InvalidInput("O corpo da requisição deve ser um objeto JSON ({...}).")
    return parse_model(model, data, "O corpo da requisição")


def parse_query(model: type[M], params: Mapping[str, str] | None) -> M:
    return parse_model(model, dict(params or {}), "A consulta")


def parse_path(name: str, value: str, kind: Any) -> Any:
    """Validates one path parameter against an annotated type (e.g. StructureId)."""
    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError as error:
        message = _message(error.errors(include_url=False)[0])
        raise InvalidInput("O caminho da requisição é inválido.", [FieldError(name, message)]) from None
