"""Public tracking (the Protocolo Integrado pillar): keeps the public base and answers citizens.

The base is fed two ways: the hosted agencies' copies, projected on every event of the processes
table's stream (`project_copy`), and records sent by agencies' own systems (`submit`). Both build a
part already filtered by the privacy rules (domain/tracking.py) and merge it into the NUP's record
with an optimistic read-merge-save. Projection always reads the agency's current copy and whole
history, so a duplicate or late event rebuilds the same part and writes nothing.

A movement published for the first time is stamped with its notification window; the digest of
that window is scheduled BEFORE the record is saved: a crash after the enqueue leaves an empty
digest (harmless), a crash after the save cannot lose the notice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from chalicelib.domain.errors import BatchTooLarge, Conflict, FieldError, InvalidInput, NotFound
from chalicelib.domain.following import window_end, window_of
from chalicelib.domain.nup import parse_nup
from chalicelib.domain.tracking import (
    MIN_NAME_PREFIX,
    Agency,
    OutsideRecord,
    PublicPart,
    PublicRecord,
    SearchHit,
    SearchQuery,
    Source,
    assign_windows,
    held_through,
    part_from_copy,
    part_from_outside,
)
from chalicelib.services.ports import (
    Clock,
    NoticeQueue,
    Page,
    ProcessRepository,
    PublicationRepository,
    PublicRecordRepository,
    StructureQuery,
    TramiteRepository,
)
from chalicelib.services.processes import whole_history
from chalicelib.services.registry import Registry

MAX_BATCH = 100  # records per POST /protocolo-integrado/registros
MAX_SAVE_ATTEMPTS = 5
# The digest leaves a little after its window closes, so a projection racing the close still makes
# it: 30 s, or a quarter of a short window (the local stack's 10 s window waits 2 s more, not 30).
DIGEST_MARGIN_SECONDS = 30
MAX_DIGEST_DELAY = 900  # SQS's longest delay
MAX_SEARCH_PAGE = 50
CLOCK_SKEW = timedelta(minutes=5)  # an outside system's clock may run a little ahead
NOT_FOUND_DETAIL = (
    "Processo não encontrado na base pública. Confira o número; processos sigilosos não são publicados."
)


class Outcome(StrEnum):
    STORED = "registrado"
    UNCHANGED = "inalterado"
    REFUSED = "recusado"


@dataclass(frozen=True)
class SubmitResult:
    index: int
    nup: str | None
    outcome: Outcome
    errors: list[FieldError] = field(default_factory=list)


def not_found() -> NotFound:
    """The one answer for an unknown NUP and for a NUP that is not published (no hint which)."""
    return NotFound(NOT_FOUND_DETAIL)


class PublicTracking:
    def __init__(
        self,
        records: PublicRecordRepository,
        processes: ProcessRepository,
        registry: Registry,
        publication: PublicationRepository,
        notices: NoticeQueue,
        *,
        tramites: TramiteRepository,
        clock: Clock,
        window_seconds: int,
    ) -> None:
        self._records = records
        self._processes = processes
        self._registry = registry
        self._publication = publication
        self._notices = notices
        self._tramites = tramites
        self._clock = clock
        self._window_seconds = window_seconds

    # --- feeding the base ------------------------------------------------------------------------

    def project_copy(self, agency_id: str, nup: str) -> bool:
        """Rebuilds the agency's part of the NUP from its current copy; True when the record changed."""
        process = self._processes.get(agency_id, nup)
        if process is None:
            return False
        history = whole_history(self._processes, agency_id, nup)
        agency = self._agency(agency_id)
        opt_in = self._publication.publishes_restricted(agency_id)
        part = part_from_copy(
            process, history, agency=agency, unit_label=self._unit_labels(), restricted_opt_in=opt_in
        )
        return self._merge(nup, lambda _previous: part)

    def submit(self, agency_id: str, items: Sequence[OutsideRecord | InvalidInput]) -> list[SubmitResult]:
        """Stores each valid record of an agency's own system; one result per item, in order. A batch
        over MAX_BATCH is refused whole, before anything is stored."""
        if len(items) > MAX_BATCH:
            raise BatchTooLarge(
                f"O lote tem {len(items)} registros; envie no máximo {MAX_BATCH} por requisição.",
                [FieldError("registros", f"no máximo {MAX_BATCH} itens")],
            )
        agency = self._agency(agency_id)
        opt_in = self._publication.publishes_restricted(agency_id)
        codes = self._protocol_codes(agency_id)
        results: list[SubmitResult] = []
        for index, item in enumerate(items):
            if isinstance(item, InvalidInput):
                results.append(SubmitResult(index, None, Outcome.REFUSED, _prefixed(item.fields, index)))
                continue
            try:
                changed = self._submit_one(item, agency, opt_in, codes)
            except InvalidInput as error:
                results.append(SubmitResult(index, item.nup, Outcome.REFUSED, _prefixed(error.fields, index)))
                continue
            results.append(SubmitResult(index, item.nup, Outcome.STORED if changed else Outcome.UNCHANGED))
        return results

    def _submit_one(self, record: OutsideRecord, agency: Agency, opt_in: bool, codes: frozenset[str]) -> bool:
        self._check_dates(record)
        # Its own protocol units' NUPs, or one the bus carried from or to it.
        owned = record.nup[:5] in codes or self._held_through_bus(agency.id, record.nup)

        def build(previous: PublicRecord | None) -> PublicPart:
            own = previous.part(agency.id) if previous is not None else None
            if own is None and not owned:
                raise InvalidInput(
                    "O NUP pertence a outro órgão.",
                    [
                        FieldError(
                            "nup",
                            "o código da unidade protocolizadora do NUP não é de uma unidade deste órgão, "
                            "e o processo não chegou a ele pelo barramento",
                        )
                    ],
                )
            if own is not None and own.source is Source.PLATFORM:
                raise InvalidInput(
                    "Este processo é mantido nesta plataforma; seus andamentos já são publicados.",
                    [FieldError("nup", "processo hospedado na plataforma: não aceita registros externos")],
                )
            return part_from_outside(record, own, agency=agency, restricted_opt_in=opt_in)

        return self._merge(record.nup, build)

    def _check_dates(self, record: OutsideRecord) -> None:
        latest = self._clock.now() + CLOCK_SKEW
        problems: list[FieldError] = []
        if record.produced_on > latest.date():
            problems.append(FieldError("dataAutuacao", "não pode estar no futuro"))
        for index, movement in enumerate(record.movements):
            if movement.at > latest:
                problems.append(FieldError(f"andamentos.{index}.data", "não pode estar no futuro"))
            elif movement.at.date() < record.produced_on:
                problems.append(FieldError(f"andamentos.{index}.data", "é anterior à data de autuação"))
        if problems:
            raise InvalidInput("O registro tem datas inválidas.", problems)

    def _merge(self, nup: str, build: Callable[[PublicRecord | None], PublicPart]) -> bool:
        """Read-merge-save, retried when another writer got in between. False when nothing changed."""
        for attempt in range(MAX_SAVE_ATTEMPTS):
            previous = self._records.get(nup)
            base = previous if previous is not None else PublicRecord(nup=nup)
            now = self._clock.now()
            window = window_of(now, self._window_seconds)
            merged, fresh = assign_windows(previous, base.with_part(build(previous)), window)
            if previous is not None and merged.parts == previous.parts:
                return False
            if fresh:
                margin = min(DIGEST_MARGIN_SECONDS, max(1, self._window_seconds // 4))
                delay = window_end(window, self._window_seconds) - int(now.timestamp()) + margin
                self._notices.schedule_digest(nup, window, max(0, min(delay, MAX_DIGEST_DELAY)))
            try:
                self._records.save(merged, previous)
            except Conflict:
                if attempt == MAX_SAVE_ATTEMPTS - 1:
                    raise
                continue
            return True
        return False  # pragma: no cover - the loop returns or raises

    def _held_through_bus(self, agency_id: str, nup: str) -> bool:
        if len(nup) != 17:  # the bus carries current NUPs only
            return False
        cursor: str | None = None
        while True:
            page = self._tramites.by_nup(nup, cursor, 50)
            if any(held_through(t, agency_id) for t in page.items):
                return True
            cursor = page.cursor
            if cursor is None:
                return False

    def _agency(self, agency_id: str) -> Agency:
        found = self._registry.find(agency_id)
        if found is None:
            return Agency(agency_id, agency_id, agency_id)
        return Agency(found.id, found.acronym, found.name)

    def _unit_labels(self) -> Callable[[str], str]:
        labels: dict[str, str] = {}

        def label(unit_id: str) -> str:
            if unit_id not in labels:
                found = self._registry.find(unit_id)
                labels[unit_id] = found.acronym if found is not None else unit_id
            return labels[unit_id]

        return label

    def _protocol_codes(self, agency_id: str) -> frozenset[str]:
        """The protocol unit codes of the agency's structures: the NUPs it may report."""
        codes: set[str] = set()
        own = self._registry.find(agency_id)
        if own is not None and own.protocol_code:
            codes.add(own.protocol_code)
        structures = self._registry.each(StructureQuery(agency_id=agency_id))
        codes.update(s.protocol_code for s in structures if s.protocol_code)
        return frozenset(codes)

    # --- citizens ----------------------------------------------------------------------------------

    def lookup(self, nup_text: str, field_name: str = "nup") -> PublicRecord:
        """The visible record of a NUP typed in any accepted form. A wrong check digit is
        InvalidInput; unknown and unpublished NUPs are the same NotFound."""
        digits = parse_nup(nup_text, field_name).digits
        record = self._records.get(digits, consistent=False)
        if record is None or not record.visible:
            raise not_found()
        return record

    def search(self, query: SearchQuery, cursor: str | None, limit: int) -> Page[SearchHit]:
        problems: list[FieldError] = []
        if query.name_prefix is None and query.agency_id is None and query.process_type is None:
            problems.append(
                FieldError("nome", "informe o nome de um interessado, o órgão ou o tipo de processo")
            )
        if query.name_prefix is not None and len(query.name_prefix) < MIN_NAME_PREFIX:
            problems.append(FieldError("nome", "informe ao menos as 3 primeiras letras do nome"))
        if query.produced_from and query.produced_to and query.produced_from > query.produced_to:
            problems.append(FieldError("de", "deve ser igual ou anterior a 'ate'"))
        if not 1 <= limit <= MAX_SEARCH_PAGE:
            problems.append(FieldError("limite", f"deve estar entre 1 e {MAX_SEARCH_PAGE}"))
        if problems:
            raise InvalidInput("A pesquisa tem critérios inválidos.", problems)
        return self._records.search(query, cursor, limit)

    # --- agencies' choice --------------------------------------------------------------------------

    def publishes_restricted(self, agency_id: str) -> bool:
        return self._publication.publishes_restricted(agency_id)

    def set_publishes_restricted(self, agency_id: str, value: bool) -> bool:
        """Takes effect from the agency's next event on (each projection reads it)."""
        self._publication.set_publishes_restricted(agency_id, value, self._clock.now())
        return value


def _prefixed(fields: list[FieldError], index: int) -> list[FieldError]:
    return [FieldError(f"registros.{index}.{f.field}", f.message) for f in fields]
