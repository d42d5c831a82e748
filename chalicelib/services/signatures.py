"""Use cases of electronic signatures: a person signs a document; anyone checks a signed document's
authenticity by its verification code and CRC; the platform publishes the keys that verify its stamps.

Signing builds the record (who, as what, when, for which unit, over which content SHA-256), has the
platform's key stamp its RFC 8785 canonical bytes (KMS, before any write), then writes the signature
inside the document, the process's new version and a history entry (SIGN_DOCUMENT) and, at the first
signature, the document's public lookup key, all in one transaction. When that transaction fails
(another change to the process won the race), nothing is stored and the caller gets a 409. The stamp
KMS produced for it is simply dropped: an orphan stamp is harmless, since it covers a record nobody
stored, no lookup key points to it, and all it proves is that the platform was asked to stamp that
exact record.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.domain.catalogs import PlatformOperation, document_kind
from chalicelib.domain.documents import Document, publicly_identified
from chalicelib.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from chalicelib.domain.processes import Process
from chalicelib.domain.signatures import (
    PublicKey,
    Signature,
    SignatureRecord,
    crc_code,
    verification_code,
)
from chalicelib.services.documents import Download, document_not_found, presigned_download
from chalicelib.services.ports import BlobStore, Clock, ProcessRepository, Signer, VerificationKey
from chalicelib.services.processes import Actor, Processes
from chalicelib.services.registry import Registry

MAX_SIGNER_NAME = 150
MAX_SIGNER_ROLE = 100
NOT_FOUND_DETAIL = "Nenhum documento com este código verificador e CRC."
NOT_PUBLIC_DETAIL = (
    "O conteúdo deste documento não é público: o documento ou o seu processo é restrito ou sigiloso. "
    "A autenticidade pode ser conferida pelo SHA-256 de uma cópia que você já tenha."
)


@dataclass(frozen=True)
class SignRequest:
    """What a person says when signing: the unit they act in, their name and role (cargo), and
    optionally the SHA-256 (base64) of the content they read, so they never sign other content."""

    unit_id: str
    name: str
    role: str
    expected_sha256: str | None = None


@dataclass(frozen=True)
class Authenticity:
    """A signed document as the public lookup sees it. `public` says whether the answer may identify
    the document and its process (see domain.documents.publicly_identified)."""

    process: Process
    document: Document
    public: bool
    # The names of the agencies and units in the signatures (ids the registry no longer knows: absent).
    structure_names: Mapping[str, str] = field(default_factory=dict)


class Signatures:
    def __init__(
        self,
        processes: Processes,
        repository: ProcessRepository,
        signer: Signer,
        blobs: BlobStore,
        *,
        registry: Registry,
        clock: Clock,
        download_seconds: int = 300,
    ) -> None:
        self._processes = processes
        self._repository = repository
        self._signer = signer
        self._blobs = blobs
        self._registry = registry
        self._clock = clock
        self._download_seconds = download_seconds

    def sign(self, actor: Actor, nup: str, order: int, request: SignRequest) -> Document:
        """Adds the actor's signature; the document's content is immutable from the first one."""
        _check_text("nome", request.name, MAX_SIGNER_NAME)
        _check_text("cargo", request.role, MAX_SIGNER_ROLE)
        process = self._processes.writable(actor, nup, request.unit_id)
        document = process.document(order)
        if document is None:
            raise document_not_found(nup, order)
        document.require_signable(actor.user)
        if request.expected_sha256 is not None and request.expected_sha256 != document.component.sha256:
            raise Conflict(
                f"O conteúdo do documento {order} não é o informado em sha256: ele foi alterado desde a "
                "leitura. Releia-o antes de assinar."
            )
        now = self._clock.now()
        public_id = document.public_id or uuid.uuid4().hex
        record = SignatureRecord(
            document_id=public_id,
            content_sha256=document.component.sha256_hex,
            signer_name=request.name,
            signer_role=request.role,
            signed_at=now,
            agency_id=actor.agency_id,
            unit_id=request.unit_id,
        )
        stamp = self._signer.sign(record.to_canonical())  # before the transaction (see the docstring)
        first = not document.signatures
        code = verification_code(stamp) if first else document.verification_code
        crc = crc_code(record) if first else document.crc
        signed = document.changed(
            signatures=(*document.signatures, Signature(record, stamp, actor.user)),
            public_id=public_id,
            verification_code=code,
            crc=crc,
            updated_at=now,
        )
        keys = (VerificationKey(code, crc, process.agency_id, nup, order),) if first and code and crc else ()
        documents = tuple(signed if d.order == order else d for d in process.documents)
        label = document.label(document_kind(document.kind).name)
        write = self._processes.prepare_write(
            process.changed(documents=documents),
            request.unit_id,
            actor,
            PlatformOperation.SIGN_DOCUMENT,
            f"Documento {label} assinado ({len(signed.signatures)}ª assinatura, como {record.signer_role})",
            documents=(signed,),
            verifications=keys,
        )
        self._repository.apply([write])
        return signed.changed(version=signed.version + 1)

    def authenticity(self, code: str, crc: str) -> Authenticity:
        """The signed document a verification code and CRC name: one read by that key, then the
        process as it is now (its access levels decide what the answer may show). The key names the
        agency whose copy of the process holds the document: another copy of the same NUP (the bus
        imports processes under their NUP) may hold other documents under the same order."""
        key = self._repository.find_verification(code, crc)
        process = self._repository.get(key.agency_id, key.nup) if key is not None else None
        document = process.document(key.order) if process is not None and key is not None else None
        if (
            process is None
            or document is None
            or not document.signatures
            or (document.verification_code, document.crc) != (code, crc)
        ):
            raise NotFound(NOT_FOUND_DETAIL)
        ids = {i for s in document.signatures for i in (s.record.agency_id, s.record.unit_id)}
        found = {i: self._registry.find(i) for i in sorted(ids)}
        names = {i: structure.name for i, structure in found.items() if structure is not None}
        return Authenticity(process, document, publicly_identified(process, document), names)

    def public_content(self, code: str, crc: str) -> Download:
        """A presigned GET of the content, for anyone holding the code and CRC, only while the
        document and its process are both público (as `authenticity` identifies them)."""
        found = self.authenticity(code, crc)
        if not found.public:
            raise NotFound(NOT_PUBLIC_DETAIL)
        return presigned_download(self._blobs, found.document, self._download_seconds, self._clock.now())

    def public_keys(self) -> list[PublicKey]:
        return self._signer.public_keys()


def _check_text(field: str, value: str, limit: int) -> None:
    if not value.strip() or value != value.strip() or len(value) > limit or not value.isprintable():
        raise InvalidInput(
            "Os dados da assinatura são inválidos.",
            [
                FieldError(
                    field, f"é obrigatório, sem espaços nas pontas, com até {limit} caracteres imprimíveis"
                )
            ],
        )
