"""Following a process by e-mail: subscribe, confirm, unsubscribe (public routes and pages).

The links of the e-mails open small pt-BR pages (GET) whose button posts to the same address: a GET
never changes anything, so a mail scanner that prefetches links neither confirms nor cancels. A POST
answers JSON, or a small page when a browser or a mail client posted a form (RFC 8058's one-click
unsubscribe posts `List-Unsubscribe=One-Click`, form-encoded). The token is in the query string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html import escape
from typing import Any

from chalice import Blueprint, Response

from chalicelib.api import problems
from chalicelib.api.following import FOLLOW_ACCEPTED, FollowAccepted, FollowRequest, SubscriptionState
from chalicelib.bootstrap import services
from chalicelib.domain.errors import DomainError, FieldError, InvalidInput, NotFound
from chalicelib.domain.following import Subscription
from chalicelib.handlers.catalog import ROUTES, RouteSpec
from chalicelib.handlers.errors import domain_error_response, problem_response
from chalicelib.handlers.routing import JSON_HEADERS, api_route
from chalicelib.observability import logger

bp = Blueprint(__name__)
TAG = "Acompanhamento por e-mail"
BASE = "/publico/acompanhamentos"
SUBSCRIPTION_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_TOKEN = 100
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Posts may come from browsers, mail clients (RFC 8058) and API clients alike.
POST_TYPES = ("application/json", *FORM_TYPES, "text/plain")
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    # The token is in the address: never leak it in a Referer, never load anything from elsewhere.
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
}


@api_route(
    bp, BASE, "POST", summary="Acompanhar um processo por e-mail", tag=TAG, access=None,
    body=FollowRequest, response=FollowAccepted, status=202, errors=(400, 404, 429),
)  # fmt: skip
def follow(body: FollowRequest) -> FollowAccepted:
    """Envia ao endereço um e-mail com o link de confirmação (válido por 24 horas); só depois da
    confirmação os avisos começam. A resposta é a mesma para qualquer endereço válido. O processo
    precisa estar na base pública (senão, o mesmo 404 da consulta). Limites por endereço: 50
    processos acompanhados e 5 e-mails de confirmação por hora (429)."""
    services().following.follow(body.nup, body.email)
    return FollowAccepted(mensagem=FOLLOW_ACCEPTED)


# --- the links' pages and posts -------------------------------------------------------------------


def _page(title: str, body: str, status: int = 200) -> Response:
    html = (
        '<!DOCTYPE html>\n<html lang="pt-BR">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        "<style>body{font-family:Arial,Helvetica,sans-serif;max-width:36em;margin:2em auto;padding:0 1em;"
        "color:#1b1b1b;line-height:1.5}button{font-size:1.1em;padding:.6em 1.2em;background:#1351b4;"
        "color:#fff;border:0;border-radius:4px;cursor:pointer}button:focus{outline:3px solid #c2850c}"
        "</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{escape(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n"
    )
    return Response(body=html, status_code=status, headers=dict(PAGE_HEADERS))


def _button_page(title: str, text: str, button: str, token: str) -> Response:
    action = "?token=" + escape(token, quote=True)
    return _page(
        title,
        f"<p>{escape(text)}</p>\n"
        f'<form method="post" action="{action}">\n'
        '<input type="hidden" name="origem" value="pagina">\n'
        f'<button type="submit">{escape(button)}</button>\n</form>',
    )


def _header(request: Any, name: str) -> str:
    headers = request.headers or {}
    return str(headers.get(name) or "")


def _posted_form(request: Any) -> bool:
    return _header(request, "content-type").split(";")[0].strip().lower() in FORM_TYPES


def _token(request: Any) -> str:
    token = str((request.query_params or {}).get("token") or "")
    if not token or len(token) > MAX_TOKEN:
        raise InvalidInput(
            "O link está incompleto: falta o código de confirmação.",
            [FieldError("token", "copie o endereço inteiro do e-mail, incluindo ?token=...")],
        )
    return token


def _subscription_id(value: str) -> str:
    if not SUBSCRIPTION_ID.match(value):
        raise NotFound("Link inválido: confira se o endereço foi copiado por inteiro do e-mail.")
    return value


def _error_page(error: DomainError) -> Response:
    status = domain_error_response(error).status_code
    return _page("Não foi possível concluir", f"<p>{escape(error.detail)}</p>", status)


def _link_route(
    path: str, *, summary: str, description: str, title: str, text: str, button: str, done_title: str,
    act: Callable[[str, str], Subscription], answer: Callable[[Subscription], SubscriptionState],
    errors: tuple[int, ...],
) -> None:  # fmt: skip
    """GET: the page with the button; POST: the action (JSON, or a page when a form was posted)."""
    name = path.rstrip("}").rsplit("/", 1)[-1]
    for method in ("GET", "POST"):
        ROUTES.append(
            RouteSpec(
                path=path, method=method, operation_id=f"{name}_{method.lower()}", summary=summary, tag=TAG,
                access=None, response=SubscriptionState if method == "POST" else None,
                media_type="application/json" if method == "POST" else "text/html",
                errors=errors if method == "POST" else (400,),
                description=(
                    description if method == "POST"
                    else "Página HTML (pt-BR) com um botão que envia o POST deste mesmo endereço."
                ),
            )
        )  # fmt: skip

    def page(id: str) -> Response:
        request = bp.current_request
        try:
            _subscription_id(id)
            token = _token(request)
        except DomainError as error:
            return _error_page(error)
        return _button_page(title, text, button, token)

    def post(id: str) -> Response:
        request = bp.current_request
        as_page = _posted_form(request)
        try:
            subscription = act(_subscription_id(id), _token(request))
        except DomainError as error:
            return _error_page(error) if as_page else domain_error_response(error)
        except Exception:
            logger.exception("unhandled error", extra={"route": f"POST {path}"})
            if as_page:
                return _page("Não foi possível concluir", f"<p>{escape(problems.DETAIL_INTERNAL)}</p>", 500)
            return problem_response(problems.INTERNAL, problems.DETAIL_INTERNAL)
        result = answer(subscription)
        if as_page:
            return _page(done_title, f"<p>{escape(result.mensagem)}</p>")
        return Response(
            body=json.dumps(result.model_dump(mode="json"), ensure_ascii=False),
            status_code=200,
            headers={**JSON_HEADERS, "Cache-Control": "no-store"},
        )

    bp.route(path, methods=["GET"], name=f"{name}_pagina")(page)
    bp.route(path, methods=["POST"], content_types=list(POST_TYPES), name=f"{name}_post")(post)


def _confirm(subscription_id: str, token: str) -> Subscription:
    return services().following.confirm(subscription_id, token)


def _unsubscribe(subscription_id: str, token: str) -> Subscription:
    return services().following.unsubscribe(subscription_id, token)


_link_route(
    f"{BASE}/{{id}}/confirmacao",
    summary="Confirmar o acompanhamento",
    description=(
        "Confirma o acompanhamento com o token do e-mail (na query string). Uso único, válido por 24 "
        "horas: link já usado, 409; expirado, 410; errado, 404."
    ),
    title="Confirmar o acompanhamento",
    text="Clique no botão para confirmar que deseja receber por e-mail as movimentações deste processo.",
    button="Confirmar",
    done_title="Acompanhamento confirmado",
    act=_confirm,
    answer=SubscriptionState.confirmed,
    errors=(400, 404, 409, 410),
)
_link_route(
    f"{BASE}/{{id}}/cancelamento",
    summary="Cancelar o acompanhamento",
    description=(
        "Cancela o acompanhamento com o token do link de cancelamento (na query string). Aceita o POST "
        "de um clique da RFC 8058 (List-Unsubscribe=One-Click, form-urlencoded) e qualquer corpo. "
        "Repetir não tem efeito."
    ),
    title="Cancelar o acompanhamento",
    text="Clique no botão para deixar de receber por e-mail as movimentações deste processo.",
    button="Cancelar o acompanhamento",
    done_title="Acompanhamento cancelado",
    act=_unsubscribe,
    answer=lambda subscription: SubscriptionState.cancelled(subscription.nup),
    errors=(400, 404),
)
