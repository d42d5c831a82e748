"""Agency API credentials: clients with scopes and bearer tokens stored only as hashes.

A token reads `pen_<client id>_<secret>`. The client id lets the authorizer fetch one item by key;
the secret is 256 random bits, so a plain SHA-256 is enough to store it (no password stretching is
needed for a value nobody can guess) and the comparison runs in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from chalicelib.domain.errors import FieldError, InvalidInput, Unauthenticated

TOKEN_PATTERN = re.compile(r"^pen_(?P<client>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_-]{43})$")
MAX_CLIENT_NAME = 100


class Scope(StrEnum):
    PROCESSOS = "processos"
    BARRAMENTO = "barramento"
    ADMIN = "admin"


def parse_scopes(values: list[str] | str) -> frozenset[Scope]:
    items = values.replace(",", " ").split() if isinstance(values, str) else values
    known = {s.value for s in Scope}
    unknown = sorted(set(items) - known)
    if unknown or not items:
        raise InvalidInput(
            "Escopos inválidos.",
            [FieldError("escopos", f"use um ou mais de: {', '.join(sorted(known))}")],
        )
    return frozenset(Scope(v) for v in items)


def new_client_id() -> str:
    return secrets.token_hex(8)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def format_token(client_id: str, secret: str) -> str:
    return f"pen_{client_id}_{secret}"


@dataclass(frozen=True)
class PresentedToken:
    """A token as the caller presented it, split but not yet checked against the store."""

    client_id: str
    secret: str

    @classmethod
    def from_authorization(cls, header: str | None) -> PresentedToken:
        """Parses `Authorization: Bearer <token>`; anything else is unauthenticated."""
        if not header:
            raise Unauthenticated("Envie o cabeçalho Authorization: Bearer <token>.")
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("O cabeçalho Authorization deve ter a forma 'Bearer <token>'.")
        match = TOKEN_PATTERN.match(value.strip())
        if not match:
            raise Unauthenticated("O token informado não tem o formato de um token desta plataforma.")
        return cls(client_id=match["client"], secret=match["secret"])


@dataclass(frozen=True)
class ApiClient:
    id: str
    agency_id: str
    name: str
    scopes: frozenset[Scope]
    token_hash: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    rotated_at: datetime | None = None
    version: int = 0

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def check(self, presented: PresentedToken, now: datetime) -> None:
        """Raises Unauthenticated unless the presented secret is this client's and still valid."""
        if not hmac.compare_digest(self.token_hash, hash_secret(presented.secret)):
            raise Unauthenticated("Token inválido.")
        if self.revoked_at is not None:
            raise Unauthenticated("Este token foi revogado.")
        if self.expires_at is not None and now >= self.expires_at:
            raise Unauthenticated("Este token expirou.")

    def with_secret(self, secret: str, now: datetime) -> ApiClient:
        return replace(self, token_hash=hash_secret(secret), rotated_at=now)

    def revoked(self, now: datetime) -> ApiClient:
        return self if self.revoked_at is not None else replace(self, revoked_at=now)


def validate_client_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_CLIENT_NAME:
        raise InvalidInput(
            "Nome do cliente inválido.",
            [FieldError("nome", f"é obrigatório e tem no máximo {MAX_CLIENT_NAME} caracteres")],
        )
    return name


@dataclass(frozen=True)
class Caller:
    """Who is calling: the agency and the API client behind the token, with the client's scopes."""

    agency_id: str
    client_id: str
    scopes: frozenset[Scope]

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes
