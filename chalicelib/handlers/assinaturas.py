"""Electronic signatures: a person signs a document (scope `processos`, X-Usuario), and two public
routes, with no credential, that let anyone check a signed document and verify its stamps offline."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.documents import DocumentOut, DownloadOut, SignIn
from chalicelib.api.processes import nup_digits
from chalicelib.api.signatures import AuthenticityOut, AuthenticityQuery, PublicKeysOut
from chalicelib.api.validation import parse_path
from chalicelib.bootstrap import services
from chalicelib.domain.credentials import Caller, Scope
from chalicelib.handlers.documentos import Order
from chalicelib.handlers.routing import api_route
from chalicelib.services.processes import Actor

bp = Blueprint(__name__)
# The keys change only when the platform rotates its key (the old one stays listed while its stamps
# are still to be verified): an hour of caching anywhere is harmless. An authenticity answer follows
# the document (new signatures, cancellation, access level) and names it by a code meant for whoever
# holds the document: no shared cache may keep it.
KEYS_CACHE = "public, max-age=3600"
AUTHENTICITY_CACHE = "no-store"


@api_route(
    bp,
    "/processos/{nup}/documentos/{ordem}/assinaturas",
    "POST",
    summary="Assina um documento",
    tag="Documentos",
    access=Scope.PROCESSOS,
    body=SignIn,
    response=DocumentOut,
    status=201,
    errors=(400, 404, 409, 422),
    person=True,
)
def sign_document(actor: Actor, caller: Caller, nup: str, ordem: str, body: SignIn) -> DocumentOut:
    """A pessoa do X-Usuario assina com nome e cargo. O registro da assinatura (documento, SHA-256 do
    conteúdo, signatário, cargo, data, órgão e unidade) é carimbado pela chave da plataforma (ECDSA P-256
    com SHA-256) sobre seu JSON canônico (RFC 8785). Várias pessoas podem assinar; cada uma, uma vez. Da
    primeira assinatura em diante o conteúdo não muda mais, e o documento ganha código verificador e
    CRC (`autenticacao`) para a consulta pública. O processo precisa estar aberto na unidade; documento
    cancelado: 409."""
    document = services().signatures.sign(
        actor, nup_digits(nup, "nup"), int(parse_path("ordem", ordem, Order)), body.to_request()
    )
    return DocumentOut.from_domain(document, services().site_links)


@api_route(
    bp,
    "/publico/documentos/autenticidade",
    "GET",
    summary="Confere a autenticidade de um documento assinado",
    tag="Público",
    access=None,
    query=AuthenticityQuery,
    response=AuthenticityOut,
    errors=(400, 404),
    cache_control=AUTHENTICITY_CACHE,
)
def document_authenticity(query: AuthenticityQuery) -> AuthenticityOut:
    """Pelo código verificador e pelo CRC impressos no documento: quem assinou, com que cargo e quando,
    o SHA-256 do conteúdo e o carimbo de cada assinatura. O processo (NUP) e o documento (espécie e
    número) só aparecem quando ambos são públicos; de documentos ou processos restritos ou sigilosos a
    resposta traz apenas as assinaturas, o SHA-256 e os carimbos. Para conferir um carimbo sem depender
    desta API: grave os bytes de `registroBase64` (registro.json) e de `carimbo.assinatura`
    (assinatura.der), ambos decodificados do base64, pegue em /publico/chaves o PEM da chave
    `carimbo.chave` (chave.pem) e rode
    `openssl dgst -sha256 -verify chave.pem -signature assinatura.der registro.json`."""
    found = services().signatures.authenticity(query.codigo, query.crc.upper())
    return AuthenticityOut.from_domain(found)


@api_route(
    bp,
    "/publico/documentos/conteudo",
    "GET",
    summary="Endereço de download do conteúdo de um documento público",
    tag="Público",
    access=None,
    query=AuthenticityQuery,
    response=DownloadOut,
    errors=(400, 404, 410),
    cache_control="no-store",
)
def public_document_content(query: AuthenticityQuery) -> DownloadOut:
    """Pelo código verificador e pelo CRC: um GET pré-assinado, válido por poucos minutos, do conteúdo,
    só quando o documento e o seu processo são públicos (senão, 404 que diz por quê). Documento
    cancelado: 410. A consulta de autenticidade traz este endereço em `conteudo` quando ele vale."""
    return DownloadOut.from_domain(services().signatures.public_content(query.codigo, query.crc.upper()))


@api_route(
    bp,
    "/publico/chaves",
    "GET",
    summary="Chaves públicas que conferem os carimbos da plataforma",
    tag="Público",
    access=None,
    response=PublicKeysOut,
    errors=(),
    cache_control=KEYS_CACHE,
)
def public_keys() -> PublicKeysOut:
    """Cada chave em PEM (SubjectPublicKeyInfo), com o identificador que os carimbos trazem em `chave`.
    Confira com `openssl dgst -sha256 -verify chave.pem -signature assinatura.der registro.json`."""
    return PublicKeysOut.from_domain(services().signatures.public_keys())
