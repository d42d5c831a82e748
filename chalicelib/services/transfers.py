"""Processes and the bus: the manifest of a send, the lock of a process in transit, and the import of a
process received through the bus into an agency hosted here.

The bus (services/bus.py) drives these: a send takes `outgoing_manifest`, then the bus's send, then
`lock`; the end of a trâmite calls `release` at the sender; a trâmite addressed to an agency of this
platform is imported with `import_process`. Components are content-addressed in the same S3 bucket
(documents.blob_key), so between hosted agencies an import moves no bytes: the copy's documents point
at the objects the sender's copy already uses.

History operation codes (catalogs.HISTORY_OPERATIONS), as mod-sei-pen maps its bus tasks:
- lock (remessa externa, "processo expedido"): "02" Envio de documento avulso/processo;
- import (processo recebido): "04" Recebimento de documento;
- release (trâmite concluído, recusado or cancelado): "01" Registro, as mod-sei-pen sends for tasks
  with no national code of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from chalicelib.domain.bus import (
    Address,
    ComponentSignature,
    Header,
    HistoryItem,
    Identification,
    Interested,
    Manifest,
    ManifestComponent,
    ManifestDocument,
    ManifestProcess,
    Producer,
    validate_manifest,
)
from chalicelib.domain.catalogs import HISTORY_OPERATIONS
from chalicelib.domain.documents import Component, Document, documents_level
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput
from chalicelib.domain.history import HistoryEntry, next_entry
from chalicelib.domain.nup import parse_current_nup
from chalicelib.domain.people import parse_document
from chalicelib.domain.processes import (
    AccessLevel,
    OpenUnit,
    Process,
    ReceivedDocument,
    ReceivedSignature,
)
from chalicelib.domain.processes import Interested as ProcessInterested
from chalicelib.domain.structures import Structure
from chalicelib.services.ports import Clock, ImportWrite, ProcessRepository, ProcessWrite
from chalicelib.services.processes import Actor, Processes, masked, whole_history
from chalicelib.services.registry import Registry

SENT = "02"  # Envio de documento avulso/processo
RECEIVED = "04"  # Recebimento de documento
REGISTERED = "01"  # Registro
BUS_USER = "barramento"  # who records what the bus does (no person acts)


class ProcessTransfers:
    def __init__(self, repository: ProcessRepository, registry: Registry, clock: Clock) -> None:
        self._repository = repository
        self._registry = registry
        self._clock = clock
        self._processes = Processes(repository, registry, clock)

    # --- send -------------------------------------------------------------------------------------

    def outgoing_manifest(  # noqa: PLR0917 - the bus's route calls it with this signature
        self,
        actor: Actor,
        nup: str,
        unit_id: str,
        sender: Address,
        receivers: Sequence[Address],
        nre: str | None,
        urgent: bool = False,
        urgency_reason: str | None = None,
    ) -> Manifest:
        """The manifest of the agency's copy of `nup` for a send from `unit_id` (where it must be
        writable); validate_manifest's rules apply (InvalidInput listing every problem)."""
        process = self._processes.writable(actor, nup, unit_id)
        if not receivers:
            raise InvalidInput(
                "Informe o destinatário do trâmite.", [FieldError("destinatarios", "informe pelo menos um")]
            )
        if nre is not None and process.nre is not None and nre != process.nre:
            raise Conflict(
                f"O processo {masked(process.nup)} tramita pelo barramento com o NRE {process.nre}, "
                f"não {nre}: use o NRE do processo."
            )
        header = Header(
            sender=sender,
            receiver=receivers[0],
            nre=nre if nre is not None else process.nre,
            urgent=urgent,
            urgency_reason=urgency_reason,
        )
        opening = self._registry.find(process.opening_unit_id)
        history = whole_history(self._repository, process.agency_id, process.nup)
        manifest = Manifest(
            header=header,
            process=ManifestProcess(
                nup=process.nup,
                access_level=int(process.access_level),
                legal_basis=process.legal_basis,
                process_type=process.process_type,
                specification=process.specification,
                produced_at=process.created_at,
                registered_at=process.created_at,
                producer=_unit_producer(opening, process.opening_unit_id),
                interested=tuple(Interested(i.name, i.tax_id) for i in process.interested),
                related=tuple(sorted(process.related)),
                history=tuple(self._history_item(e) for e in history),
            ),
            documents=tuple(
                self._manifest_document(process, d) for d in process.documents if not d.cancelled
            ),
        )
        validate_manifest(manifest)
        return manifest

    def lock(  # noqa: PLR0917 - the bus's worker calls it with this signature
        self,
        agency_id: str,
        nup: str,
        idts: Sequence[str],
        nre: str,
        user: str,
        unit_id: str,
        *,
        expected_version: int | None = None,
    ) -> Process:
        """Locks the copy (read-only) for these open trâmites and records the NRE for good. Locking
        again with the same IDTs changes nothing; a lock held by another trâmite is a Conflict, and so
        is a process changed since `expected_version` (the manifest sent would be stale)."""
        wanted = frozenset(idts)
        if not wanted:
            raise InvalidInput("Informe o trâmite.", [FieldError("idts", "informe pelo menos um IDT")])
        process = self._processes.get(agency_id, nup)
        if process.locked_by and wanted <= process.locked_by and process.nre == nre:
            return process  # a retry of the same lock
        if process.nre is not None and process.nre != nre:
            raise Conflict(
                f"O processo {masked(process.nup)} tramita pelo barramento com o NRE {process.nre}, "
                f"não {nre}."
            )
        actor = Actor(agency_id, user)
        process = self._processes.writable(actor, nup, unit_id)  # not locked, open in the unit
        if expected_version is not None and process.version != expected_version:
            raise Conflict(
                f"O processo {masked(process.nup)} foi alterado enquanto era enviado pelo barramento; "
                "o envio foi cancelado. Confira o processo e envie de novo."
            )
        listed = ", ".join(sorted(wanted))
        entry = self._entry(
            process,
            unit_id=unit_id,
            user=user,
            operation=SENT,
            description=f"Processo remetido pelo barramento (trâmite externo; IDT {listed}, NRE {nre})",
            at=self._clock.now(),
        )
        locked = process.changed(
            nre=nre, locked_by=wanted, history_seq=entry.seq, history_head=entry.hash, updated_at=entry.at
        )
        return self._repository.apply([ProcessWrite(locked, entry)])[0]

    def release(self, agency_id: str, nup: str, idt: str, *, delivered: bool, note: str) -> Process:
        """Ends trâmite `idt`'s lock; with `delivered` (recibo de conclusão received) the process is
        also concluded in every unit where it is open. Idempotent: nothing happens once `idt` is no
        longer in the lock."""
        process = self._processes.get(agency_id, nup)
        if idt not in process.locked_by:
            return process
        unit_id = process.open_units[0].unit_id if process.open_units else process.opening_unit_id
        entry = self._entry(process, unit_id=unit_id, user=BUS_USER, operation=REGISTERED, description=note,
                            at=self._clock.now())  # fmt: skip
        closed = tuple(u.unit_id for u in process.open_units) if delivered else ()
        released = process.changed(
            locked_by=process.locked_by - {idt},
            open_units=() if delivered else process.open_units,
            history_seq=entry.seq,
            history_head=entry.hash,
            updated_at=entry.at,
        )
        return self._repository.apply([ProcessWrite(released, entry, close_units=closed)])[0]

    # --- receive ----------------------------------------------------------------------------------

    def import_process(
        self,
        agency_id: str,
        unit_id: str,
        manifest: Manifest,
        *,
        idt: str,
        nre: str,
        received_at: datetime,
        sender_label: str,
    ) -> Process:
        """Imports trâmite `idt` into the agency's copy of the manifest's NUP, once: a new copy open
        in `unit_id`, or (the return path) the existing copy with the new documents appended and
        reopened in `unit_id`. A redelivery returns the stored copy unchanged. Everything written is
        derived from the manifest, `idt` and `received_at`, so an interrupted import redone writes
        the same items."""
        unit = self._receiving_unit(agency_id, unit_id)
        nup = parse_current_nup(manifest.process.nup, "processo.nup").digits
        if self._repository.imported(agency_id, nup, idt):
            return self._processes.get(agency_id, nup)
        existing = self._repository.get(agency_id, nup)
        description = f"Processo recebido pelo barramento de {sender_label} (IDT {idt}, NRE {nre})"
        if existing is None:
            write = self._new_copy(agency_id=agency_id, unit=unit, nup=nup, manifest=manifest, idt=idt,
                                   nre=nre, received_at=received_at, description=description)  # fmt: skip
        else:
            write = self._return(copy=existing, unit=unit, manifest=manifest, idt=idt, nre=nre,
                                 received_at=received_at, description=description)  # fmt: skip
        try:
            return self._repository.import_copy(write)
        except Conflict:
            if self._repository.imported(agency_id, nup, idt):  # a concurrent delivery won
                return self._processes.get(agency_id, nup)
            raise

    def _new_copy(
        self,
        *,
        agency_id: str,
        unit: Structure,
        nup: str,
        manifest: Manifest,
        idt: str,
        nre: str,
        received_at: datetime,
        description: str,
    ) -> ImportWrite:
        source = manifest.process
        documents = tuple(_document(nup, unit.id, d) for d in manifest.documents)
        received = tuple(_received(d, idt) for d in manifest.documents)
        opened = OpenUnit(unit.id, received_at)
        process = Process(
            nup=nup,
            agency_id=agency_id,
            opening_unit_id=unit.id,
            process_type=source.process_type,
            specification=source.specification,
            interested=tuple(ProcessInterested(i.name, _tax_id(i.tax_id)) for i in source.interested),
            access_level=AccessLevel(source.access_level),
            legal_basis=source.legal_basis,
            created_at=source.produced_at,
            updated_at=received_at,
            open_units=(opened,),
            documents_access_level=documents_level(documents),
            documents=documents,
            nre=nre,
            received=received,
        )
        entries: list[HistoryEntry] = []
        head_seq, head_hash = 0, ""
        for item in source.history:  # the sender's history, with its own dates, chained here
            entry = next_entry(
                nup=nup,
                head_seq=head_seq,
                head_hash=head_hash,
                at=item.at,
                unit_id=item.unit,
                user=item.user or "",
                operation=item.operation,
                description=item.description or HISTORY_OPERATIONS[item.operation].name,
            )
            entries.append(entry)
            head_seq, head_hash = entry.seq, entry.hash
        process = process.changed(history_seq=head_seq, history_head=head_hash)
        last = self._entry(process, unit_id=unit.id, user=BUS_USER, operation=RECEIVED,
                           description=description, at=received_at)  # fmt: skip
        entries.append(last)
        return ImportWrite(
            process=process.changed(history_seq=last.seq, history_head=last.hash),
            entries=tuple(entries),
            documents=documents,
            open_units=(opened,),
            idt=idt,
            nre=nre,
            received_at=received_at,
        )

    def _return(
        self,
        *,
        copy: Process,
        unit: Structure,
        manifest: Manifest,
        idt: str,
        nre: str,
        received_at: datetime,
        description: str,
    ) -> ImportWrite:
        """The process comes back: what the copy holds must come back unchanged; only new documents
        (new orders) are added."""
        if copy.nre is not None and copy.nre != nre:
            raise Conflict(
                f"A cópia do processo {masked(copy.nup)} neste órgão tramita com o NRE {copy.nre}, não {nre}."
            )
        incoming = {d.order: d for d in manifest.documents}
        problems: list[FieldError] = []
        for held in copy.documents:
            came = incoming.get(held.order)
            path = f"documentos.{held.order - 1}"
            if came is None:
                if not held.cancelled:
                    problems.append(FieldError(path, f"o documento {held.order} não voltou no manifesto"))
            elif len(came.components) != 1 or came.components[0].sha256 != held.component.sha256:
                problems.append(
                    FieldError(path, f"o documento {held.order} voltou com conteúdo diferente (SHA-256)")
                )
        if problems:
            raise Conflict(
                f"O processo {masked(copy.nup)} voltou pelo barramento com documentos que esta cópia já "
                "tem alterados ou fora de ordem.",
                problems,
            )
        new = [d for d in manifest.documents if copy.document(d.order) is None]
        added = tuple(_document(copy.nup, unit.id, d) for d in new)
        documents = tuple(sorted((*copy.documents, *added), key=lambda d: d.order))
        opened = () if copy.open_in(unit.id) is not None else (OpenUnit(unit.id, received_at),)
        process = copy.changed(
            documents=documents,
            documents_access_level=documents_level(documents),
            received=tuple(
                sorted((*copy.received, *(_received(d, idt) for d in new)), key=lambda r: r.order)
            ),
            open_units=(*copy.open_units, *opened),
            nre=nre,
        )
        entry = self._entry(process, unit_id=unit.id, user=BUS_USER, operation=RECEIVED,
                            description=description, at=received_at)  # fmt: skip
        return ImportWrite(
            process=process.changed(history_seq=entry.seq, history_head=entry.hash, updated_at=received_at),
            entries=(entry,),
            documents=added,
            open_units=opened,
            idt=idt,
            nre=nre,
            received_at=received_at,
        )

    # --- helpers ----------------------------------------------------------------------------------

    def _receiving_unit(self, agency_id: str, unit_id: str) -> Structure:
        unit = self._registry.find(unit_id)
        if unit is None or unit.agency_id != agency_id or unit.is_agency:
            raise InvalidInput(
                "Unidade inválida.",
                [FieldError("unidade", f"{unit_id} não é uma unidade do órgão {agency_id}")],
            )
        return unit

    def _entry(
        self, process: Process, *, unit_id: str, user: str, operation: str, description: str, at: datetime
    ) -> HistoryEntry:
        return next_entry(
            nup=process.nup,
            head_seq=process.history_seq,
            head_hash=process.history_head,
            at=at,
            unit_id=unit_id,
            user=user,
            operation=operation,
            description=description,
        )

    def _history_item(self, entry: HistoryEntry) -> HistoryItem:
        unit = self._registry.find(entry.unit_id)  # imported entries already carry a unit's name
        return HistoryItem(
            at=entry.at,
            unit=unit.name if unit is not None else entry.unit_id,
            operation=entry.operation,
            user=entry.user or None,
            description=entry.description or None,
        )

    def _manifest_document(self, process: Process, document: Document) -> ManifestDocument:
        unit = self._registry.find(document.unit_id)
        acronym = unit.acronym if unit is not None else None
        component = document.component
        received = process.received_document(document.order)
        carried = received.signatures if received is not None else ()
        signatures = tuple(
            ComponentSignature(s.reason, s.signed_at, s.value, s.certificate_chain) for s in carried
        ) + tuple(
            ComponentSignature(
                reason=f"Assinado por {s.record.signer_name} ({s.record.signer_role})",
                signed_at=s.record.signed_at,
                value=s.stamp.signature,
                certificate_chain=None,
            )
            for s in document.signatures
        )
        numbered = document.number is not None
        return ManifestDocument(
            order=document.order,
            kind=document.kind,
            origin=document.origin,
            access_level=int(document.access_level),
            legal_basis=document.legal_basis,
            produced_at=document.created_at,
            registered_at=document.created_at,
            producer=_unit_producer(unit, document.unit_id),
            components=(
                ManifestComponent(
                    order=1,
                    name=component.file_name,
                    sha256=component.sha256,
                    size=component.size,
                    media_type=component.media_type,
                    signatures=signatures,
                ),
            ),
            identification=Identification(
                number=str(document.number) if numbered else None,
                unit=acronym if numbered else None,
                year=document.year if numbered else None,
            ),
            description=document.description,
        )


def _unit_producer(unit: Structure | None, unit_id: str) -> Producer:
    if unit is None:
        return Producer(name=unit_id)
    return Producer(name=unit.name, unit=unit.acronym)


def _tax_id(typed: str | None) -> str | None:
    """The digits of a CPF or CNPJ the manifest carries (the bus validated it)."""
    if typed is None:
        return None
    try:
        return parse_document(typed).digits
    except InvalidInput:
        return None


def _document(nup: str, unit_id: str, source: ManifestDocument) -> Document:
    """A received document: the same order, content (SHA-256, size, type, name), espécie, origin and
    access. `unit_id` is the unit that received it (its producer was the sender's); `created_by` keeps
    the producer's name. Stored at version 1, as a newly added document is."""
    if len(source.components) != 1:
        raise InvalidInput(
            f"O documento {source.order} tem {len(source.components)} componentes digitais; esta plataforma "
            "guarda um por documento.",
            [FieldError(f"documentos.{source.order - 1}.componentes", "envie um componente por documento")],
        )
    component = source.components[0]
    number = source.identification.number
    numbered = number is not None and number.isdigit()
    return Document(
        nup=nup,
        order=source.order,
        origin=source.origin,
        kind=source.kind,
        access_level=AccessLevel(source.access_level),
        legal_basis=source.legal_basis,
        unit_id=unit_id,
        created_by=source.producer.name,
        created_at=source.produced_at,
        updated_at=source.registered_at,
        component=Component(component.sha256, component.size, component.media_type, component.name),
        description=source.description,
        number=int(number) if numbered and number is not None else None,
        year=source.identification.year if numbered else None,
        version=1,
    )


def _received(source: ManifestDocument, idt: str) -> ReceivedDocument:
    signatures = tuple(
        ReceivedSignature(s.reason, s.signed_at, s.value, s.certificate_chain)
        for c in source.components
        for s in c.signatures
    )
    return ReceivedDocument(source.order, idt, source.components[0].sha256, signatures)
