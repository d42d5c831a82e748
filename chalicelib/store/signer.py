"""The Signer port on an AWS KMS asymmetric key (ECC_NIST_P256, SIGN_VERIFY).

The private key never leaves KMS; the Lambda role may only `kms:Sign` and `kms:GetPublicKey`
(infra/iam.py). Signatures are ECDSA P-256 over SHA-256 of the message, DER-encoded, which is
exactly what `openssl dgst -sha256 -verify pub.pem -signature sig.der message` checks.

RAW or DIGEST: KMS's Sign takes the message itself (MessageType=RAW) only up to 4096 bytes; above
that we hash locally and send the 32-byte SHA-256 (MessageType=DIGEST), which gives the same
signature semantics, so any size works. Small messages (every record and receipt we sign: they
carry content hashes, never content) go RAW because moto 5.2.5 ignores MessageType=DIGEST and
hashes the digest again, which would make every stamp of the local stack fail openssl; on AWS both
paths verify identically.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key

from chalicelib.domain.signatures import ALGORITHM, PublicKey, Stamp
from chalicelib.observability import logger
from chalicelib.services.ports import Clock, SystemClock

if TYPE_CHECKING:
    from mypy_boto3_kms.client import KMSClient

RAW_MESSAGE_LIMIT = 4096  # bytes: KMS Sign's limit for MessageType=RAW


class SignerError(RuntimeError):
    """KMS answered something a P-256 signing key never should: the key is misconfigured."""


class UnconfiguredSigner:
    """Stands in when no signing key is configured (PEN_SIGNING_KEY unset): every use fails loudly, so
    a deployment without a key serves everything but signatures, and says why they fail."""

    def sign(self, message: bytes) -> Stamp:
        raise SignerError("no signing key is configured: set PEN_SIGNING_KEY to the KMS key's ARN")

    def public_keys(self) -> list[PublicKey]:
        raise SignerError("no signing key is configured: set PEN_SIGNING_KEY to the KMS key's ARN")


class KmsSigner:
    """Signs with the current key; publishes it and then each retired key (a rotation's previous
    keys, docs/OPERATIONS.md "Rotating the signing key"), which are never used to sign."""

    def __init__(
        self,
        kms: KMSClient,
        key_id: str,
        clock: Clock | None = None,
        *,
        retired: Sequence[str] = (),
    ) -> None:
        """`key_id` is what Settings.signing_key holds (the key ARN); an alias or bare id works too.
        `retired`: Settings.retired_signing_keys (ARNs)."""
        self._kms = kms
        self._key_id = key_id
        self._retired = tuple(k for k in dict.fromkeys(retired) if k != key_id)
        self._clock = clock or SystemClock()
        self._read: dict[str, PublicKey] = {}  # configured id -> its public key (it never changes)

    def sign(self, message: bytes) -> Stamp:
        if len(message) <= RAW_MESSAGE_LIMIT:
            response = self._kms.sign(
                KeyId=self._key_id, Message=message, MessageType="RAW", SigningAlgorithm=ALGORITHM
            )
        else:
            response = self._kms.sign(
                KeyId=self._key_id,
                Message=hashlib.sha256(message).digest(),
                MessageType="DIGEST",
                SigningAlgorithm=ALGORITHM,
            )
        if response.get("SigningAlgorithm") != ALGORITHM:
            raise SignerError(f"KMS signed with {response.get('SigningAlgorithm')!r}, not {ALGORITHM}")
        return Stamp(
            algorithm=ALGORITHM,
            key_id=response["KeyId"],  # the key ARN, whatever form of id we passed
            signature=base64.b64encode(response["Signature"]).decode("ascii"),
            stamped_at=self._clock.now(),
        )

    def public_keys(self) -> list[PublicKey]:
        """The current key's SubjectPublicKeyInfo PEM, then each retired key's. Each is fetched once
        per instance (a key's public half never changes).

        The current key must answer: without it nothing the platform stamps now can be checked, so
        a failure is the caller's error. A retired key KMS cannot read (disabled, pending deletion,
        gone, not a P-256 signing key, no GetPublicKey grant) is left out with a warning and tried
        again on the next call: the route keeps publishing the others, and stamps of that key can
        still be checked with a PEM kept from before (docs/OPERATIONS.md)."""
        keys = [self._public_key(self._key_id)]
        for key_id in self._retired:
            try:
                keys.append(self._public_key(key_id))
            except (ClientError, SignerError) as error:
                logger.warning(
                    "a retired signing key cannot be read: it is left out of the published keys",
                    extra={"chave": key_id, "erro": _reason(error)},
                )
        return keys

    def _public_key(self, key_id: str) -> PublicKey:
        found = self._read.get(key_id)
        if found is None:
            response = self._kms.get_public_key(KeyId=key_id)
            public = load_der_public_key(response["PublicKey"])
            if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != "secp256r1":
                raise SignerError(f"the signing key {key_id} is not an ECC_NIST_P256 key")
            pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")
            found = self._read[key_id] = PublicKey(key_id=_key_arn(response["KeyId"], key_id), pem=pem)
        return found


def _key_arn(reported: str, configured: str) -> str:
    """The id stamps carry (Sign answers the key ARN). GetPublicKey answers the ARN on AWS but the
    bare key id on moto 5.2.5; the configured ARN ending in that id is the same key."""
    if not reported.startswith("arn:") and configured.endswith(f":key/{reported}"):
        return configured
    return reported


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return str(error)
