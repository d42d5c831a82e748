"""The local stack over loopback: public lookups per second and their latency, as a ratio to a route
that does nothing (GET /saude) measured in the same run; and the end-to-end time of a hosted → hosted
trâmite with 10 documents.

    .venv/bin/python -m bench.loopback            (make bench)

The stack is `make run`'s (`python -m infra.local`, started by the e2e tests' helper on free ports):
the API is Chalice's local server behind our gateway, the AWS services a moto server, all on this
machine, so the absolute figures say how fast this machine runs the emulators, not what Lambda does.
The ratio to /saude is the point: it is the price of the lookup itself (routing, the authorizer-free
public path, one DynamoDB GetItem on moto, shaping the answer) over the price of the server's HTTP.
Each request opens its own connection (`Connection: close`: the local server stalls ~40 ms on a
kept-alive one). CLIENTS threads send REQUESTS requests per run; the two routes alternate, RUNS runs
each; medians of the runs are quoted.
"""

from __future__ import annotations

import http.client
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import machine, record

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FIGURES = ROOT / "docs" / "performance"
RUNS = 5
CLIENTS = 4
REQUESTS = 1000
TRAMITE_RUNS = 3
TRAMITE_DOCUMENTS = 10


def load(url: str, requests: int, clients: int) -> dict[str, Any]:
    """`requests` GETs of `url` from `clients` threads; latencies of the 200s, errors counted."""
    parts = urlsplit(url)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    share = requests // clients

    def work() -> None:
        mine: list[float] = []
        for _ in range(share):
            started = time.perf_counter()
            try:
                connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
                connection.request(
                    "GET",
                    parts.path + (f"?{parts.query}" if parts.query else ""),
                    headers={"Connection": "close"},
                )
                response = connection.getresponse()
                response.read()
                connection.close()
            except OSError as error:
                with lock:
                    errors.append(type(error).__name__)
                continue
            if response.status != 200:
                with lock:
                    errors.append(str(response.status))
                continue
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return float("nan")
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000, 2)

    return {
        "requests": share * clients,
        "errors": len(errors),
        "per_second": round(len(latencies) / wall, 1),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
    }


def lookups(stack: Any) -> dict[str, Any]:
    from tests.e2e.tracking import demo_nup

    nup = demo_nup(stack)
    routes = {
        "GET /saude": f"{stack.api_url}/saude",
        "GET /publico/processos/{nup}": f"{stack.api_url}/publico/processos/{nup}",
    }
    deadline = time.monotonic() + 300
    while load(routes["GET /publico/processos/{nup}"], 1, 1)["errors"]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the demo process {nup} never reached the public base")
        time.sleep(0.5)  # the worker may still be projecting the demo into the public base
    for url in routes.values():
        load(url, 100, CLIENTS)  # warm-up
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in routes}
    for _ in range(RUNS):
        for name, url in routes.items():
            runs[name].append(load(url, REQUESTS, CLIENTS))
    summary: dict[str, Any] = {}
    for name, measured in runs.items():
        summary[name] = {
            key: statistics.median(r[key] for r in measured)
            for key in ("per_second", "p50_ms", "p95_ms", "p99_ms")
        }
        summary[name]["errors"] = sum(r["errors"] for r in measured)
        summary[name]["runs"] = measured
    lookup, noop = summary["GET /publico/processos/{nup}"], summary["GET /saude"]
    summary["ratio"] = {
        "per_second": round(lookup["per_second"] / noop["per_second"], 2),
        **{k: round(lookup[k] / noop[k], 2) for k in ("p50_ms", "p95_ms", "p99_ms")},
    }
    return summary


def tramites() -> dict[str, Any]:
    from bench.bus import on_the_local_stack

    measured = [on_the_local_stack(TRAMITE_DOCUMENTS) for _ in range(TRAMITE_RUNS)]
    return {
        "documents": TRAMITE_DOCUMENTS,
        "runs": measured,
        "median_send_request_seconds": statistics.median(m["send_request_seconds"] for m in measured),
        "median_send_to_state_6_seconds": statistics.median(m["send_to_state_6_seconds"] for m in measured),
        "final_states": sorted({m["final_state"] for m in measured}),
    }


def plot(report: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    FIGURES.mkdir(parents=True, exist_ok=True)
    names = ["GET /saude", "GET /publico/processos/{nup}"]
    data = report["lookups"]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    width = 0.38
    for offset, name, color in ((-width / 2, names[0], "#888888"), (width / 2, names[1], "#1351b4")):
        axes[0].bar(
            [i + offset for i in range(3)],
            [data[name][k] for k in ("p50_ms", "p95_ms", "p99_ms")],
            width,
            label=name,
            color=color,
        )
    axes[0].set_xticks(range(3), ["p50", "p95", "p99"])
    axes[0].set_ylabel("latency, ms (loopback)")
    axes[0].legend(fontsize=7)
    axes[1].bar(names, [data[n]["per_second"] for n in names], color=["#888888", "#1351b4"])
    axes[1].set_ylabel("requests per second")
    axes[1].tick_params(axis="x", labelsize=7)
    fig.suptitle(
        f"Local stack over loopback: {CLIENTS} clients, medians of {RUNS} runs of {REQUESTS}", fontsize=9
    )
    fig.tight_layout()
    name = "loopback-lookups.png"
    fig.savefig(FIGURES / name, dpi=110)
    plt.close(fig)
    return name


def render(report: dict[str, Any]) -> str:
    data, ratio, trip = report["lookups"], report["lookups"]["ratio"], report["tramite"]
    lines = [
        "# Local stack over loopback",
        "",
        f"{machine.describe(report['machine'])}; {CLIENTS} client threads, {REQUESTS} requests per run, "
        "a new connection per request; medians of the runs.",
        "",
        "| route | requests/s | p50 ms | p95 ms | p99 ms | errors |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("GET /saude", "GET /publico/processos/{nup}"):
        row = data[name]
        lines.append(
            f"| {name} | {row['per_second']} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} | "
            f"{row['errors']} |"
        )
    lines += [
        f"| **lookup ÷ no-op** | **{ratio['per_second']}** | **{ratio['p50_ms']}** | **{ratio['p95_ms']}** | "
        f"**{ratio['p99_ms']}** | |",
        "",
        f"![Lookups over loopback](performance/{report['figure']})",
        "",
        f"A hosted → hosted trâmite with {trip['documents']} documents of 64 KiB (MGI → MS, through the API, "
        "the trâmites stream and the bus queue as the local worker polls them), "
        f"{len(trip['runs'])} runs: the send request took {trip['median_send_request_seconds']} s and the "
        f"trâmite reached state {'/'.join(map(str, trip['final_states']))} "
        f"{trip['median_send_to_state_6_seconds']} s after the send began (medians of the runs; the local "
        "worker's polling intervals are part of it, and every figure here grows with the load average "
        "noted above).",
        "",
        "These are a development server and an emulator on one machine: use the figures as ratios "
        "between routes or between versions, never as Lambda's capacity.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    from tests.e2e import test_local_stack
    from tests.e2e.test_local_stack import start_stack

    # The tests give the stack 180 s to start; a machine busy with other work may need longer.
    test_local_stack.READY_TIMEOUT = max(test_local_stack.READY_TIMEOUT, 300)

    with tempfile.TemporaryDirectory(prefix="pen-bench-loopback-") as folder:
        stack = start_stack(Path(folder))
        try:
            measured = lookups(stack)
        finally:
            stack.stop()
    report: dict[str, Any] = {"machine": machine.info(runs=RUNS), "lookups": measured, "tramite": tramites()}
    report["figure"] = plot(report)
    record.save_json("loopback", report)
    text = render(report)
    (RESULTS / "loopback.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
