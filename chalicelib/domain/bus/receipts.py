"""Receipts of the bus: the records that get stamped, as RFC 8785 canonical JSON.

- recibo de envio (`SendReceiptRecord`, formato "pen-recibo-envio-v1"): the bus to the sender, once
  every component is in custody and intact (state 2): IDT, NRE, date, sender, and the sorted SHA-256
  of the components the bus holds for the trâmite.
- recibo de conclusão (`ReceiptRecord`, formato "pen-recibo-conclusao-v1"): ends the trâmite (state
  5): IDT, NRE, date, sender, receiver and the sorted SHA-256 of its components.

Each record names its format inside the signed bytes, and the three formats the platform key signs
(these two and signatures.RECORD_FORMAT) differ, so a stamp over one kind can never be presented as
a stamp over another. Hashes are the base64 SHA-256 the manifest declares, distinct and sorted
(they are ASCII, so Python's order is RFC 8785's); dates use signatures.format_instant. Stamping is
the Signer port's job; this module only builds, checks and reads the records back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from chalicelib.domain.bus.addresses import BUS_ID_PATTERN, Address, address_problems
from chalicelib.domain.bus.tramites import Tramite
from chalicelib.domain.documents import parse_sha256
from chalicelib.domain.errors import FieldError, InvalidInput
from chalicelib.domain.signatures import FORMAT_KEY, JsonValue, canonical_json, format_instant, parse_instant

CONCLUSION_FORMAT: Final = "pen-recibo-conclusao-v1"
RECEIVER_FORMAT: Final = "pen-recibo-conclusao-destinatario-v1"
RECEIVER_SIGNATURE_KEY: Final = "assinaturaDestinatario"
SEND_FORMAT: Final = "pen-recibo-envio-v1"
HASHES_KEY: Final = "hashesComponentes"


def _problems(
    idt: str, nre: str, hashes: tuple[str, ...], addresses: Mapping[str, Address]
) -> list[FieldError]:
    problems: list[FieldError] = []
    for name, value in (("idt", idt), ("nre", nre)):
        if not BUS_ID_PATTERN.match(value):
            problems.append(FieldError(name, "use até 64 letras, dígitos ou hífens"))
    for key, address in addresses.items():
        problems += address_problems(address, key)
    if not hashes:
        problems.append(FieldError(HASHES_KEY, "o recibo cobre pelo menos um componente digital"))
    for index, value in enumerate(hashes):
        try:
            parse_sha256(value, f"{HASHES_KEY}.{index}")
        except InvalidInput as error:
            problems += error.fields
    return problems


def _normalise(record: object, issued_at: datetime, hashes: Iterable[str]) -> None:
    if issued_at.tzinfo is None:
        raise ValueError("issued_at needs a time zone (use UTC)")
    object.__setattr__(record, "issued_at", issued_at.astimezone(UTC))
    object.__setattr__(record, "component_hashes", tuple(sorted(set(hashes))))


def _address(address: Address) -> dict[str, str]:
    return {"repositorio": address.repository, "estrutura": address.structure_id}


def _read(
    data: bytes,
    expected_format: str,
    keys: frozenset[str],
    label: str,
    optional: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The parsed JSON of a record of `expected_format`, with exactly `keys` (plus formato), and
    perhaps some of `optional`."""
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInput(f"O {label} não é JSON válido.") from error
    if (
        not isinstance(parsed, dict)
        or not {FORMAT_KEY, *keys} <= set(parsed) <= {FORMAT_KEY, *keys, *optional}
        or parsed[FORMAT_KEY] != expected_format
        or not all(isinstance(parsed[k], str) for k in ("idt", "nre", "data"))
        or not isinstance(parsed[HASHES_KEY], list)
        or not all(isinstance(h, str) for h in parsed[HASHES_KEY])
    ):
        raise InvalidInput(f"O {label} não está no formato {expected_format}.")
    try:
        parsed["data"] = parse_instant(parsed["data"])
    except ValueError as error:
        raise InvalidInput(
            f"O {label} tem data inválida.", [FieldError("data", "use AAAA-MM-DDThh:mm:ss.ffffffZ (UTC)")]
        ) from error
    return parsed


def _read_address(value: object, key: str, label: str) -> Address:
    if (
        not isinstance(value, dict)
        or set(value) != {"repositorio", "estrutura"}
        or not all(isinstance(v, str) for v in value.values())
    ):
        raise InvalidInput(
            f"O {label} tem endereço inválido.", [FieldError(key, "use repositorio e estrutura")]
        )
    return Address(value["repositorio"], value["estrutura"])


@dataclass(frozen=True)
class ReceiverSignature:
    """The receiver's own signature on a recibo de conclusão: made with a key it registered
    (`chave`), over `receiver_statement` of the trâmite, base64 (`valor`)."""

    key_id: str
    value: str


def receiver_statement(tramite: Tramite, component_hashes: Iterable[str]) -> bytes:
    """What a receiver signs to add its own signature to the recibo (RFC 8785): everything the receipt
    states but its date, which the bus sets when it issues it. Its format differs from every record
    the platform stamps, so one signature can never pass for another."""
    return canonical_json(
        {
            FORMAT_KEY: RECEIVER_FORMAT,
            "idt": tramite.idt,
            "nre": tramite.nre,
            "remetente": _address(tramite.sender),
            "destinatario": _address(tramite.receiver),
            HASHES_KEY: sorted(set(component_hashes)),
        }
    )


@dataclass(frozen=True)
class ReceiptRecord:
    """The recibo de conclusão. Hashes are kept distinct and sorted whatever order they come in;
    `issued_at` is converted to UTC (a naive datetime is refused). Bad values raise InvalidInput.
    With the receiver's own signature (over `receiver_statement`) the platform's stamp covers it too."""

    idt: str
    nre: str
    issued_at: datetime
    sender: Address
    receiver: Address
    component_hashes: tuple[str, ...]
    receiver_signature: ReceiverSignature | None = None

    def __post_init__(self) -> None:
        _normalise(self, self.issued_at, self.component_hashes)
        problems = _problems(
            self.idt,
            self.nre,
            self.component_hashes,
            {"remetente": self.sender, "destinatario": self.receiver},
        )
        if problems:
            raise InvalidInput("O recibo de conclusão tem dados inválidos.", problems)

    def to_dict(self) -> dict[str, JsonValue]:
        record: dict[str, JsonValue] = {
            FORMAT_KEY: CONCLUSION_FORMAT,
            "idt": self.idt,
            "nre": self.nre,
            "data": format_instant(self.issued_at),
            "remetente": _address(self.sender),
            "destinatario": _address(self.receiver),
            HASHES_KEY: list(self.component_hashes),
        }
        if self.receiver_signature is not None:
            signature = self.receiver_signature
            record[RECEIVER_SIGNATURE_KEY] = {"chave": signature.key_id, "valor": signature.value}
        return record

    def to_canonical(self) -> bytes:
        """The exact bytes that get stamped (RFC 8785 of `to_dict()`)."""
        return canonical_json(self.to_dict())

    @classmethod
    def from_canonical(cls, data: bytes) -> ReceiptRecord:
        """Reads back bytes made by to_canonical; anything else (other keys or format, unsorted or
        repeated hashes, non-canonical spelling) is refused, so a stamp verified over `data` is a
        stamp over this record."""
        label = "recibo de conclusão"
        keys = frozenset({"idt", "nre", "data", "remetente", "destinatario", HASHES_KEY})
        parsed = _read(data, CONCLUSION_FORMAT, keys, label, frozenset({RECEIVER_SIGNATURE_KEY}))
        found = parsed.get(RECEIVER_SIGNATURE_KEY)
        if found is not None and (
            not isinstance(found, dict)
            or set(found) != {"chave", "valor"}
            or not all(isinstance(v, str) for v in found.values())
        ):
            raise InvalidInput(f"O {label} tem assinatura do destinatário inválida.")
        record = cls(
            idt=parsed["idt"],
            nre=parsed["nre"],
            issued_at=parsed["data"],
            sender=_read_address(parsed["remetente"], "remetente", label),
            receiver=_read_address(parsed["destinatario"], "destinatario", label),
            component_hashes=tuple(parsed[HASHES_KEY]),
            receiver_signature=ReceiverSignature(found["chave"], found["valor"]) if found else None,
        )
        if record.to_canonical() != data:
            raise InvalidInput(f"O {label} não está na forma canônica (RFC 8785).")
        return record

    @classmethod
    def for_tramite(
        cls,
        tramite: Tramite,
        component_hashes: Iterable[str],
        at: datetime,
        receiver_signature: ReceiverSignature | None = None,
    ) -> ReceiptRecord:
        """The receipt over `tramite` and the components of its manifest (Manifest.component_hashes)."""
        hashes = tuple(component_hashes)
        return cls(tramite.idt, tramite.nre, at, tramite.sender, tramite.receiver, hashes, receiver_signature)


@dataclass(frozen=True)
class SendReceiptRecord:
    """The recibo de envio: what the bus holds for a trâmite, once it is all there and intact."""

    idt: str
    nre: str
    issued_at: datetime
    sender: Address
    component_hashes: tuple[str, ...]

    def __post_init__(self) -> None:
        _normalise(self, self.issued_at, self.component_hashes)
        problems = _problems(self.idt, self.nre, self.component_hashes, {"remetente": self.sender})
        if problems:
            raise InvalidInput("O recibo de envio tem dados inválidos.", problems)

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            FORMAT_KEY: SEND_FORMAT,
            "idt": self.idt,
            "nre": self.nre,
            "data": format_instant(self.issued_at),
            "remetente": _address(self.sender),
            HASHES_KEY: list(self.component_hashes),
        }

    def to_canonical(self) -> bytes:
        return canonical_json(self.to_dict())

    @classmethod
    def from_canonical(cls, data: bytes) -> SendReceiptRecord:
        label = "recibo de envio"
        parsed = _read(data, SEND_FORMAT, frozenset({"idt", "nre", "data", "remetente", HASHES_KEY}), label)
        record = cls(
            idt=parsed["idt"],
            nre=parsed["nre"],
            issued_at=parsed["data"],
            sender=_read_address(parsed["remetente"], "remetente", label),
            component_hashes=tuple(parsed[HASHES_KEY]),
        )
        if record.to_canonical() != data:
            raise InvalidInput(f"O {label} não está na forma canônica (RFC 8785).")
        return record

    @classmethod
    def for_tramite(cls, tramite: Tramite, held_hashes: Iterable[str], at: datetime) -> SendReceiptRecord:
        return cls(tramite.idt, tramite.nre, at, tramite.sender, tuple(held_hashes))
