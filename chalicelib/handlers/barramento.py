"""The bus for agency systems (scope `barramento`): the whole life of a trâmite, sender and receiver.
Component bytes never pass through these handlers: they go straight to and from the content store
through the presigned requests the send and the downloads answer with."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.bus import (
    ComponentePedidoOut,
    ComponenteQuery,
    ComponentesPendentesOut,
    CustodiaOut,
    DeclaracaoReciboOut,
    DownloadOut,
    EnvioOut,
    ManifestoIn,
    PendenciaOut,
    PendenciasOut,
    PendenciasQuery,
    ReciboEnvioOut,
    ReciboIn,
    RecusaIn,
    TramiteDetalheOut,
    TramiteOut,
    TramiteReciboOut,
    TramiteSimplesOut,
    TramitesOut,
    TramitesQuery,
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
    pré-envio), atribui um IDT por destinatário (e o NRE no primeiro envio do processo) e responde com os
    componentes que ainda não tem, cada um com um envio pré-assinado que só aceita os bytes do SHA-256
    declarado. Estado 1."""
    sent = services().bus.send(caller, body.to_domain(), body.receivers())
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
    """Como destinatário: trâmites nos estados 2 a 4; como remetente: recibos (5) e recusas (8) a tratar.
    Com `espera`, sem pendências, a resposta aguarda até esse número de segundos por uma nova."""
    page = services().bus.pendencies(caller, query.cursor, query.limite, query.espera)
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


@api_route(
    bp,
    "/barramento/tramites",
    "GET",
    summary="Trâmites de um IDT, NRE ou NUP, com o histórico de estados",
    tag=TAG,
    access=Scope.BARRAMENTO,
    query=TramitesQuery,
    response=TramitesOut,
    errors=(400,),
)
def find_tramites(caller: Caller, query: TramitesQuery) -> TramitesOut:
    """Informe um só filtro. Cada trâmite traz todas as mudanças de estado: quando, qual órgão e qual
    sistema cliente. Só aparecem os trâmites de que o seu órgão é parte."""
    page = services().bus.find(
        caller, idt=query.idt, nre=query.nre, nup=query.nup, cursor=query.cursor, limit=query.limite
    )
    return TramitesOut(itens=[TramiteOut.from_domain(t) for t in page.items], cursor=page.cursor)


@api_route(
    bp,
    "/barramento/tramites/{idt}/componentes",
    "GET",
    summary="Baixa um componente digital (download pré-assinado)",
    tag=TAG,
    access=Scope.BARRAMENTO,
    query=ComponenteQuery,
    response=DownloadOut,
    errors=(400, 404, 409),
)
def download_component(caller: Caller, idt: str, query: ComponenteQuery) -> DownloadOut:
    """Responde com um GET pré-assinado do componente. Os downloads do destinatário são registrados no
    estado 3; o último componente leva o trâmite ao estado 4 (componentes recebidos)."""
    return DownloadOut.from_domain(services().bus.download(caller, _idt(idt), query.sha256))


@api_route(
    bp,
    "/barramento/tramites/{idt}/recibo/declaracao",
    "GET",
    summary="O que o destinatário assina para pôr a sua assinatura no recibo",
    tag=TAG,
    access=Scope.BARRAMENTO,
    response=DeclaracaoReciboOut,
    errors=(403, 404),
)
def receipt_statement(caller: Caller, idt: str) -> DeclaracaoReciboOut:
    """IDT, NRE, remetente, destinatário e os SHA-256 dos componentes, em JSON canônico (RFC 8785). Assine
    os bytes de `registro` (SHA-256) com uma chave registrada em /orgaos/{orgaoId}/chaves e envie a
    assinatura no POST do recibo."""
    return DeclaracaoReciboOut.from_bytes(services().bus.statement(caller, _idt(idt)))


@api_route(
    bp,
    "/barramento/tramites/{idt}/recibo",
    "POST",
    summary="Envia o recibo de conclusão (destinatário)",
    tag=TAG,
    access=Scope.BARRAMENTO,
    body=ReciboIn,
    body_required=False,
    response=TramiteReciboOut,
    status=201,
    errors=(400, 403, 404, 409),
)
def send_receipt(caller: Caller, idt: str, body: ReciboIn) -> TramiteReciboOut:
    """Do estado 4: o barramento monta o recibo (IDT, NRE, data, remetente, destinatário e os SHA-256 dos
    componentes, em ordem; com `assinatura`, também a do destinatário, conferida com a chave registrada),
    carimba-o com a chave da plataforma sobre o JSON canônico (RFC 8785) e leva o trâmite ao estado 5. Um
    recibo e uma recusa simultâneos: só um vence, o outro recebe 409."""
    return TramiteReciboOut.from_domain(services().bus.conclude(caller, _idt(idt), body.signature()))


@api_route(
    bp,
    "/barramento/tramites/{idt}/recibo",
    "GET",
    summary="Obtém o recibo de conclusão",
    tag=TAG,
    access=Scope.BARRAMENTO,
    response=TramiteReciboOut,
    errors=(404, 409),
)
def get_receipt(caller: Caller, idt: str) -> TramiteReciboOut:
    """A primeira leitura do remetente leva o trâmite ao estado 6 (processo entregue). Confira o carimbo
    com a chave de /publico/chaves."""
    return TramiteReciboOut.from_domain(services().bus.receipt(caller, _idt(idt)))


@api_route(
    bp,
    "/barramento/tramites/{idt}/recusa",
    "POST",
    summary="Recusa o trâmite (destinatário)",
    tag=TAG,
    access=Scope.BARRAMENTO,
    body=RecusaIn,
    response=TramiteSimplesOut,
    errors=(400, 403, 404, 409),
)
def refuse_tramite(caller: Caller, idt: str, body: RecusaIn) -> TramiteSimplesOut:
    """Dos estados 2, 3 ou 4, com o motivo (01, 02, 03, 04 ou 99) e a justificativa (até 1000
    caracteres; obrigatória no 99). Estado 8: o remetente dá ciência."""
    tramite = services().bus.refuse(caller, _idt(idt), body.to_domain())
    return TramiteSimplesOut(tramite=TramiteOut.from_domain(tramite))


@api_route(
    bp,
    "/barramento/tramites/{idt}/ciencia",
    "POST",
    summary="Dá ciência da recusa (remetente)",
    tag=TAG,
    access=Scope.BARRAMENTO,
    response=TramiteSimplesOut,
    errors=(403, 404, 409),
)
def acknowledge_refusal(caller: Caller, idt: str) -> TramiteSimplesOut:
    """Do estado 8 ao 9: o processo volta a ficar livre no remetente."""
    tramite = services().bus.acknowledge_refusal(caller, _idt(idt))
    return TramiteSimplesOut(tramite=TramiteOut.from_domain(tramite))


@api_route(
    bp,
    "/barramento/tramites/{idt}",
    "DELETE",
    summary="Cancela o trâmite (remetente)",
    tag=TAG,
    access=Scope.BARRAMENTO,
    response=TramiteSimplesOut,
    errors=(403, 404, 409),
)
def cancel_tramite(caller: Caller, idt: str) -> TramiteSimplesOut:
    """Dos estados 1 a 4 ao 7: o processo volta a ficar livre no remetente. Depois do recibo (5 e 6), 409."""
    tramite = services().bus.cancel(caller, _idt(idt))
    return TramiteSimplesOut(tramite=TramiteOut.from_domain(tramite))


@api_route(
    bp,
    "/barramento/tramites/{idt}/componentes/pendentes",
    "GET",
    summary="Novos envios para os componentes que ainda faltam (remetente)",
    tag=TAG,
    access=Scope.BARRAMENTO,
    response=ComponentesPendentesOut,
    errors=(403, 404, 409),
)
def pending_uploads(caller: Caller, idt: str) -> ComponentesPendentesOut:
    """No estado 1: envios pré-assinados novos para o que o barramento ainda não tem — depois que os
    primeiros expiraram, ou que a confirmação descartou um arquivo corrompido. Vazio quando já tem tudo."""
    uploads = services().bus.uploads(caller, _idt(idt))
    return ComponentesPendentesOut(componentesPendentes=[ComponentePedidoOut.from_domain(u) for u in uploads])
