"""Bounded load over loopback: the local stack (`python -m infra.local` on free ports, in a temporary
folder) under concurrent clients: process creations by the demo agencies' systems, then public
lookups by citizens. Zero errors and zero lost writes, counted afterwards.

    .venv/bin/python -m bench.load                 (make load)
    PEN_LOAD_CREATIONS=200 PEN_LOAD_LOOKUPS=1000 .venv/bin/python -m bench.load      (smaller)

1. Creations: CLIENTS threads share the CREATIONS requests (POST /processos, a fresh
   Idempotency-Key each) in UNITS protocol units added for the run to the two hosted demo agencies:
   several clients per unit, so they race for the unit's NUP sequence as an agency's users do.
   (The local stack's moto server runs DynamoDB requests one at a time: its transactions are not
   thread-safe; see infra/local/moto_server.py.)
2. Lost writes: every created NUP is read back (GET /processos/{nup}); every unit's inbox is listed
   whole, page by page, and must hold each process created in it; the NUPs are distinct, and the
   sequence numbers each unit issued form one run without gaps.
3. The worker projects every new process into the public base (DynamoDB stream): the bench waits
   until each created NUP answers the public lookup, and records how long that took.
4. Lookups: CLIENTS threads share LOOKUPS public lookups of the created NUPs that became public
   (the seeded demo process if none did), without caching.

Every request goes with `Connection: close` (the dev server stalls kept-alive connections; see
docs/FIELD-NOTES). Throughput and p50/p95/p99 latency are of a one-process Python dev server with moto
behind it on this machine: they compare versions of this code, never Lambda's capacity.
Results: bench/results/load.json and .md.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import machine, record

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CONSOLE = ROOT / "build" / "load-console.log"  # the stack's output of the last run (not committed)
CLIENTS = int(os.environ.get("PEN_LOAD_CLIENTS", "20"))
CREATIONS = int(os.environ.get("PEN_LOAD_CREATIONS", "2000"))
LOOKUPS = int(os.environ.get("PEN_LOAD_LOOKUPS", "10000"))
UNITS = int(os.environ.get("PEN_LOAD_UNITS", "4"))  # shared by the clients: CLIENTS / UNITS race in each
# The local worker projects the stream 10 records at a time, and moto's Query reads the whole table:
# projecting 2,000 creations took about 15 minutes.
PROJECTION_TIMEOUT = float(os.environ.get("PEN_LOAD_PROJECTION_TIMEOUT", "1800"))
TIMEOUT = 60.0  # per request
AGENCIES = ("MGI", "MS")  # the hosted demo agencies (infra/local/seed.py)


@dataclass
class Reply:
    status: int
    body: bytes
    seconds: float


def request(url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None) -> Reply:
    data = None if body is None else json.dumps(body).encode()
    sent = {"Connection": "close", **(headers or {})}
    if data is not None:
        sent["Content-Type"] = "application/json"
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, data=data, method=method, headers=sent), timeout=TIMEOUT
        ) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    except OSError as error:  # refused, reset, timed out: an error of the run, counted as status 0
        status, payload = 0, repr(error).encode()
    return Reply(status, payload, time.perf_counter() - started)


@dataclass
class Phase:
    """Requests of one kind: latencies, statuses, and a sample of the failures."""

    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    wall: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, reply: Reply, ok: int) -> None:
        with self.lock:
            self.latencies.append(reply.seconds)
            self.statuses[reply.status] += 1
            if reply.status != ok and len(self.failures) < 10:
                self.failures.append(f"{reply.status}: {reply.body[:300].decode(errors='replace')}")

    def summary(self, ok: int) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        count = len(ordered)

        def pct(share: float) -> float:
            return round(ordered[min(count - 1, int(count * share))] * 1000, 1)

        return {
            "requests": count,
            "errors": count - self.statuses.get(ok, 0),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "failures_sample": self.failures,
            "wall_seconds": round(self.wall, 2),
            "throughput_per_second": round(count / self.wall, 1) if self.wall else 0.0,
            "latency_ms": {
                "p50": round(statistics.median(ordered) * 1000, 1),
                "p95": pct(0.95),
                "p99": pct(0.99),
                "max": round(ordered[-1] * 1000, 1),
            },
        }


def run_clients(phase: Phase, jobs: list[Any], work: Any, *, own_share: bool = False) -> None:
    """CLIENTS threads take jobs from a shared list until it is empty (`own_share`: client n does
    jobs n, n + CLIENTS, ...; `work` then gets the client's number too)."""
    pending = list(reversed(jobs))
    lock = threading.Lock()

    def client(number: int) -> None:
        if own_share:
            for job in jobs[number::CLIENTS]:
                work(number, job)
            return
        while True:
            with lock:
                if not pending:
                    return
                job = pending.pop()
            work(job)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.wall = time.perf_counter() - started


@dataclass(frozen=True)
class Creator:
    token: str
    agency_id: str
    unit: str


def stack_info(stack: Any) -> dict[str, Any]:
    from infra.local.state import STACK_FILE

    info: dict[str, Any] = json.loads((stack.local_dir / STACK_FILE).read_text(encoding="utf-8"))
    return info


def creators(stack: Any) -> list[Creator]:
    """UNITS protocol units, half in each hosted demo agency, added to the stack's registry with the
    app's own Registry (as an operator's import does); client n creates in unit n % UNITS."""
    from chalicelib import bootstrap
    from chalicelib.config import ENV_ENDPOINT, Settings
    from chalicelib.domain.structures import Structure
    from infra.resources import STACK

    info = stack_info(stack)
    env = {**STACK.environment(info["stage"]), **info["environment"], ENV_ENDPOINT: info["endpoint"],
           "AWS_REGION": info["region"]}  # fmt: skip
    registry = bootstrap.build(Settings.from_env(env)).registry
    by_acronym = {c["sigla"]: c for c in stack.credentials()}
    units = []
    for number in range(UNITS):
        credential = by_acronym[AGENCIES[number % len(AGENCIES)]]
        if "processos" not in credential["escopos"]:
            raise RuntimeError(f"the demo credential of {credential['sigla']} has no `processos` scope")
        agency = credential["orgaoId"]
        structure = Structure(
            id=f"{agency[0]}{500 + number}",
            name=f"Protocolo de carga {number + 1}",
            acronym=f"CARGA{number + 1}/{credential['sigla']}",
            agency_id=agency,
            parent_id=agency,
            protocol_code=f"{agency[0]}{5000 + number}",
        )
        unit = registry.save(structure)
        units.append(Creator(credential["token"], agency, unit.id))
    return [units[number % UNITS] for number in range(CLIENTS)]


def create_all(api: str, makers: list[Creator]) -> tuple[Phase, dict[str, Creator]]:
    phase = Phase("creations")
    created: dict[str, Creator] = {}
    lock = threading.Lock()

    def create(number: int, index: int) -> None:
        maker = makers[number]
        body = {
            "unidade": maker.unit,
            "tipo": "Licitação: Pregão Eletrônico",
            "especificacao": f"Aquisição de material, carga {index}",
            "interessados": [{"nome": f"Empresa de Teste {index % 97}"}],
            "nivelAcesso": 1,
        }
        headers = {
            "Authorization": f"Bearer {maker.token}",
            "X-Usuario": f"carga-{index % CLIENTS}",
            "Idempotency-Key": f"carga-{uuid.uuid4().hex}",
        }
        reply = request(f"{api}/processos", "POST", body, headers)
        phase.record(reply, 201)
        if reply.status == 201:
            nup = json.loads(reply.body)["nup"]
            with lock:
                if nup in created:
                    phase.failures.append(f"NUP {nup} issued twice")
                created[nup] = maker

    run_clients(phase, list(range(CREATIONS)), create, own_share=True)
    return phase, created


def _digits(nup: str) -> str:
    return "".join(ch for ch in nup if ch.isdigit())


def count_lost(api: str, created: dict[str, Creator], issued: int) -> dict[str, Any]:
    """Reads back every created process, lists every unit's inbox whole, checks the NUP sequences."""
    phase = Phase("read back")
    missing: list[str] = []
    lock = threading.Lock()

    def read(nup: str) -> None:
        maker = created[nup]
        reply = request(f"{api}/processos/{_digits(nup)}", headers={"Authorization": f"Bearer {maker.token}"})
        phase.record(reply, 200)
        if reply.status != 200 or json.loads(reply.body)["nup"] != nup:
            with lock:
                missing.append(nup)

    run_clients(phase, sorted(created), read)

    absent_from_inbox: list[str] = []
    pages = 0
    for unit in sorted({m.unit for m in created.values()}):
        maker = next(m for m in created.values() if m.unit == unit)
        listed: set[str] = set()
        cursor: str | None = None
        while True:
            query = f"?limite=100&cursor={urllib.parse.quote(cursor)}" if cursor else "?limite=100"
            reply = request(
                f"{api}/unidades/{unit}/processos{query}", headers={"Authorization": f"Bearer {maker.token}"}
            )
            if reply.status != 200:
                raise RuntimeError(f"the inbox of {unit} answered {reply.status}: {reply.body[:300]!r}")
            page = json.loads(reply.body)
            pages += 1
            listed |= {item["nup"] for item in page["itens"]}
            cursor = page.get("cursor")
            if not cursor:
                break
        absent_from_inbox += [n for n, m in created.items() if m.unit == unit and n not in listed]

    gaps: dict[str, list[int]] = {}
    by_code: dict[str, list[int]] = {}
    for nup in created:
        digits = _digits(nup)
        by_code.setdefault(digits[:5], []).append(int(digits[5:11]))
    for code, numbers in by_code.items():
        numbers.sort()
        if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
            gaps[code] = [n for n in range(numbers[0], numbers[-1]) if n not in set(numbers)][:20]
    return {
        "accepted_creations": issued,
        "distinct_nups": len(created),
        "read_back_ok": len(created) - len(missing),
        "missing_on_read": sorted(missing)[:20],
        "absent_from_inbox": sorted(absent_from_inbox)[:20],
        "absent_from_inbox_count": len(absent_from_inbox),
        "inbox_pages_read": pages,
        "sequence_gaps_by_unit_code": gaps,
        "lost_writes": (issued - len(created)) + len(missing) + len(absent_from_inbox),
        "read_back": phase.summary(200),
    }


def wait_public(api: str, nups: list[str]) -> dict[str, Any]:
    """Until every NUP answers the public lookup (the worker's projection), or PROJECTION_TIMEOUT.

    `nups` come in creation order, which is the stream's order: each round checks them from the
    first not yet public and stops at the next one that is not, so the bench's own polling does not
    compete with the worker it waits for (a public record stays public)."""
    started = time.perf_counter()
    waiting = list(nups)
    while waiting and time.perf_counter() - started < PROJECTION_TIMEOUT:
        while waiting and request(f"{api}/publico/processos/{_digits(waiting[0])}").status == 200:
            waiting.pop(0)
        if waiting:
            time.sleep(2)
    return {
        "seconds_until_all_public": round(time.perf_counter() - started, 1),
        "not_public_after_timeout": len(waiting),
        "sample_not_public": waiting[:10],
        "not_public": waiting,
    }


def lookup_all(api: str, nups: list[str]) -> Phase:
    phase = Phase("lookups")
    digits = [_digits(n) for n in nups]

    def lookup(index: int) -> None:
        phase.record(request(f"{api}/publico/processos/{digits[index % len(digits)]}"), 200)

    run_clients(phase, list(range(LOOKUPS)), lookup)
    return phase


def _moto_errors(console: str) -> int:
    """Requests moto's server failed with a 500 of its own (its backends are not thread-safe)."""
    return console.count("Error on request:")


def run() -> dict[str, Any]:
    from tests import servers
    from tests.e2e.test_local_stack import start_stack

    servers.fake_aws_environment()
    with tempfile.TemporaryDirectory(prefix="pen-load-") as folder:
        stack = start_stack(Path(folder) / "stack")
        try:
            api = stack.api_url
            makers = creators(stack)
            load_before = os.getloadavg()[0]
            creations, created = create_all(api, makers)
            lost = count_lost(api, created, creations.statuses.get(201, 0))
            projection = wait_public(api, list(created))  # in the order the API answered 201
            # The created processes the projection made public; the seeded demo process when none.
            public = sorted(set(created) - set(projection.pop("not_public")))
            lookups = lookup_all(api, public or [stack_info(stack)["demo_nup"]])
            load_after = os.getloadavg()[0]
        finally:
            code = stack.stop()
            moto_errors = _moto_errors(stack.output())
            CONSOLE.parent.mkdir(parents=True, exist_ok=True)
            CONSOLE.write_text(stack.output(), encoding="utf-8")  # for a failed run's post-mortem
    return {
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.info(runs=1),
        "server": "python -m infra.local (chalice dev server, moto, worker: one process), over loopback",
        "clients": CLIENTS,
        "units": UNITS,
        "load_average_before_after": [round(load_before, 2), round(load_after, 2)],
        "creations": creations.summary(201),
        "lost_write_check": lost,
        "projection_to_public_base": projection,
        "lookups": lookups.summary(200),
        "stack_exit_code": code,
        "moto_server_internal_errors": moto_errors,
    }


def verdict(report: dict[str, Any]) -> list[str]:
    """What went wrong; empty when the run is clean."""
    problems = []
    for name in ("creations", "lookups"):
        if report[name]["errors"]:
            problems.append(f"{report[name]['errors']} {name} failed: {report[name]['failures_sample'][:3]}")
    lost = report["lost_write_check"]
    if lost["lost_writes"] or lost["read_back"]["errors"]:
        problems.append(f"lost writes: {lost}")
    if lost["sequence_gaps_by_unit_code"]:
        problems.append(f"gaps in the NUP sequences: {lost['sequence_gaps_by_unit_code']}")
    if report["projection_to_public_base"]["not_public_after_timeout"]:
        problems.append(f"not projected to the public base: {report['projection_to_public_base']}")
    return problems


def render(report: dict[str, Any]) -> str:
    host = report["machine"]
    creations, lookups, lost = report["creations"], report["lookups"], report["lost_write_check"]
    projection = report["projection_to_public_base"]
    lines = [
        "# Bounded load over loopback: recorded results",
        "",
        f"Recorded {report['recorded_at']} on {host['cores']} cores ({host['cpu']}), "
        f"{host['memory_gib']} GiB, {host['platform']}, {host['python']}; "
        f"{report['server']}; {report['clients']} concurrent clients, `Connection: close`; load average "
        f"(1 min) {' → '.join(map(str, report['load_average_before_after']))}.",
        "",
        "| phase | requests | errors | throughput (req/s) | p50 ms | p95 ms | p99 ms | max ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, phase in (
        ("process creations (POST /processos)", creations),
        ("read back every process (GET /processos/{nup})", lost["read_back"]),
        ("public lookups (GET /publico/processos/{nup})", lookups),
    ):
        latency = phase["latency_ms"]
        lines.append(
            f"| {name} | {phase['requests']:,} | {phase['errors']} | {phase['throughput_per_second']} | "
            f"{latency['p50']} | {latency['p95']} | {latency['p99']} | {latency['max']} |"
        )
    lines += [
        "",
        f"- Lost writes: **{lost['lost_writes']}**. {lost['accepted_creations']:,} creations answered 201 "
        "with "
        f"{lost['distinct_nups']:,} distinct NUPs; {lost['read_back_ok']:,} read back; every unit's inbox "
        f"listed whole ({lost['inbox_pages_read']} pages), {lost['absent_from_inbox_count']} missing; NUP "
        f"sequences without gaps: {not lost['sequence_gaps_by_unit_code']}.",
        f"- The worker's projection made every created process visible to the public lookup "
        f"{projection['seconds_until_all_public']} s after the read-back ended "
        f"({projection['not_public_after_timeout']} not visible at the timeout).",
        f"- Statuses: creations {creations['statuses']}, lookups {lookups['statuses']} (0: the connection "
        f"was refused or reset); moto's server failed {report['moto_server_internal_errors']} requests with "
        "a 500 of its own.",
        f"- Run size: {creations['requests']:,} creations and {lookups['requests']:,} lookups "
        "(`make load` defaults: 2,000 and 10,000; smaller runs set PEN_LOAD_CREATIONS and PEN_LOAD_LOOKUPS).",
        f"- {report['clients']} clients share {report.get('units', '?')} protocol units (added for the run "
        "to the two hosted demo agencies), so several race for each unit's NUP sequence; every request has a "
        "fresh Idempotency-Key. moto's DynamoDB runs one request at a time (infra/local/moto_server.py): its "
        "transactions are not thread-safe.",
        "- moto's Query walks every item of the table (DynamoDB Local's and DynamoDB's do not: see the scale",
        "  section, flat from 1,000 to 100,000 processes), so on this stack each read and each projected",
        "  record costs more as the run adds data: that is why the read-back and the projection slow down.",
        "- The server is one Python process (the dev server, moto and the worker share its GIL), so these",
        "  rates compare versions of this code; they say nothing of Lambda's capacity, which scales out.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    report = run()
    problems = verdict(report)
    report["problems"] = problems
    record.save_json("load", report)
    (RESULTS / "load.md").write_text(render(report), encoding="utf-8")
    print(render(report))
    if problems:
        raise SystemExit("FAIL: " + "; ".join(problems))


def rerender() -> None:
    """`--render`: the markdown again from load.json (after editing its text)."""
    report = json.loads((RESULTS / "load.json").read_text(encoding="utf-8"))
    (RESULTS / "load.md").write_text(render(report), encoding="utf-8")


if __name__ == "__main__":
    import sys

    if "--render" in sys.argv[1:]:
        rerender()
    else:
        main()
