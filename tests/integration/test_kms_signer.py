"""KmsSigner against moto's KMS (a real ECC_NIST_P256 key created by the local stack's own code),
with the stamps checked independently by the openssl command line."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.config import ENV_SIGNING_KEY, Settings
from chalicelib.domain.signatures import ALGORITHM, SignatureRecord, verification_code, verify_stamp
from chalicelib.store.signer import RAW_MESSAGE_LIMIT, KmsSigner
from infra.local.resources import create_resources
from tests import servers

NOW = datetime(2026, 3, 1, 13, 45, 0, 123456, tzinfo=UTC)
RECORD = SignatureRecord(document_id="D0000123", content_sha256=hashlib.sha256("ofício".encode()).hexdigest(),
                         signer_name="Maria Antônia Gonçalves", signer_role="Coordenadora-Geral de Protocolo",
                         signed_at=NOW, agency_id="100", unit_id="101")  # fmt: skip


class FixedClock:
    def now(self) -> datetime:
        return NOW


@dataclass
class Kms:
    settings: Settings
    client: Any  # a fresh boto3 KMS client per test, so event hooks never leak between tests
    key_arn: str

    def signer(self) -> KmsSigner:
        return KmsSigner(self.client, self.key_arn, clock=FixedClock())


@pytest.fixture
def kms(moto_endpoint: str) -> Kms:
    stage = f"t{uuid.uuid4().hex[:10]}"
    env = create_resources(moto_endpoint, stage, servers.REGION)
    settings = replace(servers.settings_for(moto_endpoint, stage), signing_key=env[ENV_SIGNING_KEY])
    assert settings.signing_key is not None
    client = boto3.client("kms", endpoint_url=moto_endpoint, region_name=servers.REGION)
    return Kms(settings, client, settings.signing_key)


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("openssl")
    assert binary is not None, "openssl is needed: sudo apt-get install -y openssl"
    return subprocess.run([binary, *map(str, args)], capture_output=True, text=True, check=False, timeout=30)


def openssl_verify(
    tmp_path: Path, pem: str, signature_b64: str, message: bytes
) -> subprocess.CompletedProcess[str]:
    """`openssl dgst -sha256 -verify pub.pem -signature sig.der message.bin`, from files."""
    name = uuid.uuid4().hex
    pub, sig, msg = tmp_path / f"{name}.pem", tmp_path / f"{name}.der", tmp_path / f"{name}.bin"
    pub.write_text(pem, encoding="ascii")
    sig.write_bytes(base64.b64decode(signature_b64, validate=True))
    msg.write_bytes(message)
    return openssl("dgst", "-sha256", "-verify", pub, "-signature", sig, msg)


def test_a_stamped_record_verifies_with_plain_openssl(kms: Kms, tmp_path: Path) -> None:
    signer = kms.signer()
    message = RECORD.to_canonical()
    stamp = signer.sign(message)
    [public] = signer.public_keys()

    assert stamp.algorithm == ALGORITHM == "ECDSA_SHA_256"
    assert stamp.key_id == public.key_id == kms.key_arn
    assert stamp.stamped_at == NOW
    assert public.pem.startswith("-----BEGIN PUBLIC KEY-----\n")

    verified = openssl_verify(tmp_path, public.pem, stamp.signature, message)
    assert (verified.returncode, verified.stdout.strip()) == (0, "Verified OK"), verified.stderr

    tampered_record = replace(RECORD, signer_role="Diretora").to_canonical()
    for tampered in (tampered_record, message[:-1] + b" ", message + b"\n"):
        refused = openssl_verify(tmp_path, public.pem, stamp.signature, tampered)
        assert refused.returncode == 1
        assert "Verification failure" in refused.stdout + refused.stderr


def test_the_published_pem_is_the_kms_key(kms: Kms, tmp_path: Path) -> None:
    """The PEM equals openssl's own conversion of the DER that KMS hands out, and is a P-256 key."""
    der = tmp_path / "key.der"
    der.write_bytes(kms.client.get_public_key(KeyId=kms.key_arn)["PublicKey"])
    converted = openssl("pkey", "-pubin", "-inform", "DER", "-in", der, "-outform", "PEM")
    assert converted.returncode == 0, converted.stderr
    [public] = kms.signer().public_keys()
    assert public.pem == converted.stdout

    pem = tmp_path / "key.pem"
    pem.write_text(public.pem, encoding="ascii")
    described = openssl("pkey", "-pubin", "-in", pem, "-noout", "-text")
    assert "prime256v1" in described.stdout, described.stdout + described.stderr


def test_every_signature_of_the_same_record_verifies_and_each_has_its_own_code(
    kms: Kms, tmp_path: Path
) -> None:
    """ECDSA is randomised: two stamps of one record differ (hence distinct verification codes)."""
    signer = kms.signer()
    message = RECORD.to_canonical()
    first, second = signer.sign(message), signer.sign(message)
    assert first.signature != second.signature
    assert verification_code(first) != verification_code(second)
    [public] = signer.public_keys()
    for stamp in (first, second):
        assert openssl_verify(tmp_path, public.pem, stamp.signature, message).returncode == 0


def test_the_project_verifier_agrees_with_kms(kms: Kms) -> None:
    """verify_stamp (used by documents and the bus) on real KMS stamps; openssl is the other check."""
    signer = kms.signer()
    message = RECORD.to_canonical()
    stamp = signer.sign(message)
    keys = signer.public_keys()
    assert verify_stamp(message, stamp, keys)
    assert not verify_stamp(replace(RECORD, unit_id="102").to_canonical(), stamp, keys)
    assert not verify_stamp(message, replace(stamp, key_id=kms.key_arn + "0"), keys)


def test_public_keys_are_fetched_once_per_signer(kms: Kms) -> None:
    calls: list[str] = []
    kms.client.meta.events.register("before-call.kms.GetPublicKey", lambda **_: calls.append("get"))
    signer = kms.signer()
    first = signer.public_keys()
    first.clear()  # a caller mutating the list must not empty the cache
    assert signer.public_keys() == signer.public_keys() != []
    assert calls == ["get"]
    kms.signer().public_keys()
    assert calls == ["get", "get"]


def test_small_messages_go_raw_and_large_ones_as_their_sha256_digest(kms: Kms) -> None:
    """KMS takes at most 4096 bytes RAW; above that the signer sends SHA-256(message) as DIGEST.

    Only the request is checked for the large path: moto 5.2.5 ignores MessageType=DIGEST (it hashes
    the digest again), so its signature cannot verify there; on AWS it verifies like the RAW one.
    """
    sent: list[dict[str, Any]] = []
    kms.client.meta.events.register(
        "provide-client-params.kms.Sign", lambda params, **_: sent.append(dict(params))
    )
    signer = kms.signer()
    small, large = b"x" * RAW_MESSAGE_LIMIT, b"y" * (RAW_MESSAGE_LIMIT + 1)
    signer.sign(small)
    stamp = signer.sign(large)
    assert [(s["MessageType"], s["Message"]) for s in sent] == [
        ("RAW", small),
        ("DIGEST", hashlib.sha256(large).digest()),
    ]
    assert {s["SigningAlgorithm"] for s in sent} == {"ECDSA_SHA_256"}
    assert {s["KeyId"] for s in sent} == {kms.key_arn}
    assert stamp.key_id == kms.key_arn
