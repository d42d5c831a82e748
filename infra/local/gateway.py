"""API Gateway's own answers, locally, in the same problem+json shape as the cloud's gateway
responses (both come from chalicelib.api.problems.GATEWAY_RESPONSES).

Chalice's LocalGateway answers unknown routes, missing or refused tokens and denied scopes with
API Gateway's raw bodies; ProblemGateway translates them, and turns the authorizer's
"Unauthorized" into the 401 that API Gateway gives for it.
"""

from __future__ import annotations

import uuid
from typing import Any

from chalice import UnauthorizedError
from chalice.local import ForbiddenError, LocalGateway, LocalGatewayException, NotAuthorizedError

from chalicelib.api import problems
from infra.local import audit

MAX_GATEWAY_BODY = 10 * 1024 * 1024  # API Gateway's own payload limit


class ProblemError(LocalGatewayException):
    def __init__(self, response_type: str, correlation_id: str | None = None) -> None:
        kind, detail = problems.GATEWAY_RESPONSES[response_type]
        self.CODE = kind.status
        headers = {"Content-Type": problems.MEDIA_TYPE, "x-amzn-ErrorType": response_type}
        if correlation_id:
            headers["X-Correlation-Id"] = correlation_id
        super().__init__(headers, problems.problem_bytes(kind, detail))


def gateway_response_type(error: LocalGatewayException) -> str:
    if isinstance(error, NotAuthorizedError):
        return "UNAUTHORIZED"
    if isinstance(error, ForbiddenError):
        # Chalice marks an unknown route with UnauthorizedException, a denied policy with AccessDenied.
        if error.headers.get("x-amzn-ErrorType") == "AccessDeniedException":
            return "ACCESS_DENIED"
        return "MISSING_AUTHENTICATION_TOKEN"
    return "AUTHORIZER_CONFIGURATION_ERROR"


class ProblemGateway(LocalGateway):
    def handle_request(
        self, method: str, path: str, headers: dict[str, Any], body: bytes | None
    ) -> dict[str, Any]:
        cid = _header(headers, "x-correlation-id") or str(uuid.uuid4())
        if body is not None and len(body) > MAX_GATEWAY_BODY:
            raise ProblemError("REQUEST_TOO_LARGE", cid)
        try:
            with audit.running(audit.API_FUNCTION):
                return dict(super().handle_request(method, path, headers, body))
        except ProblemError:
            raise
        except LocalGatewayException as error:
            raise ProblemError(gateway_response_type(error), cid) from None
        except UnauthorizedError:
            raise ProblemError("UNAUTHORIZED", cid) from None


def _header(headers: dict[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None
