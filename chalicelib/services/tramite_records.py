"""The bus's record of one trâmite in the content store: which manifest it carries and the components
custody must find (with how each is uploaded), and, from state 2, the recibo de envio.

Why here and not on the trâmite's item: the component list grows with the process (a DynamoDB item
would not), it is written at send and rewritten only by the sender's own steps (fresh uploads,
custody), and every state change then costs the same whatever the number of documents. The object
is RFC 8785 canonical JSON at `barramento/tramites/<idt>.json`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.domain.bus import ManifestComponent, SendReceiptRecord, tramite_not_found
from chalicelib.domain.documents import Declaration, StoredObject, composite_sha256
from chalicelib.domain.signatures import JsonValue, Stamp, canonical_json, format_instant, parse_instant
from chalicelib.services.ports import BlobStore

JSON_TYPE = "application/json"


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


@dataclass(frozen=True)
class SendReceipt:
    """The recibo de envio: the exact bytes stamped (RFC 8785) and the platform's stamp."""

    record: SendReceiptRecord
    canonical: bytes
    stamp: Stamp

    def to_json(self) -> dict[str, JsonValue]:
        stamp = self.stamp
        return {
            "registro": base64.b64encode(self.canonical).decode("ascii"),
            "carimbo": {
                "algoritmo": stamp.algorithm,
                "chave": stamp.key_id,
                "assinatura": stamp.signature,
                "data": format_instant(stamp.stamped_at),
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SendReceipt:
        canonical = base64.b64decode(data["registro"])
        stamp = data["carimbo"]
        return cls(
            SendReceiptRecord.from_canonical(canonical),
            canonical,
            Stamp(stamp["algoritmo"], stamp["chave"], stamp["assinatura"], parse_instant(stamp["data"])),
        )


@dataclass(frozen=True)
class ListedComponent:
    """A component the trâmite carries, as custody checks it; `multipart_id` is the upload in parts
    the bus started for it, joined at custody."""

    sha256: str
    size: int
    name: str
    media_type: str
    part_size: int | None = None
    part_digests: tuple[str, ...] = ()
    multipart_id: str | None = None

    @classmethod
    def of(cls, component: ManifestComponent, multipart_id: str | None = None) -> ListedComponent:
        return cls(
            component.sha256,
            component.size,
            component.name,
            component.media_type,
            component.part_size,
            component.part_digests,
            multipart_id,
        )

    def component(self) -> ManifestComponent:
        """Back as the manifest declared it (for new upload requests)."""
        return ManifestComponent(
            order=1,
            name=self.name,
            sha256=self.sha256,
            size=self.size,
            media_type=self.media_type,
            part_size=self.part_size,
            part_digests=self.part_digests,
        )

    def declaration(self) -> Declaration:
        return Declaration(
            self.sha256, self.size, self.media_type, self.name, self.part_size, self.part_digests
        )

    def matches(self, stored: StoredObject | None) -> bool:
        """The stored object is this component: its size, and its SHA-256 or, for an object uploaded in
        parts where the store keeps only the composite checksum, the composite of the declared parts."""
        if stored is None or stored.size != self.size:
            return False
        if stored.sha256 is not None:
            return stored.sha256 == self.sha256
        return bool(self.part_digests) and stored.composite == composite_sha256(self.part_digests)

    def to_json(self) -> dict[str, JsonValue]:
        data: dict[str, JsonValue] = {
            "sha256": self.sha256,
            "tamanho": self.size,
            "nome": self.name,
            "tipoMidia": self.media_type,
        }
        if self.part_size is not None:
            data["tamanhoParte"] = self.part_size
            data["partes"] = list(self.part_digests)
        if self.multipart_id:
            data["envioEmPartes"] = self.multipart_id
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ListedComponent:
        return cls(
            data["sha256"],
            data["tamanho"],
            data["nome"],
            data["tipoMidia"],
            data.get("tamanhoParte"),
            tuple(data.get("partes", ())),
            data.get("envioEmPartes"),
        )


@dataclass(frozen=True)
class TramiteRecord:
    manifest_sha256: str
    components: tuple[ListedComponent, ...]
    send_receipt: SendReceipt | None = None

    @property
    def hashes(self) -> list[str]:
        return [c.sha256 for c in self.components]

    def component(self, sha256: str) -> ListedComponent | None:
        return next((c for c in self.components if c.sha256 == sha256), None)

    def with_components(self, components: tuple[ListedComponent, ...]) -> TramiteRecord:
        return replace(self, components=components)

    def to_json(self) -> dict[str, JsonValue]:
        data: dict[str, JsonValue] = {
            "manifesto": self.manifest_sha256,
            "componentes": [c.to_json() for c in self.components],
        }
        if self.send_receipt is not None:
            data["reciboEnvio"] = self.send_receipt.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TramiteRecord:
        receipt = data.get("reciboEnvio")
        return cls(
            data["manifesto"],
            tuple(ListedComponent.from_json(c) for c in data["componentes"]),
            SendReceipt.from_json(receipt) if receipt else None,
        )


class TramiteRecords:
    """The records, and the manifests they point to, in the content store."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs

    @staticmethod
    def key(idt: str) -> str:
        return f"barramento/tramites/{idt}.json"

    def read(self, idt: str) -> TramiteRecord:
        data = self._blobs.read(self.key(idt))
        if data is None:
            raise tramite_not_found(idt)
        return TramiteRecord.from_json(json.loads(data))

    def write(self, idt: str, record: TramiteRecord) -> None:
        data = canonical_json(record.to_json())
        self._blobs.put(self.key(idt), data, sha256_b64(data), JSON_TYPE)
