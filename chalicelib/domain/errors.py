"""Typed domain errors. Each carries a pt-BR detail a person can act on; handlers/errors.py maps
the class to an HTTP status and problem type, so no code ever matches on message text."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    """One bad field: where it is (dotted path) and what is wrong with it, in pt-BR."""

    field: str
    message: str


@dataclass
class DomainError(Exception):
    detail: str
    fields: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return self.detail


class InvalidInput(DomainError):
    """The request is well-formed but its values break a rule."""


class NotFound(DomainError):
    """The resource does not exist, or belongs to another agency (the same answer, on purpose)."""


class Conflict(DomainError):
    """The change clashes with the current state (a duplicate, a stale version)."""


class Unauthenticated(DomainError):
    """No credential, or one that is malformed, unknown, expired or revoked."""


class Forbidden(DomainError):
    """A valid credential without the scope the operation needs."""


class TooMany(DomainError):
    """A limit on how often or how much a caller may do something was reached: 429."""


def structure_not_found(structure_id: str) -> NotFound:
    return NotFound(f"Estrutura {structure_id} não encontrada no Repositório de Estruturas.")


def client_not_found(client_id: str) -> NotFound:
    return NotFound(f"Cliente de API {client_id} não encontrado.")


class SequenceTaken(Conflict):
    """Another request took the NUP sequence number first; the service retries with the next one."""


class Gone(Conflict):
    """The resource exists but its content is no longer served (a cancelled document): 410."""


class TooLarge(InvalidInput):
    """A declared file is larger than the agency accepts: 413."""


class UnsupportedType(InvalidInput):
    """A declared file type the agency does not accept: 415."""


class BatchTooLarge(TooLarge):
    """More items than a batch may hold (records from an agency's system): nothing is stored (413)."""


class LinkUsed(Conflict):
    """A single-use link (a subscription's confirmation) that was already used: 409."""


class LinkExpired(Gone):
    """A link past its validity (a subscription's confirmation): 410."""


class ContentMismatch(Conflict):
    """Stored bytes that do not match what was declared (size, SHA-256 or sniffed type)."""
