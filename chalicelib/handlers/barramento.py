"""The bus for agency systems (scope `barramento`): send a process, confirm its components (custody and
recibo de envio), list pendências, read a trâmite. Component bytes never pass through these handlers:
they go straight to the content store through the presigned requests the send answers with."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.bus import (
    CustodiaOut,
    EnvioOut,
    ManifestoIn,
    PendenciaOut,
    PendenciasOut,
    PendenciasQuery,
    ReciboEnvioOut,
    TramiteDetalheOut,
    TramiteOut,
)
from chalicelib.bootstrap import services
from chalicelib.domain.bus import tramite_not_found
from chalicelib.domain.bus.addresses import BUS_ID_PATTERN
from chalicelib.domain.credentials import Caller, Scope
from chalicelib.handlers.routing import api_route

bp = Blueprint(__name__)
TAG = "Barramento"


def _idt(idt: str) -> str:
    if not BUS_ID_PATTERN.match(idt):
        raise tramite_not_found(idt[:64])
    return idt


@api_route(
    bp,
    "/barramento/tramites",
    "POST",
    summary="Envia um processo pelo barramento (inicia um trâmite)",
    tag=TAG,
    access=Scope.BARRAMENTO,
    body=ManifestoIn,
    response=EnvioOut,
    status=201,
    errors=(400, 403, 404, 409),
)
def send_tramite(caller: Caller, body: ManifestoIn) -> EnvioOut:
    """O barramento confere os endereços no repositório de estruturas e o manifesto (regras nacionais de
    pré-envio), atribui o IDT (e o NRE no primeiro envio do processo) e responde com os componentes que
    ainda não tem, cada um com um envio pré-assinado que só aceita os bytes do SHA-256 declarado. Estado 1."""
    sent = services().bus.send(caller, body.to_domain(), body.declaration())
    return EnvioOut.from_domain(sent)


@api_route(
    bp,
    "/barramento/tramites/{idt}/componentes/confirmacao",
    "POST",
    summary="Confirma o envio dos componentes digitais (custódia e recibo de envio)",
    tag=TAG,
    access=Scope.BARRAMENTO,
    response=CustodiaOut,
    errors=(403, 404, 409),
)
def confirm_components(caller: Caller, idt: str) -> CustodiaOut:
    """Confere cada componente (tamanho e SHA-256). Todos presentes e íntegros: estado 2 e recibo de envio
    carimbado pela chave da plataforma (confira com /publico/chaves). Faltando ou corrompidos: 409 com a
    lista (os corrompidos são descartados, para novo envio)."""
    tramite, receipt = services().bus.confirm_components(caller, _idt(idt))
    return CustodiaOut(
        tramite=TramiteOut.from_domain(tramite), reciboEnvio=ReciboEnvioOut.from_domain(receipt)
    )


@api_route(
    bp,
    "/barramento/pendencias",
    "GET",
    summary="Pendências do órgão no barramento",
    tag=TAG,
    access=Scope.BARRAMENTO,
    query=PendenciasQuery,
    response=PendenciasOut,
    errors=(400,),
)
def pendencies(caller: Caller, query: PendenciasQuery) -> PendenciasOut:
    """Como destinatário: trâmites nos estados 2 a 4; como remetente: recibos (5) e recusas (8) a tratar."""
    page = services().bus.pendencies(caller, query.cursor, query.limite)
    return PendenciasOut(itens=[PendenciaOut.from_domain(p) for p in page.items], cursor=page.cursor)


@api_route(
    bp,
    "/barramento/tramites/{idt}",
    "GET",
    summary="Um trâmite, com o manifesto",
    tag=TAG,
    access=Scope.BARRAMENTO,
    response=TramiteDetalheOut,
    errors=(404, 409),
)
def get_tramite(caller: Caller, idt: str) -> TramiteDetalheOut:
    """Só as partes o veem. A primeira leitura do destinatário no estado 2 registra os metadados recebidos
    (estado 3)."""
    return TramiteDetalheOut.from_domain(services().bus.get(caller, _idt(idt)))
