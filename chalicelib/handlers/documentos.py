"""Documents of a process (scope `processos`): internal ones written through the API, external ones
uploaded straight to S3 with presigned requests and confirmed here. Writes name the person in
X-Usuario; document bytes never pass through these handlers (only internal HTML, in the JSON body)."""

from __future__ import annotations

from typing import Annotated

from chalice import Blueprint
from pydantic import Field

from chalicelib.api.documents import (
    CancelIn,
    DocumentListOut,
    DocumentListQuery,
    DocumentOut,
    DownloadOut,
    ExternalDocumentIn,
    InternalDocumentIn,
    InternalEditIn,
    PartsDoneOut,
    UploadOut,
)
from chalicelib.api.processes import masked, nup_digits
from chalicelib.api.validation import parse_path
from chalicelib.bootstrap import services
from chalicelib.domain.credentials import Caller, Scope
from chalicelib.domain.documents import Document
from chalicelib.handlers.routing import api_route
from chalicelib.services.processes import Actor

bp = Blueprint(__name__)
TAG = "Documentos"
WRITE_ERRORS = (400, 404, 409, 422)
Order = Annotated[int, Field(ge=1, le=999_999)]
UploadId = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]


def _order(ordem: str) -> int:
    return int(parse_path("ordem", ordem, Order))


def _upload_id(envio_id: str) -> str:
    return str(parse_path("envio_id", envio_id, UploadId))


@api_route(
    bp,
    "/processos/{nup}/documentos",
    "GET",
    summary="Documentos do processo",
    tag=TAG,
    access=Scope.PROCESSOS,
    query=DocumentListQuery,
    response=DocumentListOut,
    errors=(400, 404),
)
def list_documents(caller: Caller, nup: str, query: DocumentListQuery) -> DocumentListOut:
    """Na ordem da árvore (1..n, que nunca muda), os cancelados inclusive. Uma única leitura do processo."""
    process = services().documents.listing(caller.agency_id, nup_digits(nup, "nup"))
    start = int(query.cursor) if query.cursor else 1
    remaining = [d for d in process.documents if d.order >= start]
    page, rest = remaining[: query.limite], remaining[query.limite :]
    return DocumentListOut(
        processo=masked(process.nup),
        nivelAcessoEfetivo=int(process.effective_access_level),
        itens=[_out(d) for d in page],
        cursor=str(rest[0].order) if rest else None,
    )


@api_route(
    bp,
    "/processos/{nup}/documentos/{ordem}",
    "GET",
    summary="Um documento do processo",
    tag=TAG,
    access=Scope.PROCESSOS,
    response=DocumentOut,
    errors=(400, 404),
)
def get_document(caller: Caller, nup: str, ordem: str) -> DocumentOut:
    return _out(services().documents.get(caller.agency_id, nup_digits(nup, "nup"), _order(ordem)))


@api_route(
    bp,
    "/processos/{nup}/documentos/internos",
    "POST",
    summary="Gera um documento interno (HTML)",
    tag=TAG,
    access=Scope.PROCESSOS,
    body=InternalDocumentIn,
    response=DocumentOut,
    status=201,
    errors=WRITE_ERRORS,
    person=True,
)
def create_internal_document(actor: Actor, caller: Caller, nup: str, body: InternalDocumentIn) -> DocumentOut:
    """O HTML é limpo (lista de marcações aceitas na descrição de `conteudo`) e guardado pelo seu SHA-256;
    o documento recebe o número seguinte da espécie na unidade e no ano. Editável até a primeira
    assinatura."""
    document = services().documents.create_internal(
        actor, nup_digits(nup, "nup"), body.to_input(), body.conteudo
    )
    return _out(document)


@api_route(
    bp,
    "/processos/{nup}/documentos/{ordem}",
    "PATCH",
    summary="Altera o conteúdo de um documento interno",
    tag=TAG,
    access=Scope.PROCESSOS,
    body=InternalEditIn,
    response=DocumentOut,
    errors=WRITE_ERRORS,
    person=True,
)
def edit_internal_document(
    actor: Actor, caller: Caller, nup: str, ordem: str, body: InternalEditIn
) -> DocumentOut:
    """Só documentos internos, não assinados e não cancelados; envie a `versao` lida (409 se mudou)."""
    document = services().documents.edit_internal(
        actor,
        nup_digits(nup, "nup"),
        _order(ordem),
        unit_id=body.unidade,
        html=body.conteudo,
        expected_version=body.versao,
    )
    return _out(document)


@api_route(
    bp,
    "/processos/{nup}/documentos/externos",
    "POST",
    summary="Pede o envio de um documento externo (arquivo)",
    tag=TAG,
    access=Scope.PROCESSOS,
    body=ExternalDocumentIn,
    response=UploadOut,
    status=201,
    errors=(400, 404, 409, 413, 415, 422),
    person=True,
)
def start_external_upload(actor: Actor, caller: Caller, nup: str, body: ExternalDocumentIn) -> UploadOut:
    """Declare o SHA-256 (base64), o tamanho e o tipo do arquivo. A resposta traz um PUT pré-assinado
    (até 100 MiB) ou um PUT por parte (acima disso): o S3 recusa bytes que não conferem com o SHA-256.
    Se os mesmos bytes já estão armazenados, `jaArmazenado` é true e nada precisa ser enviado. Depois,
    confirme: o documento só passa a existir na confirmação. Acima do tamanho máximo do órgão: 413;
    tipo não aceito pelo órgão: 415."""
    ticket = services().documents.start_upload(
        actor, nup_digits(nup, "nup"), body.to_input(), body.to_declaration()
    )
    return UploadOut.from_domain(ticket)


@api_route(
    bp,
    "/processos/{nup}/documentos/externos/{envio_id}/partes/conclusao",
    "POST",
    summary="Conclui um envio em partes",
    tag=TAG,
    access=Scope.PROCESSOS,
    response=PartsDoneOut,
    errors=WRITE_ERRORS,
    person=True,
)
def complete_upload_parts(actor: Actor, caller: Caller, nup: str, envio_id: str) -> PartsDoneOut:
    """Junta as partes enviadas (cada uma conferida pelo S3 contra o SHA-256 declarado). Depois, confirme."""
    upload = services().documents.complete_parts(actor, nup_digits(nup, "nup"), _upload_id(envio_id))
    return PartsDoneOut.from_domain(upload)


@api_route(
    bp,
    "/processos/{nup}/documentos/externos/{envio_id}/confirmacao",
    "POST",
    summary="Confirma o envio e cria o documento externo",
    tag=TAG,
    access=Scope.PROCESSOS,
    response=DocumentOut,
    status=201,
    errors=WRITE_ERRORS,
    person=True,
)
def confirm_external_upload(actor: Actor, caller: Caller, nup: str, envio_id: str) -> DocumentOut:
    """Confere o arquivo armazenado contra a declaração (tamanho, SHA-256 e o tipo reconhecido pelos
    primeiros bytes) e só então cria o documento. Divergência: 409 `conteudo-divergente`, com o campo
    que não confere, e nada muda no processo. Arquivo ainda não enviado: 409."""
    document = services().documents.confirm(actor, nup_digits(nup, "nup"), _upload_id(envio_id))
    return _out(document)


@api_route(
    bp,
    "/processos/{nup}/documentos/{ordem}/download",
    "GET",
    summary="Endereço de download do conteúdo",
    tag=TAG,
    access=Scope.PROCESSOS,
    response=DownloadOut,
    errors=(400, 404, 410),
)
def download_document(caller: Caller, nup: str, ordem: str) -> DownloadOut:
    """Um GET pré-assinado, válido por poucos minutos, com o nome do arquivo (Content-Disposition).
    Documento cancelado: 410."""
    download = services().documents.download(caller.agency_id, nup_digits(nup, "nup"), _order(ordem))
    return DownloadOut.from_domain(download)


@api_route(
    bp,
    "/processos/{nup}/documentos/{ordem}/cancelamento",
    "POST",
    summary="Cancela um documento",
    tag=TAG,
    access=Scope.PROCESSOS,
    body=CancelIn,
    response=DocumentOut,
    errors=WRITE_ERRORS,
    person=True,
)
def cancel_document(actor: Actor, caller: Caller, nup: str, ordem: str, body: CancelIn) -> DocumentOut:
    """O documento continua na árvore, marcado como cancelado com o motivo; o conteúdo deixa de ser
    servido e o nível de acesso do processo deixa de contar com ele."""
    document = services().documents.cancel(
        actor, nup_digits(nup, "nup"), _order(ordem), body.unidade, body.motivo
    )
    return _out(document)


def _out(document: Document) -> DocumentOut:
    """The document as the API shows it, with the site's authenticity page for people to check it."""
    return DocumentOut.from_domain(document, services().site_links)
