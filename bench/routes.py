"""AWS calls per operation for every API route and every asynchronous leg, and the bytes of object
content our functions move.

    .venv/bin/python -m bench.routes            (make bench)

The local stack's parts run in this process: a moto server, the resources, the demo seed, the API
served by the local gateway (over loopback) and the worker, whose queues, streams and schedule are
drained by hand after each request, so every call lands on the operation that caused it. The call
audit of the local stack (infra/local/audit.py) names the Lambda function making each call (the API,
the authorizer, each event handler); a wrapper around botocore's one funnel for API calls asks
DynamoDB for ReturnConsumedCapacity=TOTAL and records what comes back, and the S3 object bytes read
and written. Counts do not depend on the engine; moto's capacity figures are its own fixed numbers
per call (0.5 a read, 1 a write), not the item-size arithmetic of DynamoDB.

Every route of docs/openapi.json must have a row (tests/unit/test_bench_coverage.py holds the
committed results to that). Results go to bench/results/routes.json and .md.
"""

from __future__ import annotations

import base64
import email
import hashlib
import json
import logging
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import machine, record

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FIGURES = ROOT / "docs" / "performance"
OPENAPI = ROOT / "docs" / "openapi.json"
WHO = {"X-Usuario": "bench"}
SMALL = 1024  # single-upload limit and part size for the multipart route (S3's minimum is 5 MiB)
REGISTRY_CACHE_SECONDS = 86_400  # longer than any run: counts independent of its length
CAPACITY_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "TransactGetItems",
    }
)
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
SERVICES = ("DynamoDB", "S3", "SQS", "SES", "KMS")
_BOTO_TO_SERVICE = {
    "dynamodb": "DynamoDB",
    "s3": "S3",
    "sqs": "SQS",
    "ses": "SES",
    "sesv2": "SES",
    "kms": "KMS",
    "dynamodbstreams": "DynamoDBStreams",
    "cloudwatch": "CloudWatch",
}


# --- the recorder ----------------------------------------------------------------------------------


@dataclass
class Usage:
    """What one Lambda function did during one operation."""

    calls: Counter[str] = field(default_factory=Counter)  # "Service.Operation"
    read_units: float = 0.0
    write_units: float = 0.0
    capacity_reported: int = 0  # DynamoDB calls whose answer carried ConsumedCapacity
    content_bytes_read: int = 0  # S3 bytes of content-addressed objects (sha256/…) read
    content_bytes_written: int = 0
    other_bytes_read: int = 0  # S3 bytes of other objects (manifests, receipts)
    other_bytes_written: int = 0

    def as_json(self) -> dict[str, Any]:
        by_service = Counter[str]()
        for name, count in self.calls.items():
            by_service[name.split(".", 1)[0]] += count
        dynamodb = by_service.get("DynamoDB", 0)
        return {
            "calls": dict(sorted(self.calls.items())),
            "by_service": dict(sorted(by_service.items())),
            "total": sum(self.calls.values()),
            "dynamodb_read_units": round(self.read_units, 2) if self.capacity_reported else None,
            "dynamodb_write_units": round(self.write_units, 2) if self.capacity_reported else None,
            "capacity_reported_by": f"{self.capacity_reported}/{dynamodb}",
            "content_bytes_read": self.content_bytes_read,
            "content_bytes_written": self.content_bytes_written,
            "other_object_bytes_read": self.other_bytes_read,
            "other_object_bytes_written": self.other_bytes_written,
        }


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self.usage: dict[str, Usage] = defaultdict(Usage)

    def take(self) -> dict[str, Usage]:
        with self._lock:
            taken, self.usage = dict(self.usage), defaultdict(Usage)
        return taken

    def sink(self, call: Any) -> None:  # audit.install's sink: runs just before each call is sent
        self._local.function = call.function

    def install(self) -> None:
        """Wraps botocore's funnel (after the audit, so this runs outside it and sees its function)."""
        import botocore.client

        inner = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]
        recorder = self

        def measured(client: Any, operation: str, params: dict[str, Any]) -> Any:
            service = _BOTO_TO_SERVICE.get(client.meta.service_model.service_name, "other")
            if service == "DynamoDB" and operation in CAPACITY_OPERATIONS:
                params = {"ReturnConsumedCapacity": "TOTAL", **params}
            recorder._local.function = None
            answer = inner(client, operation, params)
            function = recorder._local.function
            if function is not None:
                recorder._record(function, service, operation, params, answer)
            return answer

        botocore.client.BaseClient._make_api_call = measured  # type: ignore[attr-defined]

    def _record(
        self, function: str, service: str, operation: str, params: dict[str, Any], answer: Any
    ) -> None:
        with self._lock:
            usage = self.usage[function]
            usage.calls[f"{service}.{operation}"] += 1
            if service == "DynamoDB" and operation in CAPACITY_OPERATIONS:
                consumed = answer.get("ConsumedCapacity")
                if consumed:  # moto answers TransactWriteItems with an empty list: not reported
                    usage.capacity_reported += 1
                    units = sum(c.get("CapacityUnits", 0) for c in _as_list(consumed))
                    if operation in WRITES:
                        usage.write_units += units
                    else:
                        usage.read_units += units
            if service == "S3":
                content = str(params.get("Key", "")).startswith("sha256/")
                if operation == "GetObject":
                    size = int(answer.get("ContentLength") or 0)
                    if content:
                        usage.content_bytes_read += size
                    else:
                        usage.other_bytes_read += size
                elif operation in ("PutObject", "UploadPart"):
                    body = params.get("Body", b"")
                    size = _size(body, params)
                    if content:
                        usage.content_bytes_written += size
                    else:
                        usage.other_bytes_written += size


def _size(body: Any, params: dict[str, Any]) -> int:
    if isinstance(body, bytes | str):
        return len(body)
    if hasattr(body, "getbuffer"):  # BytesIO
        return int(body.getbuffer().nbytes)
    return int(params.get("ContentLength") or 0)


def _as_list(value: Any) -> list[dict[str, Any]]:
    return value if isinstance(value, list) else [value]


# --- the stack, in this process ----------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: bytes
    sent: int

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Stack:
    def __init__(self) -> None:
        self.recorder = Recorder()
        self.rows: list[dict[str, Any]] = []
        self.tokens: dict[str, str] = {}
        self.clients: dict[str, str] = {}

    @contextmanager
    def running(self) -> Iterator[Stack]:  # noqa: PLR0915 - the local stack's start-up, in order
        import moto.s3.models

        from chalicelib import bootstrap, config, observability
        from infra.local import audit
        from infra.local.moto_server import MotoServer
        from infra.local.resources import client, create_resources
        from infra.local.seed import seed
        from infra.local.server import make_api_server, stage_environment
        from infra.local.stack import base_environment
        from infra.local.state import HOST, REGION, STAGE
        from infra.local.worker import ACCOUNT, Worker
        from tests.servers import free_port

        moto_port, api_port = free_port(), free_port()
        self.endpoint = f"http://{HOST}:{moto_port}"
        self.api_url = f"http://{HOST}:{api_port}"
        server = MotoServer(HOST, moto_port)
        server.start()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        try:
            os.environ.update(base_environment(self.endpoint, "http://127.0.0.1:9"))
            os.environ[config.ENV_NOTICE_WINDOW] = "1"
            os.environ[config.ENV_DOCS_SINGLE_UPLOAD_MAX] = str(SMALL)
            os.environ[config.ENV_DOCS_MIN_PART] = str(SMALL)
            os.environ[config.ENV_REGISTRY_CACHE] = str(REGISTRY_CACHE_SECONDS)
            moto.s3.models.S3_UPLOAD_PART_MIN_SIZE = SMALL  # type: ignore[attr-defined]
            audit.install(self.recorder.sink, REGION, ACCOUNT)
            self.recorder.install()
            resources = create_resources(self.endpoint, STAGE, REGION)
            os.environ.update(stage_environment(ROOT, STAGE))
            os.environ.update(resources)
            os.environ["PEN_LOG_LEVEL"] = "ERROR"
            observability.logger.setLevel("ERROR")
            import app as app_module

            bootstrap.reset()
            self.services = bootstrap.services()
            demo = seed(self.services)
            self.public_nup = demo.public_nup
            self.document_codes = demo.document_codes
            for credential in demo.credentials:
                self.tokens[credential.acronym] = credential.token
                self.clients[credential.acronym] = credential.client_id
            self.sqs = client("sqs", self.endpoint, REGION)
            self.resources = resources
            self.worker = Worker.for_stack(
                app_module.app, self.sqs, resources, stage=STAGE, region=REGION, log=lambda _line: None
            )
            api = make_api_server(app_module.app, ROOT, HOST, api_port, STAGE)
            thread = threading.Thread(
                target=api.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
            )
            thread.start()
            self.drain()
            self.recorder.take()  # the seed's own work is nobody's operation
            yield self
        finally:
            try:
                api.server.shutdown()
                api.server.server_close()
            except NameError:
                pass
            server.stop()

    # the worker, by hand

    def drain(self, patience: float = 60.0) -> dict[str, int]:
        """Runs every queue, stream and delayed message until nothing is left; returns invocations.
        A message still waiting after `patience` seconds fails the run: returning then (as it did
        after 8 s) would silently leave its leg's calls out of the counts."""
        invoked: Counter[str] = Counter()
        deadline = time.monotonic() + patience
        while True:
            busy = False
            for stream in self.worker.streams:
                streamed = self.worker.poll_stream(stream)
                if streamed.invocations:
                    invoked[stream.handler] += streamed.invocations
                    busy = True
            for source in self.worker.sources:
                if self.worker.poll(source, wait_seconds=0).received:
                    invoked[source.queue.handler] += 1
                    busy = True
            if busy:
                if time.monotonic() > deadline + 300:  # a message failing for ever, say
                    raise RuntimeError(f"the worker never went idle: {dict(invoked)}")
                continue
            if not self._waiting():
                return dict(invoked)
            if time.monotonic() > deadline:
                waited = f"{patience:.0f} s"
                raise RuntimeError(f"messages still wait in the queues after {waited}: {dict(invoked)}")
            time.sleep(0.2)

    def _waiting(self) -> bool:
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesDelayed",
            "ApproximateNumberOfMessagesNotVisible",
        ]
        for source in self.worker.sources:
            found = self.sqs.get_queue_attributes(QueueUrl=source.url, AttributeNames=names)["Attributes"]
            if any(int(found.get(n, 0)) for n in names):
                return True
        return False

    # HTTP

    def http(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"Content-Type": "application/json", **WHO, **(headers or {})}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.api_url + path, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return Reply(response.status, response.read(), len(data or b""))
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read(), len(data or b""))

    def measure(  # noqa: PLR0917 - reads like the request it makes
        self,
        route: str,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        expect: int | tuple[int, ...] = (200, 201, 202, 204),
        note: str = "",
    ) -> Reply:
        """One request, then the asynchronous legs it caused; one row under the route's template."""
        self.recorder.take()
        print(f"bench: {route}", file=sys.stderr, flush=True)
        reply = self.http(method, path, token, body, headers)
        api = self.recorder.take()
        invoked = self.drain()
        legs = self.recorder.take()
        expected = (expect,) if isinstance(expect, int) else expect
        if reply.status not in expected:
            raise RuntimeError(f"{route}: {reply.status} {reply.body[:600]!r}")
        self.rows.append(
            {
                "route": route,
                "status": reply.status,
                "note": note,
                "request_bytes": reply.sent,
                "response_bytes": len(reply.body),
                "functions": {name: usage.as_json() for name, usage in sorted(api.items())},
                "asynchronous": {name: usage.as_json() for name, usage in sorted(legs.items())},
                "invocations": invoked,
            }
        )
        return reply

    def leg(self, name: str, trigger: Callable[[], Any], note: str = "") -> None:
        """An asynchronous leg started by something other than a route (a schedule, an SES event)."""
        self.recorder.take()
        trigger()
        direct = self.recorder.take()
        invoked = self.drain()
        legs = self.recorder.take()
        for function, usage in direct.items():
            legs.setdefault(function, Usage()).calls.update(usage.calls)
        self.rows.append(
            {
                "route": name,
                "status": None,
                "note": note,
                "request_bytes": 0,
                "response_bytes": 0,
                "functions": {},
                "asynchronous": {n: u.as_json() for n, u in sorted(legs.items())},
                "invocations": invoked,
            }
        )

    def sent_mail(self) -> list[email.message.Message]:
        """What SES "sent", read from the moto server's backend in this process."""
        from infra.local.moto_server import sent_mail

        return [email.message_from_string(m["raw_data"]) for m in sent_mail().get("RawMessage", [])]


# --- the operations ----------------------------------------------------------------------------------


def b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def put(url: str, headers: dict[str, str], data: bytes) -> str:
    sent = {"Content-Type": "application/octet-stream", **headers}
    request = urllib.request.Request(url, data=data, method="PUT", headers=sent)
    with urllib.request.urlopen(request) as response:
        response.read()
        return str(response.headers.get("ETag", ""))


def pdf(size: int = 4096) -> bytes:
    return b"%PDF-1.7\n" + os.urandom(size) + b"\n%%EOF\n"


def digits(nup: str) -> str:
    return "".join(c for c in nup if c.isdigit())


def processes_routes(s: Stack) -> None:
    mgi = s.tokens["MGI"]
    new = {
        "unidade": "1002",
        "tipo": "Licitação",
        "especificacao": "Aquisição de computadores",
        "interessados": [{"nome": "Fulano de Tal"}],
        "nivelAcesso": 1,
    }
    nup = digits(s.measure("POST /processos", "POST", "/processos", mgi, new).json()["nup"])
    other = digits(s.http("POST", "/processos", mgi, new).json()["nup"])
    third = digits(s.http("POST", "/processos", mgi, new).json()["nup"])
    s.drain()
    process = s.measure("GET /processos/{nup}", "GET", f"/processos/{nup}", mgi).json()
    s.measure(
        "PATCH /processos/{nup}",
        "PATCH",
        f"/processos/{nup}",
        mgi,
        {**new, "especificacao": "Aquisição de notebooks", "versao": process["versao"]},
    )
    base = f"/processos/{nup}/documentos"
    internal = {"unidade": "1002", "especie": 88, "nivelAcesso": 1, "conteudo": "<p>Senhor Diretor,</p>" * 20}
    doc = s.measure(
        "POST /processos/{nup}/documentos/internos",
        "POST",
        f"{base}/internos",
        mgi,
        internal,
        note="the HTML content travels in the request, by design",
    ).json()
    order = doc["ordem"]
    s.measure("GET /processos/{nup}/documentos/{ordem}", "GET", f"{base}/{order}", mgi)
    s.measure(
        "PATCH /processos/{nup}/documentos/{ordem}",
        "PATCH",
        f"{base}/{order}",
        mgi,
        {"unidade": "1002", "conteudo": "<p>Senhora Diretora,</p>", "versao": doc["versao"]},
        note="the HTML content travels in the request, by design",
    )
    s.measure(
        "POST /processos/{nup}/documentos/{ordem}/assinaturas",
        "POST",
        f"{base}/{order}/assinaturas",
        mgi,
        {"unidade": "1002", "nome": "Ana", "cargo": "Chefe"},
    )

    content = pdf(SMALL - 40)
    declared = {
        "unidade": "1002",
        "especie": 999,
        "nivelAcesso": 1,
        "nomeArquivo": "anexo.pdf",
        "tipoMidia": "application/pdf",
        "tamanho": len(content),
        "sha256": b64sha(content),
    }
    ticket = s.measure(
        "POST /processos/{nup}/documentos/externos", "POST", f"{base}/externos", mgi, declared
    ).json()
    put(ticket["envioUnico"]["url"], ticket["envioUnico"]["cabecalhos"], content)  # the client's PUT
    confirmed = s.measure(
        "POST /processos/{nup}/documentos/externos/{envio_id}/confirmacao",
        "POST",
        ticket["confirmacao"],
        mgi,
        note="confirming reads at most the first 4 KiB of the stored file to check its type (here the "
        "whole file, 1,000 bytes)",
    ).json()

    parts = [os.urandom(SMALL) for _ in range(3)]
    whole = b"%PDF-1.7\n" + b"".join(parts)
    parts = [whole[i : i + SMALL] for i in range(0, len(whole), SMALL)]
    big = {
        **declared,
        "nomeArquivo": "grande.pdf",
        "tamanho": len(whole),
        "sha256": b64sha(whole),
        "partes": {"tamanhoParte": SMALL, "sha256": [b64sha(p) for p in parts]},
    }
    answer = s.http("POST", f"{base}/externos", mgi, big)
    if answer.status != 201:
        raise RuntimeError(f"multipart declaration: {answer.status} {answer.body!r}")
    multipart = answer.json()
    for presigned, part in zip(multipart["partes"], parts, strict=True):
        put(presigned["url"], presigned.get("cabecalhos", {}), part)
    done = s.measure(
        "POST /processos/{nup}/documentos/externos/{envio_id}/partes/conclusao",
        "POST",
        multipart["conclusaoPartes"],
        mgi,
    ).json()
    s.http("POST", multipart["confirmacao"], mgi)
    del done
    s.drain()

    s.measure("GET /processos/{nup}/documentos", "GET", base, mgi)
    s.measure(
        "GET /processos/{nup}/documentos/{ordem}/download",
        "GET",
        f"{base}/{confirmed['ordem']}/download",
        mgi,
        note="answers a presigned GET: the bytes go from S3 to the client",
    )
    s.measure(
        "POST /processos/{nup}/documentos/{ordem}/cancelamento",
        "POST",
        f"{base}/{confirmed['ordem']}/cancelamento",
        mgi,
        {"unidade": "1002", "motivo": "Enviado por engano"},
    )
    s.measure("GET /processos/{nup}/historico", "GET", f"/processos/{nup}/historico", mgi)
    s.measure("GET /unidades/{unidade_id}/processos", "GET", "/unidades/1002/processos", mgi)
    p = f"/processos/{nup}"
    s.measure(
        "POST /processos/{nup}/envios",
        "POST",
        f"{p}/envios",
        mgi,
        {"unidadeOrigem": "1002", "unidadesDestino": ["1003"], "manterAberto": True},
    )
    s.measure(
        "POST /processos/{nup}/sobrestamento",
        "POST",
        f"{p}/sobrestamento",
        mgi,
        {"unidade": "1002", "motivo": "Aguardando parecer"},
    )
    s.measure("POST /processos/{nup}/retomada", "POST", f"{p}/retomada", mgi, {"unidade": "1002"})
    s.measure("POST /processos/{nup}/conclusao", "POST", f"{p}/conclusao", mgi, {"unidade": "1003"})
    s.measure("POST /processos/{nup}/reabertura", "POST", f"{p}/reabertura", mgi, {"unidade": "1003"})
    s.measure(
        "POST /processos/{nup}/relacionamentos",
        "POST",
        f"{p}/relacionamentos",
        mgi,
        {"unidade": "1002", "processo": other},
    )
    s.measure(
        "POST /processos/{nup}/anexacao",
        "POST",
        f"/processos/{third}/anexacao",
        mgi,
        {"unidade": "1002", "principal": nup},
    )


def hosted_send(s: Stack) -> None:
    mgi = s.tokens["MGI"]
    new = {
        "unidade": "1002",
        "tipo": "Licitação",
        "especificacao": "Enviado a outro órgão",
        "interessados": [{"nome": "Fulano de Tal"}],
        "nivelAcesso": 1,
    }
    nup = digits(s.http("POST", "/processos", mgi, new).json()["nup"])
    for index in range(2):
        content = pdf(SMALL - 40)
        declared = {
            "unidade": "1002",
            "especie": 999,
            "nivelAcesso": 1,
            "nomeArquivo": f"anexo-{index}.pdf",
            "tipoMidia": "application/pdf",
            "tamanho": len(content),
            "sha256": b64sha(content),
        }
        ticket = s.http("POST", f"/processos/{nup}/documentos/externos", mgi, declared).json()
        put(ticket["envioUnico"]["url"], ticket["envioUnico"]["cabecalhos"], content)
        s.http("POST", ticket["confirmacao"], mgi)
    s.drain()
    s.measure(
        "POST /processos/{nup}/tramites",
        "POST",
        f"/processos/{nup}/tramites",
        s.tokens["MGI"],
        {"unidade": "1002", "destinatarios": [{"repositorio": "1", "estrutura": "2002"}]},
        note="hosted → hosted: the worker imports at the MS and closes the trâmite (legs listed); on moto, "
        "which keeps no SHA-256, custody reads each component to check it, and the manifest is read back",
    )


def manifest(files: list[bytes], nup: str, sender: str, receiver: str) -> dict[str, Any]:
    when = "2026-03-01T10:00:00-03:00"
    producer = {"nome": "Maria Souza", "unidade": "Protocolo"}
    return {
        "cabecalho": {
            "remetente": {"repositorio": "1", "estrutura": sender},
            "destinatario": {"repositorio": "1", "estrutura": receiver},
        },
        "processo": {
            "nup": nup,
            "nivelAcesso": 1,
            "tipo": "Benefício: Revisão",
            "especificacao": "Revisão de aposentadoria",
            "dataProducao": when,
            "dataRegistro": when,
            "produtor": producer,
            "interessados": [{"nome": "João da Silva"}],
        },
        "documentos": [
            {
                "ordem": i + 1,
                "especie": 999,
                "origem": "externo",
                "nivelAcesso": 1,
                "dataProducao": when,
                "dataRegistro": when,
                "produtor": producer,
                "componentes": [
                    {
                        "ordem": 1,
                        "nomeArquivo": f"doc-{i + 1}.pdf",
                        "sha256": b64sha(data),
                        "tamanho": len(data),
                        "tipoMidia": "application/pdf",
                    }
                ],
            }
            for i, data in enumerate(files)
        ],
    }


def bus_nup(sequence: int) -> str:
    from chalicelib.domain.nup import Nup

    return Nup.issue("20001", sequence, 2026).masked


def bus_routes(s: Stack) -> None:
    """The MS's own system sends to the INSS (not hosted: its own system receives through the API)."""
    ms, inss = s.tokens["MS"], s.tokens["INSS"]
    s.measure("GET /barramento/estruturas", "GET", "/barramento/estruturas?sigla=PROTOCOLO", ms)
    s.measure("GET /barramento/estruturas/{estrutura_id}", "GET", "/barramento/estruturas/3002", ms)

    def upload(sent: dict[str, Any], files: list[bytes]) -> None:  # the client's PUTs, straight to S3
        by_hash = {b64sha(f): f for f in files}
        for pending in sent["componentesPendentes"]:
            presigned = pending["envioUnico"]
            put(presigned["url"], presigned["cabecalhos"], by_hash[pending["sha256"]])

    files = [pdf(SMALL - 40), pdf(SMALL - 40)]
    body = manifest(files, bus_nup(900001), "2002", "3002")
    sent = s.measure(
        "POST /barramento/tramites",
        "POST",
        "/barramento/tramites",
        ms,
        body,
        note="the bus stores the manifest content-addressed: the manifest's bytes, not a document's",
    ).json()
    idt = sent["tramites"][0]["idt"]
    t = f"/barramento/tramites/{idt}"
    s.measure("GET /barramento/tramites/{idt}/componentes/pendentes", "GET", f"{t}/componentes/pendentes", ms)
    upload(sent, files)
    s.measure(
        "POST /barramento/tramites/{idt}/componentes/confirmacao",
        "POST",
        f"{t}/componentes/confirmacao",
        ms,
        note="moto keeps no SHA-256, so custody reads each component to check it (on AWS: HeadObject)",
    )
    s.measure("GET /barramento/tramites", "GET", f"/barramento/tramites?idt={idt}", ms)
    s.measure("GET /barramento/pendencias", "GET", "/barramento/pendencias", inss)
    s.measure(
        "GET /barramento/tramites/{idt}",
        "GET",
        t,
        inss,
        note="the manifest is stored content-addressed too: these bytes are the manifest's, not a document's",
    )
    for data in files:
        s.measure(
            "GET /barramento/tramites/{idt}/componentes",
            "GET",
            f"{t}/componentes?sha256={urllib.parse.quote(b64sha(data), safe='')}",
            inss,
            note="answers a presigned GET",
        )
    s.measure("GET /barramento/tramites/{idt}/recibo/declaracao", "GET", f"{t}/recibo/declaracao", inss)
    s.measure("POST /barramento/tramites/{idt}/recibo", "POST", f"{t}/recibo", inss, {})
    s.measure("GET /barramento/tramites/{idt}/recibo", "GET", f"{t}/recibo", ms)

    other = [pdf(SMALL - 40)]
    refused = s.http(
        "POST", "/barramento/tramites", ms, manifest(other, bus_nup(900002), "2002", "3002")
    ).json()
    upload(refused, other)
    idt2 = refused["tramites"][0]["idt"]
    s.http("POST", f"/barramento/tramites/{idt2}/componentes/confirmacao", ms)
    s.drain()
    s.measure(
        "POST /barramento/tramites/{idt}/recusa",
        "POST",
        f"/barramento/tramites/{idt2}/recusa",
        inss,
        {"motivo": "99", "justificativa": "Bench"},
    )
    s.measure("POST /barramento/tramites/{idt}/ciencia", "POST", f"/barramento/tramites/{idt2}/ciencia", ms)
    cancelled = s.http(
        "POST", "/barramento/tramites", ms, manifest([pdf(100)], bus_nup(900003), "2002", "3002")
    )
    idt3 = cancelled.json()["tramites"][0]["idt"]
    s.drain()
    s.measure("DELETE /barramento/tramites/{idt}", "DELETE", f"/barramento/tramites/{idt3}", ms)


def admin_routes(s: Stack) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from chalicelib.domain.credentials import Scope

    mgi = s.tokens["MGI"]
    o = "/orgaos/1001"
    s.measure("GET /orgaos/eu", "GET", "/orgaos/eu", mgi)
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    key = s.measure("POST /orgaos/{orgao_id}/chaves", "POST", f"{o}/chaves", mgi, {"pem": pem}).json()
    s.measure("GET /orgaos/{orgao_id}/chaves", "GET", f"{o}/chaves", mgi)
    s.measure(
        "POST /orgaos/{orgao_id}/chaves/{chave_id}/revogacao",
        "POST",
        f"{o}/chaves/{key['id']}/revogacao",
        mgi,
    )
    s.measure("GET /orgaos/{orgao_id}/clientes", "GET", f"{o}/clientes", mgi)
    spare = s.services.credentials.issue("1001", "Cliente a revogar (bench)", frozenset({Scope.PROCESSOS}))
    s.drain()
    s.measure(
        "POST /orgaos/{orgao_id}/clientes/{cliente_id}/revogacao",
        "POST",
        f"{o}/clientes/{spare.client.id}/revogacao",
        mgi,
        {"motivo": "Bench"},
    )
    s.measure("GET /orgaos/{orgao_id}/publicacao", "GET", f"{o}/publicacao", mgi)
    s.measure(
        "PUT /orgaos/{orgao_id}/publicacao", "PUT", f"{o}/publicacao", mgi, {"publicarRestritos": False}
    )
    s.measure("GET /orgaos/{orgao_id}/recebimento", "GET", f"{o}/recebimento", mgi)
    s.measure("PUT /orgaos/{orgao_id}/recebimento", "PUT", f"{o}/recebimento", mgi, {"especies": None})


def public_routes(s: Stack) -> None:
    from chalicelib.domain.nup import Nup

    nup = digits(s.public_nup)
    s.measure("GET /saude", "GET", "/saude")
    s.measure("GET /openapi.json", "GET", "/openapi.json")
    s.measure("GET /publico/processos/{nup}", "GET", f"/publico/processos/{nup}")
    s.measure("GET /publico/processos", "GET", f"/publico/processos?nup={nup}")
    s.measure("GET /publico/pesquisa", "GET", "/publico/pesquisa?nome=maria")
    s.measure("GET /publico/chaves", "GET", "/publico/chaves")
    code, crc = s.document_codes
    query = f"codigo={urllib.parse.quote(code)}&crc={urllib.parse.quote(crc)}"
    s.measure("GET /publico/documentos/autenticidade", "GET", f"/publico/documentos/autenticidade?{query}")
    s.measure(
        "GET /publico/documentos/conteudo",
        "GET",
        f"/publico/documentos/conteudo?{query}",
        expect=(200, 302, 303, 307),
        note="answers a presigned GET",
    )
    mgi = s.tokens["MGI"]
    created = {
        "unidade": "1002",
        "tipo": "Licitação",
        "especificacao": "Processo acompanhado",
        "interessados": [{"nome": "Fulano de Tal"}],
        "nivelAcesso": 1,
    }
    followed = digits(s.http("POST", "/processos", mgi, created).json()["nup"])
    s.drain()  # published
    before = len(s.sent_mail())
    s.measure(
        "POST /publico/acompanhamentos",
        "POST",
        "/publico/acompanhamentos",
        None,
        {"nup": followed, "email": "cidada@example.com"},
        note="the confirmation e-mail: mail leg",
    )
    message = s.sent_mail()[before:][-1]
    text = next(
        bytes(p.get_payload(decode=True)).decode()
        for p in message.walk()
        if p.get_content_type() == "text/plain"
    )
    found = re.search(r"\?id=([0-9a-f]{32})&token=([\w\-%]+)", text)
    assert found, text
    sid, token = found.group(1), found.group(2)
    s.measure(
        "POST /publico/acompanhamentos/{id}/confirmacao",
        "POST",
        f"/publico/acompanhamentos/{sid}/confirmacao?token={token}",
    )
    record = {
        "nup": Nup.issue("30001", 700001, 2026).masked,
        "nivelAcesso": 1,
        "dataAutuacao": "2026-01-05",
        "tipo": "Requerimento",
        "especificacao": "Pedido de certidão",
        "interessados": [{"nome": "Carla Dias"}],
        "documentos": [{"especie": "Requerimento", "numero": "12", "data": "2026-01-05"}],
        "andamentos": [
            {"id": "a1", "data": "2026-01-05T10:00:00-03:00", "unidade": "PROT", "operacao": "02"}
        ],
    }
    s.measure(
        "POST /protocolo-integrado/registros",
        "POST",
        "/protocolo-integrado/registros",
        s.tokens["INSS"],
        {"registros": [record]},
        note="an outside agency's record: projection leg",
    )
    s.measure(
        "POST /processos/{nup}/envios",
        "POST",
        f"/processos/{followed}/envios",
        mgi,
        {"unidadeOrigem": "1002", "unidadesDestino": ["1003"], "manterAberto": True},
        note="a movement of a followed process: projection and the digest e-mail",
    )
    mails = [m for m in s.sent_mail() if "cidada@example.com" in str(m.get("To", ""))]
    unsubscribe = str(mails[-1].get("List-Unsubscribe", ""))
    link = re.search(r"id=([0-9a-f]{32})&token=([\w\-%]+)", unsubscribe) or re.search(
        r"acompanhamentos/([0-9a-f]{32})/cancelamento\?token=([\w\-%]+)", unsubscribe
    )
    if link is None:
        subjects = [str(m.get("Subject", "")) for m in mails]
        raise RuntimeError(f"no unsubscribe link in the last of the e-mails to the follower: {subjects}")
    s.measure(
        "POST /publico/acompanhamentos/{id}/cancelamento",
        "POST",
        f"/publico/acompanhamentos/{link.group(1)}/cancelamento?token={link.group(2)}",
    )


def asynchronous_only(s: Stack) -> None:
    from infra.local.state import STAGE
    from infra.resources import STACK

    def bounce() -> None:
        queue = STACK.name(
            STAGE, next(q.suffix for q in STACK.queues if q.logical_id == STACK.mail.events_queue)
        )
        event = {
            "eventType": "Bounce",
            "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "x@example.com"}]},
        }
        envelope = {"Type": "Notification", "Message": json.dumps(event)}
        s.sqs.send_message(
            QueueUrl=s.sqs.get_queue_url(QueueName=queue)["QueueUrl"], MessageBody=json.dumps(envelope)
        )

    s.leg("SES bounce → mail events queue", bounce, note="one permanent bounce; the address suppressed")
    s.leg(
        "schedule: cancel_stalled_tramites",
        lambda: s.worker.run_schedule("cancel_stalled_tramites"),
        note="every 15 min; nothing stuck here: the cost of looking",
    )


def openapi_routes() -> list[str]:
    spec = json.loads(OPENAPI.read_text(encoding="utf-8"))
    methods = ("get", "post", "put", "patch", "delete")
    return sorted(f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops if m in methods)


def run() -> dict[str, Any]:
    stack = Stack()
    groups = {
        "processes": processes_routes,
        "hosted": hosted_send,
        "bus": bus_routes,
        "admin": admin_routes,
        "public": public_routes,
        "asynchronous": asynchronous_only,
    }
    chosen = [a for a in sys.argv[1:] if a in groups] or list(groups)  # a few groups: a quicker try
    with stack.running() as s:
        for name in chosen:
            groups[name](s)
    if len(chosen) < len(groups):
        return {"machine": machine.info(runs=1), "rows": stack.rows, "partial": chosen}
    missing = sorted(set(openapi_routes()) - {r["route"] for r in stack.rows})
    if missing:
        raise RuntimeError(f"routes with no measured row: {missing}")
    report: dict[str, Any] = {"machine": machine.info(runs=1), "rows": stack.rows}
    report["figure"] = plot(report)
    return report


def main() -> None:
    import faulthandler
    import signal

    from tests import servers

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>`: where a stuck run is
    servers.fake_aws_environment()
    if "--render" in sys.argv:  # the section and the figure again, from the recorded numbers
        report = json.loads((RESULTS / "routes.json").read_text(encoding="utf-8"))
        report["figure"] = plot(report)
    else:
        report = run()
        if "partial" in report:
            print(json.dumps(report, indent=1, ensure_ascii=False)[:3000])
            return
    record.save_json("routes", report)
    text = render(report)
    (RESULTS / "routes.md").write_text(text, encoding="utf-8")
    print(text)


def _calls(usage: dict[str, Any]) -> str:
    return ", ".join(f"{k} ×{v}" for k, v in usage["calls"].items()) or "none"


def _sum(usages: dict[str, dict[str, Any]], key: str) -> int:
    return sum(int(u[key]) for u in usages.values())


def _units(usages: dict[str, dict[str, Any]]) -> str:
    if not any(u["calls"] for u in usages.values()):
        return "—"
    dynamo = sum(u["by_service"].get("DynamoDB", 0) for u in usages.values())
    if not dynamo:
        return "—"
    reported = [u for u in usages.values() if u["dynamodb_read_units"] is not None]
    if not reported:
        return "not reported"
    read = sum(u["dynamodb_read_units"] for u in reported)
    write = sum(u["dynamodb_write_units"] for u in reported)
    counted = sum(int(u["capacity_reported_by"].split("/")[0]) for u in usages.values())
    partial = f" ({counted} of {dynamo} calls reported)" if counted < dynamo else ""
    return f"{read:g} / {write:g}{partial}"


def content_bytes(row: dict[str, Any]) -> int:
    """Content-addressed object bytes our functions read or wrote for this operation, all legs."""
    usages = [*row["functions"].values(), *row["asynchronous"].values()]
    return sum(u["content_bytes_read"] + u["content_bytes_written"] for u in usages)


def plot(report: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    FIGURES.mkdir(parents=True, exist_ok=True)
    rows = [r for r in report["rows"] if r["status"] is not None]
    rows.sort(key=lambda r: r["route"])
    colors = {"DynamoDB": "#1351b4", "S3": "#168821", "SQS": "#ffcd07", "SES": "#e52207", "KMS": "#8d5ac6"}
    fig, axis = plt.subplots(figsize=(9, 0.22 * len(rows) + 1.2))
    labels = [r["route"] for r in rows]
    left = [0] * len(rows)
    for service, color in colors.items():
        values = [sum(u["by_service"].get(service, 0) for u in r["functions"].values()) for r in rows]
        axis.barh(labels, values, left=left, color=color, label=service)
        left = [a + b for a, b in zip(left, values, strict=True)]
    axis.invert_yaxis()
    axis.tick_params(axis="y", labelsize=6)
    axis.set_xlabel("AWS calls made by the API function (and its authorizer) for one request")
    axis.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    name = "routes-aws-calls.png"
    fig.savefig(FIGURES / name, dpi=110)
    plt.close(fig)
    return name


def render(report: dict[str, Any]) -> str:
    rows = report["rows"]
    routes = [r for r in rows if r["status"] is not None]
    lines = [
        "# AWS calls per operation",
        "",
        f"{machine.describe(report['machine'])}; every route of docs/openapi.json, on the local stack's "
        "parts in one process (moto server, the API over loopback, the worker drained by hand after each",
        "request).",
        "Calls are counted per Lambda function by the local stack's call audit and a botocore wrapper, in",
        "one pass, as in a warm container: the registry keeps the units it looked up for the whole run",
        f"(`PEN_ESTRUTURAS_CACHE_SEGUNDOS`={REGISTRY_CACHE_SECONDS}; 60 s by default), so every run makes",
        "the same calls however long it takes; a container's first check against a unit adds one GetItem.",
        "DynamoDB units are what moto answers to ReturnConsumedCapacity=TOTAL (asked on every DynamoDB",
        "call by the bench):",
        "its own fixed figures (0.5 a read, 1 a write per item), not DynamoDB's item-size arithmetic;",
        "moto reports none for TransactWriteItems (each row says how many of its calls were reported).",
        "",
        "**Content through Lambda** counts the bytes of content-addressed objects (`sha256/…`, the",
        "documents' bytes) our functions read from or wrote to S3 for the operation, all legs included.",
        "Uploads and downloads are presigned: the client's PUT/GET goes straight to S3 and is not ours.",
        "Where it is not zero, the note says why.",
        "",
        "| route | status | API calls | DynamoDB | S3 | SQS | SES | KMS | RCU / WCU (moto) | content through "
        "Lambda, bytes | asynchronous legs it started (function: calls) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in routes:
        api = row["functions"]
        by = Counter[str]()
        for usage in api.values():
            by.update(usage["by_service"])
        legs = "; ".join(f"{name}: {u['total']}" for name, u in row["asynchronous"].items()) or "—"
        lines.append(
            f"| `{row['route']}` | {row['status']} | {sum(u['total'] for u in api.values())} | "
            + " | ".join(str(by.get(s, 0)) for s in SERVICES)
            + f" | {_units(api)} | {content_bytes(row):,} | {legs} |"
        )
    lines += [
        "",
        f"![AWS calls per route](performance/{report['figure']})",
        "",
        "Notes on the rows:",
        "",
    ]
    for row in routes:
        if row["note"]:
            lines.append(f"- `{row['route']}`: {row['note']}.")
    lines += [
        "",
        "## Asynchronous legs",
        "",
        "Each Lambda function run by an event source (stream, queue, schedule) while the operation's",
        "effects settled, with its calls. The last two rows are started by an SES event and the schedule.",
        "",
        "| started by | function | calls | RCU / WCU (moto) | content bytes read / written | which |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        for name, usage in row["asynchronous"].items():
            lines.append(
                f"| `{row['route']}` | {name} | {usage['total']} | {_units({name: usage})} | "
                f"{usage['content_bytes_read']:,} / {usage['content_bytes_written']:,} | {_calls(usage)} |"
            )
    lines += [
        "",
        "## Calls of each API request, in detail",
        "",
    ]
    for row in routes:
        detail = "; ".join(f"{name}: {_calls(u)}" for name, u in row["functions"].items()) or "none"
        lines.append(f"- `{row['route']}`: {detail}")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
