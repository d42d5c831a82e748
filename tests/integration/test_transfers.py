"""Processes and the bus (services/transfers.py) on the moto server, through the composition root's
real services and the API: the manifest of a send, the lock while in transit and its release, and the
exactly-once import into another hosted agency (redeliveries, a fault at every AWS call, the return
path)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from pynamodb.connection.base import Connection

from chalicelib.domain.bus import Address, HistoryItem, Manifest, validate_manifest
from chalicelib.domain.documents import blob_key
from chalicelib.domain.errors import Conflict
from chalicelib.domain.processes import Process
from chalicelib.domain.structures import Structure
from chalicelib.services.processes import Actor
from chalicelib.services.transfers import ProcessTransfers
from chalicelib.store import processes as store_processes
from tests.integration.conftest import Api, Stack, assert_problem
from tests.integration.test_documents import PDF, WHO, internal, new_process, upload_and_confirm
from tests.integration.test_signatures import MARIA, sign

MS_ACTOR = Actor("100", "maria.silva")
SENDER, RECEIVER = Address("1", "101"), Address("1", "201")
RECEIVED_AT = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
NRE = "NRE-0001"


@pytest.fixture
def world(stack: Stack) -> dict[str, str]:
    registry = stack.services.registry
    registry.save(
        Structure(id="102", name="Divisão de Análise", acronym="DIAN", agency_id="", parent_id="101")
    )
    registry.save(Structure(id="201", name="Protocolo do INSS", acronym="PINSS", agency_id="", parent_id="200",
                            protocol_code="35000"))  # fmt: skip
    return {"token": stack.tokens["ms-sei"]}


@pytest.fixture
def transfers(stack: Stack) -> ProcessTransfers:
    return stack.services.transfers


def b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def sendable(api: Api, token: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A process with a signed internal document (1) and an external uploaded one (2)."""
    nup = new_process(api, token)
    created = api.call("POST", f"/processos/{nup}/documentos/internos", token, internal(), headers=WHO)
    assert created.status_code == 201, created.body
    signed = sign(api, token, nup, 1, MARIA)
    assert signed.status_code == 201, signed.body
    uploaded = upload_and_confirm(api, token, nup, PDF)
    return nup, dict(signed.json), uploaded


def manifest_of(transfers: ProcessTransfers, nup: str, nre: str | None = None) -> Manifest:
    return transfers.outgoing_manifest(MS_ACTOR, nup, "101", SENDER, [RECEIVER], nre)


def whole(transfers: ProcessTransfers, agency_id: str, nup: str) -> tuple[Process, list[Any], bool]:
    """Everything an import leaves: the process as read, its whole history and whether the chain holds."""
    processes = transfers._processes  # the same service the API uses, over the same repository
    page, check = processes.history(agency_id, nup, None, 100)
    entries = list(page.items)
    cursor = page.cursor
    while cursor is not None:
        page, _ = processes.history(agency_id, nup, cursor, 100)
        entries.extend(page.items)
        cursor = page.cursor
    return processes.get(agency_id, nup), entries, check.intact


def import_into_inss(transfers: ProcessTransfers, manifest: Manifest, idt: str = "IDT-1") -> Process:
    return transfers.import_process("200", "201", manifest, idt=idt, nre=NRE, received_at=RECEIVED_AT,
                                    sender_label="Ministério da Saúde / Protocolo Central do MS")  # fmt: skip


# --- the manifest -------------------------------------------------------------------------------------


def test_outgoing_manifest_of_a_real_process_passes_validation(
    api: Api, world: dict[str, str], transfers: ProcessTransfers
) -> None:
    nup, signed, uploaded = sendable(api, world["token"])

    manifest = manifest_of(transfers, nup)

    validate_manifest(manifest)  # what the bus will check again
    assert (manifest.header.sender, manifest.header.receiver, manifest.header.nre) == (SENDER, RECEIVER, None)
    assert manifest.process.nup == nup
    assert manifest.process.producer.name == "Protocolo Central do MS"
    assert [i.name for i in manifest.process.interested] == ["João da Silva"]
    first, second = manifest.documents
    assert (first.order, first.origin.value, second.order, second.origin.value) == (
        1,
        "interno",
        2,
        "externo",
    )
    assert first.components[0].sha256 == signed["componente"]["sha256"]
    assert second.components[0].sha256 == uploaded["componente"]["sha256"] == b64(PDF)
    assert (second.components[0].size, second.components[0].media_type) == (len(PDF), "application/pdf")
    assert f"{first.identification.number}/{first.identification.year}" == signed["numero"]
    assert first.identification.unit == "PROT"
    [signature] = first.components[0].signatures
    assert signature.reason == f"Assinado por {MARIA['nome']} ({MARIA['cargo']})"
    assert signature.value == signed["assinaturas"][0]["carimbo"]["assinatura"]
    assert second.components[0].signatures == ()
    history = api.call("GET", f"/processos/{nup}/historico", world["token"]).json["itens"]
    assert [(h.operation, h.description) for h in manifest.process.history] == [
        (h["operacao"]["codigo"], h["descricao"]) for h in history
    ]
    assert {h.unit for h in manifest.process.history} == {"Protocolo Central do MS"}


def test_an_unsigned_internal_document_fails_the_manifest(
    api: Api, world: dict[str, str], transfers: ProcessTransfers
) -> None:
    nup = new_process(api, world["token"])
    api.call("POST", f"/processos/{nup}/documentos/internos", world["token"], internal(), headers=WHO)
    with pytest.raises(Exception, match="não pode ser enviado pelo barramento") as raised:
        manifest_of(transfers, nup)
    assert [f.field for f in raised.value.fields] == ["documentos.0"]  # type: ignore[attr-defined]


# --- lock and release ---------------------------------------------------------------------------------


def test_a_locked_process_refuses_writes_until_released(
    api: Api, world: dict[str, str], transfers: ProcessTransfers
) -> None:
    token = world["token"]
    nup, _, _ = sendable(api, token)
    locked = transfers.lock("100", nup, ["IDT-1"], NRE, "maria.silva", "101")
    assert (locked.locked_by, locked.nre) == (frozenset({"IDT-1"}), NRE)
    shown = api.call("GET", f"/processos/{nup}", token).json
    assert (shown["nre"], shown["bloqueadoPor"]) == (NRE, ["IDT-1"])
    assert transfers.lock("100", nup, ["IDT-1"], NRE, "maria.silva", "101") == locked  # a retry: no change

    refused = [
        api.call("POST", f"/processos/{nup}/documentos/internos", token, internal(), headers=WHO),
        api.call(
            "POST",
            f"/processos/{nup}/envios",
            token,
            {"unidadeOrigem": "101", "unidadesDestino": ["102"]},
            headers=WHO,
        ),
        api.call(
            "PATCH",
            f"/processos/{nup}",
            token,
            {
                "unidade": "101",
                "tipo": "Outro",
                "especificacao": "Outra",
                "versao": shown["versao"],
                "interessados": [{"nome": "João da Silva"}],
                "nivelAcesso": 1,
            },
            headers=WHO,
        ),
        sign(api, token, nup, 1, {**MARIA, "nome": "Outra Pessoa"}, **{"x-usuario": "outra.pessoa"}),
        api.call("POST", f"/processos/{nup}/conclusao", token, {"unidade": "101"}, headers=WHO),
    ]
    for response in refused:
        detail = assert_problem(response, 409, "conflito")["detail"]
        assert "IDT-1" in detail
        assert "trâmite externo" in detail
    with pytest.raises(Conflict, match="IDT-1"):
        transfers.lock("100", nup, ["IDT-2"], NRE, "maria.silva", "101")  # another trâmite
    assert api.call("GET", f"/processos/{nup}", token).json["versao"] == shown["versao"]

    released = transfers.release(
        "100", nup, "IDT-1", delivered=False, note="Trâmite IDT-1 cancelado pelo remetente"
    )
    assert (released.locked_by, released.nre, [u.unit_id for u in released.open_units]) == (
        frozenset(),
        NRE,
        ["101"],
    )
    again = transfers.release("100", nup, "IDT-1", delivered=False, note="de novo")
    assert again == released  # idempotent: no write, no history entry
    moved = api.call("POST", f"/processos/{nup}/envios", token, {"unidadeOrigem": "101", "unidadesDestino": ["102"]},
                     headers=WHO)  # fmt: skip
    assert moved.status_code == 200, moved.body

    history = api.call("GET", f"/processos/{nup}/historico?limite=100", token).json
    entries = [(h["operacao"]["codigo"], h["descricao"]) for h in history["itens"]]
    assert ("02", f"Processo remetido pelo barramento (trâmite externo; IDT IDT-1, NRE {NRE})") in entries
    assert entries.count(("01", "Trâmite IDT-1 cancelado pelo remetente")) == 1
    assert history["verificacao"]["integro"] is True


def test_release_delivered_concludes_the_process_at_the_sender(
    api: Api, world: dict[str, str], transfers: ProcessTransfers
) -> None:
    token = world["token"]
    nup, _, _ = sendable(api, token)
    api.call("POST", f"/processos/{nup}/envios", token,
             {"unidadeOrigem": "101", "unidadesDestino": ["102"], "manterAberto": True}, headers=WHO)  # fmt: skip
    transfers.lock("100", nup, ["IDT-1"], NRE, "maria.silva", "101")

    done = transfers.release(
        "100", nup, "IDT-1", delivered=True, note="Recibo de conclusão recebido (IDT IDT-1)"
    )

    assert (done.open_units, done.locked_by, done.state.value, done.nre) == (
        (),
        frozenset(),
        "concluido",
        NRE,
    )
    assert api.call("GET", f"/processos/{nup}", token).json["estado"] == "concluido"
    # A normal concluded process: reopened, it takes changes again.
    assert (
        api.call("POST", f"/processos/{nup}/reabertura", token, {"unidade": "101"}, headers=WHO).status_code
        == 200
    )
    added = api.call("POST", f"/processos/{nup}/documentos/internos", token, internal(), headers=WHO)
    assert added.status_code == 201, added.body


# --- import -------------------------------------------------------------------------------------------


def test_import_creates_the_copy_at_another_agency(
    api: Api, world: dict[str, str], transfers: ProcessTransfers
) -> None:
    nup, signed, uploaded = sendable(api, world["token"])
    manifest = manifest_of(transfers, nup)

    copy = import_into_inss(transfers, manifest)

    stored, history, intact = whole(transfers, "200", nup)
    assert stored == copy
    assert (copy.agency_id, copy.nup, copy.nre, copy.opening_unit_id) == ("200", nup, NRE, "201")
    assert [u.unit_id for u in copy.open_units] == ["201"]
    assert (copy.process_type, copy.specification) == (
        manifest.process.process_type,
        manifest.process.specification,
    )
    assert [(d.order, d.component.sha256, d.component.size, d.component.media_type, d.component.file_name,
             d.kind, d.origin.value) for d in copy.documents] == [
        (c.order, c.components[0].sha256, c.components[0].size, c.components[0].media_type,
         c.components[0].name, c.kind, c.origin.value) for c in manifest.documents
    ]  # fmt: skip
    # The same S3 objects as the sender's: no bytes moved.
    assert copy.documents[0].component.key == blob_key(signed["componente"]["sha256"])
    assert copy.documents[1].component.key == blob_key(uploaded["componente"]["sha256"])
    assert intact
    assert [(e.at, e.operation, e.description) for e in history[:-1]] == [
        (h.at, h.operation, h.description) for h in manifest.process.history
    ]
    assert (history[-1].operation, history[-1].at, history[-1].description) == (
        "04", RECEIVED_AT,
        "Processo recebido pelo barramento de Ministério da Saúde / Protocolo Central do MS (IDT IDT-1, NRE NRE-0001)",
    )  # fmt: skip
    # The sender's copy is untouched, and the imported documents travel on as they came.
    assert transfers._processes.get("100", nup).agency_id == "100"
    code, crc = signed["autenticacao"]["codigoVerificador"], signed["autenticacao"]["crc"]
    key = transfers._repository.find_verification(code, crc)
    assert key is not None
    assert key.agency_id == "100"  # imported documents write no lookup keys of their own
    again = transfers.outgoing_manifest(Actor("200", "bia"), nup, "201", RECEIVER, [SENDER], NRE)
    assert [d.components for d in again.documents] == [d.components for d in manifest.documents]
    # Imported documents cannot be edited (their SHA-256 must come back unchanged).
    inss = stack_token(api, transfers)
    edit = api.call("PATCH", f"/processos/{nup}/documentos/1", inss,
                    {"unidade": "201", "conteudo": "<p>Outro</p>", "versao": 1}, headers=WHO)  # fmt: skip
    assert_problem(edit, 409, "conflito")


def stack_token(api: Api, transfers: ProcessTransfers) -> str:
    from chalicelib import bootstrap
    from chalicelib.domain.credentials import Scope

    return bootstrap.services().credentials.issue("200", "inss-sei", frozenset({Scope.PROCESSOS})).token


def test_import_twice_with_the_same_idt_gives_one_copy(
    api: Api, world: dict[str, str], transfers: ProcessTransfers
) -> None:
    nup, _, _ = sendable(api, world["token"])
    manifest = manifest_of(transfers, nup)
    first = import_into_inss(transfers, manifest)
    before = whole(transfers, "200", nup)

    second = import_into_inss(transfers, manifest)

    assert second == first
    assert whole(transfers, "200", nup) == before
    assert [p.agency_id for p in transfers._repository.copies(nup)] == ["100", "200"]


# --- faults -------------------------------------------------------------------------------------------


class Injected(EndpointConnectionError):
    def __init__(self) -> None:
        super().__init__(endpoint_url="falha-injetada")


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Callable[[int, bool], list[str]]:
    """Arms a fault on the k-th DynamoDB call: before it (the call never happens) or after it (it
    happened, the answer is lost); returns the calls seen."""
    original = Connection._make_api_call
    state: dict[str, Any] = {"k": 0, "after": False, "calls": []}

    def faulty(self: Connection, operation_name: str, *args: Any, **kwargs: Any) -> Any:
        state["calls"].append(operation_name)
        armed = len(state["calls"]) == state["k"]
        if armed and not state["after"]:
            raise Injected()
        result = original(self, operation_name, *args, **kwargs)
        if armed:
            raise Injected()
        return result

    monkeypatch.setattr(Connection, "_make_api_call", faulty)

    def arm(k: int, after: bool) -> list[str]:
        state.update(k=k, after=after, calls=[])
        return list(state["calls"])

    def seen() -> list[str]:
        return list(state["calls"])

    arm.seen = seen  # type: ignore[attr-defined]
    return arm


def bulky(manifest: Manifest, extra: int) -> Manifest:
    """The manifest with `extra` more history items: more than one transaction holds."""
    items = tuple(
        HistoryItem(at=manifest.process.history[-1].at + timedelta(seconds=i + 1), unit="Protocolo Central do MS",
                    operation="01", user="maria.silva", description=f"Andamento {i + 1}")
        for i in range(extra)
    )  # fmt: skip
    from dataclasses import replace

    return replace(manifest, process=replace(manifest.process, history=manifest.process.history + items))


@pytest.mark.parametrize("extra", [0, 24], ids=["one-transaction", "several-transactions"])
def test_an_import_interrupted_at_any_aws_call_then_redelivered_ends_like_a_clean_one(  # noqa: PLR0917
    api: Api,
    world: dict[str, str],
    transfers: ProcessTransfers,
    faults: Any,
    extra: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Transactions of 20 items (DynamoDB takes 100): the same code path with a manifest moto writes fast.
    monkeypatch.setattr(store_processes, "MAX_TRANSACTION_ITEMS", 20)
    nup, _, _ = sendable(api, world["token"])
    manifest = bulky(manifest_of(transfers, nup), extra)
    # The clean import, into a third agency's unit, gives the expected end state.
    registry = transfers._registry
    registry.save(Structure(id="300", name="Agência Três", acronym="A3", agency_id=""))
    registry.save(Structure(id="301", name="Protocolo Central do INSS", acronym="PINSS3", agency_id="",
                            parent_id="300"))  # fmt: skip
    faults(0, False)
    transfers.import_process("300", "301", manifest, idt="IDT-1", nre=NRE, received_at=RECEIVED_AT,
                             sender_label="Ministério da Saúde / Protocolo Central do MS")  # fmt: skip
    calls = faults.seen()
    clean_process, clean_history, clean_intact = whole(transfers, "300", nup)
    assert clean_intact
    assert len(clean_history) == len(manifest.process.history) + 1
    writes = [c for c in calls if c == "TransactWriteItems"]
    assert len(writes) == (1 if extra == 0 else 3)  # 2 chunks of the early items, then the final one

    def comparable(process: Process) -> Process:
        """What does not depend on which agency and unit received it."""
        documents = tuple(d.changed(unit_id="x") for d in process.documents)
        return process.changed(agency_id="x", opening_unit_id="x", open_units=(), documents=documents,
                               history_head="x")  # fmt: skip

    for after in (False, True):
        for k in range(1, len(calls) + 1):
            agency = f"{4 + after}{k:02d}"
            unit = f"{agency}1"
            registry.save(Structure(id=agency, name=f"Agência {agency}", acronym=f"A{agency}", agency_id=""))
            registry.save(Structure(id=unit, name="Protocolo Central do INSS", acronym=f"P{agency}", agency_id="",
                                    parent_id=agency))  # fmt: skip
            faults(k, after)
            with pytest.raises(Exception):  # noqa: B017, PT011 - whichever error the failed call surfaces
                transfers.import_process(agency, unit, manifest, idt="IDT-1", nre=NRE, received_at=RECEIVED_AT,
                                         sender_label="Ministério da Saúde / Protocolo Central do MS")  # fmt: skip
            faults(0, False)
            redelivered = transfers.import_process(agency, unit, manifest, idt="IDT-1", nre=NRE,
                                                   received_at=RECEIVED_AT,
                                                   sender_label="Ministério da Saúde / Protocolo Central do MS")  # fmt: skip
            process, history, intact = whole(transfers, agency, nup)
            assert intact, (k, after)
            assert redelivered == process, (k, after)
            assert comparable(process) == comparable(clean_process), (k, after)
            assert [u.unit_id for u in process.open_units] == [unit]
            # The sender's entries chain the same; the receipt differs only by the receiving unit.
            assert history[:-1] == clean_history[:-1], (k, after)
            assert [(e.seq, e.at, e.operation, e.description, e.previous_hash) for e in history[-1:]] == [
                (e.seq, e.at, e.operation, e.description, e.previous_hash) for e in clean_history[-1:]
            ], (k, after)
            assert process.version == 1


# --- the return path ----------------------------------------------------------------------------------


def test_the_return_path_appends_only_the_new_documents(
    api: Api, world: dict[str, str], transfers: ProcessTransfers
) -> None:
    token = world["token"]
    nup, _, _ = sendable(api, token)
    going = manifest_of(transfers, nup)
    transfers.lock("100", nup, ["IDT-1"], NRE, "maria.silva", "101")
    import_into_inss(transfers, going)
    transfers.release("100", nup, "IDT-1", delivered=True, note="Recibo de conclusão recebido (IDT IDT-1)")
    at_ms_before = whole(transfers, "100", nup)
    # The INSS adds a document of its own and sends the process back.
    inss = stack_token(api, transfers)
    upload_and_confirm(
        api, inss, nup, b"%PDF-1.7\n" + b"resposta do INSS " * 40 + b"\n%%EOF\n", unidade="201"
    )
    back = transfers.outgoing_manifest(Actor("200", "bia"), nup, "201", RECEIVER, [SENDER], NRE)
    assert [d.order for d in back.documents] == [1, 2, 3]

    returned = transfers.import_process("100", "102", back, idt="IDT-2", nre=NRE, received_at=RECEIVED_AT,
                                        sender_label="INSS / Protocolo do INSS")  # fmt: skip

    process, history, intact = whole(transfers, "100", nup)
    assert returned == process
    assert intact
    before = at_ms_before[0]
    assert process.documents[:2] == before.documents  # untouched: same items, same versions
    assert [(d.order, d.component.sha256) for d in process.documents] == [
        (d.order, d.components[0].sha256) for d in back.documents
    ]
    assert [r.order for r in process.received] == [3]
    assert [u.unit_id for u in process.open_units] == ["102"]
    assert process.nre == NRE
    assert history[: len(at_ms_before[1])] == at_ms_before[1]
    assert len(history) == len(at_ms_before[1]) + 1
    assert (history[-1].operation, history[-1].description) == (
        "04", f"Processo recebido pelo barramento de INSS / Protocolo do INSS (IDT IDT-2, NRE {NRE})"
    )  # fmt: skip
    # A redelivery changes nothing; a manifest that changed a document this copy holds is refused.
    assert transfers.import_process("100", "102", back, idt="IDT-2", nre=NRE, received_at=RECEIVED_AT,
                                    sender_label="x") == returned  # fmt: skip
    from dataclasses import replace

    tampered_doc = replace(
        back.documents[0], components=(replace(back.documents[0].components[0], sha256=b64(b"x")),)
    )
    tampered = replace(back, documents=(tampered_doc, *back.documents[1:]))
    with pytest.raises(Conflict, match="voltou pelo barramento"):
        transfers.import_process("100", "102", tampered, idt="IDT-3", nre=NRE, received_at=RECEIVED_AT,
                                 sender_label="x")  # fmt: skip
    assert whole(transfers, "100", nup)[0] == process
