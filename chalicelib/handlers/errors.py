"""The one place where errors become HTTP answers (RFC 9457 problem+json)."""

from __future__ import annotations

import json
from typing import Any

from chalice import Response

from chalicelib.api import problems
from chalicelib.api.problems import ProblemType
from chalicelib.domain.bus import IllegalTransition
from chalicelib.domain.errors import (
    BatchTooLarge,
    Conflict,
    ContentMismatch,
    DomainError,
    Forbidden,
    Gone,
    InvalidInput,
    LinkExpired,
    LinkUsed,
    NotFound,
    TooLarge,
    TooMany,
    Unauthenticated,
    UnsupportedType,
)

_BY_ERROR: dict[type[DomainError], ProblemType] = {
    InvalidInput: problems.INVALID_DATA,
    NotFound: problems.NOT_FOUND,
    Conflict: problems.CONFLICT,
    Unauthenticated: problems.UNAUTHENTICATED,
    Forbidden: problems.FORBIDDEN,
    TooLarge: problems.FILE_TOO_LARGE,
    UnsupportedType: problems.FILE_TYPE_REFUSED,
    ContentMismatch: problems.CONTENT_MISMATCH,
    Gone: problems.GONE,
    LinkUsed: problems.LINK_USED,
    LinkExpired: problems.LINK_EXPIRED,
    TooMany: problems.LIMIT_REACHED,
    BatchTooLarge: problems.TOO_LARGE,  # a batch over its item limit: nothing stored
}


def problem_response(
    kind: ProblemType, detail: str, headers: dict[str, str] | None = None, **extensions: Any
) -> Response:
    return Response(
        body=json.dumps(problems.problem(kind, detail, **extensions), ensure_ascii=False),
        status_code=kind.status,
        headers={"Content-Type": problems.MEDIA_TYPE, **(headers or {})},
    )


def domain_error_response(error: DomainError) -> Response:
    # The most specific class wins (ContentMismatch before Conflict, TooLarge before InvalidInput).
    kind = next((_BY_ERROR[cls] for cls in type(error).__mro__ if cls in _BY_ERROR), problems.INVALID_DATA)
    fields = [{"campo": f.field, "mensagem": f.message} for f in error.fields] or None
    extensions: dict[str, Any] = {}
    if isinstance(error, IllegalTransition):  # a client reacts to the state without parsing the detail
        extensions = {"estadoAtual": int(error.current), "descricaoEstadoAtual": error.current.label}
    return problem_response(kind, error.detail, erros=fields, **extensions)


# Chalice's own error codes (answers it gives before or around our views) -> our problem types.
_CHALICE_CODES: dict[str, tuple[ProblemType, str]] = {
    "BadRequestError": (problems.MALFORMED_REQUEST, problems.DETAIL_MALFORMED_BODY),
    "UnauthorizedError": (problems.UNAUTHENTICATED, problems.DETAIL_UNAUTHENTICATED),
    "ForbiddenError": (problems.FORBIDDEN, problems.DETAIL_FORBIDDEN),
    "NotFoundError": (problems.NOT_FOUND, problems.DETAIL_ROUTE_NOT_FOUND),
    "MethodNotAllowedError": (
        problems.METHOD_NOT_ALLOWED,
        "Este caminho existe, mas não aceita este método HTTP. Consulte /openapi.json.",
    ),
    "UnsupportedMediaType": (problems.UNSUPPORTED_MEDIA, problems.DETAIL_UNSUPPORTED_MEDIA),
    "RequestTimeoutError": (problems.TIMEOUT, problems.DETAIL_TIMEOUT),
    "TooManyRequestsError": (problems.THROTTLED, problems.DETAIL_THROTTLED),
    "InternalServerError": (problems.INTERNAL, problems.DETAIL_INTERNAL),
}


def as_problem(response: Response) -> Response:
    """Rewrites an error answer that Chalice made (JSON with Code/Message) into problem+json."""
    if response.status_code < 400:
        return response
    given = {str(k): str(v) for k, v in (response.headers or {}).items()}
    headers = {k: v for k, v in given.items() if k.lower() != "content-type"}
    content_type = next((v for k, v in given.items() if k.lower() == "content-type"), "")
    if content_type.startswith(problems.MEDIA_TYPE):
        return response  # ours already
    body = response.body
    code = body.get("Code") if isinstance(body, dict) else None
    kind, detail = _CHALICE_CODES.get(str(code), (None, ""))
    if kind is None:
        kind = problems.INTERNAL if response.status_code >= 500 else problems.MALFORMED_REQUEST
        detail = (
            problems.DETAIL_INTERNAL
            if response.status_code >= 500
            else "A requisição não pôde ser processada."
        )
    return problem_response(kind, detail, headers=headers)
