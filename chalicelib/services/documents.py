"""Use cases of documents: write and edit internal documents, upload external ones (presigned, checked
before the document exists), list, download (presigned), cancel.

Every change goes through ProcessRepository.apply like the processes' own operations: the document,
the process's new version and `documents_access_level`, the history entry and, for internal documents,
the number taken from the (unit, espécie, year) counter are one transaction. Content goes to the
content store first (addressed by its SHA-256, so writing it twice is harmless); a transaction that
fails leaves at most an unreferenced object behind, never a document without content.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from chalicelib.domain.catalogs import LEGAL_HYPOTHESES, PlatformOperation, document_kind
from chalicelib.domain.documents import (
    HTML_MEDIA_TYPE,
    MAX_DESCRIPTION,
    MAX_FILE_NAME,
    Component,
    Declaration,
    Document,
    FileLimits,
    Origin,
    blob_key,
    check_limits,
    composite_sha256,
    documents_level,
    parts_problems,
    sanitise_html,
    sha256_b64,
    validate_access,
    verify_stored,
)
from chalicelib.domain.errors import (
    Conflict,
    ContentMismatch,
    FieldError,
    InvalidInput,
    NotFound,
    SequenceTaken,
)
from chalicelib.domain.processes import AccessLevel, Process
from chalicelib.services.ports import (
    BlobStore,
    Clock,
    DocumentNumber,
    PendingUpload,
    PresignedRequest,
    ProcessRepository,
    UploadRepository,
)
from chalicelib.services.processes import BRASILIA, Actor, Processes, masked

LEGAL_BASES = frozenset(LEGAL_HYPOTHESES)
MIB = 1024 * 1024
S3_MIN_PART = 5 * MIB  # S3's smallest part (but the last)
MAX_ATTEMPTS = 10  # new documents: retries when another request took the number or the order first
DEFAULT_MEDIA_TYPES = frozenset({"application/pdf", "image/jpeg", "image/png", "image/tiff", "video/mp4"})


@dataclass(frozen=True)
class DocumentPolicy:
    """Limits and timings of documents; bootstrap builds it from the settings."""

    default_limits: FileLimits = field(
        default_factory=lambda: FileLimits(max_size=1024 * MIB, media_types=DEFAULT_MEDIA_TYPES)
    )
    agency_limits: Mapping[str, FileLimits] = field(default_factory=dict)
    multipart_threshold: int = 100 * MIB  # larger files go as multipart
    min_part_size: int = S3_MIN_PART
    upload_seconds: int = 3600  # validity of presigned uploads
    pending_seconds: int = 24 * 3600  # how long an upload may wait for its confirmation
    download_seconds: int = 300  # validity of presigned downloads

    def limits_for(self, agency_id: str) -> FileLimits:
        return self.agency_limits.get(agency_id, self.default_limits)


@dataclass(frozen=True)
class DocumentInput:
    """What a person says about a new document, whatever its origin."""

    unit_id: str
    kind: int
    access_level: AccessLevel
    legal_basis: int | None = None
    description: str | None = None


@dataclass(frozen=True)
class UploadTicket:
    """The answer to an external document's upload request."""

    upload: PendingUpload
    already_stored: bool
    single: PresignedRequest | None = None
    parts: tuple[PresignedRequest, ...] = ()


@dataclass(frozen=True)
class Download:
    url: str
    expires_at: datetime
    document: Document


def presigned_download(blobs: BlobStore, document: Document, seconds: int, now: datetime) -> Download:
    """A presigned GET of a document's content, named by its file name; never of a cancelled one."""
    document.require_servable()
    component = document.component
    media_type = component.media_type
    if media_type == HTML_MEDIA_TYPE:
        media_type += "; charset=utf-8"  # internal documents are UTF-8 HTML
    url = blobs.presign_get(component.key, component.file_name, media_type, seconds)
    return Download(url, now + timedelta(seconds=seconds), document)


def document_not_found(nup: str, order: int) -> NotFound:
    return NotFound(f"Documento {order} não encontrado no processo {masked(nup)}.")


def upload_not_found(upload_id: str) -> NotFound:
    return NotFound(f"Envio {upload_id} não encontrado (ou já confirmado).")


class Documents:
    def __init__(
        self,
        processes: Processes,
        repository: ProcessRepository,
        uploads: UploadRepository,
        blobs: BlobStore,
        *,
        clock: Clock,
        policy: DocumentPolicy | None = None,
    ) -> None:
        self._processes = processes
        self._repository = repository
        self._uploads = uploads
        self._blobs = blobs
        self._clock = clock
        self._policy = policy or DocumentPolicy()

    @property
    def policy(self) -> DocumentPolicy:
        return self._policy

    # --- reads ------------------------------------------------------------------------------------

    def listing(self, agency_id: str, nup: str) -> Process:
        """The process with its documents (one query); another agency's answers 404."""
        return self._processes.get(agency_id, nup)

    def get(self, agency_id: str, nup: str, order: int) -> Document:
        document = self._processes.get(agency_id, nup).document(order)
        if document is None:
            raise document_not_found(nup, order)
        return document

    def download(self, agency_id: str, nup: str, order: int) -> Download:
        """A presigned GET for the content: only for the owning agency, never for a cancelled one."""
        document = self.get(agency_id, nup, order)
        return presigned_download(self._blobs, document, self._policy.download_seconds, self._clock.now())

    # --- internal documents -----------------------------------------------------------------------

    def create_internal(self, actor: Actor, nup: str, data: DocumentInput, html: str) -> Document:
        self._processes.writable(actor, nup, data.unit_id)
        kind = self._validate(data)
        content = sanitise_html(html)
        component = self._store_html(content)
        year = self._clock.now().astimezone(BRASILIA).year
        for _ in range(MAX_ATTEMPTS):
            process = self._processes.writable(actor, nup, data.unit_id)
            number = self._uploads.last_number(data.unit_id, data.kind, year) + 1
            document = self._new_document(process, actor, data, component, Origin.INTERNO)
            document = document.changed(
                number=number,
                year=year,
                component=Component(
                    component.sha256, component.size, HTML_MEDIA_TYPE, f"documento-{document.order}.html"
                ),
            )
            try:
                return self._add(
                    process,
                    document,
                    actor,
                    f"Documento {document.label(kind)} gerado",
                    numbers=(DocumentNumber(data.unit_id, data.kind, year, number),),
                )
            except (SequenceTaken, Conflict):
                continue  # another document took the number or the order: read again
        raise Conflict("Muitos documentos criados ao mesmo tempo neste processo; tente novamente.")

    def edit_internal(
        self, actor: Actor, nup: str, order: int, *, unit_id: str, html: str, expected_version: int
    ) -> Document:
        process = self._processes.writable(actor, nup, unit_id)
        document = process.document(order)
        if document is None:
            raise document_not_found(nup, order)
        if process.received_document(order) is not None:  # its SHA-256 must travel back unchanged
            raise Conflict(f"O documento {order} foi recebido pelo barramento e não pode ser alterado.")
        document.require_editable()
        if document.version != expected_version:
            raise Conflict(
                f"O documento foi alterado desde a versão {expected_version} (agora {document.version}); "
                "releia-o e repita."
            )
        content = sanitise_html(html)
        if sha256_b64(content) == document.component.sha256:
            return document
        stored = self._store_html(content)
        now = self._clock.now()
        edited = document.changed(
            component=Component(stored.sha256, stored.size, HTML_MEDIA_TYPE, document.component.file_name),
            updated_at=now,
        )
        kind = document_kind(document.kind).name
        self._apply(
            process,
            edited,
            unit_id=unit_id,
            actor=actor,
            operation=PlatformOperation.ADD_DOCUMENT,
            description=f"Documento {document.label(kind)} alterado",
        )
        return edited.changed(version=edited.version + 1)

    def _store_html(self, content: bytes) -> Component:
        digest = sha256_b64(content)
        self._blobs.put(blob_key(digest), content, digest, f"{HTML_MEDIA_TYPE}; charset=utf-8")
        return Component(digest, len(content), HTML_MEDIA_TYPE, "documento.html")

    # --- external documents -----------------------------------------------------------------------

    def start_upload(
        self, actor: Actor, nup: str, data: DocumentInput, declaration: Declaration
    ) -> UploadTicket:
        """Checks the declaration and the agency's limits, records a pending upload and hands out the
        presigned request(s). Nothing enters the process until `confirm`."""
        process = self._processes.writable(actor, nup, data.unit_id)
        self._validate(data)
        check_limits(declaration, self._policy.limits_for(actor.agency_id))  # 413/415 first
        self._check_declaration(declaration)
        now = self._clock.now()
        upload = PendingUpload(
            id=uuid.uuid4().hex,
            nup=process.nup,
            agency_id=actor.agency_id,
            unit_id=data.unit_id,
            user=actor.user,
            kind=data.kind,
            access_level=int(data.access_level),
            legal_basis=data.legal_basis,
            description=data.description,
            declaration=declaration,
            created_at=now,
            expires_at=now + timedelta(seconds=self._policy.pending_seconds),
        )
        key = blob_key(declaration.sha256)
        if self._already_stored(key, declaration):
            self._uploads.put_upload(upload)
            return UploadTicket(upload, already_stored=True)
        seconds = self._policy.upload_seconds
        if not declaration.multipart:
            self._uploads.put_upload(upload)
            single = self._blobs.presign_put(key, declaration.sha256, declaration.size,
                                             declaration.media_type, seconds)  # fmt: skip
            return UploadTicket(upload, already_stored=False, single=single)
        multipart_id = self._blobs.start_multipart(key, declaration.media_type)
        upload = replace(upload, multipart_id=multipart_id)
        self._uploads.put_upload(upload)
        parts = tuple(
            self._blobs.presign_part(key, multipart_id, number, digest, seconds)
            for number, digest in enumerate(declaration.part_digests, start=1)
        )
        return UploadTicket(upload, already_stored=False, parts=parts)

    def complete_parts(self, actor: Actor, nup: str, upload_id: str) -> PendingUpload:
        """Joins the parts of a multipart upload (the client calls it after uploading every part)."""
        upload = self._pending(actor, nup, upload_id)
        if upload.multipart_id is None:
            raise Conflict("Este envio não é em partes: envie o arquivo e confirme o envio.")
        self._blobs.complete_multipart(blob_key(upload.declaration.sha256), upload.multipart_id,
                                       upload.declaration)  # fmt: skip
        return upload

    def confirm(self, actor: Actor, nup: str, upload_id: str) -> Document:
        """Checks the stored object against the declaration (size, SHA-256, type sniffed from its first
        bytes) and only then creates the document, in one transaction that also consumes the upload."""
        upload = self._pending(actor, nup, upload_id)
        process = self._processes.writable(actor, nup, upload.unit_id)
        declaration = upload.declaration
        key = blob_key(declaration.sha256)
        stored = self._blobs.inspect(key)
        if stored is None:
            what = "as partes não foram concluídas" if upload.multipart_id else "o arquivo não foi recebido"
            raise Conflict(f"O envio ainda não terminou: {what}. Envie o arquivo e confirme de novo.")
        try:
            verification = verify_stored(declaration, stored)
        except ContentMismatch as mismatch:
            if any(f.field in {"sha256", "partes"} for f in mismatch.fields):
                # Bytes under a content address that is not theirs (only a store that does not check
                # checksums lets them in): remove them so the address never serves wrong content.
                self._blobs.discard(key)
            raise
        data = DocumentInput(upload.unit_id, upload.kind, AccessLevel(upload.access_level),
                             upload.legal_basis, upload.description)  # fmt: skip
        component = Component(declaration.sha256, declaration.size, declaration.media_type,
                              declaration.file_name, verification)  # fmt: skip
        kind = document_kind(upload.kind).name
        for attempt in range(MAX_ATTEMPTS):
            if attempt:  # another request changed the process (or confirmed this upload) first
                upload = self._pending(actor, nup, upload_id)
                process = self._processes.writable(actor, nup, upload.unit_id)
            document = self._new_document(process, actor, data, component, Origin.EXTERNO)
            try:
                return self._add(
                    process,
                    document,
                    actor,
                    f"Documento externo {document.label(kind)} incluído: {declaration.file_name}",
                    finished_uploads=(upload.id,),
                )
            except Conflict:
                continue
        raise Conflict("Muitas alterações simultâneas neste processo; confirme o envio de novo.")

    def _pending(self, actor: Actor, nup: str, upload_id: str) -> PendingUpload:
        upload = self._uploads.get_upload(upload_id)
        if upload is None or upload.agency_id != actor.agency_id or upload.nup != nup:
            raise upload_not_found(upload_id)
        if self._clock.now() > upload.expires_at:
            raise Conflict("Este envio expirou; peça um novo envio do arquivo.")
        return upload

    def _already_stored(self, key: str, declaration: Declaration) -> bool:
        found = self._blobs.inspect(key)
        if found is None:
            return False
        if found.sha256 is not None:
            return found.sha256 == declaration.sha256
        return declaration.multipart and found.composite == composite_sha256(declaration.part_digests)

    def _check_declaration(self, declaration: Declaration) -> None:
        problems: list[FieldError] = []
        if not declaration.file_name.strip() or len(declaration.file_name) > MAX_FILE_NAME:
            problems.append(
                FieldError("nomeArquivo", f"é obrigatório e tem no máximo {MAX_FILE_NAME} caracteres")
            )
        if any(c in declaration.file_name for c in '/\\"') or not declaration.file_name.isprintable():
            problems.append(FieldError("nomeArquivo", "não pode ter barras, aspas ou caracteres de controle"))
        if declaration.size < 1:
            problems.append(FieldError("tamanho", "deve ser no mínimo 1 byte"))
        problems += self._check_parts(declaration)
        if problems:
            raise InvalidInput("A declaração do arquivo é inválida.", problems)

    def _check_parts(self, declaration: Declaration) -> list[FieldError]:
        return parts_problems(declaration, self._policy.multipart_threshold, self._policy.min_part_size)

    # --- cancel -----------------------------------------------------------------------------------

    def cancel(self, actor: Actor, nup: str, order: int, unit_id: str, reason: str) -> Document:
        """The document stays in the tree, marked; its content is no longer served."""
        process = self._processes.writable(actor, nup, unit_id)
        document = process.document(order)
        if document is None:
            raise document_not_found(nup, order)
        if document.cancelled:
            raise Conflict(f"O documento {order} já foi cancelado.")
        now = self._clock.now()
        cancelled = document.changed(cancelled_at=now, cancel_reason=reason, cancelled_by=actor.user,
                                     updated_at=now)  # fmt: skip
        kind = document_kind(document.kind).name
        self._apply(
            process,
            cancelled,
            unit_id=unit_id,
            actor=actor,
            operation=PlatformOperation.CANCEL_DOCUMENT,
            description=f"Documento {document.label(kind)} cancelado: {reason}",
        )
        return cancelled.changed(version=cancelled.version + 1)

    # --- helpers ----------------------------------------------------------------------------------

    def _validate(self, data: DocumentInput) -> str:
        problems = validate_access(data.access_level, data.legal_basis, LEGAL_BASES)
        try:
            kind = document_kind(data.kind).name
        except InvalidInput as error:
            problems = [*error.fields, *problems]
            kind = ""
        if data.description is not None and len(data.description) > MAX_DESCRIPTION:
            problems.append(FieldError("descricao", f"tem no máximo {MAX_DESCRIPTION} caracteres"))
        if problems:
            raise InvalidInput("Os dados do documento são inválidos.", problems)
        return kind

    def _new_document(
        self, process: Process, actor: Actor, data: DocumentInput, component: Component, origin: Origin
    ) -> Document:
        now = self._clock.now()
        return Document(
            nup=process.nup,
            order=process.next_document_order,
            origin=origin,
            kind=data.kind,
            access_level=data.access_level,
            legal_basis=data.legal_basis,
            unit_id=data.unit_id,
            created_by=actor.user,
            created_at=now,
            updated_at=now,
            component=component,
            description=data.description,
        )

    def _add(
        self,
        process: Process,
        document: Document,
        actor: Actor,
        description: str,
        *,
        numbers: tuple[DocumentNumber, ...] = (),
        finished_uploads: tuple[str, ...] = (),
    ) -> Document:
        self._apply(
            process,
            document,
            unit_id=document.unit_id,
            actor=actor,
            operation=PlatformOperation.ADD_DOCUMENT,
            description=description,
            numbers=numbers,
            finished_uploads=finished_uploads,
        )
        return document.changed(version=1)

    def _apply(
        self,
        process: Process,
        document: Document,
        *,
        unit_id: str,
        actor: Actor,
        operation: PlatformOperation,
        description: str,
        numbers: tuple[DocumentNumber, ...] = (),
        finished_uploads: tuple[str, ...] = (),
    ) -> Process:
        """One transaction: the document, the process (new version, documents' level) and the history
        entry, plus the number and the upload the change consumes."""
        documents = tuple(sorted((*[d for d in process.documents if d.order != document.order], document),
                                 key=lambda d: d.order))  # fmt: skip
        updated = process.changed(documents=documents, documents_access_level=documents_level(documents))
        write = self._processes.prepare_write(
            updated,
            unit_id,
            actor,
            operation,
            description,
            documents=(document,),
            numbers=numbers,
            finished_uploads=finished_uploads,
        )
        return self._repository.apply([write])[0]
