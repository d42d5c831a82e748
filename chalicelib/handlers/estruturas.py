"""The Repositório de Estruturas, read by agency systems (any valid token, any scope)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.models import StructureId, StructureList, StructureListQuery, StructureOut
from chalicelib.api.validation import parse_path
from chalicelib.bootstrap import services
from chalicelib.domain.credentials import Caller
from chalicelib.handlers.catalog import ANY_SCOPE
from chalicelib.handlers.routing import api_route
from chalicelib.services.ports import StructureQuery

bp = Blueprint(__name__)
TAG = "Repositório de Estruturas"


@api_route(
    bp, "/barramento/estruturas", "GET", summary="Lista agências e unidades", tag=TAG, access=ANY_SCOPE,
    query=StructureListQuery, response=StructureList, errors=(400,),
)  # fmt: skip
def list_structures(caller: Caller, query: StructureListQuery) -> StructureList:
    """Ordenadas pelo nome. Filtros: sigla exata, trecho do nome (sem acentos), órgão, podeReceber, ativo,
    apenasOrgaos."""
    page = services().registry.search(
        StructureQuery(
            acronym=query.sigla,
            name=query.nome,
            agency_id=query.orgao,
            can_receive=query.podeReceber,
            active=query.ativo,
            agencies_only=query.apenasOrgaos,
        ),
        query.cursor,
        query.limite,
    )
    return StructureList(itens=[StructureOut.from_domain(s) for s in page.items], cursor=page.cursor)


@api_route(
    bp, "/barramento/estruturas/{estrutura_id}", "GET", summary="Uma agência ou unidade", tag=TAG,
    access=ANY_SCOPE, response=StructureOut, errors=(400, 404),
)  # fmt: skip
def get_structure(caller: Caller, estrutura_id: str) -> StructureOut:
    return StructureOut.from_domain(
        services().registry.get(parse_path("estrutura_id", estrutura_id, StructureId))
    )
