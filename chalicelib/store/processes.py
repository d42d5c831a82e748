"""DynamoDB adapter of processes (ProcessRepository): one partition per process, one transaction
per operation, the history entry always in the same transaction as the change it records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from pynamodb.connection import Connection
from pynamodb.constants import ITEM
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.domain.errors import Conflict, SequenceTaken
from chalicelib.domain.history import HistoryEntry
from chalicelib.domain.processes import (
    AccessLevel,
    Interested,
    OpenUnit,
    Process,
    ReceivedDocument,
    ReceivedSignature,
)
from chalicelib.services.ports import ImportWrite, InboxItem, Page, ProcessWrite, VerificationKey
from chalicelib.store import cursors
from chalicelib.store.documents import (
    document_item,
    number_condition,
    number_item,
    process_pk,
    to_document,
    to_verification,
    upload_key_item,
    verification_item,
    verification_pk,
    verification_sk,
)
from chalicelib.store.models import (
    DocumentItem,
    HistoryItem,
    ImportMarkerItem,
    InterestedMap,
    OpenUnitItem,
    PendingUploadItem,
    ProcessItem,
    ReceivedDocumentItem,
    ReceivedSignatureMap,
    RelationItem,
    SequenceItem,
    VerificationItem,
)

META = "#M"
RELATED, MERGED = "relacionado", "anexo"
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems
MAX_TRANSACTION_BYTES = 3 * 1024 * 1024  # under its 4 MB, with room for keys and expressions


def _import_sk(idt: str) -> str:
    return f"IMP#{idt}"


def _received_sk(order: int) -> str:
    return f"#B#{order:06d}"


def _sequence_pk(unit_code: str, year: int) -> str:
    return f"SEQ#{unit_code}#{year}"


def _history_sk(seq: int) -> str:
    return f"H#{seq:09d}"


def _process_item(process: Process) -> ProcessItem:
    item = ProcessItem(
        pk=process_pk(process.agency_id, process.nup),
        sk=META,
        nup=process.nup,
        copia_nup=process.nup,
        orgao_id=process.agency_id,
        unidade_geradora=process.opening_unit_id,
        tipo=process.process_type,
        especificacao=process.specification,
        interessados=[InterestedMap(nome=i.name, documento=i.tax_id) for i in process.interested],
        nivel_acesso=int(process.access_level),
        hipotese_legal=process.legal_basis,
        nivel_documentos=int(process.documents_access_level),
        sobrestado=process.suspended,
        motivo_sobrestamento=process.suspension_reason,
        anexado_a=process.merged_into,
        criado_em=process.created_at,
        atualizado_em=process.updated_at,
        hist_seq=process.history_seq,
        hist_head=process.history_head,
        nre=process.nre,
        bloqueado_por=set(process.locked_by) or None,  # DynamoDB keeps no empty set
    )
    if process.version:
        item.versao = process.version
    return item


def _received_item(agency_id: str, nup: str, received: ReceivedDocument) -> ReceivedDocumentItem:
    return ReceivedDocumentItem(
        pk=process_pk(agency_id, nup),
        sk=_received_sk(received.order),
        ordem=received.order,
        idt=received.idt,
        sha256=received.sha256,
        assinaturas=[
            ReceivedSignatureMap(
                razao=s.reason, data_hora=s.signed_at, valor=s.value, cadeia=s.certificate_chain
            )
            for s in received.signatures
        ]
        or None,
    )


def _received(item: ReceivedDocumentItem) -> ReceivedDocument:
    return ReceivedDocument(
        order=int(item.ordem),
        idt=item.idt,
        sha256=item.sha256,
        signatures=tuple(
            ReceivedSignature(s.razao, s.data_hora, s.valor, s.cadeia) for s in item.assinaturas or ()
        ),
    )


def _raw_put(item: Model, condition: Condition | None) -> dict[str, Any]:
    """The Put of `item` exactly as it is: its version attribute written as set, with no version
    condition of its own (the import's writes carry conditions that make a rewrite harmless)."""
    attributes = item.serialize()
    pk, sk = attributes.pop("pk")["S"], attributes.pop("sk")["S"]
    return (
        type(item)
        ._get_connection()
        .get_operation_kwargs(pk, sk, key=ITEM, attributes=attributes, condition=condition)
    )


def _open_unit_item(process: Process, unit: OpenUnit) -> OpenUnitItem:
    nup = process.nup
    return OpenUnitItem(
        pk=process_pk(process.agency_id, nup),
        sk=f"#U#{unit.unit_id}",
        nup=nup,
        tipo=process.process_type,
        especificacao=process.specification,
        nivel_acesso=int(process.effective_access_level),
        unidade=unit.unit_id,
        desde=unit.since,
        de_unidade=unit.from_unit_id,
        retorno_programado=unit.return_by.isoformat() if unit.return_by else None,
        caixa=unit.unit_id,
        caixa_ordem=f"{unit.since.isoformat()}#{nup}",
    )


def _open_unit(item: OpenUnitItem) -> OpenUnit:
    return OpenUnit(
        unit_id=item.unidade,
        since=item.desde,
        from_unit_id=item.de_unidade,
        return_by=date.fromisoformat(item.retorno_programado) if item.retorno_programado else None,
    )


def _history_item(entry: HistoryEntry, process: Process) -> HistoryItem:
    return HistoryItem(
        pk=process_pk(process.agency_id, entry.nup),
        sk=_history_sk(entry.seq),
        nup=entry.nup,
        seq=entry.seq,
        em=entry.at,
        unidade=entry.unit_id,
        usuario=entry.user,
        operacao=entry.operation,
        descricao=entry.description,
        hash_anterior=entry.previous_hash,
        hash=entry.hash,
        orgao_id=process.agency_id,
        nivel_acesso=int(process.effective_access_level),
    )


def _history_entry(item: HistoryItem) -> HistoryEntry:
    return HistoryEntry(
        nup=item.nup,
        seq=int(item.seq),
        at=item.em,
        unit_id=item.unidade,
        user=item.usuario,
        operation=item.operacao,
        description=item.descricao,
        previous_hash=item.hash_anterior,
        hash=item.hash,
    )


def _process(
    item: ProcessItem,
    units: list[OpenUnit],
    relations: list[RelationItem],
    documents: list[DocumentItem] | None = None,
    received: list[ReceivedDocumentItem] | None = None,
) -> Process:
    return Process(
        nup=item.nup,
        agency_id=item.orgao_id,
        opening_unit_id=item.unidade_geradora,
        process_type=item.tipo,
        specification=item.especificacao,
        interested=tuple(Interested(name=i.nome, tax_id=i.documento) for i in item.interessados or []),
        access_level=AccessLevel(int(item.nivel_acesso)),
        legal_basis=int(item.hipotese_legal) if item.hipotese_legal is not None else None,
        created_at=item.criado_em,
        updated_at=item.atualizado_em,
        open_units=tuple(sorted(units, key=lambda u: u.since)),
        suspended=bool(item.sobrestado),
        suspension_reason=item.motivo_sobrestamento,
        merged_into=item.anexado_a,
        related=frozenset(r.outro for r in relations if r.tipo == RELATED),
        merged=frozenset(r.outro for r in relations if r.tipo == MERGED),
        documents_access_level=AccessLevel(int(item.nivel_documentos or 1)),
        documents=tuple(sorted((to_document(d) for d in documents or ()), key=lambda d: d.order)),
        history_seq=int(item.hist_seq or 0),
        history_head=item.hist_head or "",
        nre=item.nre,
        locked_by=frozenset(item.bloqueado_por or ()),
        received=tuple(sorted((_received(r) for r in received or ()), key=lambda r: r.order)),
        version=int(item.versao or 0),
    )


class DynamoProcessRepository:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, agency_id: str, nup: str) -> Process | None:
        meta: ProcessItem | None = None
        units: list[OpenUnit] = []
        relations: list[RelationItem] = []
        documents: list[DocumentItem] = []
        received: list[ReceivedDocumentItem] = []
        # One query: the process, its relations, its open units and its documents. Items are small
        # (document contents live in S3), so a process fits one 1 MB page; a larger one still reads
        # whole, page after page.
        start: dict[str, Any] | None = None
        while True:
            page = ProcessItem._get_connection().query(
                process_pk(agency_id, nup),
                range_key_condition=ProcessItem.sk < "H",
                consistent_read=True,
                exclusive_start_key=start,
            )
            for raw in page["Items"]:
                sk = raw["sk"]["S"]
                if sk == META:
                    meta = ProcessItem.from_raw_data(raw)
                elif sk.startswith("#U#"):
                    units.append(_open_unit(OpenUnitItem.from_raw_data(raw)))
                elif sk.startswith("#R#"):
                    relations.append(RelationItem.from_raw_data(raw))
                elif sk.startswith("#B#"):
                    received.append(ReceivedDocumentItem.from_raw_data(raw))
                elif sk.startswith("D#"):
                    documents.append(DocumentItem.from_raw_data(raw))
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        return None if meta is None else _process(meta, units, relations, documents, received)

    def copies(self, nup: str) -> list[Process]:
        # The index gives the agencies (keys only); each copy is then read whole and strongly
        # consistent. A NUP has a copy in a handful of agencies at most.
        found = [
            self.get(item.orgao_id, nup)
            for item in ProcessItem.copies.query(nup, attributes_to_get=["pk", "sk", "orgao_id"])
        ]
        return [process for process in found if process is not None]

    def last_sequence(self, unit_code: str, year: int) -> int:
        try:
            return int(SequenceItem.get(_sequence_pk(unit_code, year), META, consistent_read=True).valor)
        except SequenceItem.DoesNotExist:
            return 0

    def create(self, write: ProcessWrite, unit_code: str, year: int, sequence: int) -> Process:
        counter = SequenceItem(pk=_sequence_pk(unit_code, year), sk=META, valor=sequence)
        previous = sequence - 1
        untouched = SequenceItem.valor.does_not_exist() if previous == 0 else SequenceItem.valor == previous
        try:
            with TransactWrite(connection=self._connection) as transaction:
                transaction.save(counter, condition=untouched)
                self._add(transaction, write, new=True)
        except TransactWriteError as error:
            reasons = error.cancellation_reasons or []
            if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
                raise SequenceTaken(f"O número {sequence} já foi usado; tente o seguinte.") from error
            raise self._conflict(error) from error
        return write.process.changed(version=1)

    def apply(self, writes: Sequence[ProcessWrite]) -> list[Process]:
        numbers = [number for write in writes for number in write.numbers]
        try:
            with TransactWrite(connection=self._connection) as transaction:
                for number in numbers:  # first, so a cancellation reason tells which one was taken
                    transaction.save(number_item(number), condition=number_condition(number))
                for write in writes:
                    self._add(transaction, write, new=False)
        except TransactWriteError as error:
            reasons = error.cancellation_reasons or []
            for number, reason in zip(numbers, reasons, strict=False):
                if reason is not None and reason.code == "ConditionalCheckFailed":
                    raise SequenceTaken(
                        f"O número {number.number} desta espécie já foi usado; tente o seguinte."
                    ) from error
            raise self._conflict(error) from error
        return [w.process.changed(version=w.process.version + 1) for w in writes]

    def _add(self, transaction: TransactWrite, write: ProcessWrite, *, new: bool) -> None:
        process = write.process
        pk = process_pk(process.agency_id, process.nup)
        item = _process_item(process if not new else process.changed(version=0))
        transaction.save(item)  # the version attribute adds the optimistic-locking condition
        transaction.save(_history_item(write.entry, process), condition=HistoryItem.sk.does_not_exist())
        opened = {u.unit_id for u in write.open_units}
        for unit in write.open_units:
            transaction.save(_open_unit_item(process, unit), condition=OpenUnitItem.sk.does_not_exist())
        for unit in process.open_units:  # the inbox summary follows the process (the version guards it)
            if unit.unit_id not in opened and unit.unit_id not in write.close_units:
                transaction.save(_open_unit_item(process, unit))
        for unit_id in write.close_units:
            transaction.delete(OpenUnitItem(pk=pk, sk=f"#U#{unit_id}"), condition=OpenUnitItem.sk.exists())
        for kind, other in write.relations:  # the other process is the same agency's
            transaction.save(RelationItem(pk=pk, sk=f"#R#{other}", tipo=kind, outro=other))
        for document in write.documents:  # the version attribute guards new and changed documents
            transaction.save(document_item(process.agency_id, document))
        for upload_id in write.finished_uploads:
            transaction.delete(upload_key_item(upload_id), condition=PendingUploadItem.pk.exists())
        for key in write.verifications:  # written once: a (code, CRC) pair never points elsewhere
            transaction.save(verification_item(key), condition=VerificationItem.pk.does_not_exist())

    def imported(self, agency_id: str, nup: str, idt: str) -> bool:
        try:
            ImportMarkerItem.get(process_pk(agency_id, nup), _import_sk(idt), consistent_read=True)
        except ImportMarkerItem.DoesNotExist:
            return False
        return True

    def import_copy(self, write: ImportWrite) -> Process:
        process = write.process
        pk = process_pk(process.agency_id, process.nup)
        meta = _process_item(process)
        meta.versao = process.version + 1
        unchanged = (
            ProcessItem.pk.does_not_exist() if process.version == 0 else ProcessItem.versao == process.version
        )
        marker = ImportMarkerItem(
            pk=pk, sk=_import_sk(write.idt), idt=write.idt, nre=write.nre, recebido_em=write.received_at
        )
        core = [_raw_put(meta, unchanged), _raw_put(marker, ImportMarkerItem.sk.does_not_exist())]
        opened = {u.unit_id for u in write.open_units}
        core += [_raw_put(_open_unit_item(process, unit), None) for unit in write.open_units]
        core += [  # the inbox summary follows the process (the meta item's condition guards it)
            _raw_put(_open_unit_item(process, unit), None)
            for unit in process.open_units
            if unit.unit_id not in opened
        ]
        # Items that may already be there from an interrupted attempt: the same item again is fine.
        body = [
            _raw_put(
                _history_item(entry, process),
                HistoryItem.sk.does_not_exist() | (HistoryItem.hash == entry.hash),
            )
            for entry in write.entries
        ]
        for document in write.documents:
            body.append(
                _raw_put(
                    document_item(process.agency_id, document),
                    DocumentItem.sk.does_not_exist() | (DocumentItem.sha256 == document.component.sha256),
                )
            )
            received = process.received_document(document.order)
            if received is not None:
                body.append(
                    _raw_put(
                        _received_item(process.agency_id, process.nup, received),
                        ReceivedDocumentItem.sk.does_not_exist()
                        | (ReceivedDocumentItem.sha256 == received.sha256),
                    )
                )
        if not _fits(core + body):
            # Too much for one transaction: the documents and all history entries but the last go
            # first, in order, in transactions of their own; the last entry closes the chain with
            # the process's head in the final one.
            last = len(write.entries) - 1
            early, body = body[:last] + body[last + 1 :], [body[last]]
            for chunk in _chunks(early):
                self._transact(chunk)
        self._transact(core + body)
        return process.changed(version=process.version + 1)

    def _transact(self, puts: list[dict[str, Any]]) -> None:
        try:
            self._connection.transact_write_items(
                condition_check_items=[], delete_items=[], put_items=puts, update_items=[]
            )
        except TransactWriteError as error:
            raise self._conflict(error) from error

    def _conflict(self, error: TransactWriteError) -> Conflict:
        if error.cause_response_code == "TransactionCanceledException":
            return Conflict("O processo foi alterado por outra operação ao mesmo tempo; releia-o e repita.")
        raise error

    def history(self, agency_id: str, nup: str, cursor: str | None, limit: int) -> Page[HistoryEntry]:
        query = ("historico", agency_id, nup)  # a cursor is good only for the copy it was given for
        start = cursors.decode(cursor, query, {"pk", "sk"})
        results = HistoryItem.query(
            process_pk(agency_id, nup),
            range_key_condition=HistoryItem.sk.startswith("H#"),
            last_evaluated_key=start,
            limit=limit,
            page_size=limit,
            consistent_read=True,
        )
        items = [_history_entry(i) for i in results]
        return Page(items, cursors.encode(results.last_evaluated_key, query))

    def find_verification(self, code: str, crc: str) -> VerificationKey | None:
        try:
            item = VerificationItem.get(verification_pk(code), verification_sk(crc), consistent_read=True)
        except VerificationItem.DoesNotExist:
            return None
        return to_verification(item)

    def inbox(self, unit_id: str, cursor: str | None, limit: int) -> Page[InboxItem]:
        start = cursors.decode(cursor, ("caixa", unit_id), {"pk", "sk", "caixa", "caixa_ordem"})
        results = OpenUnitItem.inbox.query(
            unit_id, scan_index_forward=False, last_evaluated_key=start, limit=limit, page_size=limit
        )
        items = [
            InboxItem(
                nup=i.nup,
                open_unit=_open_unit(i),
                process_type=i.tipo or "",
                specification=i.especificacao or "",
                access_level=int(i.nivel_acesso or 1),
            )
            for i in results
        ]
        return Page(items, cursors.encode(results.last_evaluated_key, ("caixa", unit_id)))


def _size(put: dict[str, Any]) -> int:
    return len(json.dumps(put, default=str))


def _fits(puts: list[dict[str, Any]]) -> bool:
    return len(puts) <= MAX_TRANSACTION_ITEMS and sum(map(_size, puts)) <= MAX_TRANSACTION_BYTES


def _chunks(puts: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive groups that each fit in one transaction (a document item is at most 400 KB)."""
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for put in puts:
        if current and not _fits([*current, put]):
            chunks.append(current)
            current = []
        current.append(put)
    if current:
        chunks.append(current)
    return chunks
