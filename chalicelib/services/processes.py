"""Use cases of processes: open, read, change metadata, move between units, conclude and reopen,
relate, suspend and resume, merge, and the verifiable history.

Every operation reads the process, checks the domain's guards, and writes the change together with
its history entry in one transaction (ProcessRepository.apply). A concurrent change makes that
transaction fail on the version it read: the caller gets a 409, never a silent overwrite.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.catalogs import LEGAL_HYPOTHESES, PlatformOperation, operation_for
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput, NotFound, SequenceTaken
from chalicelib.domain.history import ChainCheck, HistoryEntry, next_entry, verify
from chalicelib.domain.nup import Nup, parse_current_nup
from chalicelib.domain.processes import Metadata, OpenUnit, Process, validate_metadata
from chalicelib.domain.structures import Structure
from chalicelib.services.ports import Clock, InboxItem, Page, ProcessRepository, ProcessWrite
from chalicelib.services.registry import Registry

LEGAL_BASES = frozenset(LEGAL_HYPOTHESES)
BRASILIA = ZoneInfo("America/Sao_Paulo")  # the NUP's year turns at midnight in Brasília
MAX_SEQUENCE_RETRIES = 50
MAX_HISTORY_PAGE = 100


@dataclass(frozen=True)
class Actor:
    """Who acts: the calling agency (from the token) and the person (X-Usuario)."""

    agency_id: str
    user: str


def masked(nup: str) -> str:
    return parse_current_nup(nup).masked


def process_not_found(nup: str) -> NotFound:
    return NotFound(f"Processo {masked(nup)} não encontrado.")


class Processes:
    def __init__(
        self,
        repository: ProcessRepository,
        registry: Registry,
        clock: Clock,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        self._repository = repository
        self._registry = registry
        self._clock = clock
        self._pause = pause

    # --- reads ------------------------------------------------------------------------------------

    def get(self, agency_id: str, nup: str) -> Process:
        """The agency's copy of the process: a NUP only another agency holds answers 404."""
        process = self._repository.get(agency_id, nup)
        if process is None or process.agency_id != agency_id:  # defence in depth: never another's copy
            raise process_not_found(nup)
        return process

    def inbox(self, agency_id: str, unit_id: str, cursor: str | None, limit: int) -> Page[InboxItem]:
        """An inactive unit's inbox still lists what is left there (to move it on); another agency's
        unit is not found, like any resource of another agency."""
        if self._unit_of(agency_id, unit_id) is None:
            raise NotFound(f"Unidade {unit_id} não encontrada no seu órgão.")
        return self._repository.inbox(unit_id, cursor, limit)

    def history(
        self, agency_id: str, nup: str, cursor: str | None, limit: int
    ) -> tuple[Page[HistoryEntry], ChainCheck]:
        process = self.get(agency_id, nup)
        if not 1 <= limit <= MAX_HISTORY_PAGE:
            raise InvalidInput(
                "Tamanho de página inválido.", [FieldError("limite", "deve estar entre 1 e 100")]
            )
        page = self._repository.history(agency_id, nup, cursor, limit)
        whole = whole_history(self._repository, agency_id, nup)
        return page, verify(whole, process.history_seq, process.history_head)

    # --- writes -----------------------------------------------------------------------------------

    def create(self, actor: Actor, unit_id: str, metadata: Metadata) -> Process:
        unit = self._own_unit(actor.agency_id, unit_id)
        validate_metadata(metadata, LEGAL_BASES)
        unit_code = self._protocol_code(unit)
        now = self._clock.now()
        year = now.astimezone(BRASILIA).year
        sequence = self._repository.last_sequence(unit_code, year) + 1
        for attempt in range(MAX_SEQUENCE_RETRIES):
            nup = Nup.issue(unit_code, sequence, year).digits
            process = Process(
                nup=nup,
                agency_id=actor.agency_id,
                opening_unit_id=unit.id,
                process_type=metadata.process_type,
                specification=metadata.specification,
                interested=metadata.interested,
                access_level=metadata.access_level,
                legal_basis=metadata.legal_basis,
                created_at=now,
                updated_at=now,
            )
            entry = self._entry(
                process, unit.id, actor, PlatformOperation.CREATE_PROCESS, f"Processo {masked(nup)} autuado"
            )
            opened = OpenUnit(unit.id, now)
            write = ProcessWrite(
                process.changed(history_seq=entry.seq, history_head=entry.hash, open_units=(opened,)),
                entry,
                open_units=(opened,),
            )
            try:
                return self._repository.create(write, unit_code, year, sequence)
            except SequenceTaken:
                # Full jitter spreads the requests that collided, so they stop colliding again.
                self._pause(random.uniform(0, min(0.1, 0.002 * 2**attempt)))  # noqa: S311 - not crypto
                sequence = self._repository.last_sequence(unit_code, year) + 1
        raise Conflict("Muitas autuações simultâneas nesta unidade; tente novamente em instantes.")

    def update(
        self, actor: Actor, nup: str, unit_id: str, metadata: Metadata, expected_version: int
    ) -> Process:
        process = self._writable(actor, nup, unit_id)
        if process.version != expected_version:
            raise Conflict(
                f"O processo foi alterado desde a versão {expected_version} (agora {process.version}); "
                "releia-o e repita."
            )
        validate_metadata(metadata, LEGAL_BASES)
        changes = _describe_changes(process, metadata)
        if not changes:
            return process
        updated = process.changed(
            process_type=metadata.process_type,
            specification=metadata.specification,
            interested=metadata.interested,
            access_level=metadata.access_level,
            legal_basis=metadata.legal_basis,
        )
        return self._commit(updated, unit_id, actor, PlatformOperation.UPDATE_METADATA, "; ".join(changes))

    def send(
        self,
        actor: Actor,
        nup: str,
        *,
        from_unit: str,
        to_units: list[str],
        keep_open: bool,
        return_by: date | None,
    ) -> Process:
        process = self._writable(actor, nup, from_unit)
        targets = list(dict.fromkeys(to_units))
        problems = [FieldError("unidadesDestino", "informe pelo menos uma unidade")] if not targets else []
        for index, target in enumerate(targets):
            if target == from_unit:
                problems.append(FieldError(f"unidadesDestino.{index}", "é a própria unidade de origem"))
            elif process.open_in(target) is not None:
                problems.append(
                    FieldError(f"unidadesDestino.{index}", "o processo já está aberto nesta unidade")
                )
        now = self._clock.now()
        if return_by is not None and return_by <= now.astimezone(BRASILIA).date():
            problems.append(FieldError("retornoProgramado", "deve ser uma data futura"))
        if problems:
            raise InvalidInput("Envio inválido.", problems)
        names = [self._own_unit(actor.agency_id, t).acronym for t in targets]
        opened = tuple(OpenUnit(t, now, from_unit, return_by) for t in targets)
        updated = process.changed(
            open_units=(*[u for u in process.open_units if keep_open or u.unit_id != from_unit], *opened)
        )
        description = f"Processo enviado para {', '.join(names)}" + (
            "" if keep_open else "; concluído na origem"
        )
        if return_by:
            description += f"; retorno programado para {return_by:%d/%m/%Y}"
        return self._commit(
            updated,
            from_unit,
            actor,
            PlatformOperation.SEND_TO_UNIT,
            description,
            open_units=opened,
            close_units=() if keep_open else (from_unit,),
        )

    def conclude(self, actor: Actor, nup: str, unit_id: str) -> Process:
        process = self._writable(actor, nup, unit_id)
        updated = process.changed(open_units=tuple(u for u in process.open_units if u.unit_id != unit_id))
        return self._commit(
            updated,
            unit_id,
            actor,
            PlatformOperation.CONCLUDE,
            "Processo concluído na unidade",
            close_units=(unit_id,),
        )

    def reopen(self, actor: Actor, nup: str, unit_id: str) -> Process:
        process = self.get(actor.agency_id, nup)
        unit = self._own_unit(actor.agency_id, unit_id)
        process.require_unlocked()
        if process.merged_into is not None:
            raise Conflict(
                f"O processo foi anexado ao processo {process.merged_into} e não pode ser reaberto."
            )
        if process.open_in(unit_id) is not None:
            raise Conflict(f"O processo já está aberto na unidade {unit.acronym}.")
        opened = OpenUnit(unit_id, self._clock.now())
        updated = process.changed(open_units=(*process.open_units, opened))
        return self._commit(
            updated,
            unit_id,
            actor,
            PlatformOperation.REOPEN,
            f"Processo reaberto na unidade {unit.acronym}",
            open_units=(opened,),
        )

    def relate(self, actor: Actor, nup: str, other_nup: str, unit_id: str) -> Process:
        process = self._writable(actor, nup, unit_id)
        other = self.get(actor.agency_id, other_nup)
        other.require_unlocked()  # the relation is written into the other process too
        if other.nup == process.nup:
            raise InvalidInput(
                "Um processo não pode ser relacionado a si mesmo.",
                [FieldError("processo", "é o mesmo processo")],
            )
        if other.nup in process.related:
            raise Conflict("Os processos já estão relacionados.")
        this_masked, other_masked = masked(process.nup), masked(other.nup)
        first = self._write(
            process.changed(related=process.related | {other.nup}),
            unit_id,
            actor,
            PlatformOperation.RELATE,
            f"Relacionado ao processo {other_masked}",
            relations=(("relacionado", other.nup),),
        )
        second = self._write(
            other.changed(related=other.related | {process.nup}),
            unit_id,
            actor,
            PlatformOperation.RELATE,
            f"Relacionado ao processo {this_masked}",
            relations=(("relacionado", process.nup),),
        )
        return self._repository.apply([first, second])[0]

    def suspend(self, actor: Actor, nup: str, unit_id: str, reason: str) -> Process:
        process = self._writable(actor, nup, unit_id)
        updated = process.changed(suspended=True, suspension_reason=reason)
        return self._commit(
            updated, unit_id, actor, PlatformOperation.SUSPEND, f"Processo sobrestado: {reason}"
        )

    def resume(self, actor: Actor, nup: str, unit_id: str) -> Process:
        process = self.get(actor.agency_id, nup)
        process.require_unlocked()
        if not process.suspended:
            raise Conflict("O processo não está sobrestado.")
        if process.open_in(unit_id) is None:
            raise Conflict(f"O processo não está aberto na unidade {unit_id}.")
        updated = process.changed(suspended=False, suspension_reason=None)
        return self._commit(
            updated, unit_id, actor, PlatformOperation.RESUME, "Sobrestamento encerrado; processo retomado"
        )

    def merge(self, actor: Actor, nup: str, into_nup: str, unit_id: str) -> Process:
        """Anexação: `nup` becomes part of `into_nup` for good; both must be open in the unit."""
        process = self._writable(actor, nup, unit_id)
        principal = self._writable(actor, into_nup, unit_id)
        if principal.nup == process.nup:
            raise InvalidInput(
                "Um processo não pode ser anexado a si mesmo.",
                [FieldError("principal", "é o mesmo processo")],
            )
        if process.merged:
            raise Conflict("Um processo que tem anexos não pode ser anexado a outro.")
        this_masked, principal_masked = masked(process.nup), masked(principal.nup)
        merged = self._write(
            process.changed(merged_into=principal.nup, open_units=()),
            unit_id,
            actor,
            PlatformOperation.MERGE,
            f"Anexado ao processo {principal_masked}",
            close_units=tuple(u.unit_id for u in process.open_units),
            relations=(("anexo", principal.nup),),
        )
        receiving = self._write(
            principal.changed(merged=principal.merged | {process.nup}),
            unit_id,
            actor,
            PlatformOperation.MERGE,
            f"Processo {this_masked} anexado a este",
            relations=(("anexo", process.nup),),
        )
        return self._repository.apply([merged, receiving])[0]

    # --- shared with the documents service ---------------------------------------------------------

    def writable(self, actor: Actor, nup: str, unit_id: str) -> Process:
        """The process, checked writable by the actor in the unit (own agency, open there, not
        suspended or merged)."""
        return self._writable(actor, nup, unit_id)

    def prepare_write(
        self,
        updated: Process,
        unit_id: str,
        actor: Actor,
        operation: PlatformOperation,
        description: str,
        **changes: tuple[Any, ...],
    ) -> ProcessWrite:
        """The change of `updated` with its history entry, for ProcessRepository.apply."""
        return self._write(updated, unit_id, actor, operation, description, **changes)

    # --- helpers ----------------------------------------------------------------------------------

    def _writable(self, actor: Actor, nup: str, unit_id: str) -> Process:
        process = self.get(actor.agency_id, nup)
        self._own_unit(actor.agency_id, unit_id)
        process.require_writable_in(unit_id)
        return process

    def _unit_of(self, agency_id: str, unit_id: str) -> Structure | None:
        """The unit, if it is one of the agency's (active or not)."""
        unit = self._registry.find(unit_id)
        return unit if unit is not None and unit.agency_id == agency_id and not unit.is_agency else None

    def _own_unit(self, agency_id: str, unit_id: str) -> Structure:
        """An active unit of the agency, named in a request's body."""
        unit = self._unit_of(agency_id, unit_id)
        if unit is None:
            raise InvalidInput(
                "Unidade inválida.", [FieldError("unidade", f"{unit_id} não é uma unidade do seu órgão")]
            )
        if not unit.active:
            raise InvalidInput(
                "Unidade inativa.", [FieldError("unidade", f"a unidade {unit.acronym} está inativa")]
            )
        return unit

    def _protocol_code(self, unit: Structure) -> str:
        current: Structure | None = unit
        for _ in range(30):
            if current is None:
                break
            if current.protocol_code:
                return current.protocol_code
            current = self._registry.find(current.parent_id) if current.parent_id else None
        raise InvalidInput(
            "A unidade não está ligada a uma unidade protocolizadora.",
            [FieldError("unidade", "nem ela nem as unidades acima dela têm código de protocolo (NUP)")],
        )

    def _entry(
        self, process: Process, unit_id: str, actor: Actor, operation: PlatformOperation, description: str
    ) -> HistoryEntry:
        return next_entry(
            nup=process.nup,
            head_seq=process.history_seq,
            head_hash=process.history_head,
            at=self._clock.now(),
            unit_id=unit_id,
            user=actor.user,
            operation=operation_for(operation).code,
            description=description,
        )

    def _write(
        self,
        updated: Process,
        unit_id: str,
        actor: Actor,
        operation: PlatformOperation,
        description: str,
        **changes: tuple[Any, ...],
    ) -> ProcessWrite:
        entry = self._entry(updated, unit_id, actor, operation, description)
        sealed = updated.changed(history_seq=entry.seq, history_head=entry.hash, updated_at=entry.at)
        return ProcessWrite(sealed, entry, **changes)

    def _commit(
        self,
        updated: Process,
        unit_id: str,
        actor: Actor,
        operation: PlatformOperation,
        description: str,
        **changes: tuple[Any, ...],
    ) -> Process:
        return self._repository.apply(
            [self._write(updated, unit_id, actor, operation, description, **changes)]
        )[0]


def _describe_changes(process: Process, metadata: Metadata) -> list[str]:
    """old -> new for each changed field, as the history records it."""
    pairs: list[tuple[str, object, object]] = [
        ("tipo", process.process_type, metadata.process_type),
        ("especificação", process.specification, metadata.specification),
        (
            "interessados",
            ", ".join(i.name for i in process.interested),
            ", ".join(i.name for i in metadata.interested),
        ),
        ("nível de acesso", int(process.access_level), int(metadata.access_level)),
        ("hipótese legal", process.legal_basis or "—", metadata.legal_basis or "—"),
    ]
    changes = [f"{name}: {old!s} → {new!s}" for name, old, new in pairs if old != new]
    if not changes and [i.tax_id for i in process.interested] != [i.tax_id for i in metadata.interested]:
        changes.append("documentos dos interessados alterados")
    return changes


def whole_history(repository: ProcessRepository, agency_id: str, nup: str) -> list[HistoryEntry]:
    """A copy's whole history, oldest first, read page after page (the chain check, the bus's
    manifest and the public base all need every entry)."""
    entries: list[HistoryEntry] = []
    cursor: str | None = None
    while True:
        page = repository.history(agency_id, nup, cursor, MAX_HISTORY_PAGE)
        entries.extend(page.items)
        cursor = page.cursor
        if cursor is None:
            return entries
