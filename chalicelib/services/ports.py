"""The ports the services need. Adapters in chalicelib/store implement them; tests pass fakes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from chalicelib.domain.credentials import ApiClient
from chalicelib.domain.history import HistoryEntry
from chalicelib.domain.processes import OpenUnit, Process
from chalicelib.domain.signatures import PublicKey, Stamp
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


@dataclass(frozen=True)
class ProcessWrite:
    """One process's part of an atomic change: its new state (version = the one read), the history
    entry that records the change, and the units/relations the change adds or removes."""

    process: Process
    entry: HistoryEntry
    open_units: tuple[OpenUnit, ...] = ()
    close_units: tuple[str, ...] = ()
    relations: tuple[tuple[str, str], ...] = ()  # (kind, other nup)


@dataclass(frozen=True)
class InboxItem:
    nup: str
    open_unit: OpenUnit


class ProcessRepository(Protocol):
    def get(self, nup: str) -> Process | None:
        """The process with its open units and relations, in one query."""
        ...

    def last_sequence(self, unit_code: str, year: int) -> int:
        """The last NUP sequence issued by a protocol unit in a year (0 when none)."""
        ...

    def create(self, write: ProcessWrite, unit_code: str, year: int, sequence: int) -> Process:
        """Stores a new process with sequence `sequence`, in the same transaction that moves the
        unit's sequence from `sequence - 1`: a failed request consumes no number. Raises
        SequenceTaken when another request took that number first."""
        ...

    def apply(self, writes: Sequence[ProcessWrite]) -> list[Process]:
        """Applies every write atomically; Conflict when any process changed since it was read."""
        ...

    def history(self, nup: str, cursor: str | None, limit: int) -> Page[HistoryEntry]: ...

    def inbox(self, unit_id: str, cursor: str | None, limit: int) -> Page[InboxItem]: ...


class Signer(Protocol):
    """The platform's signing key (documents' authenticity stamps, bus receipts)."""

    def sign(self, message: bytes) -> Stamp:
        """ECDSA P-256 / SHA-256 over `message` (any size); the stamp names the key that verifies it."""
        ...

    def public_keys(self) -> list[PublicKey]:
        """Every key whose stamps are still to be verified (SubjectPublicKeyInfo PEM), for publishing."""
        ...
