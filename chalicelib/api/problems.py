"""RFC 9457 problem details: the catalogue of problem types the API can answer with.

Every error, whether our code, Chalice or API Gateway produced it, uses one of these types, so an
integrator can switch on `type` and show `detail` (pt-BR) to a person. The cloud template renders
GATEWAY_RESPONSES as API Gateway gateway responses; the local stack's gateway uses the same table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:pen:problema:"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    status: int
    title: str

    @property
    def uri(self) -> str:
        return TYPE_PREFIX + self.slug


INVALID_DATA = ProblemType("dados-invalidos", 400, "Dados inválidos")
MALFORMED_REQUEST = ProblemType("requisicao-malformada", 400, "Requisição malformada")
UNAUTHENTICATED = ProblemType("nao-autenticado", 401, "Credencial ausente ou inválida")
FORBIDDEN = ProblemType("sem-permissao", 403, "Sem permissão")
NOT_FOUND = ProblemType("nao-encontrado", 404, "Recurso não encontrado")
METHOD_NOT_ALLOWED = ProblemType("metodo-nao-permitido", 405, "Método não permitido")
CONFLICT = ProblemType("conflito", 409, "Conflito com o estado atual")
IN_PROGRESS = ProblemType("requisicao-em-andamento", 409, "Requisição em andamento")
TOO_LARGE = ProblemType("corpo-muito-grande", 413, "Corpo da requisição muito grande")
UNSUPPORTED_MEDIA = ProblemType("tipo-de-midia-nao-suportado", 415, "Tipo de mídia não suportado")
IDEMPOTENCY_MISMATCH = ProblemType(
    "chave-de-idempotencia-reutilizada", 422, "Chave de idempotência reutilizada"
)
THROTTLED = ProblemType("limite-de-requisicoes", 429, "Muitas requisições")
LIMIT_REACHED = ProblemType("limite-atingido", 429, "Limite atingido")  # a per-address quota, say
# Documents: a file over the agency's limit, a type it does not accept, stored bytes that differ from
# what was declared, content no longer served.
FILE_TOO_LARGE = ProblemType("arquivo-muito-grande", 413, "Arquivo maior que o limite do órgão")
FILE_TYPE_REFUSED = ProblemType("tipo-de-arquivo-nao-aceito", 415, "Tipo de arquivo não aceito pelo órgão")
CONTENT_MISMATCH = ProblemType("conteudo-divergente", 409, "Conteúdo diferente do declarado")
GONE = ProblemType("conteudo-indisponivel", 410, "Conteúdo não mais disponível")
# The links of the e-mails to citizens (confirmation of a subscription).
LINK_USED = ProblemType("link-ja-usado", 409, "Link já usado")
LINK_EXPIRED = ProblemType("link-expirado", 410, "Link expirado")
INTERNAL = ProblemType("erro-interno", 500, "Erro interno")
UNAVAILABLE = ProblemType("indisponivel", 503, "Serviço indisponível")
TIMEOUT = ProblemType("tempo-esgotado", 504, "Tempo esgotado")

ALL = (
    INVALID_DATA, MALFORMED_REQUEST, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, METHOD_NOT_ALLOWED, CONFLICT,
    IN_PROGRESS, TOO_LARGE, UNSUPPORTED_MEDIA, IDEMPOTENCY_MISMATCH, THROTTLED, INTERNAL, UNAVAILABLE,
    TIMEOUT, FILE_TOO_LARGE, FILE_TYPE_REFUSED, CONTENT_MISMATCH, GONE, LIMIT_REACHED,
    LINK_USED, LINK_EXPIRED,
)  # fmt: skip

MAX_BODY_BYTES = 1024 * 1024  # the API takes metadata only: files go to S3 through presigned URLs

DETAIL_UNAUTHENTICATED = (
    "Envie um token válido no cabeçalho 'Authorization: Bearer <token>'. "
    "O token pode estar ausente, malformado, expirado ou revogado."
)
DETAIL_FORBIDDEN = "O token informado não tem o escopo exigido por esta operação."
DETAIL_ROUTE_NOT_FOUND = "Não existe operação com este caminho e método nesta API. Consulte /openapi.json."
DETAIL_TOO_LARGE = f"O corpo da requisição excede o limite de {MAX_BODY_BYTES // 1024} KiB."
DETAIL_UNSUPPORTED_MEDIA = "Envie o corpo como JSON, com o cabeçalho 'Content-Type: application/json'."
DETAIL_MALFORMED_BODY = "O corpo da requisição não é um JSON válido."
DETAIL_THROTTLED = "Limite de requisições excedido. Aguarde alguns segundos e tente novamente."
DETAIL_INTERNAL = "Ocorreu um erro inesperado. Informe o X-Correlation-Id ao suporte da plataforma."
DETAIL_TIMEOUT = (
    "A operação demorou mais que o permitido. Tente novamente; repita com a mesma Idempotency-Key."
)

# API Gateway response type -> (problem type, detail). MISSING_AUTHENTICATION_TOKEN is what API
# Gateway answers for an unknown path or method; we say 404 there, as a person would expect.
GATEWAY_RESPONSES: dict[str, tuple[ProblemType, str]] = {
    "UNAUTHORIZED": (UNAUTHENTICATED, DETAIL_UNAUTHENTICATED),
    "ACCESS_DENIED": (FORBIDDEN, DETAIL_FORBIDDEN),
    "MISSING_AUTHENTICATION_TOKEN": (NOT_FOUND, DETAIL_ROUTE_NOT_FOUND),
    "RESOURCE_NOT_FOUND": (NOT_FOUND, DETAIL_ROUTE_NOT_FOUND),
    "REQUEST_TOO_LARGE": (TOO_LARGE, DETAIL_TOO_LARGE),
    "UNSUPPORTED_MEDIA_TYPE": (UNSUPPORTED_MEDIA, DETAIL_UNSUPPORTED_MEDIA),
    "BAD_REQUEST_BODY": (MALFORMED_REQUEST, DETAIL_MALFORMED_BODY),
    "BAD_REQUEST_PARAMETERS": (MALFORMED_REQUEST, "Parâmetros da requisição inválidos."),
    "THROTTLED": (THROTTLED, DETAIL_THROTTLED),
    "QUOTA_EXCEEDED": (THROTTLED, DETAIL_THROTTLED),
    "INTEGRATION_TIMEOUT": (TIMEOUT, DETAIL_TIMEOUT),
    "AUTHORIZER_FAILURE": (INTERNAL, DETAIL_INTERNAL),
    "AUTHORIZER_CONFIGURATION_ERROR": (INTERNAL, DETAIL_INTERNAL),
    # WAF's managed rules (exploit patterns): not a 403, which CloudFront would show as its page for a
    # missing file (infra/site_hosting.py); the follow form's rate rule answers its own 429 (infra/edge.py).
    "WAF_FILTERED": (MALFORMED_REQUEST, "A requisição foi recusada pelas regras de proteção da plataforma."),
    "DEFAULT_4XX": (MALFORMED_REQUEST, "A requisição não pôde ser processada."),
    "DEFAULT_5XX": (INTERNAL, DETAIL_INTERNAL),
}


def problem(
    kind: ProblemType, detail: str, *, instance: str | None = None, **extensions: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind.uri, "title": kind.title, "status": kind.status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extensions.items() if v is not None})
    return body


def problem_bytes(kind: ProblemType, detail: str, **extensions: Any) -> bytes:
    return json.dumps(problem(kind, detail, **extensions), ensure_ascii=False).encode()
