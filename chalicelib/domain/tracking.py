"""The public base (Protocolo Integrado): one public record per NUP, and the privacy rules that
decide what of a process a citizen may see.

A NUP may be held by several agencies over its life (each has its own copy, or, for an agency not
hosted here, its own records sent by its system). Each source contributes one *part* to the
record, already filtered by the privacy rules when it is built: nothing that may not be published
is ever stored in the public base. The part with the newest movement speaks for the NUP (its
holder decides the access level and the header); the movements of every published part are merged,
the same movement seen by two sources counted once (an imported copy replays its sender's history
with the sender's own dates, units and operations).

Rules (../shared/DESIGN.md, "Public data rules"):
- público: type, especificação, interessados (CPF masked), documents (kind, number, date), history;
- restrito: only where the agency opted in, and then the NUP, the agency and the history only;
- sigiloso (or restrito without the opt-in): nothing; the NUP answers as an unknown one.
The published movement is the national operation (its code; its name is in the catalogue), never the
free-text description (which can name people or reasons): date, unit, operation.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from chalicelib.domain.bus import Tramite, TramiteState
from chalicelib.domain.catalogs import DOCUMENT_KINDS, HISTORY_OPERATIONS
from chalicelib.domain.history import HistoryEntry
from chalicelib.domain.people import mask_cpf
from chalicelib.domain.processes import AccessLevel, Process
from chalicelib.domain.structures import normalize

MAX_PART_MOVEMENTS = 2_000  # bounds the record item (DynamoDB's 400 KB): the newest are kept


class Source(StrEnum):
    PLATFORM = "plataforma"  # a hosted agency's copy, projected from its events
    OUTSIDE = "externo"  # an agency's own system, through POST /protocolo-integrado/registros


@dataclass(frozen=True)
class Agency:
    id: str
    acronym: str
    name: str


@dataclass(frozen=True)
class PublicMovement:
    at: datetime  # aware, UTC
    unit: str  # the unit as published: its acronym
    operation: str  # the national operation's code, "01" to "18" (catalogs.HISTORY_OPERATIONS)
    item_id: str = ""  # an outside system's own id of the history item (idempotency), else ""
    window: int | None = None  # the notification window it was first published in (see following)

    @property
    def operation_name(self) -> str:
        return operation_name(self.operation)

    @property
    def identity(self) -> str:
        """Equal for the same movement seen through two sources (a sender's copy and the receiver's
        imported one), different for different movements."""
        basis = f"{self.at.isoformat()}|{normalize(self.unit)}|{normalize(self.operation)}"
        return hashlib.sha256(basis.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class PublicDocument:
    kind: str  # the espécie's name
    number: str | None
    on: date


@dataclass(frozen=True)
class PublicInterested:
    name: str
    tax_id: str | None = None  # CPF masked, CNPJ in full (a company's is public)


@dataclass(frozen=True)
class PublicPart:
    """What one source may publish of a NUP. `published` False: the source hides the NUP (sigiloso,
    or restrito without the agency's opt-in); then it holds no data at all, only when it moved."""

    agency: Agency
    source: Source
    level: AccessLevel
    published: bool
    last_at: datetime  # its newest movement (or its last change)
    # The agency holds the process (open in one of its units, or an outside system's record): a copy
    # that was sent away keeps moving a little after (receipts), but its receiver speaks for the NUP.
    holding: bool = True
    process_type: str | None = None
    specification: str | None = None
    produced_on: date | None = None
    interested: tuple[PublicInterested, ...] = ()
    documents: tuple[PublicDocument, ...] = ()
    movements: tuple[PublicMovement, ...] = ()

    @property
    def full(self) -> bool:
        """público: the header, interessados and documents are published too."""
        return self.published and self.level is AccessLevel.PUBLICO


@dataclass(frozen=True)
class PublicRecord:
    nup: str  # 17, 21 or 13 digits (outside systems may still use older numbers)
    parts: tuple[PublicPart, ...] = ()
    version: int = 0  # optimistic concurrency in the store

    def part(self, agency_id: str) -> PublicPart | None:
        return next((p for p in self.parts if p.agency.id == agency_id), None)

    def with_part(self, part: PublicPart) -> PublicRecord:
        others = tuple(p for p in self.parts if p.agency.id != part.agency.id)
        return replace(self, parts=tuple(sorted((*others, part), key=lambda p: p.agency.id)))

    @property
    def current(self) -> PublicPart | None:
        """The part of the agency holding the NUP that moved it last (none holding it: the last to
        move it; ties: the higher agency id, so any order of arrival gives the same answer)."""
        return max(self.parts, key=lambda p: (p.holding, p.last_at, p.agency.id), default=None)

    @property
    def visible(self) -> bool:
        current = self.current
        return current is not None and current.published

    @property
    def full(self) -> bool:
        current = self.current
        return current is not None and current.full

    @property
    def movements(self) -> tuple[PublicMovement, ...]:
        """Every published movement once, oldest first (by its own date, then its source's order).

        A movement the sender's copy and the receiver's imported copy both hold has the same date
        and operation in both, but not always the same unit label: the bus carries the sender's
        units by name, which the receiver's registry may not resolve to the acronym the sender's
        part shows. So across parts a movement is matched on (date, operation), taken as many times
        as one part has it (a process sent to three units at once has three "envio" at one instant),
        and the label of the first part (by agency id) is kept."""
        if not self.visible:
            return ()
        kept: list[PublicMovement] = []
        slots: dict[tuple[datetime, str], list[int]] = {}
        for part in self.parts:
            if not part.published:
                continue
            used: Counter[tuple[datetime, str]] = Counter()
            for movement in part.movements:
                key = (movement.at, movement.operation)
                indexes = slots.setdefault(key, [])
                nth = used[key]
                used[key] += 1
                if nth < len(indexes):  # already kept from an earlier part
                    first = kept[indexes[nth]]
                    if first.window is None and movement.window is not None:
                        kept[indexes[nth]] = replace(first, window=movement.window)
                    continue
                indexes.append(len(kept))
                kept.append(movement)
        return tuple(sorted(kept, key=lambda m: (m.at, m.identity)))

    @property
    def search_names(self) -> tuple[str, ...]:
        """The interessados' names as the search index keys them (accent- and case-insensitive)."""
        current = self.current
        if current is None or not current.full:
            return ()
        return tuple(sorted({normalize(i.name) for i in current.interested if i.name.strip()}))

    @property
    def updated_at(self) -> datetime | None:
        current = self.current
        return None if current is None else current.last_at


def publishes(level: AccessLevel, restricted_opt_in: bool) -> bool:
    return level is AccessLevel.PUBLICO or (level is AccessLevel.RESTRITO and restricted_opt_in)


def _hidden(
    agency: Agency, source: Source, level: AccessLevel, last_at: datetime, holding: bool = True
) -> PublicPart:
    return PublicPart(
        agency=agency, source=source, level=level, published=False, last_at=last_at, holding=holding
    )


def operation_code(code: str) -> str:
    """A national operation code; anything else is published as "01" (Registro)."""
    return code if code in HISTORY_OPERATIONS else "01"


def operation_name(code: str) -> str:
    return HISTORY_OPERATIONS[operation_code(code)].name


def part_from_copy(
    process: Process,
    history: Sequence[HistoryEntry],
    *,
    agency: Agency,
    unit_label: Callable[[str], str],
    restricted_opt_in: bool,
) -> PublicPart:
    """The part of a hosted agency's copy, from the copy and its whole history."""
    level = process.effective_access_level
    last_at = max((e.at for e in history), default=process.updated_at)
    holding = bool(process.open_units) or process.suspended
    if not publishes(level, restricted_opt_in):
        return _hidden(agency, Source.PLATFORM, level, last_at, holding)
    movements = tuple(
        PublicMovement(at=e.at, unit=unit_label(e.unit_id), operation=operation_code(e.operation))
        for e in history[-MAX_PART_MOVEMENTS:]
    )
    part = PublicPart(
        agency=agency,
        source=Source.PLATFORM,
        level=level,
        published=True,
        last_at=last_at,
        holding=holding,
        movements=movements,
    )
    if level is not AccessLevel.PUBLICO:
        return part
    return replace(
        part,
        process_type=process.process_type,
        specification=process.specification,
        produced_on=process.created_at.date(),
        interested=tuple(PublicInterested(i.name, _public_tax_id(i.tax_id)) for i in process.interested),
        documents=tuple(
            PublicDocument(
                kind=_kind_name(d.kind),
                number=str(d.number) if d.number is not None else None,
                on=d.created_at.date(),
            )
            for d in process.documents
            if d.cancelled_at is None and d.access_level is AccessLevel.PUBLICO
        ),
    )


@dataclass(frozen=True)
class OutsideMovement:
    item_id: str
    at: datetime
    unit: str
    operation: str  # national code "01".."18"


@dataclass(frozen=True)
class OutsideRecord:
    """One record an agency's own system sends (the national Protocolo Integrado's web service)."""

    nup: str
    level: AccessLevel
    produced_on: date
    process_type: str
    specification: str
    kind: str | None = None  # espécie of the process's first document, when sent
    interested: tuple[PublicInterested, ...] = ()
    movements: tuple[OutsideMovement, ...] = ()
    documents: tuple[PublicDocument, ...] = ()


def part_from_outside(
    record: OutsideRecord, previous: PublicPart | None, *, agency: Agency, restricted_opt_in: bool
) -> PublicPart:
    """The part an outside system's record makes, merged with what it sent before: history items are
    kept by the system's own id, so a resent item changes nothing and a new one is added."""
    movements: dict[str, PublicMovement] = {}
    if previous is not None and previous.source is Source.OUTSIDE:
        movements = {m.item_id: m for m in previous.movements}
    for item in record.movements:
        if item.item_id not in movements:
            movements[item.item_id] = PublicMovement(
                at=item.at, unit=item.unit, operation=operation_code(item.operation), item_id=item.item_id
            )
    ordered = tuple(sorted(movements.values(), key=lambda m: (m.at, m.item_id)))[-MAX_PART_MOVEMENTS:]
    last_at = max(
        (m.at for m in ordered),
        default=datetime.combine(record.produced_on, datetime.min.time()).astimezone(),
    )
    if not publishes(record.level, restricted_opt_in):
        return _hidden(agency, Source.OUTSIDE, record.level, last_at)
    part = PublicPart(
        agency=agency,
        source=Source.OUTSIDE,
        level=record.level,
        published=True,
        last_at=last_at,
        movements=ordered,
    )
    if record.level is not AccessLevel.PUBLICO:
        return part
    return replace(
        part,
        process_type=record.process_type,
        specification=record.specification,
        produced_on=record.produced_on,
        interested=record.interested,
        documents=record.documents,
    )


# A trâmite whose receiver sent the recibo de conclusão delivered the process: the receiver holds it.
_DELIVERED = frozenset({TramiteState.RECIBO_ENVIADO, TramiteState.RECIBO_RECEBIDO})


def held_through(tramite: Tramite, agency_id: str) -> bool:
    """The agency held the trâmite's process: it sent it, or it received it through the bus."""
    return tramite.sender_agency_id == agency_id or (
        tramite.receiver_agency_id == agency_id and tramite.state in _DELIVERED
    )


def assign_windows(
    before: PublicRecord | None, after: PublicRecord, window: int
) -> tuple[PublicRecord, bool]:
    """Stamps the movements of `after` with the notification window they were first published in:
    the one `before` gave them, or `window` for those published now. True when some are new."""
    known = {m.identity: m.window for m in before.movements} if before is not None else {}
    fresh = False
    parts = []
    for part in after.parts:
        movements = []
        for movement in part.movements:
            if movement.identity in known:
                movements.append(replace(movement, window=known[movement.identity]))
            elif part.published and after.visible:
                movements.append(replace(movement, window=window))
                fresh = True
            else:
                movements.append(movement)
        parts.append(replace(part, movements=tuple(movements)))
    return replace(after, parts=tuple(parts)), fresh


def new_movements(record: PublicRecord, window: int) -> tuple[PublicMovement, ...]:
    """The movements first published in `window`: what a digest for that window tells."""
    return tuple(m for m in record.movements if m.window == window)


def _public_tax_id(tax_id: str | None) -> str | None:
    if not tax_id:
        return None
    if len(tax_id) == 11:
        return mask_cpf(tax_id)
    return f"{tax_id[:2]}.{tax_id[2:5]}.{tax_id[5:8]}/{tax_id[8:12]}-{tax_id[12:]}"


def _kind_name(code: int) -> str:
    known = DOCUMENT_KINDS.get(code)
    return known.name if known is not None else "Outra"


# --- search ---------------------------------------------------------------------------------------

MIN_NAME_PREFIX = 3  # the name index is partitioned by the first three letters


@dataclass(frozen=True)
class SearchQuery:
    name_prefix: str | None = None  # normalized
    agency_id: str | None = None
    process_type: str | None = None  # normalized
    produced_from: date | None = None
    produced_to: date | None = None


@dataclass(frozen=True)
class SearchHit:
    nup: str
    agency: Agency
    process_type: str
    specification: str
    produced_on: date
    updated_at: datetime


def search_hit(record: PublicRecord) -> SearchHit | None:
    current = record.current
    if current is None or not current.full or current.produced_on is None:
        return None
    return SearchHit(
        nup=record.nup,
        agency=current.agency,
        process_type=current.process_type or "",
        specification=current.specification or "",
        produced_on=current.produced_on,
        updated_at=current.last_at,
    )
