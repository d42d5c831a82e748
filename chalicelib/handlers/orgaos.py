"""The calling agency: who am I, and (scope admin) the agency's own API clients."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.bus import RecebimentoIn, RecebimentoOut
from chalicelib.api.models import (
    CallerOut,
    ChaveIn,
    ChaveOut,
    ChavesOut,
    ClientList,
    ClientListQuery,
    ClientOut,
    RevocationIn,
    StructureId,
)
from chalicelib.api.tracking import PublicacaoIn, PublicacaoOut
from chalicelib.api.validation import parse_path
from chalicelib.bootstrap import services
from chalicelib.domain.credentials import Caller, Scope
from chalicelib.domain.errors import structure_not_found
from chalicelib.handlers.catalog import ANY_SCOPE
from chalicelib.handlers.routing import api_route

bp = Blueprint(__name__)
TAG = "Órgão e credenciais"


@api_route(bp, "/orgaos/eu", "GET", summary="Quem sou eu", tag=TAG, access=ANY_SCOPE, response=CallerOut)
def who_am_i(caller: Caller) -> CallerOut:
    """O órgão e o cliente de API do token enviado, com os escopos dele."""
    return CallerOut.from_domain(caller, services().registry.get(caller.agency_id))


@api_route(
    bp, "/orgaos/{orgao_id}/clientes", "GET", summary="Clientes de API do órgão", tag=TAG,
    access=Scope.ADMIN, query=ClientListQuery, response=ClientList, errors=(400, 404),
)  # fmt: skip
def list_clients(caller: Caller, orgao_id: str, query: ClientListQuery) -> ClientList:
    """Nunca devolve tokens nem seus hashes. Outro órgão no caminho responde 404."""
    page = services().credentials.list_for_agency(_own_agency(caller, orgao_id), query.cursor, query.limite)
    return ClientList(itens=[ClientOut.from_domain(c) for c in page.items], cursor=page.cursor)


@api_route(
    bp, "/orgaos/{orgao_id}/clientes/{cliente_id}/revogacao", "POST", summary="Revoga um cliente de API",
    tag=TAG, access=Scope.ADMIN, body=RevocationIn, response=ClientOut, errors=(400, 404, 409, 422),
)  # fmt: skip
def revoke_client(caller: Caller, orgao_id: str, cliente_id: str, body: RevocationIn) -> ClientOut:
    """O token deixa de valer na requisição seguinte. Repetir a revogação não muda nada."""
    agency_id = _own_agency(caller, orgao_id)
    return ClientOut.from_domain(services().credentials.revoke(cliente_id, agency_id, reason=body.motivo))


def _own_agency(caller: Caller, orgao_id: str) -> str:
    """The caller's own agency id; another agency's answers 404, exactly like an unknown one."""
    agency_id = str(parse_path("orgao_id", orgao_id, StructureId))
    if agency_id != caller.agency_id:
        raise structure_not_found(agency_id)
    return agency_id


@api_route(
    bp, "/orgaos/{orgao_id}/recebimento", "GET", summary="Regras de recebimento pelo barramento", tag=TAG,
    access=Scope.ADMIN, response=RecebimentoOut, errors=(400, 404),
)  # fmt: skip
def get_reception(caller: Caller, orgao_id: str) -> RecebimentoOut:
    """Se o órgão é hospedado (a plataforma importa o que ele recebe) e o que ele aceita: tamanho e tipos de
    arquivo (os mesmos dos seus documentos) e as espécies documentais."""
    agency_id = _own_agency(caller, orgao_id)
    hosted = services().hosted
    return RecebimentoOut.from_domain(hosted.profile(agency_id), hosted.limits(agency_id))


@api_route(
    bp, "/orgaos/{orgao_id}/recebimento", "PUT", summary="Define as espécies aceitas pelo barramento",
    tag=TAG, access=Scope.ADMIN, body=RecebimentoIn, response=RecebimentoOut, errors=(400, 404),
)  # fmt: skip
def set_reception(caller: Caller, orgao_id: str, body: RecebimentoIn) -> RecebimentoOut:
    """Processos com documentos de outras espécies são recusados com o motivo 04 (espécie documental não
    mapeada). Sem `especies`, todas são aceitas."""
    agency_id = _own_agency(caller, orgao_id)
    hosted = services().hosted
    kinds = frozenset(body.especies) if body.especies is not None else None
    return RecebimentoOut.from_domain(hosted.set_kinds(agency_id, kinds), hosted.limits(agency_id))


@api_route(
    bp, "/orgaos/{orgao_id}/chaves", "POST", summary="Registra uma chave pública do órgão", tag=TAG,
    access=Scope.ADMIN, body=ChaveIn, response=ChaveOut, status=201, errors=(400, 404, 409),
)  # fmt: skip
def register_key(caller: Caller, orgao_id: str, body: ChaveIn) -> ChaveOut:
    """Para o órgão assinar, com o seu próprio sistema, os recibos de conclusão que emite como
    destinatário. Só a chave pública fica aqui."""
    return ChaveOut.from_domain(services().agency_keys.register(_own_agency(caller, orgao_id), body.pem))


@api_route(
    bp, "/orgaos/{orgao_id}/chaves", "GET", summary="Chaves públicas do órgão", tag=TAG,
    access=Scope.ADMIN, response=ChavesOut, errors=(400, 404),
)  # fmt: skip
def list_keys(caller: Caller, orgao_id: str) -> ChavesOut:
    """As revogadas também, com a data da revogação: recibos antigos continuam conferíveis."""
    keys = services().agency_keys.keys_of(_own_agency(caller, orgao_id))
    return ChavesOut(itens=[ChaveOut.from_domain(k) for k in keys])


@api_route(
    bp, "/orgaos/{orgao_id}/chaves/{chave_id}/revogacao", "POST", summary="Revoga uma chave pública do órgão",
    tag=TAG, access=Scope.ADMIN, response=ChaveOut, errors=(400, 404),
)  # fmt: skip
def revoke_key(caller: Caller, orgao_id: str, chave_id: str) -> ChaveOut:
    """A chave deixa de valer para novas assinaturas. Repetir a revogação não muda nada."""
    return ChaveOut.from_domain(services().agency_keys.revoke(_own_agency(caller, orgao_id), chave_id[:64]))


@api_route(
    bp, "/orgaos/{orgao_id}/publicacao", "GET", summary="Publicação de processos restritos", tag=TAG,
    access=Scope.ADMIN, response=PublicacaoOut, errors=(400, 404),
)  # fmt: skip
def get_publication(caller: Caller, orgao_id: str) -> PublicacaoOut:
    """Se o órgão publica na consulta pública os seus processos restritos (só NUP, órgão e andamentos)."""
    agency_id = _own_agency(caller, orgao_id)
    return PublicacaoOut(publicarRestritos=services().tracking.publishes_restricted(agency_id))


@api_route(
    bp, "/orgaos/{orgao_id}/publicacao", "PUT", summary="Define a publicação de processos restritos", tag=TAG,
    access=Scope.ADMIN, body=PublicacaoIn, response=PublicacaoOut, errors=(400, 404),
)  # fmt: skip
def set_publication(caller: Caller, orgao_id: str, body: PublicacaoIn) -> PublicacaoOut:
    """Vale a partir do próximo andamento de cada processo: assunto, interessados e documentos de
    processos restritos nunca são publicados."""
    agency_id = _own_agency(caller, orgao_id)
    return PublicacaoOut(
        publicarRestritos=services().tracking.set_publishes_restricted(agency_id, body.publicarRestritos)
    )
