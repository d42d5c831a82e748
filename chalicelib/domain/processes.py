"""Processes (the SEI pillar): metadata rules and the guards of every operation.

A process belongs to the agency whose unit opened it. It is open in zero or more units of that
agency; with none it is concluded. Suspended (sobrestado) and merged (anexado) processes refuse
changes until resumed; a merged one for good. The guards raise typed errors and change nothing, so
the service can check everything before it writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING

from chalicelib.domain.errors import Conflict, FieldError, InvalidInput

if TYPE_CHECKING:
    from chalicelib.domain.documents import Document

MAX_TYPE = 100
MAX_SPECIFICATION = 100
MAX_INTERESTED_NAME = 150
MAX_INTERESTED = 100


class AccessLevel(IntEnum):
    PUBLICO = 1
    RESTRITO = 2
    SIGILOSO = 3


class ProcessState(StrEnum):
    ABERTO = "aberto"
    CONCLUIDO = "concluido"
    SOBRESTADO = "sobrestado"
    ANEXADO = "anexado"


@dataclass(frozen=True)
class Interested:
    name: str
    tax_id: str | None = None  # CPF or CNPJ digits, already validated


@dataclass(frozen=True)
class OpenUnit:
    """Where the process is open, since when, sent by whom, and the programmed return date."""

    unit_id: str
    since: datetime
    from_unit_id: str | None = None
    return_by: date | None = None

    def overdue(self, today: date) -> bool:
        return self.return_by is not None and today > self.return_by


@dataclass(frozen=True)
class ReceivedSignature:
    """A signature a document brought through the bus, as the sender's manifest declared it (reason,
    when, the signature value in base64 and, where a certificate was used, its chain)."""

    reason: str
    signed_at: datetime
    value: str
    certificate_chain: str | None = None


@dataclass(frozen=True)
class ReceivedDocument:
    """A document this copy received through the bus (trâmite `idt`): its content must travel on
    unchanged (the return path checks order and SHA-256), and it keeps the signatures it came with."""

    order: int
    idt: str
    sha256: str
    signatures: tuple[ReceivedSignature, ...] = ()


@dataclass(frozen=True)
class Process:
    nup: str  # 17 digits
    agency_id: str
    opening_unit_id: str
    process_type: str
    specification: str
    interested: tuple[Interested, ...]
    access_level: AccessLevel
    legal_basis: int | None  # id in the national list of hipóteses legais
    created_at: datetime
    updated_at: datetime
    open_units: tuple[OpenUnit, ...] = ()
    suspended: bool = False
    suspension_reason: str | None = None
    merged_into: str | None = None
    related: frozenset[str] = frozenset()
    merged: frozenset[str] = frozenset()  # processes merged into this one
    documents_access_level: AccessLevel = AccessLevel.PUBLICO  # the most restrictive document's
    documents: tuple[Document, ...] = ()  # by order, cancelled ones included
    history_seq: int = 0
    history_head: str = ""
    # The bus: the NRE the process travels under (kept for good once it has one), the open trâmites
    # (IDTs) that lock it read-only while it is in transit, and the documents it received.
    nre: str | None = None
    locked_by: frozenset[str] = frozenset()
    received: tuple[ReceivedDocument, ...] = ()  # by order
    version: int = 0

    @property
    def state(self) -> ProcessState:
        if self.merged_into is not None:
            return ProcessState.ANEXADO
        if self.suspended:
            return ProcessState.SOBRESTADO
        return ProcessState.ABERTO if self.open_units else ProcessState.CONCLUIDO

    @property
    def effective_access_level(self) -> AccessLevel:
        """The most restrictive of the process's own level and its documents'."""
        return max(self.access_level, self.documents_access_level)

    def document(self, order: int) -> Document | None:
        return next((d for d in self.documents if d.order == order), None)

    @property
    def next_document_order(self) -> int:
        return max((d.order for d in self.documents), default=0) + 1

    def received_document(self, order: int) -> ReceivedDocument | None:
        return next((r for r in self.received if r.order == order), None)

    def open_in(self, unit_id: str) -> OpenUnit | None:
        return next((u for u in self.open_units if u.unit_id == unit_id), None)

    def changed(self, **changes: object) -> Process:
        return replace(self, **changes)  # type: ignore[arg-type]

    # --- guards ---------------------------------------------------------------------------------

    def require_unlocked(self) -> None:
        """A process in transit through the bus is read-only until its trâmites end."""
        if self.locked_by:
            idts = ", ".join(sorted(self.locked_by))
            plural = "s" if len(self.locked_by) > 1 else ""
            raise Conflict(
                f"O processo {self.nup} está em trâmite externo pelo barramento (IDT{plural} {idts}) e "
                "não aceita alterações até o trâmite ser concluído, recusado ou cancelado."
            )

    def require_writable_in(self, unit_id: str) -> None:
        """Changes need the process open in the acting unit, not suspended, not merged and not in
        transit through the bus."""
        self.require_unlocked()
        if self.merged_into is not None:
            raise Conflict(
                f"O processo {self.nup} foi anexado ao processo {self.merged_into} e não aceita alterações."
            )
        if self.suspended:
            raise Conflict(f"O processo {self.nup} está sobrestado; retome-o antes de alterá-lo.")
        if self.open_in(unit_id) is None:
            if not self.open_units:
                raise Conflict(
                    f"O processo {self.nup} está concluído; reabra-o na unidade antes de alterá-lo."
                )
            raise Conflict(f"O processo {self.nup} não está aberto na unidade {unit_id}.")


@dataclass(frozen=True)
class Metadata:
    process_type: str
    specification: str
    interested: tuple[Interested, ...]
    access_level: AccessLevel
    legal_basis: int | None = field(default=None)


def validate_metadata(metadata: Metadata, known_legal_bases: frozenset[int]) -> None:
    """Every rule on a process's metadata; raises InvalidInput listing each bad field."""
    problems: list[FieldError] = []
    if not metadata.process_type.strip() or len(metadata.process_type) > MAX_TYPE:
        problems.append(FieldError("tipo", f"é obrigatório e tem no máximo {MAX_TYPE} caracteres"))
    if not metadata.specification.strip() or len(metadata.specification) > MAX_SPECIFICATION:
        problems.append(
            FieldError("especificacao", f"é obrigatória e tem no máximo {MAX_SPECIFICATION} caracteres")
        )
    if not metadata.interested:
        problems.append(FieldError("interessados", "informe pelo menos um interessado"))
    if len(metadata.interested) > MAX_INTERESTED:
        problems.append(FieldError("interessados", f"no máximo {MAX_INTERESTED} interessados"))
    for index, person in enumerate(metadata.interested):
        if not person.name.strip() or len(person.name) > MAX_INTERESTED_NAME:
            problems.append(
                FieldError(
                    f"interessados.{index}.nome",
                    f"é obrigatório e tem no máximo {MAX_INTERESTED_NAME} caracteres",
                )
            )
    if metadata.access_level == AccessLevel.PUBLICO:
        if metadata.legal_basis is not None:
            problems.append(FieldError("hipoteseLegal", "processos públicos não têm hipótese legal"))
    elif metadata.legal_basis is None:
        problems.append(
            FieldError("hipoteseLegal", "é obrigatória para os níveis de acesso restrito (2) e sigiloso (3)")
        )
    elif metadata.legal_basis not in known_legal_bases:
        problems.append(FieldError("hipoteseLegal", "não está na lista nacional de hipóteses legais"))
    if problems:
        raise InvalidInput("Os dados do processo são inválidos.", problems)
