"""Bus benchmarks: AWS calls per operation of a whole trâmite, for a process with 1 and with 10
documents (the state changes must not cost more with more documents, apart from reading the
manifest's component list), the bytes of component content our code reads, and the wall time of
the lifecycle on the moto server.

    .venv/bin/python -m bench.bus            (make bench)

Component bytes go between the client and S3 through presigned URLs (the client's calls, made
outside the counted blocks). Results go to bench/results/bus.json and .md. Latencies are of a local
emulator on a 2-core machine: compare them between versions, never with Lambda.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import time
import urllib.request
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import counting, machine, record

counting.install()

import botocore.session  # noqa: E402

from chalicelib import bootstrap  # noqa: E402 - after the hook, so every session is counted
from chalicelib.config import ENV_ENDPOINT, Settings  # noqa: E402
from chalicelib.domain.bus import (  # noqa: E402
    Address,
    Header,
    Interested,
    Manifest,
    ManifestComponent,
    ManifestDocument,
    ManifestProcess,
    Producer,
)
from chalicelib.domain.credentials import Caller, Scope  # noqa: E402
from chalicelib.domain.documents import Declaration, Origin  # noqa: E402
from chalicelib.domain.nup import check_digits_17  # noqa: E402
from chalicelib.domain.processes import AccessLevel, Metadata  # noqa: E402
from chalicelib.domain.processes import Interested as ProcessInterested  # noqa: E402
from chalicelib.domain.structures import Structure  # noqa: E402
from chalicelib.services.documents import DocumentInput  # noqa: E402
from chalicelib.services.processes import Actor as ProcessActor  # noqa: E402
from infra.local.resources import create_resources  # noqa: E402
from infra.resources import STACK  # noqa: E402
from tests import servers  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SENDER = Caller("200", "bench-inss", frozenset({Scope.BARRAMENTO}))
RECEIVER = Caller("100", "bench-ms", frozenset({Scope.BARRAMENTO}))
WHEN = datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
FILE_SIZE = 64 * 1024
METADATA = Metadata(
    "Licitação", "Aquisição de computadores", (ProcessInterested("Fulano de Tal"),), AccessLevel.PUBLICO
)

_component_bytes: Counter[str] = Counter()


def _note_key(**kwargs: Any) -> None:
    kwargs["context"]["bench_path"] = str(kwargs["params"].get("url_path", ""))


def _count_component_reads(parsed: Any = None, context: Any = None, **_: Any) -> None:
    """Bytes of GetObject answers on component keys ("sha256/<hex>": the content itself, which the
    bus must not read; manifests and per-trâmite records are JSON under other keys)."""
    path = (context or {}).get("bench_path", "")
    if "/sha256/" in path and isinstance(parsed, dict):
        _component_bytes["GetObject"] += int(parsed.get("ContentLength") or 0)


def _services(endpoint: str) -> bootstrap.Services:
    stage = f"b{uuid.uuid4().hex[:8]}"
    env = {**STACK.environment(stage), ENV_ENDPOINT: endpoint, "AWS_REGION": servers.REGION}
    env.update(create_resources(endpoint, stage, servers.REGION))
    services = bootstrap.build(Settings.from_env(env))
    registry = services.registry
    registry.save(Structure(id="100", name="Ministério da Saúde", acronym="MS", agency_id=""))
    registry.save(
        Structure(id="200", name="Instituto Nacional do Seguro Social", acronym="INSS", agency_id="")
    )
    registry.save(Structure(id="101", name="Protocolo", acronym="PROT", agency_id="", parent_id="100",
                            protocol_code="25000"))  # fmt: skip
    registry.save(Structure(id="400", name="Ministério da Gestão", acronym="MGI", agency_id=""))
    registry.save(Structure(id="401", name="Protocolo do MGI", acronym="PROTOCOLO/MGI", agency_id="",
                            parent_id="400", protocol_code="40000"))  # fmt: skip
    for agency in ("100", "400"):
        services.hosted.set_hosted(agency, True)
    return services


def _manifest(files: list[bytes], nup: str) -> Manifest:
    producer = Producer("Maria Souza", "Protocolo do INSS")
    documents = tuple(
        ManifestDocument(
            order=index + 1,
            kind=999,
            origin=Origin.EXTERNO,
            access_level=1,
            legal_basis=None,
            produced_at=WHEN,
            registered_at=WHEN,
            producer=producer,
            components=(
                ManifestComponent(
                    order=1,
                    name=f"documento-{index + 1}.pdf",
                    sha256=_b64(data),
                    size=len(data),
                    media_type="application/pdf",
                    signatures=(),
                ),
            ),
        )
        for index, data in enumerate(files)
    )
    return Manifest(
        header=Header(Address("1", "200"), Address("1", "101"), None, False, None),
        process=ManifestProcess(
            nup=nup,
            access_level=1,
            legal_basis=None,
            process_type="Benefício: Revisão",
            specification="Revisão de aposentadoria",
            produced_at=WHEN,
            registered_at=WHEN,
            producer=producer,
            interested=(Interested("João da Silva", None),),
            related=(),
            history=(),
        ),
        documents=documents,
    )


def _nup(sequence: int) -> str:
    first15 = f"23037{sequence:06d}2026"
    return first15 + check_digits_17(first15)


def _b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _put(url: str, headers: dict[str, str], data: bytes) -> None:
    request = urllib.request.Request(url, data=data, method="PUT", headers=headers)
    with urllib.request.urlopen(request) as response:
        response.read()


def _measure(results: dict[str, Any], name: str, operation: Any) -> Any:
    """Runs `operation`, recording under `name` its AWS calls and the content-addressed bytes it read."""
    _component_bytes.clear()
    with counting.counting() as calls:
        value = operation()
    results[name] = {
        "total": sum(calls.values()),
        "dynamodb": sum(v for k, v in calls.items() if k.startswith("DynamoDB.")),
        "calls": dict(sorted(calls.items())),
        "component_bytes_read": _component_bytes["GetObject"],
    }
    return value


def lifecycle(services: bootstrap.Services, documents: int, nup: str) -> dict[str, Any]:
    bus = services.bus
    files = [b"%PDF-1.7\n" + os.urandom(FILE_SIZE) + b"\n%%EOF\n" for _ in range(documents)]
    manifest = _manifest(files, nup)
    results: dict[str, Any] = {}
    measure = functools.partial(_measure, results)

    started = time.perf_counter()
    sent = measure("send (manifest, components requested)", lambda: bus.send(SENDER, manifest))
    [tramite] = sent.tramites
    for item in sent.uploads:  # the client's uploads, straight to S3: not counted
        _put(
            item.upload.url, item.upload.headers, files[[_b64(f) for f in files].index(item.component.sha256)]
        )
    idt = tramite.idt
    measure("confirm custody (state 2, recibo de envio)", lambda: bus.confirm_components(SENDER, idt))
    measure("pendências (receiver)", lambda: bus.pendencies(RECEIVER))
    measure("read metadata (state 3)", lambda: bus.get(RECEIVER, idt))
    for index, data in enumerate(files):
        name = "download a component" if index < len(files) - 1 else "download the last component (state 4)"
        measure(name, lambda data=data: bus.download(RECEIVER, idt, _b64(data)))
    measure("send recibo de conclusão (state 5)", lambda: bus.conclude(RECEIVER, idt))
    measure("fetch recibo (state 6)", lambda: bus.receipt(SENDER, idt))
    elapsed = time.perf_counter() - started
    return {"documents": documents, "wall_seconds": round(elapsed, 3), "operations": results}


def hosted_to_hosted(services: bootstrap.Services, documents: int) -> dict[str, Any]:
    """A process of hosted agency 100 with `documents` external PDFs, sent to hosted agency 400 from the
    processes service, imported and closed by the worker: send to state 6, step by step."""
    actor = ProcessActor("100", "bench")
    process = services.processes.create(actor, "101", METADATA)
    for index in range(documents):
        content = b"%PDF-1.7\n" + os.urandom(FILE_SIZE) + b"\n%%EOF\n"
        declaration = Declaration(_b64(content), len(content), "application/pdf", f"anexo-{index + 1}.pdf")
        data = DocumentInput(unit_id="101", kind=999, access_level=AccessLevel.PUBLICO)
        ticket = services.documents.start_upload(actor, process.nup, data, declaration)
        assert ticket.single is not None
        _put(ticket.single.url, ticket.single.headers, content)
        services.documents.confirm(actor, process.nup, ticket.upload.id)
    results: dict[str, Any] = {}
    measure = functools.partial(_measure, results)

    started = time.perf_counter()
    [tramite] = measure(
        "send from the processes service (state 2)",
        lambda: services.hosted.send(actor, process.nup, "101", [Address("1", "401")]),
    )
    measure("worker: import at the receiver, recibo (state 5)", lambda: services.hosted.handle(tramite.idt))
    measure("worker: recibo fetched, sender concluded (state 6)", lambda: services.hosted.handle(tramite.idt))
    elapsed = time.perf_counter() - started
    assert services.bus.tramite(tramite.idt).state == 6
    return {"documents": documents, "wall_seconds": round(elapsed, 3), "operations": results}


def _http(
    method: str, url: str, token: str | None = None, body: Any = None, headers: dict[str, str] | None = None
) -> Any:
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=sent)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def on_the_local_stack(documents: int) -> dict[str, Any]:
    """The same hosted-to-hosted trâmite through `make run`'s stack (HTTP, the worker's queue and stream
    polling included): the MGI sends a process with `documents` PDFs to the MS; time from the send
    request until the trâmite is in state 6."""
    import tempfile

    from tests.e2e.test_local_stack import start_stack

    with tempfile.TemporaryDirectory() as folder:
        stack = start_stack(Path(folder))
        try:
            base = stack.api_url
            mgi = next(c["token"] for c in stack.credentials() if c["sigla"] == "MGI")
            who = {"X-Usuario": "bench"}
            body = {"unidade": "1002", "tipo": "Licitação", "especificacao": "Bench do barramento",
                    "interessados": [{"nome": "Fulano de Tal"}], "nivelAcesso": 1}  # fmt: skip
            nup = "".join(c for c in _http("POST", f"{base}/processos", mgi, body, who)["nup"] if c.isdigit())
            for index in range(documents):
                content = b"%PDF-1.7\n" + os.urandom(FILE_SIZE) + b"\n%%EOF\n"
                declared = {
                    "unidade": "1002",
                    "especie": 999,
                    "nivelAcesso": 1,
                    "nomeArquivo": f"anexo-{index + 1}.pdf",
                    "tipoMidia": "application/pdf",
                    "tamanho": len(content),
                    "sha256": _b64(content),
                }
                ticket = _http("POST", f"{base}/processos/{nup}/documentos/externos", mgi, declared, who)
                _put(ticket["envioUnico"]["url"], ticket["envioUnico"]["cabecalhos"], content)
                _http("POST", f"{base}{ticket['confirmacao']}", mgi, None, who)
            send = {"unidade": "1002", "destinatarios": [{"repositorio": "1", "estrutura": "2002"}]}
            started = time.perf_counter()
            [tramite] = _http("POST", f"{base}/processos/{nup}/tramites", mgi, send, who)["tramites"]
            sent = time.perf_counter() - started
            state = tramite["estado"]
            while state != 6 and time.perf_counter() - started < 60:
                time.sleep(0.05)
                found = _http("GET", f"{base}/barramento/tramites?idt={tramite['idt']}", mgi)["itens"]
                state = found[0]["estado"]
            return {
                "documents": documents,
                "send_request_seconds": round(sent, 3),
                "send_to_state_6_seconds": round(time.perf_counter() - started, 3),
                "final_state": state,
            }
        finally:
            stack.stop()


def main() -> None:
    servers.fake_aws_environment()
    original = botocore.session.Session.__init__

    def init(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.register("before-call.s3.GetObject", _note_key)
        self.register("after-call.s3.GetObject", _count_component_reads)

    botocore.session.Session.__init__ = init  # type: ignore[method-assign]
    with servers.moto_server() as endpoint:
        services = _services(endpoint)
        lifecycle(services, 1, _nup(1))  # warm-up: registry cache, clients, KMS key
        runs = [lifecycle(services, 1, _nup(2)), lifecycle(services, 10, _nup(3))]
        hosted_to_hosted(services, 1)  # warm-up of the hosted path
        hosted = [hosted_to_hosted(services, 1), hosted_to_hosted(services, 10)]
    local = on_the_local_stack(10)
    report = {
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{machine.line()}; one measured pass per size after a "
        "warm-up (call counts are deterministic; times are of that pass, bench/loopback.py quotes medians)",
        "engine": (
            "moto server (S3 keeps no SHA-256 there, so custody reads whole objects; on AWS it does not)"
        ),
        "runs": runs,
        "hosted_to_hosted": hosted,
        "hosted_to_hosted_on_the_local_stack": local,
    }
    record.save_json("bus", report)
    lines = [
        "# Bus: recorded results",
        "",
        f"Recorded {report['recorded_at']} on {report['machine']}, {report['engine']}.",
        "",
        "AWS calls per operation of one trâmite (bus API client → bus), for a process with 1 and with 10",
        "documents of 64 KiB. `DynamoDB` is the DynamoDB share of the total. The last column counts the",
        "bytes our code read from content-addressed objects (components, and the manifest, stored the",
        "same way).",
        "",
        "| operation | 1 doc: total | 1 doc: DynamoDB | 10 docs: total | 10 docs: DynamoDB "
        "| content-addressed bytes read (10 docs) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    one, ten = runs
    for name, result in ten["operations"].items():
        small = one["operations"].get(name, {"total": "-", "dynamodb": "-"})
        lines.append(
            f"| {name} | {small['total']} | {small['dynamodb']} | {result['total']} | {result['dynamodb']} | "
            f"{result['component_bytes_read']} |"
        )
    lines += [
        "",
        f"Whole lifecycle, send to state 6, on the moto server: {one['wall_seconds']} s with 1 document, "
        f"{ten['wall_seconds']} s with 10 (the client's uploads included).",
        "",
        "Calls by operation (10 documents):",
        "",
    ]
    for name, result in ten["operations"].items():
        lines.append(f"- {name}: " + ", ".join(f"{k} ×{v}" for k, v in result["calls"].items()))
    one, ten = hosted
    lines += [
        "",
        "## Hosted to hosted",
        "",
        "A process of a hosted agency with 1 and with 10 documents of 64 KiB, sent from the processes",
        "service to another hosted agency; the worker's two deliveries (import + recibo; receipt fetched,",
        "sender concluded) called directly, as the queue would.",
        "",
        "| step | 1 doc: total | 1 doc: DynamoDB | 10 docs: total | 10 docs: DynamoDB "
        "| content-addressed bytes read (10 docs) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, result in ten["operations"].items():
        small = one["operations"][name]
        lines.append(
            f"| {name} | {small['total']} | {small['dynamodb']} | {result['total']} | {result['dynamodb']} | "
            f"{result['component_bytes_read']} |"
        )
    lines += [
        "",
        f"Send to state 6 on the moto server: {one['wall_seconds']} s with 1 document, "
        f"{ten['wall_seconds']} s with 10 (no HTTP, no queue latency: the local stack's worker adds its "
        "polling interval per leg).",
        "",
        "Calls by step (10 documents):",
        "",
    ]
    for name, result in ten["operations"].items():
        lines.append(f"- {name}: " + ", ".join(f"{k} ×{v}" for k, v in result["calls"].items()))
    lines += [
        "",
        "On the local stack (`make run`: HTTP, the trâmites stream and the bus queue polled by the worker),",
        f"MGI -> MS with {local['documents']} documents: the send request took "
        f"{local['send_request_seconds']} s, and the trâmite reached state {local['final_state']} "
        f"{local['send_to_state_6_seconds']} s after the send began (most of it the worker's polling of the "
        "stream and the queue).",
    ]
    (RESULTS / "bus.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
