"""Following a process by e-mail: subscribe, confirm, unsubscribe (public routes).

The e-mails' links open the citizens' site (site/confirmar.html, site/cancelar.html), whose button
posts here: nothing changes on a GET, so a mail scanner that prefetches links neither confirms nor
cancels. Mail clients post RFC 8058's one-click unsubscribe (`List-Unsubscribe=One-Click`,
form-encoded) straight to the cancelamento route. The token is in the query string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
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
# Posts come from the site, mail clients (RFC 8058) and API clients alike.
POST_TYPES = ("application/json", *FORM_TYPES, "text/plain")


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


# --- the links' actions ---------------------------------------------------------------------------


def _token(request: Any) -> str:
    token = str((request.query_params or {}).get("token") or "")
    if not token or len(token) > MAX_TOKEN:
        raise InvalidInput(
            "O link está incompleto: falta o código de confirmação.",
            [FieldError("token", "copie o endereço inteiro do e-mail, incluindo o código (token)")],
        )
    return token


def _subscription_id(value: str) -> str:
    if not SUBSCRIPTION_ID.match(value):
        raise NotFound("Link inválido: confira se o endereço foi copiado por inteiro do e-mail.")
    return value


def _link_route(
    path: str, *, summary: str, description: str,
    act: Callable[[str, str], Subscription], answer: Callable[[Subscription], SubscriptionState],
    errors: tuple[int, ...],
) -> None:  # fmt: skip
    """POST with the token in the query string; any body (the site posts JSON, a mail client's
    one-click form), always a JSON answer."""
    name = path.rstrip("}").rsplit("/", 1)[-1]
    ROUTES.append(
        RouteSpec(
            path=path, method="POST", operation_id=f"{name}_post", summary=summary, tag=TAG, access=None,
            response=SubscriptionState, errors=errors, description=description,
        )
    )  # fmt: skip

    def post(id: str) -> Response:
        try:
            subscription = act(_subscription_id(id), _token(bp.current_request))
        except DomainError as error:
            return domain_error_response(error)
        except Exception:
            logger.exception("unhandled error", extra={"route": f"POST {path}"})
            return problem_response(problems.INTERNAL, problems.DETAIL_INTERNAL)
        return Response(
            body=json.dumps(answer(subscription).model_dump(mode="json"), ensure_ascii=False),
            status_code=200,
            headers={**JSON_HEADERS, "Cache-Control": "no-store"},
        )

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
    act=_unsubscribe,
    answer=lambda subscription: SubscriptionState.cancelled(subscription.nup),
    errors=(400, 404),
)
