"""Documents: the sanitiser's rules, hashes and keys, the checks of a stored object, the S3 adapter's
two paths (a store that reports checksums, as AWS does, and one that reports none, as moto), and the
service's confirmation on a fake content store that reports checksums (the path AWS takes)."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.documents import (
    Component,
    Declaration,
    Document,
    Origin,
    StoredObject,
    Verification,
    blob_key,
    composite_sha256,
    documents_level,
    parse_sha256,
    publicly_identified,
    sanitise_html,
    sniff_media_types,
    verify_stored,
)
from chalicelib.domain.errors import Conflict, ContentMismatch, InvalidInput, SequenceTaken
from chalicelib.domain.history import HistoryEntry
from chalicelib.domain.processes import AccessLevel, Interested, Metadata, Process
from chalicelib.domain.structures import Structure
from chalicelib.services.documents import DocumentInput, DocumentPolicy, Documents
from chalicelib.services.ports import InboxItem, Page, PendingUpload, PresignedRequest, ProcessWrite
from chalicelib.services.processes import Actor, Processes
from chalicelib.services.registry import Registry
from chalicelib.store.blobs import S3BlobStore, content_disposition, needs_computed_checksums
from tests.fakes import FakeClock, InMemoryStructures

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"conteudo " * 100


def b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


# --- sanitiser -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "clean"),
    [
        ("<p>Olá <strong>mundo</strong></p>", "<p>Olá <strong>mundo</strong></p>"),
        ("<p>a<script>alert(1)</script>b</p>", "<p>ab</p>"),  # dropped with its content
        ("<style>p{}</style><p>x</p>", "<p>x</p>"),
        ('<p onclick="roubar()" onmouseover="x">x</p>', "<p>x</p>"),  # event handlers go
        ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer">x</a>'),  # bad scheme
        ('<a href="https://gov.br" target="_blank">x</a>', '<a href="https://gov.br" rel="noopener noreferrer">x</a>'),
        ('<img src="https://rastreio.example/px.gif">texto', "texto"),  # no remote images
        ('<p style="text-align:center;position:fixed;background:url(x)">x</p>', '<p style="text-align:center">x</p>'),
        ('<table><tr><td colspan="2" onclick="x">1</td></tr></table>',
         '<table><tbody><tr><td colspan="2">1</td></tr></tbody></table>'),
        ("<p>x<!-- comentário --></p>", "<p>x</p>"),
        ("<form><input name=a></form><p>x</p>", "<p>x</p>"),
        ('<ol start="3"><li>item</li></ol>', '<ol start="3"><li>item</li></ol>'),
        ("<iframe src=x>dentro</iframe><p>fora</p>", "<p>fora</p>"),
        ("<marquee>texto</marquee>", "texto"),  # unknown tag: text kept
    ],
)  # fmt: skip
def test_sanitiser_keeps_the_allow_list_only(html: str, clean: str) -> None:
    assert sanitise_html(html) == clean.encode()


@pytest.mark.parametrize("html", ["", "   ", "<script>x</script>", "<img src=x>", "&nbsp;"])
def test_content_empty_after_cleaning_is_refused(html: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        sanitise_html(html)
    assert raised.value.fields[0].field == "conteudo"


def test_content_over_the_limit_is_refused() -> None:
    with pytest.raises(InvalidInput, match="grande"):
        sanitise_html("<p>" + "x" * (512 * 1024) + "</p>")


# --- hashes, keys, the checks of a stored object -----------------------------------------------------


def test_sha256_is_base64_and_the_key_is_hex() -> None:
    digest = b64(PDF)
    assert parse_sha256(digest) == digest
    assert blob_key(digest) == "sha256/" + hashlib.sha256(PDF).hexdigest()
    for bad in (hashlib.sha256(PDF).hexdigest(), digest[:-1], "A" * 42 + "==", digest.replace("=", "")):
        with pytest.raises(InvalidInput):
            parse_sha256(bad)


def test_composite_is_the_hash_of_the_part_hashes() -> None:
    parts = [b"a" * 10, b"b" * 5]
    expected = base64.b64encode(hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest())
    assert composite_sha256([b64(p) for p in parts]) == expected.decode() + "-2"


def test_sniffing_reads_magic_numbers() -> None:
    assert "application/pdf" in sniff_media_types(PDF[:64])
    assert sniff_media_types(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 20) == {"image/png"}
    assert sniff_media_types(b"texto puro, sem assinatura") == frozenset()


DECLARED = Declaration(sha256=b64(PDF), size=len(PDF), media_type="application/pdf", file_name="a.pdf")


@pytest.mark.parametrize(
    ("process_level", "document_level", "other_level", "identified"),
    [
        (AccessLevel.PUBLICO, AccessLevel.PUBLICO, None, True),
        (AccessLevel.PUBLICO, AccessLevel.RESTRITO, None, False),
        (AccessLevel.PUBLICO, AccessLevel.SIGILOSO, None, False),
        (AccessLevel.RESTRITO, AccessLevel.PUBLICO, None, False),
        (AccessLevel.PUBLICO, AccessLevel.PUBLICO, AccessLevel.SIGILOSO, False),  # another document's
    ],
)
def test_the_authenticity_answer_identifies_only_public_documents_of_public_processes(
    process_level: AccessLevel, document_level: AccessLevel, other_level: AccessLevel | None, identified: bool
) -> None:
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    document = Document(nup="25000000001202611", order=1, origin=Origin.INTERNO, kind=88,
                        access_level=document_level, legal_basis=None, unit_id="101", created_by="ana",
                        created_at=moment, updated_at=moment, component=Component(b64(PDF), len(PDF),
                        "text/html", "documento-1.html"))  # fmt: skip
    documents = (document,) if other_level is None else (document, replace(document, order=2,
                                                                           access_level=other_level))  # fmt: skip
    process = Process(nup=document.nup, agency_id="100", opening_unit_id="101", process_type="Tipo",
                      specification="Especificação", interested=(Interested("Ana"),), access_level=process_level,
                      legal_basis=None, created_at=moment, updated_at=moment, documents=documents,
                      documents_access_level=documents_level(documents))  # fmt: skip
    assert publicly_identified(process, document) is identified


def test_stored_object_matching_the_declaration_passes() -> None:
    stored = StoredObject(size=len(PDF), head=PDF[:4096], sha256=b64(PDF))
    assert verify_stored(DECLARED, stored) is Verification.OBJETO


@pytest.mark.parametrize(
    ("stored", "field"),
    [
        (StoredObject(size=len(PDF) + 1, head=PDF, sha256=b64(PDF)), "tamanho"),
        (StoredObject(size=len(PDF), head=PDF, sha256=b64(b"outro")), "sha256"),
        (
            StoredObject(size=len(PDF), head=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", sha256=b64(PDF)),
            "tipoMidia",
        ),
        (StoredObject(size=len(PDF), head=PDF), "sha256"),  # the store reported no checksum
    ],
)
def test_stored_object_that_differs_is_refused(stored: StoredObject, field: str) -> None:
    with pytest.raises(ContentMismatch) as raised:
        verify_stored(DECLARED, stored)
    assert [f.field for f in raised.value.fields] == [field]


def test_multipart_object_is_checked_by_its_composite() -> None:
    parts = [PDF[:100], PDF[100:]]
    declared = replace(DECLARED, part_size=100, part_digests=tuple(b64(p) for p in parts))
    good = StoredObject(size=len(PDF), head=PDF, composite=composite_sha256(declared.part_digests))
    assert verify_stored(declared, good) is Verification.PARTES
    with pytest.raises(ContentMismatch):
        verify_stored(declared, replace(good, composite=composite_sha256([b64(b"x"), b64(b"y")])))


# --- the S3 adapter: AWS path (checksums reported) and the no-checksum path ---------------------------


class StubS3:
    """Answers like S3 (or like moto, with `report_checksum=False`) and records every call."""

    def __init__(self, data: bytes, *, report_checksum: bool, multipart_parts: int = 0) -> None:
        self.data = data
        self.report_checksum = report_checksum
        self.multipart_parts = multipart_parts
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("head_object", kwargs))
        answer: dict[str, Any] = {"ContentLength": len(self.data), "ETag": '"abc"'}
        if self.multipart_parts:
            answer["ETag"] = f'"abc-{self.multipart_parts}"'
        if self.report_checksum:
            if self.multipart_parts:
                answer["ChecksumSHA256"] = "Y29tcG9zaXRl-2"
                answer["ChecksumType"] = "COMPOSITE"
            else:
                answer["ChecksumSHA256"] = b64(self.data)
                answer["ChecksumType"] = "FULL_OBJECT"
        return answer

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("get_object", kwargs))
        body = self.data
        if "Range" in kwargs:
            end = int(kwargs["Range"].split("-")[1])
            body = self.data[: end + 1]
        return {"Body": io.BytesIO(body)}


def test_aws_path_is_one_head_and_one_ranged_get() -> None:
    data = PDF * 20  # larger than the sniffed head
    s3 = StubS3(data, report_checksum=True)
    stored = S3BlobStore(s3, "docs").inspect("sha256/x")
    assert stored is not None
    assert (stored.size, stored.sha256, stored.composite) == (len(data), b64(data), None)
    assert stored.head == data[:4096]
    assert [name for name, _ in s3.calls] == ["head_object", "get_object"]
    assert s3.calls[0][1]["ChecksumMode"] == "ENABLED"
    assert s3.calls[1][1]["Range"] == "bytes=0-4095"


def test_aws_path_never_hashes_the_object_itself_even_when_allowed() -> None:
    s3 = StubS3(PDF, report_checksum=True)
    S3BlobStore(s3, "docs", compute_missing_checksums=True).inspect("k")
    assert all("Range" in kwargs for name, kwargs in s3.calls if name == "get_object")


def test_store_without_checksums_is_hashed_by_streaming_only_when_allowed() -> None:
    data = PDF * 3000  # several stream chunks
    s3 = StubS3(data, report_checksum=False)
    stored = S3BlobStore(s3, "docs", compute_missing_checksums=True).inspect("k")
    assert stored is not None
    assert stored.sha256 == b64(data)
    assert stored.head == data[:4096]
    assert [name for name, _ in s3.calls] == ["head_object", "get_object"]
    assert "Range" not in s3.calls[1][1]
    strict = S3BlobStore(StubS3(data, report_checksum=False), "docs").inspect("k")
    assert strict is not None
    assert strict.sha256 is None


def test_multipart_checksum_is_read_as_composite() -> None:
    aws = S3BlobStore(StubS3(PDF, report_checksum=True, multipart_parts=2), "docs").inspect("k")
    assert aws is not None
    assert (aws.sha256, aws.composite) == (None, "Y29tcG9zaXRl-2")
    moto_like = StubS3(PDF, report_checksum=True, multipart_parts=3)

    def moto_head_object(**kwargs: Any) -> dict[str, Any]:
        return {"ContentLength": len(PDF), "ETag": '"abc-3"', "ChecksumSHA256": "Zg=="}

    moto_like.head_object = moto_head_object  # type: ignore[method-assign]  # monkeypatching the stub's method
    stored = S3BlobStore(moto_like, "docs").inspect("k")
    assert stored is not None
    assert stored.composite == "Zg==-3"


@pytest.mark.parametrize(
    ("endpoint", "computes"),
    [
        (None, False),
        ("https://s3.sa-east-1.amazonaws.com", False),
        ("https://bucket.s3.amazonaws.com", False),
        ("http://127.0.0.1:5000", True),
        ("http://localhost:4566", True),
    ],
)
def test_hashing_by_streaming_is_never_enabled_for_aws(endpoint: str | None, computes: bool) -> None:
    assert needs_computed_checksums(endpoint) is computes


def test_download_names_the_file_safely() -> None:
    assert content_disposition('relatório "final".pdf') == (
        "attachment; filename=\"relat_rio _final_.pdf\"; filename*=UTF-8''relat%C3%B3rio%20%22final%22.pdf"
    )


# --- the service's confirmation on a content store that reports checksums ---------------------------


class FakeBlobs:
    """A content store that reports checksums, as S3 does after a checksum-verified upload."""

    def __init__(self) -> None:
        self.objects: dict[str, StoredObject] = {}
        self.calls: list[str] = []

    def put(self, key: str, data: bytes, sha256: str, media_type: str) -> None:
        self.calls.append("put")
        self.objects[key] = StoredObject(size=len(data), head=data[:4096], sha256=sha256)

    def inspect(self, key: str, *, sniff: bool = True) -> StoredObject | None:
        self.calls.append("inspect")
        return self.objects.get(key)

    def discard(self, key: str) -> None:
        self.calls.append("discard")
        self.objects.pop(key, None)

    def presign_put(
        self, key: str, sha256: str, size: int, media_type: str, expires: int
    ) -> PresignedRequest:
        return PresignedRequest("PUT", f"https://s3.example/{key}", {"x-amz-checksum-sha256": sha256})

    def start_multipart(self, key: str, media_type: str) -> str:
        return "mp-1"

    def presign_part(
        self, key: str, multipart_id: str, number: int, sha256: str, expires: int
    ) -> PresignedRequest:
        return PresignedRequest(
            "PUT", f"https://s3.example/{key}?part={number}", {"x-amz-checksum-sha256": sha256}
        )

    def complete_multipart(self, key: str, multipart_id: str, declaration: Declaration) -> None:
        self.calls.append("complete")

    def presign_get(self, key: str, file_name: str, media_type: str, expires: int) -> str:
        return f"https://s3.example/{key}?download"


class InMemoryProcesses:
    """Just enough of ProcessRepository and UploadRepository for the documents service."""

    def __init__(self) -> None:
        self.processes: dict[str, Process] = {}
        self.uploads: dict[str, PendingUpload] = {}
        self.numbers: dict[tuple[str, int, int], int] = {}
        self.transactions = 0

    def get(self, agency_id: str, nup: str) -> Process | None:
        process = self.processes.get(nup)
        return process if process is not None and process.agency_id == agency_id else None

    def apply(self, writes: Sequence[ProcessWrite]) -> list[Process]:
        for write in writes:
            current = self.processes[write.process.nup]
            if current.version != write.process.version:
                raise Conflict("alterado")
            for number in write.numbers:
                key = (number.unit_id, number.kind, number.year)
                if self.numbers.get(key, 0) != number.number - 1:
                    raise SequenceTaken("número usado")
            if any(u not in self.uploads for u in write.finished_uploads):
                raise Conflict("envio consumido")
        self.transactions += 1
        for write in writes:
            for number in write.numbers:
                self.numbers[(number.unit_id, number.kind, number.year)] = number.number
            for upload_id in write.finished_uploads:
                del self.uploads[upload_id]
            self.processes[write.process.nup] = write.process.changed(version=write.process.version + 1)
        return [self.processes[w.process.nup] for w in writes]

    def put_upload(self, upload: PendingUpload) -> None:
        self.uploads[upload.id] = upload

    def get_upload(self, upload_id: str) -> PendingUpload | None:
        return self.uploads.get(upload_id)

    def last_number(self, unit_id: str, kind: int, year: int) -> int:
        return self.numbers.get((unit_id, kind, year), 0)

    def last_sequence(self, unit_code: str, year: int) -> int:
        return 0

    def create(self, write: ProcessWrite, unit_code: str, year: int, sequence: int) -> Process:
        self.processes[write.process.nup] = write.process.changed(version=1)
        return self.processes[write.process.nup]

    def history(self, agency_id: str, nup: str, cursor: str | None, limit: int) -> Page[HistoryEntry]:
        return Page([])

    def inbox(self, unit_id: str, cursor: str | None, limit: int) -> Page[InboxItem]:
        return Page([])


DocWorld = tuple[Documents, InMemoryProcesses, FakeBlobs, str]


@pytest.fixture
def world() -> DocWorld:
    registry = Registry(InMemoryStructures())
    registry.save(Structure(id="100", name="Ministério", acronym="MS", agency_id=""))
    registry.save(Structure(id="101", name="Protocolo", acronym="PROT", agency_id="", parent_id="100",
                            protocol_code="25000"))  # fmt: skip
    repository, blobs, clock = InMemoryProcesses(), FakeBlobs(), FakeClock()
    processes = Processes(repository, registry, clock)  # type: ignore[arg-type]
    metadata = Metadata("Tipo", "Especificação", (Interested("Ana"),), AccessLevel.PUBLICO)
    nup = processes.create(ACTOR, "101", metadata).nup
    documents = Documents(processes, repository, repository, blobs, clock=clock, policy=DocumentPolicy())  # type: ignore[arg-type]
    return documents, repository, blobs, nup


ACTOR = Actor("100", "maria")
EXTERNAL = DocumentInput(unit_id="101", kind=999, access_level=AccessLevel.RESTRITO, legal_basis=4)


def test_confirm_on_a_store_with_checksums_creates_the_document(world: DocWorld) -> None:
    documents, repository, blobs, nup = world
    ticket = documents.start_upload(ACTOR, nup, EXTERNAL, DECLARED)
    assert ticket.single is not None
    assert not ticket.already_stored
    blobs.objects[blob_key(DECLARED.sha256)] = StoredObject(size=len(PDF), head=PDF, sha256=DECLARED.sha256)
    blobs.calls.clear()
    before = repository.transactions
    document = documents.confirm(ACTOR, nup, ticket.upload.id)
    assert blobs.calls == ["inspect"]  # one look at the object, no hashing of our own
    assert repository.transactions == before + 1
    assert (document.order, document.component.verification) == (1, Verification.OBJETO)
    process = repository.processes[nup]
    assert process.effective_access_level is AccessLevel.RESTRITO
    assert repository.uploads == {}


def test_confirm_with_a_reported_checksum_that_differs_changes_nothing(world: DocWorld) -> None:
    documents, repository, blobs, nup = world
    ticket = documents.start_upload(ACTOR, nup, EXTERNAL, DECLARED)
    key = blob_key(DECLARED.sha256)
    blobs.objects[key] = StoredObject(size=len(PDF), head=PDF, sha256=b64(b"outros bytes"))
    before = (repository.transactions, repository.processes[nup])
    with pytest.raises(ContentMismatch):
        documents.confirm(ACTOR, nup, ticket.upload.id)
    assert (repository.transactions, repository.processes[nup]) == before
    assert "discard" in blobs.calls
    assert key not in blobs.objects
    assert ticket.upload.id in repository.uploads  # still pending: a corrected upload can be confirmed


def test_multipart_confirm_uses_the_composite_checksum(world: DocWorld) -> None:
    documents, _repository, blobs, nup = world
    data = PDF * 4000  # over the threshold set below
    part = 16 * 1024
    parts = [data[i : i + part] for i in range(0, len(data), part)]
    declared = Declaration(
        b64(data), len(data), "application/pdf", "grande.pdf", part, tuple(b64(p) for p in parts)
    )
    documents._policy = DocumentPolicy(multipart_threshold=part, min_part_size=part)
    ticket = documents.start_upload(ACTOR, nup, EXTERNAL, declared)
    assert len(ticket.parts) == len(parts)
    assert ticket.single is None
    blobs.objects[blob_key(declared.sha256)] = StoredObject(
        size=len(data), head=data[:4096], composite=composite_sha256(declared.part_digests)
    )
    documents.complete_parts(ACTOR, nup, ticket.upload.id)
    document = documents.confirm(ACTOR, nup, ticket.upload.id)
    assert document.component.verification is Verification.PARTES


def test_same_bytes_already_stored_need_no_upload(world: DocWorld) -> None:
    documents, _, blobs, nup = world
    blobs.objects[blob_key(DECLARED.sha256)] = StoredObject(size=len(PDF), head=PDF, sha256=DECLARED.sha256)
    ticket = documents.start_upload(ACTOR, nup, EXTERNAL, DECLARED)
    assert (ticket.already_stored, ticket.single, ticket.parts) == (True, None, ())


def test_a_taken_number_is_retried_with_the_next(world: DocWorld) -> None:
    documents, repository, _, nup = world
    data = DocumentInput(unit_id="101", kind=88, access_level=AccessLevel.PUBLICO)
    year = documents._clock.now().year
    original = repository.last_number
    calls = iter([0, 1])  # the first read is stale: another request took number 1 meanwhile
    repository.numbers[("101", 88, year)] = 1
    repository.last_number = lambda *a: next(calls)  # type: ignore[method-assign]  # monkeypatch
    document = documents.create_internal(ACTOR, nup, data, "<p>Ofício</p>")
    repository.last_number = original  # type: ignore[method-assign]  # undo the monkeypatch
    assert (document.number, repository.numbers[("101", 88, year)]) == (2, 2)
