"""The agency authorizer (a Chalice built-in custom authorizer, a Lambda of its own in the cloud).

It resolves the bearer token to a caller and answers with the routes that caller's scopes allow, so
API Gateway itself refuses a wrong scope (403) and an invalid token (401) before any handler runs.
Results are not cached (ttl 0): a revoked token is refused by the very next request.
"""

from __future__ import annotations

from typing import Any

from chalice import AuthResponse, AuthRoute, Blueprint, UnauthorizedError
from chalice.app import Request

from chalicelib.bootstrap import services
from chalicelib.domain.credentials import Caller, Scope
from chalicelib.domain.errors import Forbidden, Unauthenticated
from chalicelib.handlers.catalog import ANY_SCOPE, ROUTES, Access
from chalicelib.observability import logger

auth_bp = Blueprint(__name__)


def allowed_routes(scopes: frozenset[Scope]) -> list[str | AuthRoute]:
    by_path: dict[str, list[str]] = {}
    for spec in ROUTES:
        if spec.access is not None and spec.allows(scopes):
            by_path.setdefault(spec.arn_path, []).append(spec.method)
    routes: list[str | AuthRoute] = [
        AuthRoute(path, sorted(set(methods))) for path, methods in sorted(by_path.items())
    ]
    return routes


@auth_bp.authorizer(ttl_seconds=0, header="Authorization")
def agency_auth(auth_request: Any) -> AuthResponse:
    try:
        caller = services().credentials.authenticate(auth_request.token)
    except Unauthenticated as error:
        # API Gateway answers 401 only for this exact message.
        logger.info("token refused", extra={"reason": error.detail})
        raise UnauthorizedError("Unauthorized") from None
    return AuthResponse(
        routes=allowed_routes(caller.scopes),
        principal_id=caller.client_id,
        context={
            "orgaoId": caller.agency_id,
            "clienteId": caller.client_id,
            "escopos": " ".join(caller.scopes),
        },
    )


def caller_from(request: Request, access: Access) -> Caller:
    """The caller as the authorizer resolved it; checks the scope again (defence in depth)."""
    context = (request.context or {}).get("authorizer") or {}
    if not context.get("orgaoId"):
        raise Unauthenticated("Credencial ausente.")
    scopes = frozenset(Scope(s) for s in str(context.get("escopos", "")).split())
    caller = Caller(agency_id=str(context["orgaoId"]), client_id=str(context["clienteId"]), scopes=scopes)
    if access not in (None, ANY_SCOPE) and not caller.has(Scope(str(access))):
        raise Forbidden(f"Esta operação exige o escopo '{access}'.")
    return caller
