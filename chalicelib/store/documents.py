"""DynamoDB side of documents: the item conversions (documents, with their signatures, live in their
process's partition and are written by DynamoProcessRepository's transactions), signed documents'
public lookup keys, pending uploads and the number counters."""

from __future__ import annotations

from pynamodb.expressions.condition import Condition

from chalicelib.domain.documents import Component, Declaration, Document, Origin, Verification
from chalicelib.domain.processes import AccessLevel
from chalicelib.domain.signatures import Signature, SignatureRecord, Stamp
from chalicelib.services.ports import DocumentNumber, PendingUpload, VerificationKey
from chalicelib.store.models import (
    DocumentItem,
    PendingUploadItem,
    SequenceItem,
    SignatureMap,
    VerificationItem,
)

META = "#M"


def process_pk(agency_id: str, nup: str) -> str:
    """A process's partition: one agency's copy of a NUP (another agency may hold its own copy)."""
    return f"P#{agency_id}#{nup}"


def document_sk(order: int) -> str:
    return f"D#{order:06d}"


def number_pk(unit_id: str, kind: int, year: int) -> str:
    """Counter of internal document numbers per (unit, espécie, year), next to the NUP sequences."""
    return f"NUM#{unit_id}#{kind}#{year}"


def upload_pk(upload_id: str) -> str:
    return f"ENVIO#{upload_id}"


def verification_pk(code: str) -> str:
    return f"VER#{code}"


def verification_sk(crc: str) -> str:
    return f"CRC#{crc}"


def verification_item(key: VerificationKey) -> VerificationItem:
    return VerificationItem(
        pk=verification_pk(key.code),
        sk=verification_sk(key.crc),
        orgao_id=key.agency_id,
        nup=key.nup,
        ordem=key.order,
    )


def to_verification(item: VerificationItem) -> VerificationKey:
    return VerificationKey(
        code=item.pk.removeprefix("VER#"),
        crc=item.sk.removeprefix("CRC#"),
        agency_id=item.orgao_id,
        nup=item.nup,
        order=int(item.ordem),
    )


def _signature_map(signature: Signature) -> SignatureMap:
    stamp = signature.stamp
    return SignatureMap(  # type: ignore[no-untyped-call]  # PynamoDB: MapAttribute.__init__ is untyped
        registro=signature.record.to_canonical().decode("utf-8"),
        algoritmo=stamp.algorithm,
        chave=stamp.key_id,
        assinatura=stamp.signature,
        carimbado_em=stamp.stamped_at,
        usuario=signature.user,
    )


def _signature(item: SignatureMap) -> Signature:
    return Signature(
        record=SignatureRecord.from_canonical(item.registro.encode("utf-8")),
        stamp=Stamp(
            algorithm=item.algoritmo,
            key_id=item.chave,
            signature=item.assinatura,
            stamped_at=item.carimbado_em,
        ),
        user=item.usuario,
    )


def document_item(agency_id: str, document: Document) -> DocumentItem:
    """The item of a document of the agency's copy of its process."""
    component = document.component
    item = DocumentItem(
        pk=process_pk(agency_id, document.nup),
        sk=document_sk(document.order),
        nup=document.nup,
        ordem=document.order,
        origem=document.origin.value,
        especie=document.kind,
        nivel_acesso=int(document.access_level),
        hipotese_legal=document.legal_basis,
        unidade=document.unit_id,
        criado_por=document.created_by,
        criado_em=document.created_at,
        atualizado_em=document.updated_at,
        sha256=component.sha256,
        tamanho=component.size,
        tipo_midia=component.media_type,
        nome_arquivo=component.file_name,
        verificacao=component.verification.value,
        descricao=document.description,
        numero=document.number,
        ano=document.year,
        assinaturas=[_signature_map(s) for s in document.signatures] or None,
        id_publico=document.public_id,
        codigo_verificador=document.verification_code,
        crc=document.crc,
        cancelado_em=document.cancelled_at,
        motivo_cancelamento=document.cancel_reason,
        cancelado_por=document.cancelled_by,
    )
    if document.version:
        item.versao = document.version
    return item


def to_document(item: DocumentItem) -> Document:
    return Document(
        nup=item.nup,
        order=int(item.ordem),
        origin=Origin(item.origem),
        kind=int(item.especie),
        access_level=AccessLevel(int(item.nivel_acesso)),
        legal_basis=int(item.hipotese_legal) if item.hipotese_legal is not None else None,
        unit_id=item.unidade,
        created_by=item.criado_por,
        created_at=item.criado_em,
        updated_at=item.atualizado_em,
        component=Component(
            sha256=item.sha256,
            size=int(item.tamanho),
            media_type=item.tipo_midia,
            file_name=item.nome_arquivo,
            verification=Verification(item.verificacao or "objeto"),
        ),
        description=item.descricao,
        number=int(item.numero) if item.numero is not None else None,
        year=int(item.ano) if item.ano is not None else None,
        signatures=tuple(_signature(s) for s in item.assinaturas or ()),
        public_id=item.id_publico,
        verification_code=item.codigo_verificador,
        crc=item.crc,
        cancelled_at=item.cancelado_em,
        cancel_reason=item.motivo_cancelamento,
        cancelled_by=item.cancelado_por,
        version=int(item.versao or 0),
    )


def number_item(number: DocumentNumber) -> SequenceItem:
    return SequenceItem(pk=number_pk(number.unit_id, number.kind, number.year), sk=META, valor=number.number)


def number_condition(number: DocumentNumber) -> Condition:
    """The counter moves from `number - 1`: a number is never taken twice nor skipped."""
    previous = number.number - 1
    return SequenceItem.valor.does_not_exist() if previous == 0 else SequenceItem.valor == previous


def _upload_item(upload: PendingUpload) -> PendingUploadItem:
    declaration = upload.declaration
    return PendingUploadItem(
        pk=upload_pk(upload.id),
        sk=META,
        nup=upload.nup,
        orgao_id=upload.agency_id,
        unidade=upload.unit_id,
        usuario=upload.user,
        especie=upload.kind,
        nivel_acesso=upload.access_level,
        hipotese_legal=upload.legal_basis,
        descricao=upload.description,
        sha256=declaration.sha256,
        tamanho=declaration.size,
        tipo_midia=declaration.media_type,
        nome_arquivo=declaration.file_name,
        tamanho_parte=declaration.part_size,
        partes=list(declaration.part_digests) or None,
        multipart_id=upload.multipart_id,
        criado_em=upload.created_at,
        expira_em=upload.expires_at,
        expiracao=int(upload.expires_at.timestamp()),
    )


def _upload(item: PendingUploadItem) -> PendingUpload:
    return PendingUpload(
        id=item.pk.removeprefix("ENVIO#"),
        nup=item.nup,
        agency_id=item.orgao_id,
        unit_id=item.unidade,
        user=item.usuario,
        kind=int(item.especie),
        access_level=int(item.nivel_acesso),
        legal_basis=int(item.hipotese_legal) if item.hipotese_legal is not None else None,
        description=item.descricao,
        declaration=Declaration(
            sha256=item.sha256,
            size=int(item.tamanho),
            media_type=item.tipo_midia,
            file_name=item.nome_arquivo,
            part_size=int(item.tamanho_parte) if item.tamanho_parte is not None else None,
            part_digests=tuple(str(p) for p in item.partes or ()),
        ),
        created_at=item.criado_em,
        expires_at=item.expira_em,
        multipart_id=item.multipart_id,
    )


def upload_key_item(upload_id: str) -> PendingUploadItem:
    return PendingUploadItem(pk=upload_pk(upload_id), sk=META)


class DynamoUploadRepository:
    """UploadRepository on the processes table (pending uploads and document number counters)."""

    def put_upload(self, upload: PendingUpload) -> None:
        _upload_item(upload).save(condition=PendingUploadItem.pk.does_not_exist())

    def get_upload(self, upload_id: str) -> PendingUpload | None:
        if not upload_id or len(upload_id) > 64 or not all(c in "0123456789abcdef" for c in upload_id):
            return None
        try:
            return _upload(PendingUploadItem.get(upload_pk(upload_id), META, consistent_read=True))
        except PendingUploadItem.DoesNotExist:
            return None

    def last_number(self, unit_id: str, kind: int, year: int) -> int:
        try:
            return int(SequenceItem.get(number_pk(unit_id, kind, year), META, consistent_read=True).valor)
        except SequenceItem.DoesNotExist:
            return 0
