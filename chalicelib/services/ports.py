"""The ports the services need. Adapters in chalicelib/store implement them; tests pass fakes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from chalicelib.domain.credentials import ApiClient
from chalicelib.domain.structures import Structure

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; `cursor` is opaque and None on the last page."""

    items: Sequence[T]
    cursor: str | None = None


@dataclass(frozen=True)
class StructureQuery:
    acronym: str | None = None
    name: str | None = None
    agency_id: str | None = None
    can_receive: bool | None = None
    active: bool | None = None


@dataclass(frozen=True)
class MailMessage:
    to: str
    subject: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class StructureRepository(Protocol):
    def get(self, structure_id: str) -> Structure | None: ...

    def put(self, structure: Structure) -> Structure:
        """Creates (version 0) or replaces the stored version `structure.version`; returns the stored
        one with its new version. Raises Conflict on a stale version or a protocol code in use."""
        ...

    def search(self, query: StructureQuery, cursor: str | None, limit: int) -> Page[Structure]: ...

    def next_id(self) -> str:
        """A fresh structure id from an atomic counter."""
        ...


class ClientRepository(Protocol):
    def get(self, client_id: str) -> ApiClient | None:
        """A strongly consistent read: a revocation is seen by the very next request."""
        ...

    def put(self, client: ApiClient) -> ApiClient:
        """Creates (version 0) or replaces the stored version; raises Conflict when stale."""
        ...

    def list_by_agency(self, agency_id: str, cursor: str | None, limit: int) -> Page[ApiClient]: ...


class MailOutbox(Protocol):
    def enqueue(self, message: MailMessage) -> None:
        """Hands an e-mail to the asynchronous mail leg (a queue with a dead-letter queue)."""
        ...


class MailSender(Protocol):
    def send(self, message: MailMessage) -> str:
        """Sends now (called by the mail worker); returns the provider's message id."""
        ...
