"""Processes of an agency hosted by us (scope `processos`). Writes name the person in X-Usuario."""

from __future__ import annotations

from datetime import date

from chalice import Blueprint

from chalicelib.api.bus import EnvioProcessoIn, TramiteOut, TramitesEnviadosOut
from chalicelib.api.models import StructureId
from chalicelib.api.processes import (
    ChainCheckOut,
    HistoryEntryOut,
    HistoryOut,
    InboxItemOut,
    InboxOut,
    MergeIn,
    PageQuery,
    ProcessCreateIn,
    ProcessOut,
    ProcessUpdateIn,
    RelateIn,
    SendIn,
    SuspendIn,
    UnitIn,
    nup_digits,
)
from chalicelib.api.validation import parse_path
from chalicelib.bootstrap import services
from chalicelib.domain.credentials import Caller, Scope
from chalicelib.domain.processes import Process
from chalicelib.handlers.routing import api_route
from chalicelib.services.processes import BRASILIA, Actor

bp = Blueprint(__name__)
TAG = "Processos"
WRITE_ERRORS = (400, 404, 409, 422)


def _today() -> date:
    return services().clock.now().astimezone(BRASILIA).date()


def _out(process: Process) -> ProcessOut:
    return ProcessOut.from_domain(process, _today())


@api_route(
    bp,
    "/processos",
    "POST",
    summary="Autua um processo",
    tag=TAG,
    access=Scope.PROCESSOS,
    body=ProcessCreateIn,
    response=ProcessOut,
    status=201,
    errors=WRITE_ERRORS,
    person=True,
)
def create_process(actor: Actor, caller: Caller, body: ProcessCreateIn) -> ProcessOut:
    """O NUP sai da sequência da unidade protocolizadora da unidade, no ano corrente."""
    return _out(services().processes.create(actor, body.unidade, body.to_domain()))


@api_route(
    bp,
    "/processos/{nup}",
    "GET",
    summary="Um processo",
    tag=TAG,
    access=Scope.PROCESSOS,
    response=ProcessOut,
    errors=(400, 404),
)
def get_process(caller: Caller, nup: str) -> ProcessOut:
    """O NUP vai no caminho só com dígitos. Processo de outro órgão responde 404."""
    return _out(services().processes.get(caller.agency_id, nup_digits(nup, "nup")))


@api_route(
    bp,
    "/processos/{nup}",
    "PATCH",
    summary="Altera os dados do processo",
    tag=TAG,
    access=Scope.PROCESSOS,
    body=ProcessUpdateIn,
    response=ProcessOut,
    errors=WRITE_ERRORS,
    person=True,
)
def update_process(actor: Actor, caller: Caller, nup: str, body: ProcessUpdateIn) -> ProcessOut:
    """Envie a `versao` lida: se outra pessoa alterou o processo antes, a resposta é 409."""
    processes = services().processes
    return _out(processes.update(actor, nup_digits(nup, "nup"), body.unidade, body.to_domain(), body.versao))


@api_route(
    bp,
    "/unidades/{unidade_id}/processos",
    "GET",
    summary="Processos abertos na unidade",
    tag=TAG,
    access=Scope.PROCESSOS,
    query=PageQuery,
    response=InboxOut,
    errors=(400, 404),
)
def inbox(caller: Caller, unidade_id: str, query: PageQuery) -> InboxOut:
    """Os recebidos mais recentemente primeiro; `atrasado` quando o retorno programado passou."""
    unit = str(parse_path("unidade_id", unidade_id, StructureId))
    page = services().processes.inbox(caller.agency_id, unit, query.cursor, query.limite)
    today = _today()
    return InboxOut(itens=[InboxItemOut.from_domain(i, today) for i in page.items], cursor=page.cursor)


@api_route(
    bp,
    "/processos/{nup}/envios",
    "POST",
    summary="Envia o processo a outras unidades do órgão",
    tag=TAG,
    access=Scope.PROCESSOS,
    body=SendIn,
    response=ProcessOut,
    errors=WRITE_ERRORS,
    person=True,
)
def send_process(actor: Actor, caller: Caller, nup: str, body: SendIn) -> ProcessOut:
    """Com `manterAberto`, o processo continua aberto na origem; `retornoProgramado` marca o prazo."""
    return _out(
        services().processes.send(
            actor,
            nup_digits(nup, "nup"),
            from_unit=body.unidadeOrigem,
            to_units=body.unidadesDestino,
            keep_open=body.manterAberto,
            return_by=body.retornoProgramado,
        )
    )


@api_route(
    bp,
    "/processos/{nup}/conclusao",
    "POST",
    summary="Conclui o processo na unidade",
    tag=TAG,
    access=Scope.PROCESSOS,
    body=UnitIn,
    response=ProcessOut,
    errors=WRITE_ERRORS,
    person=True,
)
def conclude_process(actor: Actor, caller: Caller, nup: str, body: UnitIn) -> ProcessOut:
    return _out(services().processes.conclude(actor, nup_digits(nup, "nup"), body.unidade))


@api_route(
    bp,
    "/processos/{nup}/reabertura",
    "POST",
    summary="Reabre o processo na unidade",
    tag=TAG,
    access=Scope.PROCESSOS,
    body=UnitIn,
    response=ProcessOut,
    errors=WRITE_ERRORS,
    person=True,
)
def reopen_process(actor: Actor, caller: Caller, nup: str, body: UnitIn) -> ProcessOut:
    return _out(services().processes.reopen(actor, nup_digits(nup, "nup"), body.unidade))


@api_route(
    bp,
    "/processos/{nup}/relacionamentos",
    "POST",
    summary="Relaciona dois processos",
    tag=TAG,
    access=Scope.PROCESSOS,
    body=RelateIn,
    response=ProcessOut,
    errors=WRITE_ERRORS,
    person=True,
)
def relate_processes(actor: Actor, caller: Caller, nup: str, body: RelateIn) -> ProcessOut:
    """Os dois processos passam a mostrar o relacionamento, cada um no seu histórico."""
    other = nup_digits(body.processo, "processo")
    return _out(services().processes.relate(actor, nup_digits(nup, "nup"), other, body.unidade))


@api_route(
    bp,
    "/processos/{nup}/sobrestamento",
    "POST",
    summary="Sobrestá o processo",
    tag=TAG,
    access=Scope.PROCESSOS,
    body=SuspendIn,
    response=ProcessOut,
    errors=WRITE_ERRORS,
    person=True,
)
def suspend_process(actor: Actor, caller: Caller, nup: str, body: SuspendIn) -> ProcessOut:
    return _out(services().processes.suspend(actor, nup_digits(nup, "nup"), body.unidade, body.motivo))


@api_route(
    bp,
    "/processos/{nup}/retomada",
    "POST",
    summary="Retoma um processo sobrestado",
    tag=TAG,
    access=Scope.PROCESSOS,
    body=UnitIn,
    response=ProcessOut,
    errors=WRITE_ERRORS,
    person=True,
)
def resume_process(actor: Actor, caller: Caller, nup: str, body: UnitIn) -> ProcessOut:
    return _out(services().processes.resume(actor, nup_digits(nup, "nup"), body.unidade))


@api_route(
    bp,
    "/processos/{nup}/anexacao",
    "POST",
    summary="Anexa o processo a outro",
    tag=TAG,
    access=Scope.PROCESSOS,
    body=MergeIn,
    response=ProcessOut,
    errors=WRITE_ERRORS,
    person=True,
)
def merge_process(actor: Actor, caller: Caller, nup: str, body: MergeIn) -> ProcessOut:
    """O processo do caminho passa a fazer parte do `principal` e não aceita mais alterações."""
    principal = nup_digits(body.principal, "principal")
    return _out(services().processes.merge(actor, nup_digits(nup, "nup"), principal, body.unidade))


@api_route(
    bp,
    "/processos/{nup}/historico",
    "GET",
    summary="Histórico verificável do processo",
    tag=TAG,
    access=Scope.PROCESSOS,
    query=PageQuery,
    response=HistoryOut,
    errors=(400, 404),
)
def process_history(caller: Caller, nup: str, query: PageQuery) -> HistoryOut:
    """Cada entrada traz o hash da anterior; `verificacao` confere a cadeia inteira até o processo."""
    page, check = services().processes.history(
        caller.agency_id, nup_digits(nup, "nup"), query.cursor, query.limite
    )
    return HistoryOut(
        itens=[HistoryEntryOut.from_domain(e) for e in page.items],
        cursor=page.cursor,
        verificacao=ChainCheckOut.from_domain(check),
    )


@api_route(
    bp,
    "/processos/{nup}/tramites",
    "POST",
    summary="Envia o processo a outro(s) órgão(s) pelo barramento",
    tag=TAG,
    access=Scope.PROCESSOS,
    body=EnvioProcessoIn,
    response=TramitesEnviadosOut,
    status=201,
    errors=(400, 403, 404, 409),
    person=True,
)
def send_process_through_bus(
    actor: Actor, caller: Caller, nup: str, body: EnvioProcessoIn
) -> TramitesEnviadosOut:
    """Para órgãos hospedados nesta plataforma. O barramento confere o processo pelas regras nacionais
    (interessado, nível de acesso, documentos assinados), abre um trâmite por destinatário (estado 2: os
    arquivos já estão no barramento) e bloqueia o processo até o recibo, a recusa ou o cancelamento."""
    tramites = services().hosted.send(
        actor,
        nup_digits(nup, "nup"),
        body.unidade,
        body.receivers(),
        urgent=body.urgente,
        urgency_reason=body.motivoUrgencia,
    )
    return TramitesEnviadosOut(tramites=[TramiteOut.from_domain(t) for t in tramites])
