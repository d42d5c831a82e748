"""`api_route`: registers a Chalice route with what every route shares.

It parses the query and body into the route's API models, resolves the caller, applies the
Idempotency-Key to POSTs, serialises the answer model, maps errors to problem+json in one place,
and records the route in the catalogue (for the authorizer and the OpenAPI document).
A handler then reads like a sentence: parse -> one service call -> shape the answer.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response
from pydantic import BaseModel

from chalicelib.api import problems
from chalicelib.api.validation import parse_body, parse_query
from chalicelib.bootstrap import services
from chalicelib.domain.errors import DomainError, FieldError, InvalidInput
from chalicelib.handlers import idempotency
from chalicelib.handlers.auth import agency_auth, caller_from
from chalicelib.handlers.catalog import ROUTES, Access, RouteSpec
from chalicelib.handlers.errors import domain_error_response, problem_response
from chalicelib.observability import logger
from chalicelib.services.processes import Actor

JSON_HEADERS = {"Content-Type": "application/json"}
MAX_PERSON = 100


def _answer(result: Any, status: int) -> dict[str, Any]:
    body = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    return {"status": status, "body": body}


def api_route(
    bp: Blueprint,
    path: str,
    method: str,
    *,
    summary: str,
    tag: str,
    access: Access,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    response: type[BaseModel] | None = None,
    status: int = 200,
    description: str = "",
    errors: tuple[int, ...] = (),
    person: bool = False,
    cache_control: str | None = None,
    etag: bool = False,
    content_types: tuple[str, ...] = ("application/json",),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`cache_control`: the Cache-Control header of a successful answer (errors never carry one).
    `etag`: a successful answer carries a strong ETag of its body, and a GET whose If-None-Match
    names it is answered 304 with no body (a CDN or browser revalidates for a few bytes).
    `content_types`: the request media types accepted by a route with a body model. A route without
    one reads no body, so it takes any Content-Type: Chalice would otherwise answer a GET that names
    an odd one with a 415 (found by tests/e2e/test_fuzz.py)."""

    def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
        spec = RouteSpec(
            path=path,
            method=method,
            operation_id=handler.__name__,
            summary=summary,
            tag=tag,
            access=access,
            query=query,
            body=body,
            body_required=body_required,
            response=response,
            status=status,
            idempotent=method == "POST",
            description=description or (handler.__doc__ or "").strip(),
            errors=errors,
            person=person,
        )
        ROUTES.append(spec)

        @functools.wraps(handler)
        def view(**path_params: str) -> Response:
            request = bp.current_request
            try:
                kwargs: dict[str, Any] = dict(path_params)
                if access is not None:
                    kwargs["caller"] = caller_from(request, access)
                if person:
                    kwargs["actor"] = Actor(kwargs["caller"].agency_id, acting_person(request.headers))
                if query is not None:
                    kwargs["query"] = parse_query(query, request.query_params)
                if body is not None:
                    raw = _as_bytes(request.raw_body)
                    kwargs["body"] = parse_body(body, raw) if raw or body_required else body()

                def execute() -> dict[str, Any]:
                    return _answer(handler(**kwargs), status)

                key = _header(request.headers, "idempotency-key")
                if spec.idempotent and key is not None:
                    caller = kwargs.get("caller")
                    scope = f"{caller.client_id if caller else 'publico'}|{method} {path}|{path_params}"
                    payload = json.loads(request.raw_body or b"null")
                    answer = idempotency.run_once(
                        store=services().idempotency_store,
                        lambda_context=bp.lambda_context,
                        scope=scope,
                        key=key,
                        payload=payload,
                        execute=execute,
                    )
                else:
                    answer = execute()
            except DomainError as error:
                return domain_error_response(error)
            except idempotency.IdempotencyKeyReused:
                return problem_response(
                    problems.IDEMPOTENCY_MISMATCH,
                    "Esta Idempotency-Key já foi usada com outro conteúdo. Use uma chave nova para "
                    "uma nova operação.",
                )
            except Exception:
                logger.exception("unhandled error", extra={"route": f"{method} {path}"})
                return problem_response(problems.INTERNAL, problems.DETAIL_INTERNAL)
            text = json.dumps(answer["body"], ensure_ascii=False, separators=(",", ":"))
            headers: dict[str, str | list[str]] = {**JSON_HEADERS}
            if cache_control:
                headers["Cache-Control"] = cache_control
            if etag:
                tag = headers["ETag"] = body_etag(text)
                if etag_matches(_header(request.headers, "if-none-match"), tag):
                    return Response(body="", status_code=304, headers=headers)
            return Response(body=text, status_code=answer["status"], headers=headers)

        bp.route(
            path,
            methods=[method],
            authorizer=agency_auth if access is not None else None,
            content_types=list(content_types) if body is not None else ["*/*"],
        )(view)
        return handler

    return decorator


def body_etag(text: str) -> str:
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, current: str) -> bool:
    """RFC 9110's weak comparison, as If-None-Match uses: W/ prefixes are ignored; * matches."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or current in tags


def acting_person(headers: Any) -> str:
    """The person named in X-Usuario: it lands in the history, so it is required and bounded."""
    value = (_header(headers, "x-usuario") or "").strip()
    if not value or len(value) > MAX_PERSON or not value.isprintable():
        raise InvalidInput(
            "Informe a pessoa que age no cabeçalho X-Usuario.",
            [FieldError("X-Usuario", f"é obrigatório, com até {MAX_PERSON} caracteres imprimíveis")],
        )
    return value


def _as_bytes(raw: str | bytes | None) -> bytes | None:
    return raw.encode() if isinstance(raw, str) else raw


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    return None if value is None else str(value)
