"""Agencies' public keys: which are accepted, and signatures checked with each kind."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from chalicelib.domain.agency_keys import AgencyKey, key_algorithm, verify_signature
from chalicelib.domain.errors import InvalidInput

MESSAGE = b'{"formato":"pen-recibo-conclusao-destinatario-v1","idt":"1"}'


def pem_of(private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def key(pem: str) -> AgencyKey:
    return AgencyKey("k1", "100", pem, key_algorithm(pem), datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("curve", "name"), [(ec.SECP256R1(), "ECDSA_P256_SHA256"), (ec.SECP384R1(), "ECDSA_P384_SHA256")]
)
def test_ec_keys_sign_with_sha256(curve: ec.EllipticCurve, name: str) -> None:
    private = ec.generate_private_key(curve)
    registered = key(pem_of(private))
    assert registered.algorithm == name
    signature = base64.b64encode(private.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))).decode()
    assert verify_signature(registered, MESSAGE, signature)
    assert not verify_signature(registered, MESSAGE + b" ", signature)
    assert not verify_signature(registered, MESSAGE, "não é base64")


def test_rsa_keys_of_2048_bits_sign_with_pkcs1_sha256() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    registered = key(pem_of(private))
    assert registered.algorithm == "RSA_PKCS1_SHA256"
    signature = base64.b64encode(private.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())).decode()
    assert verify_signature(registered, MESSAGE, signature)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = base64.b64encode(other.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())).decode()
    assert not verify_signature(registered, MESSAGE, forged)


@pytest.mark.parametrize(
    "pem",
    [
        "",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        pem_of(rsa.generate_private_key(public_exponent=65537, key_size=1024)),  # noqa: S505 - too short, refused
        pem_of(ec.generate_private_key(ec.SECP256K1())),  # not a NIST curve
        "x" * 9000,
    ],
)
def test_other_keys_are_refused_naming_the_field(pem: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        key_algorithm(pem)
    assert [f.field for f in raised.value.fields] == ["pem"]
