"""Agencies hosted on this platform and the bus, through the real handlers and services on the moto
server: a hosted agency sends from its processes (zero bytes uploaded, process locked), the worker
imports at a hosted receiver exactly once and sends the recibo, the sender's side is closed (6:
concluded as sent; refusal, cancel: unlocked), the reception rules refuse with the national motivo,
the return path appends only, an outside system's trâmite is imported too. Each message delivered three
times gives the same end state as once.

Every AWS call of these legs failing once (throttled, timed out, or the process dying after it) is
tests/integration/test_fault_matrix.py's part; `snapshot` and `_normalised` serve it too."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.domain.bus import TramiteState
from chalicelib.domain.credentials import Scope
from chalicelib.domain.structures import Structure
from chalicelib.handlers.bus_worker import forward_record, work_record
from chalicelib.services.processes import masked
from tests import servers
from tests.integration.conftest import Api, Stack, assert_problem
from tests.integration.test_bus import component, confirm, manifest, send, upload_all
from tests.integration.test_documents import PDF, WHO, b64, new_process, put, upload_and_confirm

MGI_UNIT = "401"


PNG = PDF.replace(b"%%EOF", b"% segunda via\n%%EOF")  # another PDF, another hash


@pytest.fixture
def hosted(stack: Stack) -> dict[str, str]:
    """MS (100, unit 101) and MGI (400, unit 401) hosted here; the INSS (200) runs its own system."""
    registry = stack.services.registry
    registry.save(Structure(id="400", name="Ministério da Gestão", acronym="MGI", agency_id=""))
    registry.save(Structure(id=MGI_UNIT, name="Protocolo do MGI", acronym="PROTOCOLO/MGI", agency_id="",
                            parent_id="400", protocol_code="40000"))  # fmt: skip
    registry.save(Structure(id="201", name="Protocolo do INSS", acronym="PROTOCOLO/INSS", agency_id="",
                            parent_id="200"))  # fmt: skip
    for agency in ("100", "400"):
        stack.services.hosted.set_hosted(agency, True)
    mgi = stack.services.credentials.issue("400", "sei-mgi", frozenset({Scope.PROCESSOS, Scope.ADMIN}))
    return {"ms": stack.tokens["ms-admin"], "mgi": mgi.token, "inss": stack.tokens["inss-bus"]}


def a_process(api: Api, token: str, *files: bytes) -> str:
    nup = new_process(api, token)
    for data in files:
        upload_and_confirm(api, token, nup, data)
    return nup


def send_hosted(api: Api, token: str, nup: str, unit: str = "101", to: str = MGI_UNIT) -> Any:
    body = {"unidade": unit, "destinatarios": [{"repositorio": "1", "estrutura": to}]}
    return api.call("POST", f"/processos/{nup}/tramites", token, body, headers=WHO)


def drain(stack: Stack, idt: str, rounds: int = 4) -> list[str]:
    """Delivers the trâmite's work message until the worker has nothing left to do."""
    done = []
    for _ in range(rounds):
        outcome = stack.services.hosted.handle(idt)
        done.append(outcome)
        if outcome == "nada":
            break
    return done


def snapshot(stack: Stack, nup: str) -> dict[str, Any]:
    """Every agency's copy of the NUP and every trâmite of it: what must end the same however the
    work was delivered."""
    services = stack.services
    copies = {}
    for copy in services.processes._repository.copies(nup):
        process = services.processes.get(copy.agency_id, nup)
        page, chain = services.processes.history(copy.agency_id, nup, None, 100)
        assert chain.intact, chain.reason  # the hash chain of each copy is whole
        history = page.items
        copies[copy.agency_id] = {
            "units": sorted(u.unit_id for u in process.open_units),
            "locked": sorted(process.locked_by),
            "nre": process.nre,
            "documents": [(d.order, d.component.sha256, d.component.size) for d in process.documents],
            "history": [(h.seq, h.operation, h.description) for h in history],
        }
    tramites = services.bus._tramites.by_nup(nup, None, 50).items
    states = {t.idt: [int(c.state) for c in t.history] for t in tramites}
    receipts = {t.idt: t.receipt.canonical if t.receipt else None for t in tramites}
    return {"copies": copies, "states": states, "receipts": receipts}


# --- the whole trip ---------------------------------------------------------------------------------------


def test_hosted_to_hosted_moves_no_bytes_imports_once_and_concludes_as_sent(
    api: Api, stack: Stack, hosted: dict[str, str]
) -> None:
    nup = a_process(api, hosted["ms"], PDF, PNG)
    sent = send_hosted(api, hosted["ms"], nup)
    assert sent.status_code == 201, sent.body
    [tramite] = sent.json["tramites"]
    idt = tramite["idt"]
    assert tramite["estado"] == 2  # nothing to upload: custody at once
    process = api.call("GET", f"/processos/{nup}", hosted["ms"]).json
    assert process["bloqueadoPor"] == [idt]
    assert process["nre"] == tramite["nre"]
    locked = api.call("POST", f"/processos/{nup}/documentos/externos", hosted["ms"],
                      {"unidade": "101", "especie": 999, "nivelAcesso": 1, "nomeArquivo": "x.pdf",
                       "tipoMidia": "application/pdf", "tamanho": 3, "sha256": b64(b"abc")},
                      headers=WHO)  # fmt: skip
    assert idt in assert_problem(locked, 409, "conflito")["detail"]

    assert drain(stack, idt) == ["importado", "entregue", "nada"]
    end = snapshot(stack, nup)
    assert end["states"][idt] == [1, 2, 3, 4, 5, 6]
    ms, mgi = end["copies"]["100"], end["copies"]["400"]
    assert mgi["documents"] == ms["documents"]  # same orders, hashes and sizes
    assert mgi["units"] == [MGI_UNIT]
    assert mgi["nre"] == ms["nre"] == tramite["nre"]
    assert ms["units"] == []  # concluded as sent
    assert ms["locked"] == []
    assert "entregue" in ms["history"][-1][2]
    assert idt in mgi["history"][-1][2]
    # The receiving agency's people see it in their unit; the sender's is read-only no more.
    seen = api.call("GET", f"/processos/{nup}", hosted["mgi"])
    assert seen.status_code == 200, seen.body
    assert [u["unidade"] for u in seen.json["unidadesAbertas"]] == [MGI_UNIT]


def test_each_message_delivered_three_times_gives_the_same_end_state(
    api: Api, stack: Stack, hosted: dict[str, str]
) -> None:
    """The stream puts one message per state change (2, then 5, then 6); here each of them arrives three
    times, and the end state is the one of a trâmite whose messages arrived once each."""
    once = a_process(api, hosted["ms"], PDF)
    drain(stack, send_hosted(api, hosted["ms"], once).json["tramites"][0]["idt"])
    reference = _normalised(snapshot(stack, once), once)

    nup = a_process(api, hosted["ms"], PDF)
    idt = send_hosted(api, hosted["ms"], nup).json["tramites"][0]["idt"]
    outcomes = [stack.services.hosted.handle(idt) for _ in range(3 * 3)]
    assert outcomes == ["importado", "entregue"] + ["nada"] * 7
    end = _normalised(snapshot(stack, nup), nup)
    assert end == reference, _differences(end, reference)
    assert end["states"] == [[1, 2, 3, 4, 5, 6]]
    assert sorted(end["copies"]) == ["100", "400"]  # one process at the receiver


def _normalised(end: dict[str, Any], nup: str) -> dict[str, Any]:
    """A snapshot without what differs between two processes (NUP, IDT, NRE, receipts' bytes)."""
    text = json.dumps(end, default=str).replace(nup, "<nup>").replace(masked(nup), "<nup>")
    data: dict[str, Any] = json.loads(text)
    data["states"] = sorted(data["states"].values())
    data["receipts"] = sorted(r is not None for r in data["receipts"].values())
    for copy in data["copies"].values():
        copy["nre"] = copy["nre"] is not None
        copy["locked"] = len(copy["locked"])
        copy["history"] = [(seq, op, _without_ids(text)) for seq, op, text in copy["history"]]
    return data


def _differences(got: Any, want: Any, path: str = "") -> list[str]:
    if isinstance(got, dict) and isinstance(want, dict):
        return [
            d
            for k in sorted(set(got) | set(want))
            for d in _differences(got.get(k), want.get(k), f"{path}.{k}")
        ]
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [
            d
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            for d in _differences(g, w, f"{path}.{i}")
        ]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


def _without_ids(text: str) -> str:
    return " ".join("<id>" if len(word.strip(".,():")) == 32 else word for word in text.split())


# --- refusals, cancel, return, outside senders ---------------------------------------------------------------


def test_reception_rules_refuse_with_the_national_motivo_and_unlock_the_sender(
    api: Api, stack: Stack, hosted: dict[str, str]
) -> None:
    rules = api.call("PUT", "/orgaos/400/recebimento", hosted["mgi"], {"especies": [88, 41]})
    assert rules.status_code == 200, rules.body
    assert rules.json == {**rules.json, "hospedado": True, "especies": [41, 88]}
    assert_problem(api.call("PUT", "/orgaos/400/recebimento", hosted["mgi"], {"especies": [7777]}), 400,
                   "dados-invalidos")  # fmt: skip
    nup = a_process(api, hosted["ms"], PDF)  # espécie 999: not accepted by the MGI
    idt = send_hosted(api, hosted["ms"], nup).json["tramites"][0]["idt"]
    assert drain(stack, idt) == ["recusado", "desbloqueado", "nada"]
    tramite = stack.services.bus.tramite(idt)
    assert [int(c.state) for c in tramite.history] == [1, 2, 8, 9]
    assert tramite.refusal is not None
    assert tramite.refusal.reason.value == "04"
    assert "documento 1: espécie 999" in (tramite.refusal.justification or "")
    end = snapshot(stack, nup)
    assert set(end["copies"]) == {"100"}  # nothing imported
    assert end["copies"]["100"]["locked"] == []
    assert end["copies"]["100"]["units"] == ["101"]  # still open where it was
    assert "recusado" in end["copies"]["100"]["history"][-1][2]


def test_a_cancel_by_the_sender_unlocks_its_process(api: Api, stack: Stack, hosted: dict[str, str]) -> None:
    nup = a_process(api, hosted["ms"], PDF)
    idt = send_hosted(api, hosted["ms"], nup).json["tramites"][0]["idt"]
    cancelled = api.call("DELETE", f"/barramento/tramites/{idt}", hosted["ms"])
    assert cancelled.status_code == 200, cancelled.body
    assert drain(stack, idt) == ["desbloqueado", "nada"]
    assert api.call("GET", f"/processos/{nup}", hosted["ms"]).json["bloqueadoPor"] == []
    assert set(snapshot(stack, nup)["copies"]) == {"100"}


def test_the_return_path_appends_only_the_new_documents(
    api: Api, stack: Stack, hosted: dict[str, str]
) -> None:
    nup = a_process(api, hosted["ms"], PDF, PNG)
    first = send_hosted(api, hosted["ms"], nup).json["tramites"][0]
    drain(stack, first["idt"])
    reply = b"%PDF-1.7\nnota tecnica do MGI\n%%EOF\n"
    started = api.call("POST", f"/processos/{nup}/documentos/externos", hosted["mgi"],
                       {"unidade": MGI_UNIT, "especie": 999, "nivelAcesso": 1, "nomeArquivo": "nota.pdf",
                        "tipoMidia": "application/pdf", "tamanho": len(reply), "sha256": b64(reply)},
                       headers=WHO)  # fmt: skip
    assert started.status_code == 201, started.body
    assert put(started.json["envioUnico"], reply) == 200
    assert api.call("POST", started.json["confirmacao"], hosted["mgi"], headers=WHO).status_code == 201
    back = send_hosted(api, hosted["mgi"], nup, unit=MGI_UNIT, to="101")
    assert back.status_code == 201, back.body
    assert back.json["tramites"][0]["nre"] == first["nre"]
    drain(stack, back.json["tramites"][0]["idt"])
    end = snapshot(stack, nup)
    ms, mgi = end["copies"]["100"], end["copies"]["400"]
    assert ms["documents"] == mgi["documents"]
    assert [d[1] for d in ms["documents"]] == [b64(PDF), b64(PNG), b64(reply)]
    assert ms["units"] == ["101"]  # back at the MS, open again
    assert mgi["units"] == []
    assert mgi["locked"] == []


def test_an_outside_system_sends_to_a_hosted_agency_and_gets_the_receipt(
    api: Api, stack: Stack, hosted: dict[str, str]
) -> None:
    body = manifest(PDF, receiver="101")
    body["documentos"][0]["componentes"] = [component(PDF)]
    sent = send(api, hosted["inss"], body)
    assert sent.status_code == 201, sent.body
    idt = sent.json["tramites"][0]["idt"]
    upload_all(sent.json, PDF)
    assert confirm(api, hosted["inss"], idt).json["tramite"]["estado"] == 2
    assert drain(stack, idt) == ["importado", "nada"]  # the INSS is not hosted: it fetches its receipt
    nup = sent.json["tramites"][0]["nup"]
    imported = stack.services.processes.get("100", nup)
    assert [d.component.sha256 for d in imported.documents] == [b64(PDF)]
    [pending] = api.call("GET", "/barramento/pendencias", hosted["inss"]).json["itens"]
    assert (pending["idt"], pending["estado"]) == (idt, 5)
    assert (
        api.call("GET", f"/barramento/tramites/{idt}/recibo", hosted["inss"]).json["tramite"]["estado"] == 6
    )


def test_a_process_changed_while_it_is_sent_is_not_sent_stale(
    api: Api, stack: Stack, hosted: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A document lands between the manifest and the lock: the send is refused and its trâmite
    cancelled, so the receiver never imports a manifest that misses it."""
    nup = a_process(api, hosted["ms"], PDF)
    bus = stack.services.bus
    real_send = bus.send

    def send_then_a_write_lands(*args: Any, **kwargs: Any) -> Any:
        sent = real_send(*args, **kwargs)
        upload_and_confirm(api, hosted["ms"], nup, PNG)
        return sent

    monkeypatch.setattr(bus, "send", send_then_a_write_lands)
    assert (
        "alterado enquanto era enviado"
        in assert_problem(send_hosted(api, hosted["ms"], nup), 409, "conflito")["detail"]
    )
    monkeypatch.undo()
    [tramite] = bus._tramites.by_nup(nup, None, 5).items
    assert tramite.state is TramiteState.CANCELADO
    assert api.call("GET", f"/processos/{nup}", hosted["ms"]).json["bloqueadoPor"] == []
    again = send_hosted(api, hosted["ms"], nup)  # the NRE is free again, and the process whole
    assert again.status_code == 201, again.body


def test_only_hosted_agencies_send_from_their_processes(
    api: Api, stack: Stack, hosted: dict[str, str]
) -> None:
    stack.services.hosted.set_hosted("100", False)
    nup = a_process(api, hosted["ms"], PDF)
    assert_problem(send_hosted(api, hosted["ms"], nup), 403, "sem-permissao")
    assert api.call("GET", f"/processos/{nup}", hosted["ms"]).json["bloqueadoPor"] == []


# --- the plumbing: stream -> queue -> worker ----------------------------------------------------------------


def test_state_changes_reach_the_queue_and_the_worker_acts_on_them(
    api: Api, stack: Stack, hosted: dict[str, str]
) -> None:
    nup = a_process(api, hosted["ms"], PDF)
    idt = send_hosted(api, hosted["ms"], nup).json["tramites"][0]["idt"]
    image = {"pk": {"S": f"T#{idt}"}, "idt": {"S": idt}, "estado": {"N": "2"}}
    old = {"pk": {"S": f"T#{idt}"}, "idt": {"S": idt}, "estado": {"N": "1"}}
    records = [
        {"eventID": "1", "eventName": "MODIFY", "dynamodb": {"NewImage": image, "OldImage": old,
                                                             "SequenceNumber": "1"}},
        {"eventID": "2", "eventName": "MODIFY", "dynamodb": {"NewImage": image, "OldImage": image,
                                                             "SequenceNumber": "2"}},  # no state change
        {"eventID": "3", "eventName": "INSERT", "dynamodb": {"NewImage": {"pk": {"S": "NRE#x"}},
                                                             "SequenceNumber": "3"}},  # a guard
    ]  # fmt: skip
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint, region_name=servers.REGION)
    queue = stack.settings.queue_barramento

    for record in records:
        forward_record(DynamoDBRecord(record))
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"]) for m in messages] == [{"idt": idt, "estado": 2}]
    work_record(SQSRecord({"messageId": "m1", "body": messages[0]["Body"]}))
    assert stack.services.bus.tramite(idt).state is TramiteState.RECIBO_ENVIADO
