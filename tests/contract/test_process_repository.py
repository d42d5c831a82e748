"""ProcessRepository's identity is (agency, NUP): the bus will import a process into another agency of
the platform under the same NUP, and the two copies must live on independently. Checked on moto and
on Amazon's DynamoDB Local (strict: it rejects requests moto accepts), through the services that use
the repository, so every key the services build is exercised."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from pynamodb.connection import Connection

from chalicelib.domain.bus import Address
from chalicelib.domain.catalogs import PlatformOperation, operation_for
from chalicelib.domain.documents import StoredObject
from chalicelib.domain.errors import Conflict, InvalidInput, NotFound
from chalicelib.domain.events import ProcessEvent
from chalicelib.domain.history import next_entry
from chalicelib.domain.processes import AccessLevel, Interested, Metadata, OpenUnit, Process
from chalicelib.domain.signatures import ALGORITHM, PublicKey, Stamp
from chalicelib.domain.structures import Structure
from chalicelib.services.documents import DocumentInput, Documents
from chalicelib.services.ports import ImportWrite, ProcessWrite, SystemClock
from chalicelib.services.processes import Actor, Processes
from chalicelib.services.registry import Registry
from chalicelib.services.signatures import Signatures, SignRequest
from chalicelib.services.transfers import ProcessTransfers
from chalicelib.store.documents import DynamoUploadRepository
from chalicelib.store.events import DynamoEventRepository
from chalicelib.store.models import bind_models
from chalicelib.store.processes import DynamoProcessRepository
from tests import servers
from tests.fakes import InMemoryStructures

pytestmark = pytest.mark.xdist_group("contract")
METADATA = Metadata("Tipo", "Especificação", (Interested("Fulano de Tal"),), AccessLevel.PUBLICO)
MS, INSS = Actor("100", "ana"), Actor("200", "bia")


class StubBlobs:
    """Only what internal documents use: the content goes in, nothing reads it back here."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, data: bytes, sha256: str, media_type: str) -> None:
        self.objects[key] = data

    def inspect(self, key: str, *, sniff: bool = True) -> StoredObject | None:
        return None


class StubSigner:
    """A stamp that is well formed and different for every message (KMS is not under test here)."""

    def sign(self, message: bytes) -> Stamp:
        digest = base64.b64encode(hashlib.sha256(message).digest()).decode()
        return Stamp(ALGORITHM, "chave-de-teste", digest, datetime.now(UTC))

    def public_keys(self) -> list[PublicKey]:
        return []


@dataclass
class World:
    repository: DynamoProcessRepository
    processes: Processes
    documents: Documents
    signatures: Signatures


@pytest.fixture(params=["moto", "dynamodb_local"])
def world(request: pytest.FixtureRequest) -> World:
    endpoint = request.getfixturevalue(f"{request.param}_endpoint")
    stage = f"t{uuid.uuid4().hex[:10]}"
    servers.create_tables(endpoint, stage)
    bind_models(servers.settings_for(endpoint, stage))
    registry = Registry(InMemoryStructures())
    for agency_id, name, acronym, code in [("100", "Ministério", "MS", "25000"),
                                           ("200", "Instituto", "INSS", "35000")]:  # fmt: skip
        registry.save(Structure(id=agency_id, name=name, acronym=acronym, agency_id=""))
        unit_id = str(int(agency_id) + 1)
        registry.save(Structure(id=unit_id, name=f"Protocolo {acronym}", acronym=f"PROT-{acronym}",
                                agency_id="", parent_id=agency_id, protocol_code=code))  # fmt: skip
        registry.save(Structure(id=str(int(agency_id) + 2), name=f"Gabinete {acronym}",
                                acronym=f"GAB-{acronym}", agency_id="", parent_id=agency_id))  # fmt: skip
    repository = DynamoProcessRepository(Connection(region=servers.REGION, host=endpoint))
    clock = SystemClock()
    processes = Processes(repository, registry, clock)
    blobs = StubBlobs()
    documents = Documents(processes, repository, DynamoUploadRepository(), blobs, clock=clock)  # type: ignore[arg-type]
    signatures = Signatures(processes, repository, StubSigner(), blobs, registry=registry, clock=clock)  # type: ignore[arg-type]
    return World(repository, processes, documents, signatures)


def store_copy(repository: DynamoProcessRepository, original: Process, actor: Actor, unit_id: str) -> Process:
    """Another agency's copy of `original`, under its NUP, as the bus's import will store it. Normal
    creation draws a new NUP from a unit's sequence, so this goes straight to the repository and moves
    a counter of its own (the repository does not tie the NUP to the counter it moves)."""
    now = datetime.now(UTC)
    copy = Process(
        nup=original.nup,
        agency_id=actor.agency_id,
        opening_unit_id=unit_id,
        process_type=original.process_type,
        specification=original.specification,
        interested=original.interested,
        access_level=original.access_level,
        legal_basis=original.legal_basis,
        created_at=now,
        updated_at=now,
    )
    entry = next_entry(nup=copy.nup, head_seq=0, head_hash="", at=now, unit_id=unit_id, user=actor.user,
                       operation=operation_for(PlatformOperation.CREATE_PROCESS).code,
                       description="Processo recebido de outro órgão")  # fmt: skip
    opened = OpenUnit(unit_id, now)
    write = ProcessWrite(
        copy.changed(history_seq=entry.seq, history_head=entry.hash, open_units=(opened,)),
        entry,
        open_units=(opened,),
    )
    return repository.create(write, f"teste-copia-{uuid.uuid4().hex[:8]}", now.year, 1)


def memo(unit_id: str) -> DocumentInput:
    return DocumentInput(unit_id=unit_id, kind=88, access_level=AccessLevel.PUBLICO)


def test_two_agencies_hold_the_same_nup_independently(world: World) -> None:
    processes = world.processes
    original = processes.create(MS, "101", METADATA)
    nup = original.nup
    copy = store_copy(world.repository, original, INSS, "201")
    assert (copy.agency_id, copy.nup, copy.version) == ("200", nup, 1)
    assert world.repository.get("100", nup) == original
    assert world.repository.get("200", nup) == copy
    assert world.repository.get("300", nup) is None
    with pytest.raises(NotFound):
        processes.get("300", nup)

    # Changes to one copy leave the other as it was: metadata, units, documents, relations.
    changed = Metadata("Tipo", "Outra especificação", METADATA.interested, AccessLevel.PUBLICO)
    processes.update(MS, nup, "101", changed, expected_version=1)
    processes.send(MS, nup, from_unit="101", to_units=["102"], keep_open=False, return_by=None)
    ms_document = world.documents.create_internal(MS, nup, memo("102"), "<p>Do MS</p>")
    inss_document = world.documents.create_internal(INSS, nup, memo("201"), "<p>Do INSS</p>")
    assert ms_document.order == inss_document.order == 1  # each copy numbers its own documents
    other = processes.create(INSS, "201", METADATA)
    processes.relate(INSS, nup, other.nup, "201")
    processes.conclude(INSS, nup, "201")

    ms, inss = processes.get("100", nup), processes.get("200", nup)
    assert (ms.specification, [u.unit_id for u in ms.open_units], ms.related) == (
        "Outra especificação", ["102"], frozenset()
    )  # fmt: skip
    assert (inss.specification, inss.open_units, inss.related) == (
        "Especificação",
        (),
        frozenset({other.nup}),
    )
    assert processes.get("200", other.nup).related == {nup}
    assert ms.document(1).component.sha256 != inss.document(1).component.sha256  # type: ignore[union-attr]
    assert (ms.version, inss.version) == (4, 4)

    # Each copy has its own verifiable history chain.
    ms_history, ms_check = processes.history("100", nup, None, 50)
    inss_history, inss_check = processes.history("200", nup, None, 50)
    assert [e.seq for e in ms_history.items] == [1, 2, 3, 4]
    assert [e.seq for e in inss_history.items] == [1, 2, 3, 4]
    assert ms_check.intact
    assert inss_check.intact
    assert inss_history.items[0].description == "Processo recebido de outro órgão"
    assert ms_history.items[0].hash != inss_history.items[0].hash

    # Inboxes follow each copy's units.
    assert [i.nup for i in processes.inbox("100", "102", None, 10).items] == [nup]
    assert processes.inbox("100", "101", None, 10).items == []
    assert [i.nup for i in processes.inbox("200", "201", None, 10).items] == [other.nup]


def test_a_history_cursor_pages_only_the_copy_it_came_from(world: World) -> None:
    original = world.processes.create(MS, "101", METADATA)
    world.processes.conclude(MS, original.nup, "101")
    store_copy(world.repository, original, INSS, "201")
    first, _ = world.processes.history("100", original.nup, None, 1)
    assert first.cursor is not None
    second, _ = world.processes.history("100", original.nup, first.cursor, 1)
    assert [e.seq for e in second.items] == [2]
    with pytest.raises(InvalidInput):
        world.processes.history("200", original.nup, first.cursor, 1)


def test_copies_lists_every_agency_copy_of_a_nup(world: World) -> None:
    original = world.processes.create(MS, "101", METADATA)
    alone = world.processes.create(MS, "101", METADATA)
    assert world.repository.copies(original.nup) == [original]
    copy = store_copy(world.repository, original, INSS, "201")
    world.processes.conclude(INSS, original.nup, "201")
    copies = world.repository.copies(original.nup)
    assert [(p.agency_id, p.nup) for p in copies] == [("100", original.nup), ("200", original.nup)]
    assert copies[0] == world.processes.get("100", original.nup)
    assert copies[1] == world.processes.get("200", original.nup)  # whole and current, not the index's
    assert copies[1].version == copy.version + 1
    assert world.repository.copies(alone.nup) == [alone]
    assert world.repository.copies("99999999999999999") == []


def test_the_public_lookup_finds_the_document_of_the_copy_that_was_signed(world: World) -> None:
    original = world.processes.create(MS, "101", METADATA)
    nup = original.nup
    store_copy(world.repository, original, INSS, "201")
    world.documents.create_internal(MS, nup, memo("101"), "<p>Do MS</p>")
    world.documents.create_internal(INSS, nup, memo("201"), "<p>Do INSS</p>")
    signed = {
        actor.agency_id: world.signatures.sign(actor, nup, 1, SignRequest(unit, "Fulano", "Analista"))
        for actor, unit in [(INSS, "201"), (MS, "101")]
    }
    for agency_id, document in signed.items():
        assert document.verification_code
        assert document.crc
        key = world.repository.find_verification(document.verification_code, document.crc)
        assert key is not None
        assert (key.agency_id, key.nup, key.order) == (agency_id, nup, 1)
        found = world.signatures.authenticity(document.verification_code, document.crc)
        assert found.process.agency_id == agency_id
        assert found.document.component.sha256 == document.component.sha256
    assert signed["100"].component.sha256 != signed["200"].component.sha256


def test_events_of_two_copies_of_a_nup_are_both_kept(world: World) -> None:
    """Each copy's history starts at seq 1: an event log keyed by the NUP alone would take the second
    copy's events for redeliveries of the first's and drop them."""
    events = DynamoEventRepository()
    at = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    nup = "25000000001202611"

    def event(agency_id: str) -> ProcessEvent:
        return ProcessEvent(nup=nup, seq=1, at=at, agency_id=agency_id, unit_id=f"{agency_id[0]}01",
                            operation="001", description="Autuado", access_level=1,
                            hash=agency_id * 16)  # fmt: skip

    assert events.add(event("100"), at) is True
    assert events.add(event("200"), at) is True
    assert events.add(event("200"), at) is False  # a redelivery is still recognised
    assert events.for_process("100", nup) == [event("100")]
    assert events.for_process("200", nup) == [event("200")]


def test_an_import_is_stored_once_per_idt_with_its_documents_and_history(world: World) -> None:
    """import_copy / imported: the marker, the copy's items (documents, received signatures, history)
    and the version guard, on both engines (DynamoDB Local checks every condition expression)."""
    transfers = ProcessTransfers(world.repository, world.processes._registry, SystemClock())
    original = world.processes.create(MS, "101", METADATA)
    nup = original.nup
    world.documents.create_internal(MS, nup, memo("101"), "<p>Do MS</p>")
    world.signatures.sign(MS, nup, 1, SignRequest("101", "Fulano", "Analista"))
    manifest = transfers.outgoing_manifest(MS, nup, "101", Address("1", "101"), [Address("1", "201")], None)
    at = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
    assert world.repository.imported("200", nup, "IDT-1") is False

    copy = transfers.import_process("200", "201", manifest, idt="IDT-1", nre="NRE-1", received_at=at,
                                    sender_label="MS")  # fmt: skip

    assert world.repository.imported("200", nup, "IDT-1") is True
    assert world.repository.imported("100", nup, "IDT-1") is False
    assert world.repository.get("200", nup) == copy
    assert (copy.version, copy.nre, [d.order for d in copy.documents]) == (1, "NRE-1", [1])
    [received] = copy.received
    assert received.sha256 == copy.documents[0].component.sha256
    assert [s.reason for s in received.signatures] == ["Assinado por Fulano (Analista)"]
    history, check = world.processes.history("200", nup, None, 50)
    assert check.intact
    assert history.items[-1].operation == "04"
    again = transfers.import_process("200", "201", manifest, idt="IDT-1", nre="NRE-1", received_at=at,
                                     sender_label="MS")  # fmt: skip
    assert again == copy
    assert world.repository.get("100", nup) == world.processes.get("100", nup)  # the sender's untouched
    # A write prepared from a stale read of the copy is refused.
    stale = ImportWrite(copy.changed(version=0), (), (), (), "IDT-9", "NRE-1", at)
    with pytest.raises(Conflict):
        world.repository.import_copy(stale)
    assert world.repository.imported("200", nup, "IDT-9") is False
