"""Public keys an agency registers to sign what it sends the platform (today: its own signature on the
recibo de conclusão it issues as receiver). Only public keys are ever held here; the agency keeps the
private key in its own system or HSM. Accepted: EC P-256/P-384 (ECDSA, DER signature) and RSA of
2048 bits or more (PKCS#1 v1.5), always with SHA-256: what `openssl dgst -sha256 -sign` produces.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from chalicelib.domain.errors import FieldError, InvalidInput

MAX_PEM = 8 * 1024
MIN_RSA_BITS = 2048
_CURVES = {"secp256r1": "ECDSA_P256_SHA256", "secp384r1": "ECDSA_P384_SHA256"}


@dataclass(frozen=True)
class AgencyKey:
    id: str
    agency_id: str
    pem: str
    algorithm: str  # ECDSA_P256_SHA256, ECDSA_P384_SHA256 or RSA_PKCS1_SHA256
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def key_algorithm(pem: str) -> str:
    """The algorithm of a public key in PEM (SubjectPublicKeyInfo); InvalidInput for anything else."""
    problem = FieldError(
        "pem", "envie uma chave pública PEM (BEGIN PUBLIC KEY): EC P-256/P-384 ou RSA ≥ 2048"
    )
    if not pem.strip() or len(pem) > MAX_PEM:
        raise InvalidInput("Chave pública inválida.", [problem])
    try:
        public = load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm):
        raise InvalidInput("Chave pública inválida.", [problem]) from None
    if isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name in _CURVES:
        return _CURVES[public.curve.name]
    if isinstance(public, rsa.RSAPublicKey) and public.key_size >= MIN_RSA_BITS:
        return "RSA_PKCS1_SHA256"
    raise InvalidInput("Chave pública não aceita.", [problem])


def verify_signature(key: AgencyKey, message: bytes, signature_b64: str) -> bool:
    """Whether `signature_b64` (base64) signs `message` with `key`, SHA-256."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    public = load_pem_public_key(key.pem.encode("ascii"))
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except InvalidSignature:
        return False
    return True
