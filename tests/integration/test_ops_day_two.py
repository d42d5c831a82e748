"""The operator CLI's day-two commands against a moto server, through its real entry point:
queues and DLQs, stuck trâmites, a process's history export, and receipts verified offline."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pynamodb.connection import Connection

from chalicelib.domain.bus import (
    Actor,
    Address,
    IssuedReceipt,
    ReceiptRecord,
    Tramite,
    TramiteState,
    complete_upload,
    fetch_components,
    fetch_metadata,
    send_receipt,
    start,
)
from chalicelib.domain.processes import AccessLevel, Interested, Metadata
from chalicelib.domain.signatures import Stamp
from chalicelib.services.processes import Actor as ProcessActor
from chalicelib.store.signer import KmsSigner
from chalicelib.store.tramites import DynamoTramiteRepository
from infra import ops
from infra.local.resources import client
from infra.local.worker import failure_message
from infra.resources import STACK
from tests import servers
from tests.integration.conftest import Stack

NUP = "23037001462202165"
SENDER = Actor("100", "cliente-ms")
RECEIVER = Actor("200", "cliente-inss")


@pytest.fixture
def target(stack: Stack) -> list[str]:
    return ["--endpoint", stack.endpoint, "--stage", stack.settings.stage]


def cli(target: list[str], capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = ops.main([*target, *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def sqs_client(stack: Stack) -> Iterator[None]:
    _SQS.append(client("sqs", stack.endpoint, servers.REGION))
    yield
    _SQS.pop()


_SQS: list[Any] = []


def sqs() -> Any:
    """The SQS client on the test's moto server."""
    return _SQS[-1]


def url(stack: Stack, name: str) -> str:
    return str(sqs().get_queue_url(QueueName=name)["QueueUrl"])


def depth(queue_url: str) -> tuple[int, int]:
    found = sqs().get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(found["ApproximateNumberOfMessages"]), int(found["ApproximateNumberOfMessagesNotVisible"])


def bus_queues(stack: Stack) -> tuple[str, str]:
    queue = next(q for q in STACK.queues if q.suffix == "barramento")
    stage = stack.settings.stage
    return url(stack, STACK.name(stage, queue.suffix)), url(stack, STACK.dlq_name(stage, queue))


# --- queues and DLQs ------------------------------------------------------------------------------


def test_queues_table_and_json(stack: Stack, target: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _, dlq = bus_queues(stack)
    sqs().send_message(QueueUrl=dlq, MessageBody=json.dumps({"idt": "T-1", "estado": 2}))
    code, out, _ = cli(target, capsys, "queues", "--json")
    assert code == 0
    rows = {r["nome"]: r for r in json.loads(out)}
    assert set(rows) == {"correio", "correio-dlq", "barramento", "barramento-dlq", "avisos", "avisos-dlq",
                         "correio-eventos", "correio-eventos-dlq", "processos-stream", "tramites-stream"}  # fmt: skip
    assert (rows["barramento-dlq"]["visible"], rows["barramento-dlq"]["in_flight"]) == (1, 0)
    assert rows["barramento"]["consumidor"] == "run_bus_work"
    code, out, _ = cli(target, capsys, "queues")
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("barramento-dlq"))
    assert line.split()[:5] == ["barramento-dlq", "dlq", "1", "0", "0"]
    assert "1 dead-letter queue(s) hold messages (barramento-dlq)" in out


def test_dlq_show_previews_without_consuming(
    stack: Stack, target: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, dlq = bus_queues(stack)
    for n in range(3):
        sqs().send_message(QueueUrl=dlq, MessageBody=json.dumps({"idt": f"T-{n}", "estado": 2}))
    code, out, _ = cli(target, capsys, "dlq", "show", "barramento", "--limit", "2")
    assert code == 0, out
    assert out.count('{"idt": "T-') == 2
    assert "... 1 more (--limit)" in out
    assert depth(dlq) == (3, 0)  # visible again at once
    code, out, _ = cli(target, capsys, "--json", "dlq", "show", "barramento-dlq")
    shown = json.loads(out)
    assert sorted(json.loads(m["corpo"])["idt"] for m in shown["mensagens"]) == ["T-0", "T-1", "T-2"]
    assert all(m["recebimentos"] >= 1 and m["enviadaEm"].endswith("UTC") for m in shown["mensagens"])


def test_dlq_unknown_name_is_refused(target: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(target, capsys, "dlq", "show", "nao-existe")
    assert code == 2
    assert "no dead-letter queue named 'nao-existe'" in err
    assert "barramento-dlq" in err
    assert "tramites-stream" in err


def test_redrive_asks_first_and_moves_send_then_delete(
    stack: Stack, target: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    queue, dlq = bus_queues(stack)
    for n in range(3):
        sqs().send_message(QueueUrl=dlq, MessageBody=json.dumps({"idt": f"T-{n}", "estado": 2}),
                           MessageAttributes={"origem": {"DataType": "String", "StringValue": "teste"}})  # fmt: skip
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, out, _ = cli(target, capsys, "dlq", "redrive", "barramento")
    assert code == 0
    assert "Move 3 message(s) from" in out
    assert "Nothing moved." in out
    assert depth(dlq) == (3, 0)
    assert depth(queue) == (0, 0)

    code, out, err = cli(target, capsys, "dlq", "redrive", "barramento", "--limit", "2", "--yes")
    assert code == 0, err
    assert "moved 2 message(s)" in out
    assert "[2/2]" in err
    assert depth(dlq) == (1, 0)
    moved = sqs().receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    assert len(moved["Messages"]) == 2
    assert all(m["MessageAttributes"]["origem"]["StringValue"] == "teste" for m in moved["Messages"])

    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert cli(target, capsys, "dlq", "redrive", "barramento")[0] == 0
    assert depth(dlq) == (0, 0)
    code, out, _ = cli(target, capsys, "dlq", "redrive", "barramento", "--yes")
    assert (code, "nothing to move" in out) == (0, True)


def test_stream_dlq_is_explained_and_never_redriven(
    stack: Stack, target: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    tramite = save(stack, new("T-STREAM", at=datetime.now(UTC)))
    stage = stack.settings.stage
    table = next(t for t in STACK.stream_consumers if t.suffix == "tramites")
    dynamodb = client("dynamodb", stack.endpoint, servers.REGION)
    streams = client("dynamodbstreams", stack.endpoint, servers.REGION)
    arn = dynamodb.describe_table(TableName=STACK.name(stage, "tramites"))["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = [r for r in streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
               if r["dynamodb"]["Keys"]["pk"]["S"] == f"T#{tramite.idt}"]  # fmt: skip
    body = failure_message(arn, shard, records, function_arn="arn:aws:lambda:x:1:function:f", attempts=11,
                           raised=True)  # fmt: skip
    sqs().send_message(QueueUrl=url(stack, STACK.stream_dlq_name(stage, table)), MessageBody=json.dumps(body))

    code, out, _ = cli(target, capsys, "dlq", "show", "tramites-stream")
    assert code == 0, out
    assert "Lambda's on-failure records" in out
    assert "not the records" in out
    assert f"pk=T#{tramite.idt}" in out
    assert f"→ tramites retry {tramite.idt}" in out
    code, _, err = cli(target, capsys, "dlq", "redrive", "tramites-stream", "--yes")
    assert code == 2
    assert "cannot be redriven" in err
    assert "dlq show tramites-stream" in err


# --- trâmites -------------------------------------------------------------------------------------


def repository(stack: Stack) -> DynamoTramiteRepository:
    return DynamoTramiteRepository(Connection(region=servers.REGION, host=stack.endpoint))


def new(idt: str, *, at: datetime) -> Tramite:
    return start(idt=idt, nre=f"NRE-{idt}", nup=NUP, sender=Address("1", "101"), receiver=Address("1", "200"),
                 sender_agency_id="100", receiver_agency_id="200", by=SENDER, at=at)  # fmt: skip


def save(stack: Stack, tramite: Tramite) -> Tramite:
    return repository(stack).add(tramite)


def moved(stack: Stack, tramite: Tramite, *moves: Any) -> Tramite:
    for move in moves:
        tramite = repository(stack).save(move(tramite))
    return tramite


def stuck_set(stack: Stack) -> dict[str, Tramite]:
    now = datetime.now(UTC)
    old = now - timedelta(hours=3)
    earlier = old - timedelta(minutes=30)
    receipt = IssuedReceipt(b'{"formato":"x"}', Stamp("ECDSA_SHA_256", "chave-1", "c2lnbg==", old))
    return {
        "iniciado": save(stack, new("T-OLD-1", at=old)),
        "enviado": moved(stack, save(stack, new("T-OLD-2", at=old)), lambda t: complete_upload(t, old)),
        "recibo": moved(
            stack,
            save(stack, new("T-OLD-5", at=old - timedelta(hours=1))),
            lambda t: complete_upload(t, earlier),
            lambda t: fetch_metadata(t, RECEIVER, earlier),
            lambda t: fetch_components(t, RECEIVER, earlier),
            lambda t: send_receipt(t, RECEIVER, earlier, receipt),
        ),
        "novo": save(stack, new("T-NEW-1", at=now)),
    }


def test_stuck_counts_per_state_and_lists_them(
    stack: Stack, target: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    made = stuck_set(stack)
    assert made["recibo"].state is TramiteState.RECIBO_ENVIADO
    code, out, err = cli(target, capsys, "tramites", "stuck", "--older-than", "2h")
    assert code == 0, err
    for state, label, count in [(1, "iniciado", 1), (2, "componentes enviados", 1),
                                (5, "recibo de conclusão enviado", 1), (8, "recusado", 0)]:  # fmt: skip
        assert re.search(rf"^\s*{state}\s+{label}\s+{count}(\s|$)", out, re.M), out
    assert "T-OLD-1" in out
    assert "T-OLD-2" in out
    assert "T-OLD-5" in out
    assert "T-NEW-1" not in out
    assert "agencies' pendências read" in err  # states 5 and 8: one Query per agency

    code, out, _ = cli(target, capsys, "--json", "tramites", "stuck", "--state", "2", "--state", "5")
    found = json.loads(out)
    assert found["porEstado"] == {"2": 1, "5": 1}
    assert [t["idt"] for t in found["tramites"]] == ["T-OLD-5", "T-OLD-2"]  # oldest change first
    assert found["tramites"][1]["aguarda"] == "200"  # the receiver downloads next
    code, _, err = cli(target, capsys, "tramites", "stuck", "--state", "6")
    assert code == 2
    assert "final" in err
    code, _, err = cli(target, capsys, "tramites", "stuck", "--older-than", "ontem")
    assert code == 2
    assert "not a duration" in err


def test_retry_requeues_the_bus_step(
    stack: Stack, target: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    tramite = moved(stack, save(stack, new("T-RETRY", at=datetime.now(UTC))),
                    lambda t: complete_upload(t, datetime.now(UTC)))  # fmt: skip
    queue, _ = bus_queues(stack)
    code, out, _ = cli(target, capsys, "tramites", "retry", tramite.idt)
    assert code == 0, out
    assert "queued for the bus worker" in out
    assert "not hosted here" in out  # state 2 waits for the INSS, whose own system must act
    message = sqs().receive_message(QueueUrl=queue)["Messages"][0]
    assert json.loads(message["Body"]) == {"idt": "T-RETRY", "estado": 2}
    code, out, _ = cli(target, capsys, "tramites", "retry", tramite.idt, "--now")
    assert (code, "bus step run here: 'nada'" in out) == (0, True)
    code, _, err = cli(target, capsys, "tramites", "retry", "NAO-EXISTE")
    assert code == 2
    assert "não encontrado" in err


def test_cancel_explains_then_cancels_as_the_sender(
    stack: Stack, target: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    tramite = save(stack, new("T-CANCEL", at=datetime.now(UTC)))
    code, _, err = cli(target, capsys, "tramites", "cancel", tramite.idt, "--reason", "pedido do MS")
    assert code == 2
    assert "no operator cancel" in err
    assert "--as-sender" in err
    assert "8 days" in err
    before = repository(stack).get(tramite.idt)
    assert before is not None
    assert before.state is TramiteState.INICIADO
    code, out, _ = cli(
        target, capsys, "tramites", "cancel", tramite.idt, "--reason", "pedido do MS", "--as-sender"
    )
    assert code == 0, out
    cancelled = repository(stack).get(tramite.idt)
    assert cancelled is not None
    assert cancelled.state is TramiteState.CANCELADO
    assert (cancelled.history[-1].by.agency_id, cancelled.history[-1].by.client_id) == (
        "100",
        "operador-plataforma",
    )
    assert "em nome do remetente: pedido do MS;" in cancelled.history[-1].detail  # the reason is kept
    assert "pedido do MS" in out
    code, _, err = cli(
        target, capsys, "tramites", "cancel", tramite.idt, "--reason", "de novo", "--as-sender"
    )
    assert code == 2
    assert "already in a final state: 7" in err


# --- a process's history --------------------------------------------------------------------------


def new_process(stack: Stack) -> str:
    metadata = Metadata("Licitação: Pregão Eletrônico", "Aquisição de computadores",
                        (Interested("João da Silva"),), AccessLevel.PUBLICO)  # fmt: skip
    processes = stack.services.processes
    actor = ProcessActor("100", "maria.silva")
    process = processes.create(actor, "101", metadata)
    processes.update(actor, process.nup, "101", replace(metadata, specification="Aquisição de notebooks"),
                     process.version)  # fmt: skip
    return process.nup


def test_export_writes_json_lines_and_checks_the_chain(
    stack: Stack, target: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    nup = new_process(stack)
    out_file = tmp_path / "historico.jsonl"
    code, out, err = cli(target, capsys, "process", "export", nup, "--agency", "100", "--out", str(out_file))
    assert code == 0, err
    lines = [json.loads(x) for x in out_file.read_text(encoding="utf-8").splitlines()]
    assert [x["seq"] for x in lines] == [1, 2]
    assert lines[1]["hashAnterior"] == lines[0]["hash"]
    assert "chain: intact" in err
    code, out, err = cli(target, capsys, "process", "export", nup, "--agency", "100")
    assert code == 0
    assert len(out.splitlines()) == 2

    dynamodb = client("dynamodb", stack.endpoint, servers.REGION)
    table = STACK.name(stack.settings.stage, "processos")
    item = {"pk": {"S": f"P#100#{nup}"}, "sk": {"S": "H#000000001"}}  # entry 1 (store/processes.py)
    dynamodb.update_item(TableName=table, Key=item, UpdateExpression="SET descricao = :d",
                         ExpressionAttributeValues={":d": {"S": "Processo autuado (editado)"}})  # fmt: skip
    code, _, err = cli(target, capsys, "process", "export", nup, "--agency", "100", "--out", str(out_file))
    assert code == 1
    assert "chain: BROKEN at entry 1" in err
    assert "o conteúdo da entrada foi alterado" in err
    code, _, err = cli(target, capsys, "process", "export", nup, "--agency", "200")
    assert code == 2
    assert "não encontrado" in err


# --- receipts -------------------------------------------------------------------------------------


def write_receipt(signer: KmsSigner, idt: str, path: Path) -> Path:
    """A recibo de conclusão of trâmite `idt` stamped by `signer`, as GET .../recibo answers it."""
    record = ReceiptRecord(idt, "NRE-1", datetime.now(UTC), Address("1", "101"), Address("1", "200"),
                           ("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",))  # fmt: skip
    canonical = record.to_canonical()
    stamp = signer.sign(canonical)
    answer = {
        "tramite": {"idt": idt},
        "recibo": {
            "registro": base64.b64encode(canonical).decode(),
            "conteudo": record.to_dict(),
            "carimbo": {"algoritmo": stamp.algorithm, "chave": stamp.key_id, "assinatura": stamp.signature,
                        "data": stamp.stamped_at.isoformat()},
        },
    }  # fmt: skip
    path.write_text(json.dumps(answer), encoding="utf-8")
    return path


@pytest.fixture
def signed(stack: Stack, tmp_path: Path) -> tuple[Path, Path, KmsSigner]:
    """A recibo de conclusão stamped by the stack's KMS key, as the API answers it, and the key's PEM."""
    signer = KmsSigner(client("kms", stack.endpoint, servers.REGION), stack.settings.signing_key or "")
    receipt = write_receipt(signer, "T-RECIBO", tmp_path / "recibo.json")
    key = tmp_path / "chave.pem"
    key.write_text(signer.public_keys()[0].pem, encoding="ascii")
    return receipt, key, signer


def test_receipt_verifies_with_the_pem(
    signed: tuple[Path, Path, KmsSigner], capsys: pytest.CaptureFixture[str]
) -> None:
    receipt, key, _ = signed
    code, out, _ = cli([], capsys, "receipt", "verify", str(receipt), "--key", str(key))
    assert code == 0, out
    assert "recibo de conclusão (pen-recibo-conclusao-v1)" in out
    assert "T-RECIBO" in out
    assert "VERIFIED" in out


def test_tampered_receipt_fails(
    signed: tuple[Path, Path, KmsSigner], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    receipt, key, _ = signed
    answer = json.loads(receipt.read_text(encoding="utf-8"))
    registro = base64.b64decode(answer["recibo"]["registro"]).replace(b"T-RECIBO", b"T-RECIBX")
    answer["recibo"]["registro"] = base64.b64encode(registro).decode()
    tampered = tmp_path / "adulterado.json"
    tampered.write_text(json.dumps(answer), encoding="utf-8")
    code, out, _ = cli([], capsys, "receipt", "verify", str(tampered), "--key", str(key))
    assert code == 1
    assert "NOT VERIFIED: the signature does not verify" in out

    answer = json.loads(receipt.read_text(encoding="utf-8"))
    answer["recibo"]["conteudo"]["idt"] = "OUTRO"  # the signed bytes intact, the convenience copy not
    tampered.write_text(json.dumps(answer), encoding="utf-8")
    code, out, _ = cli([], capsys, "--json", "receipt", "verify", str(tampered), "--key", str(key))
    report = json.loads(out)
    assert (code, report["verificado"]) == (1, False)
    assert "`conteudo` does not say what the signed `registro` says" in report["problemas"][0]
    code, _, err = cli([], capsys, "receipt", "verify", str(receipt))
    assert code == 2
    assert "--key PEM_FILE or --api BASE_URL" in err


def test_receipt_verifies_with_the_published_keys(
    signed: tuple[Path, Path, KmsSigner], capsys: pytest.CaptureFixture[str]
) -> None:
    receipt, _, signer = signed
    body = json.dumps({"chaves": [{"id": k.key_id, "pem": k.pem} for k in signer.public_keys()]}).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/publico/chaves" else 404)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = f"http://127.0.0.1:{server.server_address[1]}/"
        code, out, _ = cli([], capsys, "receipt", "verify", str(receipt), "--api", api)
        assert (code, "VERIFIED" in out) == (0, True)
    finally:
        server.shutdown()
        server.server_close()
