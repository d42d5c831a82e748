"""Use cases of agency API credentials: issue, rotate, revoke, list, and authenticate a request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.credentials import (
    ApiClient,
    Caller,
    PresentedToken,
    Scope,
    format_token,
    hash_secret,
    new_client_id,
    new_secret,
    validate_client_name,
)
from chalicelib.domain.errors import FieldError, InvalidInput, Unauthenticated, client_not_found
from chalicelib.services.notices import credential_notice
from chalicelib.services.ports import ClientRepository, Clock, MailOutbox, Page
from chalicelib.services.registry import Registry


@dataclass(frozen=True)
class IssuedToken:
    """A client with its token in clear: returned once, never stored."""

    client: ApiClient
    token: str


class Credentials:
    def __init__(
        self, clients: ClientRepository, registry: Registry, clock: Clock, outbox: MailOutbox
    ) -> None:
        self._clients = clients
        self._registry = registry
        self._clock = clock
        self._outbox = outbox

    def authenticate(self, authorization: str | None) -> Caller:
        presented = PresentedToken.from_authorization(authorization)
        client = self._clients.get(presented.client_id)
        if client is None:
            raise Unauthenticated("Token inválido.")
        client.check(presented, self._clock.now())
        return Caller(agency_id=client.agency_id, client_id=client.id, scopes=client.scopes)

    def issue(
        self, agency_id: str, name: str, scopes: frozenset[Scope], expires_at: datetime | None = None
    ) -> IssuedToken:
        agency = self._registry.get(agency_id)
        if not agency.is_agency:
            raise InvalidInput(
                "Credenciais são emitidas para órgãos, não para unidades.",
                [FieldError("orgaoId", f"{agency_id} é uma unidade do órgão {agency.agency_id}")],
            )
        now = self._clock.now()
        if expires_at is not None and expires_at <= now:
            raise InvalidInput("Validade inválida.", [FieldError("expiraEm", "deve estar no futuro")])
        secret = new_secret()
        client = ApiClient(
            id=new_client_id(),
            agency_id=agency.id,
            name=validate_client_name(name),
            scopes=scopes,
            token_hash=hash_secret(secret),
            created_at=now,
            expires_at=expires_at,
        )
        stored = self._clients.put(client)
        self._notify(stored, "emitido")
        return IssuedToken(stored, format_token(stored.id, secret))

    def rotate(self, client_id: str, agency_id: str | None = None) -> IssuedToken:
        """Replaces the client's secret: the old token stops working at once."""
        client = self._owned(client_id, agency_id)
        if client.revoked_at is not None:
            raise InvalidInput("Um cliente revogado não pode ter o token renovado; emita um novo cliente.")
        secret = new_secret()
        stored = self._clients.put(client.with_secret(secret, self._clock.now()))
        self._notify(stored, "renovado")
        return IssuedToken(stored, format_token(stored.id, secret))

    def revoke(self, client_id: str, agency_id: str | None = None, reason: str = "") -> ApiClient:
        client = self._owned(client_id, agency_id)
        if client.revoked_at is not None:
            return client
        stored = self._clients.put(client.revoked(self._clock.now()))
        self._notify(stored, "revogado", reason)
        return stored

    def list_for_agency(self, agency_id: str, cursor: str | None = None, limit: int = 50) -> Page[ApiClient]:
        self._registry.get(agency_id)
        return self._clients.list_by_agency(agency_id, cursor, limit)

    def _owned(self, client_id: str, agency_id: str | None) -> ApiClient:
        """The client, if it exists and (when agency_id is given) belongs to that agency."""
        client = self._clients.get(client_id)
        if client is None or (agency_id is not None and client.agency_id != agency_id):
            raise client_not_found(client_id)
        return client

    def _notify(self, client: ApiClient, what: str, reason: str = "") -> None:
        agency = self._registry.get(client.agency_id)
        if agency.contact_email:
            self._outbox.enqueue(credential_notice(agency, client, what, self._clock.now(), reason))
