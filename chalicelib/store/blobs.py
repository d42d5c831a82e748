"""S3 adapter of the content store (BlobStore).

Objects are addressed by their SHA-256 ("sha256/<hex>"). Clients upload and download with presigned
requests (SigV4), so document bytes never pass through Lambda:
- a single PUT is presigned with `Content-Type` and `x-amz-checksum-sha256` among its signed headers:
  S3 computes the SHA-256 of what it receives and rejects the PUT when it differs;
- a multipart upload is created with ChecksumAlgorithm=SHA256 and each UploadPart is presigned with
  that part's declared SHA-256, so S3 rejects a part whose bytes differ; completing it passes every
  part's checksum, and S3 then keeps a *composite* checksum ("<base64>-<parts>");
- `inspect` is one HeadObject with ChecksumMode=ENABLED (size and checksum) plus one ranged GET of
  the first bytes (type sniffing).

Stores that report no checksum (moto, the local stack's S3, does not verify or keep them): when the
adapter is built with `compute_missing_checksums=True` it streams the object through a SHA-256 and
uses that instead (one GET of the whole object, which also gives the first bytes). Bootstrap enables
it only for a custom endpoint that is not AWS's (`needs_computed_checksums`), never against AWS:
there a missing checksum means the object was not uploaded through our presigned requests, and
confirming it fails.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.domain.documents import SNIFF_BYTES, Declaration, StoredObject
from chalicelib.domain.errors import ContentMismatch, FieldError
from chalicelib.services.ports import PresignedRequest

STREAM_CHUNK = 1024 * 1024
S3_CONFIG = Config(
    signature_version="s3v4",  # a SigV2 presigned PUT once stored an empty object on moto
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=3,
    read_timeout=30,
)


def needs_computed_checksums(endpoint_url: str | None) -> bool:
    """True for a custom S3 endpoint that is not AWS's (the local stack, tests): only there may the
    adapter hash objects itself."""
    if not endpoint_url:
        return False
    host = (urlsplit(endpoint_url).hostname or "").lower()
    return not (host == "amazonaws.com" or host.endswith(".amazonaws.com"))


def s3_config(endpoint_url: str | None) -> Config:
    """SigV4 always; path-style addressing for a custom endpoint (an IP address has no bucket hosts)."""
    if endpoint_url and needs_computed_checksums(endpoint_url):
        return S3_CONFIG.merge(Config(s3={"addressing_style": "path"}))
    return S3_CONFIG


def s3_client(region: str, endpoint_url: str | None) -> Any:
    """The S3 client of the content store (its own configuration: SigV4 presigning)."""
    session = boto3.session.Session()
    return session.client("s3", region_name=region, endpoint_url=endpoint_url, config=s3_config(endpoint_url))


def content_disposition(file_name: str) -> str:
    """attachment with an ASCII fallback name and the RFC 5987 UTF-8 name."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in file_name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


def _composite(reported: str, etag: str) -> str:
    """S3 writes a multipart object's SHA-256 as "<base64>-<parts>"; moto leaves the suffix out, so it
    is taken from the multipart ETag ("<md5>-<parts>") when missing."""
    if "-" in reported:
        return reported
    parts = etag.strip('"').rpartition("-")[2]
    return f"{reported}-{parts}"


class S3BlobStore:
    def __init__(self, s3: Any, bucket: str, *, compute_missing_checksums: bool = False) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._compute_missing = compute_missing_checksums

    def put(self, key: str, data: bytes, sha256: str, media_type: str) -> None:
        self._s3.put_object(
            Bucket=self._bucket, Key=key, Body=data, ContentType=media_type, ChecksumSHA256=sha256
        )

    def read(self, key: str) -> bytes | None:
        try:
            answer = self._s3.get_object(Bucket=self._bucket, Key=key)
        except self._s3.exceptions.NoSuchKey:
            return None
        return bytes(answer["Body"].read())

    def inspect(self, key: str, *, sniff: bool = True) -> StoredObject | None:
        try:
            head = self._s3.head_object(Bucket=self._bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        size = int(head["ContentLength"])
        reported = head.get("ChecksumSHA256")
        etag = str(head.get("ETag", ""))
        multipart = head.get("ChecksumType") == "COMPOSITE" or etag.strip('"').rpartition("-")[1] == "-"
        sha256 = None if reported is None or multipart else str(reported)
        composite = _composite(str(reported), etag) if reported is not None and multipart else None
        if sha256 is None and self._compute_missing:
            computed, first = self._hash_whole(key)
            return StoredObject(size=size, head=first, sha256=computed, composite=composite)
        head_bytes = self._first_bytes(key, size) if sniff else b""
        return StoredObject(size=size, head=head_bytes, sha256=sha256, composite=composite)

    def _first_bytes(self, key: str, size: int) -> bytes:
        if size == 0:
            return b""
        answer = self._s3.get_object(Bucket=self._bucket, Key=key, Range=f"bytes=0-{SNIFF_BYTES - 1}")
        return bytes(answer["Body"].read())

    def _hash_whole(self, key: str) -> tuple[str, bytes]:
        """Only for stores that keep no checksums (see the module docstring): never used on AWS."""
        body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"]
        digest = hashlib.sha256()
        first = b""
        for chunk in iter(lambda: body.read(STREAM_CHUNK), b""):
            if len(first) < SNIFF_BYTES:
                first += chunk[: SNIFF_BYTES - len(first)]
            digest.update(chunk)
        return base64.b64encode(digest.digest()).decode("ascii"), first

    def discard(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=key)

    def presign_put(
        self, key: str, sha256: str, size: int, media_type: str, expires: int
    ) -> PresignedRequest:
        url = self._s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": self._bucket, "Key": key, "ContentType": media_type, "ChecksumSHA256": sha256},
            ExpiresIn=expires,
        )
        headers = {"Content-Type": media_type, "x-amz-checksum-sha256": sha256}
        return PresignedRequest("PUT", str(url), headers)

    def start_multipart(self, key: str, media_type: str) -> str:
        answer = self._s3.create_multipart_upload(
            Bucket=self._bucket, Key=key, ContentType=media_type, ChecksumAlgorithm="SHA256"
        )
        return str(answer["UploadId"])

    def presign_part(
        self, key: str, multipart_id: str, number: int, sha256: str, expires: int
    ) -> PresignedRequest:
        url = self._s3.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "UploadId": multipart_id,
                "PartNumber": number,
                "ChecksumSHA256": sha256,
            },
            ExpiresIn=expires,
        )
        return PresignedRequest("PUT", str(url), {"x-amz-checksum-sha256": sha256})

    def complete_multipart(self, key: str, multipart_id: str, declaration: Declaration) -> None:
        uploaded: dict[int, dict[str, Any]] = {}
        try:
            paginator = self._s3.get_paginator("list_parts")
            for page in paginator.paginate(Bucket=self._bucket, Key=key, UploadId=multipart_id):
                for part in page.get("Parts", []):
                    uploaded[int(part["PartNumber"])] = part
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchUpload":
                return  # already completed (or aborted): the confirmation checks what is stored
            raise
        expected = declaration.expected_parts()
        missing = [n for n in range(1, expected + 1) if n not in uploaded]
        if missing:
            shown = ", ".join(str(n) for n in missing[:20])
            raise ContentMismatch(
                f"Faltam partes do arquivo: {shown}. Envie-as e conclua de novo.",
                [FieldError("partes", f"faltam {len(missing)} de {expected}")],
            )
        wrong = [n for n in range(1, expected + 1) if int(uploaded[n]["Size"]) != declaration.part_length(n)]
        if wrong:
            raise ContentMismatch(
                f"Partes com tamanho diferente do esperado: {', '.join(str(n) for n in wrong[:20])}.",
                [FieldError("partes", "tamanhos não conferem com tamanhoParte")],
            )
        parts = [
            {"PartNumber": n, "ETag": uploaded[n]["ETag"], "ChecksumSHA256": declaration.part_digests[n - 1]}
            for n in range(1, expected + 1)
        ]
        try:
            self._s3.complete_multipart_upload(
                Bucket=self._bucket, Key=key, UploadId=multipart_id, MultipartUpload={"Parts": parts}
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "BadDigest", "InvalidRequest"}:
                raise ContentMismatch(
                    "O armazenamento recusou as partes enviadas: elas não conferem com o declarado.",
                    [FieldError("partes", "não conferem com os SHA-256 declarados")],
                ) from error
            raise

    def presign_get(self, key: str, file_name: str, media_type: str, expires: int) -> str:
        return str(
            self._s3.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self._bucket,
                    "Key": key,
                    "ResponseContentDisposition": content_disposition(file_name),
                    "ResponseContentType": media_type,
                },
                ExpiresIn=expires,
            )
        )
