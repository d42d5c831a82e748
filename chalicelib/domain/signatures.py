"""Electronic signatures: the record a person signs, the platform's stamp over it, and the two
short codes (SEI's "código verificador" and "código CRC") that let anyone look a signature up.

What gets signed is the RFC 8785 canonical JSON of a SignatureRecord (`SignatureRecord.to_canonical`):
the same record always gives the same bytes, in any language that implements RFC 8785, so a verifier
rebuilds them from the stored fields and checks the stamp with plain openssl:

    openssl dgst -sha256 -verify pub.pem -signature sig.der record.json

The record's keys are pt-BR, like every JSON field the API shows (see CANONICAL_KEYS), and it names
its own format (`"formato": "pen-assinatura-v1"`): the same platform key also signs bus receipts,
and a tag inside the signed bytes keeps one kind of signed payload from ever being read as another.

This module is pure: no AWS. The KMS adapter that produces stamps is chalicelib/store/signer.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import unicodedata
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Final, TypeAlias

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from chalicelib.domain.errors import FieldError, InvalidInput

JsonValue: TypeAlias = bool | int | float | str | Sequence["JsonValue"] | Mapping[str, "JsonValue"] | None

ALGORITHM: Final = "ECDSA_SHA_256"
"""KMS's name for ECDSA on P-256 with SHA-256 (what `openssl dgst -sha256` verifies)."""

RECORD_FORMAT = "pen-assinatura-v1"
VERIFICATION_CODE_DIGITS = 10
_VERIFICATION_CODE_CONTEXT = b"pen/codigo-verificador/v1\x00"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

# Python field -> key in the canonical JSON (plus FORMAT_KEY). The order here does not matter:
# RFC 8785 sorts the keys itself (by their UTF-16 code units).
CANONICAL_KEYS: Mapping[str, str] = {
    "document_id": "documento",
    "content_sha256": "conteudoSha256",
    "signer_name": "signatario",
    "signer_role": "cargo",
    "signed_at": "assinadoEm",
    "agency_id": "orgao",
    "unit_id": "unidade",
}
FORMAT_KEY = "formato"


def canonical_json(obj: JsonValue) -> bytes:
    """The RFC 8785 (JSON Canonicalization Scheme) bytes of `obj`: keys sorted by UTF-16 code units,
    no insignificant whitespace, ECMAScript number formatting, strings as raw UTF-8 (only the JSON
    escapes that must be escaped). Raises rfc8785.CanonicalizationError (a ValueError) for what JSON
    cannot carry exactly: NaN, infinities, integers beyond ±(2**53 - 1), non-string keys."""
    return rfc8785.dumps(obj)


def format_instant(moment: datetime) -> str:
    """ISO 8601 in UTC with a 'Z' and always six fractional digits: `2026-03-01T13:45:00.000000Z`.
    A fixed width keeps the form canonical (one instant, one string) and loses nothing."""
    if moment.tzinfo is None:
        raise ValueError("a signature instant needs a time zone (use UTC)")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_instant(text: str) -> datetime:
    """The inverse of format_instant; accepts only its exact form."""
    if not text.endswith("Z"):
        raise ValueError(f"not a canonical instant: {text!r}")
    moment = datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    if format_instant(moment) != text:
        raise ValueError(f"not a canonical instant: {text!r}")
    return moment


@dataclass(frozen=True)
class SignatureRecord:
    """Who signed which content, as what, when, and for which agency and unit.

    On construction text fields are put in Unicode NFC (the same name typed on two systems gives the
    same bytes) and `signed_at` is converted to UTC; a naive datetime is refused.
    """

    document_id: str
    content_sha256: str  # hex, lower case
    signer_name: str
    signer_role: str  # cargo
    signed_at: datetime
    agency_id: str
    unit_id: str

    def __post_init__(self) -> None:
        if self.signed_at.tzinfo is None:
            raise ValueError("signed_at needs a time zone (use UTC)")
        object.__setattr__(self, "signed_at", self.signed_at.astimezone(UTC))
        for name in ("document_id", "signer_name", "signer_role", "agency_id", "unit_id"):
            object.__setattr__(self, name, unicodedata.normalize("NFC", getattr(self, name)))
        problems = [
            FieldError(CANONICAL_KEYS[name], "obrigatório; não pode ser vazio nem ter espaços nas pontas")
            for name in ("document_id", "signer_name", "signer_role", "agency_id", "unit_id")
            if not getattr(self, name) or getattr(self, name) != getattr(self, name).strip()
        ]
        if not SHA256_HEX.match(self.content_sha256):
            problems.append(
                FieldError(CANONICAL_KEYS["content_sha256"], "use o SHA-256 em hexadecimal minúsculo")
            )
        if problems:
            raise InvalidInput("O registro de assinatura tem dados inválidos.", problems)

    def to_dict(self) -> dict[str, str]:
        """The signed fields under their canonical (pt-BR) keys, plus `formato`."""
        values = {
            CANONICAL_KEYS[f.name]: (
                format_instant(self.signed_at) if f.name == "signed_at" else getattr(self, f.name)
            )
            for f in fields(self)
        }
        return {FORMAT_KEY: RECORD_FORMAT, **values}

    def to_canonical(self) -> bytes:
        """The exact bytes that get stamped: RFC 8785 canonical JSON of `to_dict()`, e.g.
        {"assinadoEm":"2026-03-01T13:45:00.000000Z","cargo":"Analista","conteudoSha256":"9f86…",
        "documento":"D1","formato":"pen-assinatura-v1","orgao":"100","signatario":"João","unidade":"101"}
        """
        return canonical_json(self.to_dict())

    @classmethod
    def from_canonical(cls, data: bytes) -> SignatureRecord:
        """Reads back bytes made by to_canonical; refuses anything that is not exactly that form
        (other keys, another format, non-canonical spelling), so a verified stamp over `data` is a
        stamp over this record."""
        try:
            parsed = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InvalidInput("O registro de assinatura não é JSON válido.") from error
        expected = {FORMAT_KEY, *CANONICAL_KEYS.values()}
        if (
            not isinstance(parsed, dict)
            or set(parsed) != expected
            or parsed[FORMAT_KEY] != RECORD_FORMAT
            or not all(isinstance(v, str) for v in parsed.values())
        ):
            raise InvalidInput(f"O registro de assinatura não está no formato {RECORD_FORMAT}.")
        try:
            signed_at = parse_instant(parsed[CANONICAL_KEYS["signed_at"]])
        except ValueError as error:
            raise InvalidInput(
                "O registro de assinatura tem data inválida.",
                [FieldError(CANONICAL_KEYS["signed_at"], "use AAAA-MM-DDThh:mm:ss.ffffffZ (UTC)")],
            ) from error
        values = {name: parsed[key] for name, key in CANONICAL_KEYS.items() if name != "signed_at"}
        record = cls(signed_at=signed_at, **values)
        if record.to_canonical() != data:
            raise InvalidInput("O registro de assinatura não está na forma canônica (RFC 8785).")
        return record


@dataclass(frozen=True)
class Stamp:
    """The platform's signature over some bytes: `signature` is the base64 of the DER-encoded ECDSA
    signature (what `openssl dgst -signature` reads once decoded); `key_id` names the key (the KMS
    key ARN) whose PublicKey verifies it; `stamped_at` is when the signer produced it (metadata, not
    part of the signed bytes)."""

    algorithm: str
    key_id: str
    signature: str
    stamped_at: datetime

    def __post_init__(self) -> None:
        if self.algorithm != ALGORITHM:
            raise ValueError(f"unsupported signature algorithm {self.algorithm!r}; expected {ALGORITHM}")
        if not self.key_id:
            raise ValueError("a stamp needs the id of its key")
        if self.stamped_at.tzinfo is None:
            raise ValueError("stamped_at needs a time zone (use UTC)")
        object.__setattr__(self, "stamped_at", self.stamped_at.astimezone(UTC))
        try:
            der = base64.b64decode(self.signature, validate=True)
        except binascii.Error as error:
            raise ValueError("the signature must be standard base64") from error
        if not der:
            raise ValueError("the signature is empty")

    @property
    def signature_der(self) -> bytes:
        return base64.b64decode(self.signature, validate=True)


@dataclass(frozen=True)
class PublicKey:
    """A key that verifies stamps: its id (as in Stamp.key_id) and its SubjectPublicKeyInfo PEM,
    which `openssl dgst -verify` reads as is."""

    key_id: str
    pem: str


@dataclass(frozen=True)
class Signature:
    """One person's signature of a document: the record they signed and the platform's stamp over its
    canonical bytes (`record.to_canonical()`). `user` is who called the API (X-Usuario): kept for the
    agency and its history, not part of the signed record, never published."""

    record: SignatureRecord
    stamp: Stamp
    user: str


def crc_code(record: SignatureRecord) -> str:
    """SEI's "código CRC": CRC-32 (zlib) of the record's canonical bytes, 8 upper-case hex digits.

    A checksum, not a security measure: anyone holding the record can compute it. It catches typing
    mistakes and, paired with the verification code, makes the public lookup key longer."""
    return f"{zlib.crc32(record.to_canonical()):08X}"


def verification_code(stamp: Stamp) -> str:
    """SEI's "código verificador": 10 decimal digits from SHA-256 of the stamp's DER signature
    (with a context prefix so no other use of the hash collides with this one).

    Why from the signature: there is no platform sequence to draw from, and an ECDSA signature is
    randomised by a fresh secret nonce, so its bits are unpredictable to anyone but the signer even
    when the record is known. The code therefore cannot be guessed from the document's data or
    from other codes, and a public lookup cannot enumerate signatures: a guess hits one of N
    stamps with probability N / 10**10 (about 33 bits); the lookup asks for the code AND the CRC,
    which adds the 32 bits of a record the guesser does not have (rate-limit it anyway).

    Not unique on its own: by the birthday bound two of about 120,000 stamps share a code with
    even odds. Store it in a non-unique index and pick the match by CRC (collisions of the pair
    need billions of stamps). The same signature always gives the same code.
    """
    digest = hashlib.sha256(_VERIFICATION_CODE_CONTEXT + stamp.signature_der).digest()
    number = int.from_bytes(digest, "big") % 10**VERIFICATION_CODE_DIGITS  # bias < 2**-200
    return f"{number:0{VERIFICATION_CODE_DIGITS}d}"


def verify_stamp(message: bytes, stamp: Stamp, keys: Sequence[PublicKey]) -> bool:
    """True when `stamp` is a valid ECDSA P-256/SHA-256 signature of `message` by the key among
    `keys` whose id is `stamp.key_id`; False for an unknown key, another curve or a bad signature.
    The same check as `openssl dgst -sha256 -verify <pem> -signature <der> <message>`."""
    for key in keys:
        if key.key_id != stamp.key_id:
            continue
        public = load_pem_public_key(key.pem.encode("ascii"))
        if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1":
            return False
        try:
            public.verify(stamp.signature_der, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True
    return False
