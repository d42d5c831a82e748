"""Public routes about the API itself: health and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.models import Health
from chalicelib.bootstrap import services
from chalicelib.handlers.routing import api_route

bp = Blueprint(__name__)
TAG = "API"
VERSION = "0.1.0"


@api_route(bp, "/saude", "GET", summary="Saúde da API", tag=TAG, access=None, response=Health)
def health() -> Health:
    """Responde sem tocar em dependências: serve a balanceadores e monitores."""
    return Health(status="ok", versao=VERSION, estagio=services().settings.stage)


@api_route(bp, "/openapi.json", "GET", summary="Documento OpenAPI 3.1 desta API", tag=TAG, access=None)
def openapi_document() -> dict[str, Any]:
    from chalicelib.api.openapi import build_document

    return build_document()
