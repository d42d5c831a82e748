"""Processes pillar benchmarks: AWS calls per operation, and NUP issuing under concurrency.

    .venv/bin/python -m bench.processes            (make bench)

AWS calls are counted on a moto server (counts do not depend on the engine); the concurrency run
uses Amazon's DynamoDB Local, whose transactions are isolated like DynamoDB's (moto's are not).
Results go to bench/results/processes.json and .md. Latencies here are of local emulators on a
2-core machine: compare them between versions, never with Lambda.
"""

from __future__ import annotations

import base64
import hashlib
import statistics
import threading
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import counting, machine, record

counting.install()

from chalicelib import bootstrap  # noqa: E402 - after the hook, so every session is counted
from chalicelib.config import ENV_ENDPOINT, Settings  # noqa: E402
from chalicelib.domain.documents import Declaration  # noqa: E402
from chalicelib.domain.processes import AccessLevel, Interested, Metadata  # noqa: E402
from chalicelib.domain.structures import Structure  # noqa: E402
from chalicelib.services.documents import DocumentInput  # noqa: E402
from chalicelib.services.processes import Actor  # noqa: E402
from chalicelib.services.signatures import SignRequest  # noqa: E402
from infra.local.resources import create_resources  # noqa: E402
from infra.resources import STACK  # noqa: E402
from tests import servers  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
METADATA = Metadata(
    "Licitação", "Aquisição de computadores", (Interested("Fulano de Tal"),), AccessLevel.PUBLICO
)
CREATIONS = 1000
THREADS = 8


def _services(endpoint: str, tables_only: bool = False) -> bootstrap.Services:
    stage = f"b{uuid.uuid4().hex[:8]}"
    env = {**STACK.environment(stage), ENV_ENDPOINT: endpoint, "AWS_REGION": servers.REGION}
    if tables_only:
        servers.create_tables(endpoint, stage)
    else:
        env.update(create_resources(endpoint, stage, servers.REGION))
    services = bootstrap.build(Settings.from_env(env))
    services.registry.save(Structure(id="100", name="Ministério", acronym="MS", agency_id=""))
    services.registry.save(
        Structure(
            id="101", name="Protocolo", acronym="PROT", agency_id="", parent_id="100", protocol_code="25000"
        )
    )
    services.registry.save(Structure(id="102", name="Divisão", acronym="DIV", agency_id="", parent_id="101"))
    return services


def aws_calls(endpoint: str) -> dict[str, Any]:
    services = _services(endpoint)
    processes = services.processes
    actor = Actor("100", "bench")
    processes.create(actor, "101", METADATA)  # warm caches: the registry, clients
    results: dict[str, Any] = {}

    def measure(name: str, operation: Any) -> Any:
        with counting.counting() as calls:
            value = operation()
        results[name] = {"total": sum(calls.values()), "calls": dict(sorted(calls.items()))}
        return value

    process = measure("create process", lambda: processes.create(actor, "101", METADATA))
    measure("read process", lambda: processes.get("100", process.nup))
    measure("send to a unit", lambda: processes.send(actor, process.nup, from_unit="101", to_units=["102"],
                                                     keep_open=True, return_by=None))  # fmt: skip
    measure("conclude in a unit", lambda: processes.conclude(actor, process.nup, "102"))
    measure("history page + verification", lambda: processes.history("100", process.nup, None, 50))

    # Documents: the bytes go to S3 with the presigned URL (counted apart: the client's call, not ours).
    content = b"%PDF-1.4\n% bench\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    declaration = Declaration(
        sha256=base64.b64encode(hashlib.sha256(content).digest()).decode(),
        size=len(content),
        media_type="application/pdf",
        file_name="bench.pdf",
    )
    data = DocumentInput(unit_id="101", kind=999, access_level=AccessLevel.PUBLICO)
    ticket = measure(
        "start an upload", lambda: services.documents.start_upload(actor, process.nup, data, declaration)
    )
    assert ticket.single is not None
    upload = urllib.request.Request(
        ticket.single.url, data=content, method="PUT", headers=ticket.single.headers
    )
    with urllib.request.urlopen(upload) as response:
        response.read()
    document = measure(
        "confirm an upload", lambda: services.documents.confirm(actor, process.nup, ticket.upload.id)
    )
    measure(
        "sign a document",
        lambda: services.signatures.sign(
            actor, process.nup, document.order, SignRequest("101", "Ana", "Pregoeira")
        ),
    )
    measure("read process with its documents", lambda: processes.get("100", process.nup))
    return results


def concurrent_creations(endpoint: str) -> dict[str, Any]:
    processes = _services(endpoint, tables_only=True).processes
    numbers: list[int] = []
    latencies: list[float] = []
    lock = threading.Lock()
    per_thread = CREATIONS // THREADS

    failures: list[str] = []

    def work() -> None:
        for _ in range(per_thread):
            started = time.perf_counter()
            try:
                process = processes.create(Actor("100", "bench"), "101", METADATA)
            except Exception as error:
                with lock:
                    failures.append(f"{type(error).__name__}: {error}")
                continue
            elapsed = time.perf_counter() - started
            with lock:
                numbers.append(int(process.nup[5:11]))
                latencies.append(elapsed)

    with counting.counting() as calls:
        started = time.perf_counter()
        threads = [threading.Thread(target=work) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
    consecutive = sorted(numbers) == list(range(1, len(numbers) + 1))
    latencies.sort()
    return {
        "creations": len(numbers),
        "failed": len(failures),
        "failures": sorted(set(failures)),
        "threads": THREADS,
        "distinct": len(set(numbers)),
        "consecutive_from_1": consecutive,
        "wall_seconds": round(wall, 2),
        "latency_ms": {
            "p50": round(statistics.median(latencies) * 1000, 1),
            "p95": round(latencies[int(len(latencies) * 0.95)] * 1000, 1),
            "max": round(latencies[-1] * 1000, 1),
        },
        "dynamodb_calls": dict(sorted(calls.items())),
        "calls_per_creation": round(sum(calls.values()) / max(len(numbers), 1), 2),
    }


def main() -> None:
    servers.fake_aws_environment()
    with servers.moto_server() as endpoint:
        calls = aws_calls(endpoint)
    with servers.dynamodb_local() as endpoint:
        concurrency = concurrent_creations(endpoint)
    report = {
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{machine.line()}; AWS calls from one pass (counts "
        f"are deterministic), the concurrency run once ({CREATIONS} creations, percentiles over them)",
        "aws_calls_per_operation": calls,
        "nup_sequence_under_concurrency": concurrency,
    }
    record.save_json("processes", report)
    lines = [
        "# Processes pillar: recorded results",
        "",
        f"Recorded {report['recorded_at']} on {report['machine']}.",
        "",
        "| operation | AWS calls | which |",
        "| --- | --- | --- |",
    ]
    for name, result in calls.items():
        which = ", ".join(f"{k} ×{v}" for k, v in result["calls"].items())
        lines.append(f"| {name} | {result['total']} | {which} |")
    c = concurrency
    latency = c["latency_ms"]
    lines += [
        "",
        f"{c['creations']} creations ({c['failed']} failed) from {c['threads']} threads on one unit "
        "(DynamoDB Local): "
        f"{c['distinct']} distinct numbers, consecutive from 1: {c['consecutive_from_1']}; "
        f"{c['wall_seconds']} s; latency p50 {latency['p50']} ms, p95 {latency['p95']} ms; "
        f"{c['calls_per_creation']} DynamoDB calls per creation (retries on contention included).",
        "",
        "Notes. Reading a process with its documents is one Query. Creating one is a GetItem of the unit's",
        "sequence plus one transaction (the unit lookups are cached per container). Confirming an upload",
        "reads the pending upload and the process, checks the object (HeadObject, and a 4 KiB ranged GET",
        "to sniff its type), and writes one transaction. Document bytes never pass through the API: the",
        "client PUTs them to S3 with the presigned URL (not counted above: it is the client's call).",
        "",
    ]
    (RESULTS / "processes.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
