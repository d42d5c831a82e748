"""Use cases of the bus for agency systems (scope `barramento`): send a process (manifest + the
components still needed), confirm the uploads (custody, state 2, recibo de envio), list pendências,
and read a trâmite as one of its parties (the receiver's first read moves 2 -> 3).

Where things live. The trâmite itself is the TramiteRepository's item. The manifest is stored as RFC
8785 canonical JSON in the content store under its own SHA-256 (blob_key), like any component. The
trâmite's links to it (the manifest hash and the components custody must find) and, from state 2,
the recibo de envio with its stamp, live in one small JSON object per trâmite in the content store
(`barramento/tramites/<idt>.json`): the trâmite item's schema belongs to store/tramites.py, which
this slice does not change; the object is written at send and rewritten once, at custody.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.bus import (
    Actor,
    Address,
    Manifest,
    ManifestComponent,
    Pendency,
    SendReceiptRecord,
    Tramite,
    complete_upload,
    components_to_request,
    fetch_metadata,
    pendency_for,
    start,
    tramite_not_found,
    validate_manifest,
)
from chalicelib.domain.bus.addresses import Role
from chalicelib.domain.credentials import Caller
from chalicelib.domain.documents import blob_key
from chalicelib.domain.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from chalicelib.domain.signatures import JsonValue, Stamp, canonical_json, format_instant, parse_instant
from chalicelib.domain.structures import Structure
from chalicelib.services.ports import (
    BlobStore,
    Clock,
    Page,
    PresignedRequest,
    Signer,
    TramiteRepository,
)
from chalicelib.services.registry import Registry

UPLOAD_EXPIRES = 3600
MAX_PAGE = 100
JSON_TYPE = "application/json"


def _sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def record_key(idt: str) -> str:
    return f"barramento/tramites/{idt}.json"


@dataclass(frozen=True)
class ComponentUpload:
    """A component the sender still has to upload, with the presigned request that takes only its bytes."""

    component: ManifestComponent
    upload: PresignedRequest


@dataclass(frozen=True)
class SendReceipt:
    """The recibo de envio: the exact bytes stamped (RFC 8785) and the platform's stamp."""

    record: SendReceiptRecord
    canonical: bytes
    stamp: Stamp


@dataclass(frozen=True)
class Sent:
    tramite: Tramite
    manifest_sha256: str
    uploads: tuple[ComponentUpload, ...]


@dataclass(frozen=True)
class TramiteView:
    tramite: Tramite
    manifest: JsonValue
    manifest_sha256: str
    receipt: SendReceipt | None


@dataclass(frozen=True)
class MissingComponents:
    missing: tuple[str, ...]
    corrupt: tuple[str, ...]


class Bus:
    def __init__(
        self,
        tramites: TramiteRepository,
        registry: Registry,
        blobs: BlobStore,
        *,
        signer: Signer,
        clock: Clock,
    ) -> None:
        self._tramites = tramites
        self._registry = registry
        self._blobs = blobs
        self._signer = signer
        self._clock = clock

    # --- send ---------------------------------------------------------------------------------------

    def send(self, caller: Caller, manifest: Manifest, declaration: JsonValue) -> Sent:
        """`declaration` is the manifest as the API received it (JSON), stored canonical."""
        header = manifest.header
        sender, receiver = self._check_addresses(caller, header.sender, header.receiver)
        validate_manifest(manifest)
        nup = "".join(c for c in manifest.process.nup if c.isdigit())
        nre = self._nre_for(header.nre, nup)
        now = self._clock.now()
        by = Actor(caller.agency_id, caller.client_id)
        tramite = start(
            idt=uuid.uuid4().hex,
            nre=nre,
            nup=nup,
            sender=header.sender,
            receiver=header.receiver,
            sender_agency_id=sender.agency_id,
            receiver_agency_id=receiver.agency_id,
            by=by,
            at=now,
        )
        document = canonical_json(declaration)
        manifest_sha = _sha256(document)
        self._blobs.put(blob_key(manifest_sha), document, manifest_sha, JSON_TYPE)
        components = {c.sha256: c for _, c in manifest.components()}
        self._write_record(
            tramite.idt,
            {
                "manifesto": manifest_sha,
                "componentes": [{"sha256": c.sha256, "tamanho": c.size} for c in components.values()],
            },
        )
        held = {sha for sha, c in components.items() if self._intact(c.sha256, c.size)}
        stored = self._tramites.add(tramite)  # Conflict: the NRE has an open trâmite
        uploads = tuple(
            ComponentUpload(
                c, self._blobs.presign_put(blob_key(c.sha256), c.sha256, c.size, c.media_type, UPLOAD_EXPIRES)
            )
            for c in components_to_request(manifest, held)
        )
        return Sent(stored, manifest_sha, uploads)

    def _check_addresses(
        self, caller: Caller, sender: Address, receiver: Address
    ) -> tuple[Structure, Structure]:
        found_receiver = self._structure(receiver, "destinatario")
        found_sender = self._structure(sender, "remetente")
        if found_sender.agency_id != caller.agency_id:
            raise Forbidden(f"O endereço remetente {sender} não pertence ao seu órgão.")
        problems: list[FieldError] = []
        if not found_sender.active:
            problems.append(FieldError("cabecalho.remetente.estrutura", "a estrutura está desativada"))
        elif not found_sender.can_send:
            problems.append(
                FieldError("cabecalho.remetente.estrutura", "a estrutura não está habilitada a enviar")
            )
        if not found_receiver.active:
            problems.append(FieldError("cabecalho.destinatario.estrutura", "a estrutura está desativada"))
        elif not found_receiver.can_receive:
            problems.append(
                FieldError("cabecalho.destinatario.estrutura", "a estrutura não está habilitada a receber")
            )
        if problems:
            raise InvalidInput("O trâmite não pode ser feito entre estes endereços.", problems)
        return found_sender, found_receiver

    def _structure(self, address: Address, role: str) -> Structure:
        found = self._registry.find(address.structure_id) if address.structure_id.isdigit() else None
        if found is None:
            raise NotFound(
                f"A estrutura {address.structure_id} ({role}) não existe no repositório de estruturas."
            )
        return found

    def _nre_for(self, nre: str | None, nup: str) -> str:
        if nre is None:
            if self._tramites.by_nup(nup, None, 1).items:
                raise Conflict(
                    f"O processo {nup} já tramitou pelo barramento: informe o NRE dele em cabecalho.nre."
                )
            return uuid.uuid4().hex
        first = self._tramites.by_nre(nre, None, 1).items
        if not first:
            raise InvalidInput(
                "NRE desconhecido.", [FieldError("cabecalho.nre", "nenhum trâmite tem este NRE")]
            )
        if first[0].nup != nup:
            raise InvalidInput(
                "O NRE é de outro processo.",
                [FieldError("cabecalho.nre", f"pertence ao processo {first[0].nup}, não a {nup}")],
            )
        return nre

    def _intact(self, sha256: str, size: int) -> bool:
        stored = self._blobs.inspect(blob_key(sha256))
        return stored is not None and stored.sha256 == sha256 and stored.size == size

    # --- custody ------------------------------------------------------------------------------------

    def confirm_components(self, caller: Caller, idt: str) -> tuple[Tramite, SendReceipt]:
        """1 -> 2 once every component is in custody and intact; Conflict listing the missing or
        corrupt ones otherwise (a corrupt object is removed, so the sender can upload it again)."""
        tramite = self._party(caller, idt)
        if Role.REMETENTE not in tramite.roles_of(caller.agency_id):
            raise Forbidden(f"Só o remetente confirma os componentes do trâmite {idt}.")
        record = self._record(idt)
        receipt = _receipt(record) or self._issue_send_receipt(tramite, idt, record)
        # The receipt is stored before the move: a crash in between leaves a receipt and state 1, and the
        # retried confirmation finishes the move with the same receipt (the move is idempotent in 2-6).
        moved = complete_upload(tramite, receipt.record.issued_at)
        saved = self._tramites.save(moved) if moved is not tramite else tramite
        return saved, receipt

    def _issue_send_receipt(self, tramite: Tramite, idt: str, record: dict[str, Any]) -> SendReceipt:
        """Checks custody of every component, then stamps and stores the recibo de envio."""
        missing: list[str] = []
        corrupt: list[str] = []
        for item in record["componentes"]:
            key = blob_key(item["sha256"])
            stored = self._blobs.inspect(key)
            if stored is None:
                missing.append(item["sha256"])
            elif stored.sha256 != item["sha256"] or stored.size != item["tamanho"]:
                self._blobs.discard(key)
                corrupt.append(item["sha256"])
        if missing or corrupt:
            fields = [FieldError(f"componentes.{sha}", "não foi enviado") for sha in missing] + [
                FieldError(
                    f"componentes.{sha}", "chegou diferente do declarado e foi descartado; envie de novo"
                )
                for sha in corrupt
            ]
            raise Conflict(
                f"O barramento ainda não tem todos os componentes do trâmite {idt}: "
                f"{len(missing)} faltando, {len(corrupt)} corrompido(s).",
                fields,
            )
        now = self._clock.now()
        hashes = [item["sha256"] for item in record["componentes"]]
        receipt_record = SendReceiptRecord.for_tramite(tramite, hashes, now)
        canonical = receipt_record.to_canonical()
        receipt = SendReceipt(receipt_record, canonical, self._signer.sign(canonical))
        self._write_record(idt, {**record, "reciboEnvio": _receipt_json(receipt)})
        return receipt

    # --- reads --------------------------------------------------------------------------------------

    def pendencies(self, caller: Caller, cursor: str | None = None, limit: int = 50) -> Page[Pendency]:
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(
                "Tamanho de página inválido.", [FieldError("limite", f"deve estar entre 1 e {MAX_PAGE}")]
            )
        page = self._tramites.pending_for(caller.agency_id, cursor, limit)
        items = [p for t in page.items if (p := pendency_for(t, caller.agency_id)) is not None]
        return Page(items, page.cursor)

    def get(self, caller: Caller, idt: str) -> TramiteView:
        """A party's view; the receiver's read of a trâmite in state 2 moves it to 3 (metadados recebidos)."""
        tramite = self._party(caller, idt)
        if Role.DESTINATARIO in tramite.roles_of(caller.agency_id):
            moved = fetch_metadata(tramite, Actor(caller.agency_id, caller.client_id), self._clock.now())
            if moved is not tramite:
                tramite = self._tramites.save(moved)
        record = self._record(idt)
        document = self._blobs.read(blob_key(record["manifesto"]))
        if document is None:
            raise NotFound(f"O manifesto do trâmite {idt} não está no barramento.")
        return TramiteView(tramite, json.loads(document), record["manifesto"], _receipt(record))

    def _party(self, caller: Caller, idt: str) -> Tramite:
        tramite = self._tramites.get(idt)
        if tramite is None:
            raise tramite_not_found(idt)
        tramite.require_party(caller.agency_id)
        return tramite

    # --- the per-trâmite record ------------------------------------------------------------------

    def _record(self, idt: str) -> dict[str, Any]:
        data = self._blobs.read(record_key(idt))
        if data is None:
            raise tramite_not_found(idt)
        parsed: dict[str, Any] = json.loads(data)
        return parsed

    def _write_record(self, idt: str, record: dict[str, Any]) -> None:
        data = canonical_json(record)
        self._blobs.put(record_key(idt), data, _sha256(data), JSON_TYPE)


def _receipt_json(receipt: SendReceipt) -> dict[str, JsonValue]:
    stamp = receipt.stamp
    return {
        "registro": base64.b64encode(receipt.canonical).decode("ascii"),
        "carimbo": {
            "algoritmo": stamp.algorithm,
            "chave": stamp.key_id,
            "assinatura": stamp.signature,
            "data": format_instant(stamp.stamped_at),
        },
    }


def _receipt(record: dict[str, Any]) -> SendReceipt | None:
    found = record.get("reciboEnvio")
    if not found:
        return None
    canonical = base64.b64decode(found["registro"])
    stamp = found["carimbo"]
    return SendReceipt(
        SendReceiptRecord.from_canonical(canonical),
        canonical,
        Stamp(stamp["algoritmo"], stamp["chave"], stamp["assinatura"], parse_instant(stamp["data"])),
    )
