"""Scale: the public lookup, a unit's inbox, an internal send and two trâmite state changes, with
1,000, 10,000 and 100,000 processes in Amazon's DynamoDB Local. The AWS calls of each operation must
not change with the number of records (the bench fails loudly if they do); the latency is plotted
against it.

    .venv/bin/python -m bench.scale            (make bench)
    PEN_BENCH_SCALE=1000,10000 .venv/bin/python -m bench.scale      (smaller sizes)

Every process is loaded as the app writes it: the service builds it (`Processes.create`, through
a repository that collects the items of its transaction instead of sending them), the public record
and its name item come from the tracking store's `to_item`, a trâmite from the domain's moves and
the bus store's `to_item`; the items' own PynamoDB serialization goes to BatchWriteItem. Per
process: the process, its first history entry, its open unit (all in the inbox of one unit, the
worst case for the listing), its public record with one name item, and one trâmite of it to
another agency (9 in 10 closed; 1 in 10 open in state 2, with its NRE guard and the process locked).

The operations are measured through the HTTP routes (chalice's test client: routing, auth,
validation, the handler and the store), with tokens of two agencies. Results go to
bench/results/scale.json and .md, and docs/performance/scale-latency.png. Latencies are of DynamoDB
Local on this machine: compare them between sizes and versions, never with AWS.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import counting, machine, record

counting.install()
# The request log line of every call would be timed too: only warnings here.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import boto3  # noqa: E402
from chalice.test import Client  # noqa: E402
from pynamodb.connection import Connection  # noqa: E402
from pynamodb.models import Model  # noqa: E402

from chalicelib import bootstrap  # noqa: E402 - after the hook, so every session is counted
from chalicelib.config import ENV_ENDPOINT, Settings  # noqa: E402
from chalicelib.domain.bus import Address, Refusal, RefusalReason  # noqa: E402
from chalicelib.domain.bus.addresses import Actor as BusActor  # noqa: E402
from chalicelib.domain.bus.tramites import (  # noqa: E402
    Tramite,
    acknowledge_refusal,
    cancel,
    complete_upload,
    refuse,
    start,
)
from chalicelib.domain.credentials import (  # noqa: E402
    ApiClient,
    Scope,
    format_token,
    hash_secret,
    new_client_id,
    new_secret,
)
from chalicelib.domain.processes import AccessLevel, Interested, Metadata, Process  # noqa: E402
from chalicelib.domain.structures import Structure  # noqa: E402
from chalicelib.domain.tracking import (  # noqa: E402
    Agency,
    PublicInterested,
    PublicMovement,
    PublicPart,
    PublicRecord,
    Source,
)
from chalicelib.services.ports import ProcessWrite  # noqa: E402
from chalicelib.services.processes import Actor, Processes  # noqa: E402
from chalicelib.store.clients import DynamoClientRepository  # noqa: E402
from chalicelib.store.models import HistoryItem, OpenTramiteGuard, ProcessItem, SequenceItem  # noqa: E402
from chalicelib.store.processes import META, DynamoProcessRepository, _sequence_pk  # noqa: E402
from chalicelib.store.tracking import to_item as public_item  # noqa: E402
from chalicelib.store.tramites import _guard_pk  # noqa: E402
from chalicelib.store.tramites import to_item as tramite_item  # noqa: E402
from infra.resources import STACK  # noqa: E402
from tests import servers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PLOTS = ROOT / "docs" / "performance"
SIZES = tuple(int(n) for n in os.environ.get("PEN_BENCH_SCALE", "1000,10000,100000").split(","))
RUNS = int(os.environ.get("PEN_BENCH_SCALE_RUNS", "40"))  # latency samples per operation and size
WARMUP = 3  # unmeasured calls of each operation first
LOADERS = 4  # threads sending batches (DynamoDB Local takes them in parallel)
OPEN_EVERY = 10  # 1 trâmite in 10 is open (state 2); the others are closed (7 or 9)
AGENCY, PROTOCOL, DIVISION = "100", "101", "102"
OTHER_AGENCY, OTHER_UNIT = "200", "201"
PROTOCOL_CODE = "25000"
YEAR_START = datetime(2026, 2, 2, 12, 0, tzinfo=UTC)
TYPES = ("Licitação: Pregão Eletrônico", "Acesso à Informação: Demanda do e-SIC", "Pessoal: Aposentadoria",
         "Contrato: Execução", "Convênio: Prestação de Contas")  # fmt: skip
NAMES = ("Maria Silva", "José Santos", "Ana Oliveira", "João Souza", "Carlos Lima", "Lúcia Alves")


# --- loading ----------------------------------------------------------------------------------------


class _Collected:
    """Takes the transaction's saves (a TransactWrite's interface, the part `_add` uses)."""

    def __init__(self) -> None:
        self.items: list[Model] = []

    def save(self, item: Model, condition: Any = None) -> None:
        self.items.append(item)

    def delete(self, item: Model, condition: Any = None) -> None:
        raise AssertionError("a new process deletes nothing")


class CollectingRepository(DynamoProcessRepository):
    """`Processes.create` runs as in the app; its transaction's items are kept, not sent."""

    def __init__(self) -> None:
        super().__init__(Connection())
        self.sequence = 0
        self.items: list[Model] = []

    def last_sequence(self, unit_code: str, year: int) -> int:
        return self.sequence

    def create(self, write: ProcessWrite, unit_code: str, year: int, sequence: int) -> Process:
        transaction = _Collected()
        self._add(transaction, write, new=True)  # type: ignore[arg-type]  # the items it would write
        self.items += transaction.items
        self.sequence = sequence
        return write.process.changed(version=1)


class StepClock:
    """Every reading a millisecond later: distinct, ordered inbox keys."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        self.at += timedelta(milliseconds=1)
        return self.at


@dataclass
class Targets:
    """What the measured operations act on, never reused: processes free to send, open trâmites."""

    free_processes: list[str] = field(default_factory=list)
    open_tramites: list[str] = field(default_factory=list)


def _public_record(process: Process, rng: random.Random) -> PublicRecord:
    movements = tuple(
        PublicMovement(at=process.created_at + timedelta(hours=6 * n), unit="PROT/MS", operation=f"{op:02d}")
        for n, op in enumerate(rng.choices((1, 2, 3, 4), k=rng.randrange(1, 12)))
    )
    part = PublicPart(
        agency=Agency(AGENCY, "MS", "Ministério"), source=Source.PLATFORM, level=AccessLevel.PUBLICO,
        published=True, last_at=movements[-1].at, process_type=process.process_type,
        specification=process.specification, produced_on=process.created_at.date(),
        interested=tuple(PublicInterested(i.name) for i in process.interested), movements=movements,
    )  # fmt: skip
    return PublicRecord(nup=process.nup, parts=(part,))


def _tramite(nup: str, index: int, at: datetime) -> Tramite:
    sender = BusActor(AGENCY, "carga")
    receiver = BusActor(OTHER_AGENCY, "carga")
    idt = f"t{index:07d}"
    tramite = start(
        idt=idt, nre=f"n{index:07d}", nup=nup, sender=Address("1", PROTOCOL),
        receiver=Address("1", OTHER_UNIT), sender_agency_id=AGENCY, receiver_agency_id=OTHER_AGENCY,
        by=sender, at=at,
    )  # fmt: skip
    tramite = complete_upload(tramite, at + timedelta(seconds=5))
    kind = index % OPEN_EVERY
    if kind == OPEN_EVERY - 1:
        return tramite  # open, state 2
    if kind < 6:
        return cancel(tramite, sender, at + timedelta(minutes=5))
    refused = refuse(tramite, receiver, at + timedelta(hours=1), Refusal(RefusalReason.OUTRO, "Carga."))
    return acknowledge_refusal(refused, sender, at + timedelta(hours=2))


class Units:
    """The registry's answers `Processes.create` needs, taken once from the real registry (the
    builders run in worker processes, away from DynamoDB)."""

    def __init__(self, structures: dict[str, Structure]) -> None:
        self._structures = structures

    def find(self, structure_id: str) -> Structure | None:
        return self._structures.get(structure_id)


def build_items(first: int, count: int, units: Units) -> tuple[list[dict[str, Any]], Targets]:
    """The serialized items of processes first+1 .. first+count, as the app writes them, and the
    measurable targets among them. Not loaded: history entries and public name items (key ranges
    and an index that none of the measured operations reads), to keep 100k loadable in minutes."""
    repository = CollectingRepository()
    repository.sequence = first
    clock = StepClock(YEAR_START + timedelta(seconds=first))
    processes = Processes(repository, units, clock)  # type: ignore[arg-type]  # find() is all it uses
    rng = random.Random(first)
    actor = Actor(AGENCY, "carga")
    targets = Targets()
    by_table: list[tuple[str, Model]] = []
    for index in range(first, first + count):
        metadata = Metadata(
            rng.choice(TYPES), f"Assunto {index}", (Interested(rng.choice(NAMES)),), AccessLevel.PUBLICO
        )
        before = len(repository.items)
        process = processes.create(actor, PROTOCOL, metadata)
        made = [item for item in repository.items[before:] if not isinstance(item, HistoryItem)]
        tramite = _tramite(process.nup, index, process.created_at + timedelta(minutes=1))
        if not tramite.state.final:  # the sender's process stays locked while its trâmite is open
            meta = next(item for item in made if isinstance(item, ProcessItem))
            meta.bloqueado_por = {tramite.idt}
            targets.open_tramites.append(tramite.idt)
            by_table.append(("tramites", OpenTramiteGuard(pk=_guard_pk(tramite.nre), abertos={tramite.idt})))
        else:
            targets.free_processes.append(process.nup)
        by_table += [("processos", item) for item in made]
        by_table.append(("tramites", tramite_item(tramite)))
        by_table.append(("publico", public_item(_public_record(process, rng))))
    rows = []
    for table, item in by_table:
        serialized = item.serialize()
        item._handle_version_attribute(attributes=serialized)  # as save() does: versao set, or 1
        rows.append({"table": table, "item": serialized})
    return rows, targets


def load(endpoint: str, tables: dict[str, str], rows: Iterator[list[dict[str, Any]]]) -> int:
    """Sends the rows with BatchWriteItem (25 a request, unprocessed items retried) from LOADERS
    threads; returns how many items were written."""
    import queue

    work: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=LOADERS * 8)
    failures: list[BaseException] = []
    written = 0
    lock = threading.Lock()

    def sender() -> None:
        nonlocal written
        client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=servers.REGION)
        while (batch := work.get()) is not None:
            try:
                pending: dict[str, Any] = {}
                for row in batch:
                    pending.setdefault(tables[row["table"]], []).append({"PutRequest": {"Item": row["item"]}})
                while pending:
                    pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                with lock:
                    written += len(batch)
            except BaseException as error:
                failures.append(error)

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(LOADERS)]
    for thread in threads:
        thread.start()
    for chunk in rows:
        for start_at in range(0, len(chunk), 25):
            work.put(chunk[start_at : start_at + 25])
    for _ in threads:
        work.put(None)
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"loading failed: {failures[0]!r}") from failures[0]
    return written


# --- measuring --------------------------------------------------------------------------------------


@dataclass
class World:
    services: bootstrap.Services
    client: Client
    tokens: dict[str, str]
    targets: Targets
    loaded: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(7))


def _headers(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **extra}


def operations(world: World) -> dict[str, Callable[[], Any]]:
    """Each operation as one HTTP request; every call acts on a record not touched before."""
    client, tokens, targets, rng = world.client, world.tokens, world.targets, world.rng
    ours, theirs = tokens[AGENCY], tokens[OTHER_AGENCY]

    def lookup() -> Any:
        nup = _loaded_nup(rng.randrange(world.loaded))
        return client.http.get(f"/publico/processos/{nup}")

    def inbox() -> Any:
        return client.http.get(f"/unidades/{PROTOCOL}/processos?limite=50", headers=_headers(ours))

    def send() -> Any:
        nup = targets.free_processes.pop(rng.randrange(len(targets.free_processes)))
        body = {"unidadeOrigem": PROTOCOL, "unidadesDestino": [DIVISION]}
        return client.http.post(f"/processos/{nup}/envios", body=json.dumps(body),
                                headers=_headers(ours, **{"X-Usuario": "bench"}))  # fmt: skip

    def cancel_tramite() -> Any:
        idt = targets.open_tramites.pop(rng.randrange(len(targets.open_tramites)))
        return client.http.delete(f"/barramento/tramites/{idt}", headers=_headers(ours))

    def refuse_tramite() -> Any:
        idt = targets.open_tramites.pop(rng.randrange(len(targets.open_tramites)))
        body = {"motivo": "99", "justificativa": "Componente ilegível."}
        return client.http.post(f"/barramento/tramites/{idt}/recusa", body=json.dumps(body),
                                headers=_headers(theirs))  # fmt: skip

    return {
        "public lookup (GET /publico/processos/{nup})": lookup,
        "inbox, first page of 50 (GET /unidades/{id}/processos)": inbox,
        "internal send to a unit (POST /processos/{nup}/envios)": send,
        "trâmite 2 → 7, cancel (DELETE /barramento/tramites/{idt})": cancel_tramite,
        "trâmite 2 → 8, refuse (POST /barramento/tramites/{idt}/recusa)": refuse_tramite,
    }


def _loaded_nup(index: int) -> str:
    from chalicelib.domain.nup import Nup

    return Nup.issue(PROTOCOL_CODE, index + 1, 2026).digits


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def measure(world: World, runs: int = RUNS) -> dict[str, Any]:
    """`runs` calls of each operation after WARMUP calls; the AWS calls of every run, and latency."""
    results: dict[str, Any] = {}
    for name, operation in operations(world).items():
        for _ in range(WARMUP):  # clients, the registry's and the credentials' caches, the JIT
            reply = operation()
            if reply.status_code >= 300:
                raise RuntimeError(f"{name}: {reply.status_code} {reply.body[:500]!r}")
        samples: list[float] = []
        seen: list[dict[str, int]] = []
        for _ in range(runs):
            with counting.counting() as calls:
                started = time.perf_counter()
                reply = operation()
                samples.append(time.perf_counter() - started)
            if reply.status_code >= 300:
                raise RuntimeError(f"{name}: {reply.status_code} {reply.body[:500]!r}")
            seen.append(dict(sorted(calls.items())))
        distinct = {json.dumps(c, sort_keys=True) for c in seen}
        if len(distinct) != 1:
            raise AssertionError(
                f"{name}: the AWS calls changed between runs at {world.loaded:,}: {distinct}"
            )
        samples.sort()
        results[name] = {
            "aws_calls": seen[0],
            "total_calls": sum(seen[0].values()),
            "runs": runs,
            "latency_ms": {
                "p50": round(statistics.median(samples) * 1000, 2),
                "p95": round(_percentile(samples, 0.95) * 1000, 2),
                "min": round(samples[0] * 1000, 2),
                "max": round(samples[-1] * 1000, 2),
            },
        }
    return results


def _setup(endpoint: str) -> tuple[bootstrap.Services, dict[str, str], dict[str, str]]:
    stage = f"s{uuid.uuid4().hex[:8]}"
    servers.create_tables(endpoint, stage)
    env = {**STACK.environment(stage), ENV_ENDPOINT: endpoint, "AWS_REGION": servers.REGION}
    settings = Settings.from_env(env)
    services = bootstrap.build(settings)
    registry = services.registry
    # The registry caches units for 60 s: a refill (one GetItem, whatever the size) would land in some
    # runs and not others. Kept for the whole run, every run of an operation makes the same calls.
    registry._cache_seconds = 24 * 3600
    registry.save(Structure(id=AGENCY, name="Ministério", acronym="MS", agency_id=""))
    registry.save(Structure(id=PROTOCOL, name="Protocolo", acronym="PROT", agency_id="", parent_id=AGENCY,
                            protocol_code=PROTOCOL_CODE))  # fmt: skip
    registry.save(Structure(id=DIVISION, name="Divisão", acronym="DIV", agency_id="", parent_id=PROTOCOL))
    registry.save(Structure(id=OTHER_AGENCY, name="Instituto", acronym="INST", agency_id=""))
    registry.save(Structure(id=OTHER_UNIT, name="Protocolo do Instituto", acronym="PROT/INST", agency_id="",
                            parent_id=OTHER_AGENCY, protocol_code="35000"))  # fmt: skip
    clients = DynamoClientRepository()
    tokens = {}
    for agency in (AGENCY, OTHER_AGENCY):
        client_id, secret = new_client_id(), new_secret()
        clients.put(
            ApiClient(
                id=client_id,
                agency_id=agency,
                name=f"Bench {agency}",
                scopes=frozenset({Scope.PROCESSOS, Scope.BARRAMENTO}),
                token_hash=hash_secret(secret),
                created_at=datetime.now(UTC),
            )
        )
        tokens[agency] = format_token(client_id, secret)
    tables = {
        "processos": settings.table_processos,
        "publico": settings.table_publico,
        "tramites": settings.table_tramites,
    }
    return services, tokens, tables


CHUNK = 1000  # processes built by one worker task
BUILDERS = 2  # worker processes building items while the threads send the previous ones


def _build_task(args: tuple[int, int, Units]) -> tuple[list[dict[str, Any]], Targets]:
    return build_items(*args)


def grow(world: World, endpoint: str, tables: dict[str, str], target: int) -> dict[str, Any]:
    """Adds processes up to `target`: built in worker processes, sent by the loader threads; then the
    protocol unit's NUP sequence, so a new process would continue after the loaded ones."""
    import multiprocessing

    first = world.loaded
    units = Units({i: s for i in (AGENCY, PROTOCOL, DIVISION) if (s := world.services.registry.find(i))})
    tasks = [(at, min(CHUNK, target - at), units) for at in range(first, target, CHUNK)]

    def built() -> Iterator[tuple[list[dict[str, Any]], Targets]]:
        if len(tasks) == 1:  # one chunk: no worker processes (and no fork inside a test run)
            yield _build_task(tasks[0])
            return
        with multiprocessing.get_context("fork").Pool(BUILDERS) as pool:
            yield from pool.imap(_build_task, tasks)

    def chunks() -> Iterator[list[dict[str, Any]]]:
        for rows, targets in built():
            world.targets.free_processes += targets.free_processes
            world.targets.open_tramites += targets.open_tramites
            yield rows
        sequence = SequenceItem(pk=_sequence_pk(PROTOCOL_CODE, YEAR_START.year), sk=META, valor=target)
        yield [{"table": "processos", "item": sequence.serialize()}]

    started = time.perf_counter()
    items = load(endpoint, tables, chunks())
    seconds = time.perf_counter() - started
    world.loaded = target
    return {
        "processes_added": target - first,
        "items_written": items,
        "seconds": round(seconds, 1),
        "items_per_second": round(items / seconds),
    }


def main() -> None:
    servers.fake_aws_environment()
    servers.share_botocore_models()
    import app as app_module

    by_size: list[dict[str, Any]] = []
    with servers.dynamodb_local() as endpoint:
        # The JVM's JIT compiles DynamoDB Local's read and write paths over the first thousands of
        # requests: warm it on throwaway tables first, so the smallest size is not measured cold.
        services, tokens, tables = _setup(endpoint)
        with bootstrap.use(services), Client(app_module.app, stage_name="local") as client:
            world = World(services, client, tokens, Targets())
            grow(world, endpoint, tables, 1000)
            measure(world, runs=40)
        services, tokens, tables = _setup(endpoint)  # binds the models to the measured tables
        with bootstrap.use(services), Client(app_module.app, stage_name="local") as client:
            world = World(services, client, tokens, Targets())
            for size in SIZES:
                loading = grow(world, endpoint, tables, size)
                print(f"loaded {size:,} processes: {loading}", flush=True)
                load_before = os.getloadavg()[0]
                results = measure(world)
                load_average = [round(load_before, 2), round(os.getloadavg()[0], 2)]
                by_size.append({"processes": size, "loading": loading, "operations": results,
                                "load_average_before_after": load_average})  # fmt: skip
                for name, result in results.items():
                    latency = result["latency_ms"]
                    print(f"  {name}: {result['aws_calls']} p50 {latency['p50']} ms p95 {latency['p95']} ms")
    report = {
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.info(runs=1),
        "engine": "DynamoDB Local (in memory)",
        "runs_per_operation": RUNS,
        "by_size": by_size,
    }
    report["call_counts_constant"] = _check_constant(report)
    record.save_json("scale", report)
    plot(report)
    (RESULTS / "scale.md").write_text(render(report), encoding="utf-8")
    print(render(report))
    if not report["call_counts_constant"]:
        raise SystemExit("FAIL: the AWS calls of an operation changed with the number of records (see above)")


def _check_constant(report: dict[str, Any]) -> bool:
    sizes = report["by_size"]
    constant = True
    for name in sizes[0]["operations"]:
        counts = {s["processes"]: s["operations"][name]["aws_calls"] for s in sizes}
        if len({json.dumps(c, sort_keys=True) for c in counts.values()}) != 1:
            print(f"FAIL {name}: {counts}")
            constant = False
    return constant


def plot(report: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [s["processes"] for s in report["by_size"]]
    names = list(report["by_size"][0]["operations"])
    figure, axis = plt.subplots(figsize=(9, 5.2), dpi=110)
    for index, name in enumerate(names):
        color = f"C{index}"
        p50 = [s["operations"][name]["latency_ms"]["p50"] for s in report["by_size"]]
        p95 = [s["operations"][name]["latency_ms"]["p95"] for s in report["by_size"]]
        label = name.split(" (")[0]
        axis.plot(sizes, p50, "o-", color=color, label=f"{label}: median")
        axis.plot(sizes, p95, "x--", color=color, alpha=0.6, label=f"{label}: p95")
    axis.set_xscale("log")
    axis.set_xticks(sizes, [f"{n:,}" for n in sizes])
    axis.set_ylim(bottom=0)
    axis.set_xlabel("processes in DynamoDB Local")
    axis.set_ylabel("latency through the HTTP route (ms)")
    host = report["machine"]
    axis.set_title(
        f"Latency against the number of records ({report['runs_per_operation']} runs each; "
        f"{host['cores']} cores, {host['python']})",
        fontsize=10,
    )
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=7, ncol=2, loc="upper left")
    figure.tight_layout()
    PLOTS.mkdir(parents=True, exist_ok=True)
    figure.savefig(PLOTS / "scale-latency.png")
    plt.close(figure)


def _calls(calls: dict[str, int]) -> str:
    return ", ".join(f"{k.removeprefix('DynamoDB.')} ×{v}" for k, v in sorted(calls.items())) or "none"


def render(report: dict[str, Any]) -> str:
    host = report["machine"]
    sizes = report["by_size"]
    header = " | ".join(f"{s['processes']:,}: p50 / p95 ms" for s in sizes)
    lines = [
        "# Scale: latency and AWS calls against the number of records",
        "",
        f"Recorded {report['recorded_at']} on {host['cores']} cores ({host['cpu']}), "
        f"{host['memory_gib']} GiB, {host['platform']}, {host['python']}, "
        f"{report['engine']}, its JIT warmed on throwaway tables first. Each operation: {WARMUP} "
        f"warm-up calls, then {report['runs_per_operation']} "
        "measured calls through its HTTP route, each on a record not touched before; median and p95.",
        "",
        f"| operation | DynamoDB calls (every size) | {header} |",
        "| --- | --- |" + " --- |" * len(sizes),
    ]
    for name in sizes[0]["operations"]:
        first = sizes[0]["operations"][name]
        cells = " | ".join(
            f"{s['operations'][name]['latency_ms']['p50']} / {s['operations'][name]['latency_ms']['p95']}"
            for s in sizes
        )
        lines.append(f"| {name} | {_calls(first['aws_calls'])} | {cells} |")
    verdict = "the same at every size" if report["call_counts_constant"] else "**NOT the same at every size**"
    loads = "; ".join(
        f"{s['processes']:,} ({s['loading']['items_written']:,} items, {s['loading']['seconds']} s)"
        for s in sizes
    )
    averages = ", ".join(
        f"{s['processes']:,}: {' → '.join(map(str, s['load_average_before_after']))}" for s in sizes
    )
    lines += [
        "",
        "![Latency against the number of processes](docs/performance/scale-latency.png)",
        "",
        f"- AWS calls per operation: {verdict} (checked by the bench, which fails otherwise).",
        f"- Loaded, cumulatively: {loads}. Per process: the process and its open unit (all in one unit's",
        "  inbox, the worst case for the listing), its public record, and one trâmite of it to another",
        "  agency (1 in 10 open in state 2, with its NRE guard and the process locked; the others",
        "  cancelled or refused and acknowledged), each built by the app's own code (`Processes.create`,",
        "  the domain's trâmite moves, the stores' `to_item`) and serialized by its PynamoDB model.",
        "  History entries and name-index items are not loaded: no measured operation reads them.",
        f"- Load average (1 min) while measuring: {averages}. This machine is shared; a high load",
        "  average inflates the latencies (and the p95 most), not the call counts: read the columns",
        "  against it (a smaller size measured under a heavier load can be the slower one).",
        "- Loading runs at DynamoDB Local's pace: about a millisecond of its JVM's CPU per item written",
        "  (measured), so 100,000 processes take minutes on an idle 2-core machine and longer on a",
        "  shared one; the rate is in scale.json.",
        "- The inbox is one Query of the `caixa` index, a page of 50 whatever the unit holds; the lookup is",
        "  one GetItem; the trâmite moves are a read and one conditional write (a transaction that also",
        "  frees the NRE when the state is final). Authentication reads the API client once per request.",
        "- The registry's unit cache (60 s in the app) is kept for the whole run, so a refill (one",
        "  GetItem a minute, whatever the size) does not land in some runs and not others.",
        "",
    ]
    return "\n".join(lines)


def rerender() -> None:
    """`--render`: the plot and the markdown again from scale.json (after editing their text)."""
    report = json.loads((RESULTS / "scale.json").read_text(encoding="utf-8"))
    plot(report)
    (RESULTS / "scale.md").write_text(render(report), encoding="utf-8")


if __name__ == "__main__":
    import sys

    if "--render" in sys.argv[1:]:
        rerender()
    else:
        main()
