"""The catalogue of API routes: filled by `api_route` as handler modules load. The authorizer grants
routes from it by scope, and the OpenAPI document is generated from it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from chalicelib.domain.credentials import Scope

ANY_SCOPE: Literal["qualquer"] = "qualquer"
Access = Scope | Literal["qualquer"] | None  # None: public route


@dataclass(frozen=True)
class RouteSpec:
    path: str
    method: str
    operation_id: str
    summary: str
    tag: str
    access: Access
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_required: bool = True  # False: an empty body means the model's defaults
    response: type[BaseModel] | None = None
    status: int = 200
    idempotent: bool = False
    description: str = ""
    errors: tuple[int, ...] = ()
    person: bool = False  # the route records the acting person from X-Usuario
    media_type: str = "application/json"  # of a successful answer (pages: text/html)

    @property
    def arn_path(self) -> str:
        """The path with `*` in place of each {parameter}, as in an execute-api ARN."""
        return re.sub(r"\{[^}]+\}", "*", self.path)

    def allows(self, scopes: frozenset[Scope]) -> bool:
        if self.access is None or self.access == ANY_SCOPE:
            return True
        return self.access in scopes


ROUTES: list[RouteSpec] = []
