"""Cold start: the time and memory to import the Lambda entry point (app.py), as a ratio to
`import boto3` measured in the same run, and the size of the deployment package.

    .venv/bin/python -m bench.coldstart            (make bench)

Each import runs in a fresh interpreter (`python -X importtime` is not used: it adds its own cost),
RUNS times, alternating app and boto3 so a busy moment of the machine hits both alike; medians are
quoted. Memory is measured three ways: the resident set's growth over the bare interpreter
(/proc/self/statm), the process's peak resident set after the import (ru_maxrss, interpreter
included), and the Python allocations traced by tracemalloc (a separate run: tracing slows the
import). Importing app.py imports boto3 too, so the ratio cannot be under about 1. The package is
built as `make package` builds it (into a temporary folder): deployment.zip holds our code, the
layer zip the dependencies.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

from bench import machine, record

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FIGURES = ROOT / "docs" / "performance"
RUNS = 5
TRACED_RUNS = 3  # tracing makes an import several times slower
TARGETS = {"app.py (the Lambda entry point)": "app", "boto3": "boto3"}

_PROBE = """
import json, resource, sys, time
trace = sys.argv[2] == "trace"
if trace:
    import tracemalloc
    tracemalloc.start()
def resident_kib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() // 1024
clients = []
if sys.argv[2] == "clients":  # its own run: importing botocore first would skew the others
    import botocore.client
    create_client = botocore.client.ClientCreator.create_client
    def counted(self, *args, **kwargs):
        clients.append(args[0] if args else kwargs.get("service_name"))
        return create_client(self, *args, **kwargs)
    botocore.client.ClientCreator.create_client = counted
before = resident_kib()
started = time.perf_counter()
__import__(sys.argv[1])
elapsed = time.perf_counter() - started
out = {"seconds": elapsed, "rss_growth_kib": resident_kib() - before, "modules": len(sys.modules),
       "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "clients": clients}
if trace:
    out["traced_kib"], out["traced_peak_kib"] = (v // 1024 for v in tracemalloc.get_traced_memory())
print(json.dumps(out))
"""


def _environment() -> dict[str, str]:
    """What the function has in Lambda: the stage's variables (no endpoint: nothing is called)."""
    import os

    from infra.resources import STACK
    from tests.servers import REGION

    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("PEN_")},
        **STACK.environment("prod"),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _probe(module: str, mode: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, module, mode],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def imports() -> dict[str, Any]:
    env = _environment()
    for module in TARGETS.values():  # compile the bytecode once, as the package ships it
        _probe(module, "time", {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"})
    samples: dict[str, list[dict[str, Any]]] = {m: [] for m in TARGETS.values()}
    traced: dict[str, list[dict[str, Any]]] = {m: [] for m in TARGETS.values()}
    for run in range(RUNS):
        for module in TARGETS.values():
            samples[module].append(_probe(module, "time", env))
            if run < TRACED_RUNS:
                traced[module].append(_probe(module, "trace", env))
    result: dict[str, Any] = {}
    for label, module in TARGETS.items():
        result[module] = {
            "label": label,
            "seconds": [round(s["seconds"], 4) for s in samples[module]],
            "median_ms": round(statistics.median(s["seconds"] for s in samples[module]) * 1000, 1),
            "median_rss_growth_mib": round(
                statistics.median(s["rss_growth_kib"] for s in samples[module]) / 1024, 1
            ),
            "median_traced_peak_mib": round(
                statistics.median(s["traced_peak_kib"] for s in traced[module]) / 1024, 1
            ),
            "median_max_rss_mib": round(
                statistics.median(s["max_rss_kib"] for s in samples[module]) / 1024, 1
            ),
            "modules_loaded": samples[module][0]["modules"],
            "aws_clients_made_at_import": _probe(module, "clients", env)["clients"],
        }
    app, boto3 = result["app"], result["boto3"]
    result["ratio"] = {
        "time": round(app["median_ms"] / boto3["median_ms"], 2),
        "rss": round(app["median_rss_growth_mib"] / boto3["median_rss_growth_mib"], 2),
        "traced": round(app["median_traced_peak_mib"] / boto3["median_traced_peak_mib"], 2),
    }
    return result


def package() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="pen-bench-package-") as folder:
        out = Path(folder)
        subprocess.run(
            [sys.executable, "-m", "infra.template", "package", "--stage", "prod", "--out", str(out)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            timeout=900,
        )
        result: dict[str, Any] = {}
        for path in sorted(out.glob("*.zip")):
            with zipfile.ZipFile(path) as archive:
                entries = archive.infolist()
                unpacked = sum(e.file_size for e in entries)
                top: Counter[str] = Counter()
                for entry in entries:
                    parts = entry.filename.split("/")
                    if parts[0] == "python" and len(parts) > 4:  # python/lib/python3.x/site-packages/<dist>
                        top[parts[4]] += entry.file_size
                    else:
                        top[parts[0]] += entry.file_size
            result[path.name] = {
                "bytes": path.stat().st_size,
                "unpacked_bytes": unpacked,
                "files": len(entries),
                "largest": [{"name": n, "unpacked_bytes": b} for n, b in top.most_common(8)],
            }
    return result


def plot(result: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    FIGURES.mkdir(parents=True, exist_ok=True)
    imports_ = result["imports"]
    labels = [imports_[m]["label"] for m in TARGETS.values()]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    axes[0].bar(labels, [imports_[m]["median_ms"] for m in TARGETS.values()], color=["#1351b4", "#888888"])
    axes[0].set_ylabel("import time, ms (median)")
    axes[1].bar(
        labels, [imports_[m]["median_rss_growth_mib"] for m in TARGETS.values()], color=["#1351b4", "#888888"]
    )
    axes[1].set_ylabel("resident memory growth, MiB")
    for axis in axes:
        axis.tick_params(axis="x", labelsize=7)
    fig.suptitle(f"Cold import, medians of {RUNS} fresh interpreters", fontsize=9)
    fig.tight_layout()
    name = "coldstart-imports.png"
    fig.savefig(FIGURES / name, dpi=110)
    plt.close(fig)
    return name


def render(report: dict[str, Any]) -> str:
    imports_, ratio = report["imports"], report["imports"]["ratio"]
    lines = [
        "# Cold start and package size",
        "",
        f"{machine.describe(report['machine'])} (each a fresh interpreter; medians; tracemalloc: "
        f"{TRACED_RUNS} runs).",
        "",
        "| import | time ms | resident memory growth MiB | process peak RSS MiB (ru_maxrss) | "
        "traced peak MiB (tracemalloc) | modules loaded |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for module in TARGETS.values():
        row = imports_[module]
        lines.append(
            f"| {row['label']} | {row['median_ms']} | {row['median_rss_growth_mib']} | "
            f"{row['median_max_rss_mib']} | {row['median_traced_peak_mib']} | {row['modules_loaded']} |"
        )
    lines += [
        "",
        f"Importing the entry point costs **{ratio['time']}×** the time of `import boto3`, "
        f"{ratio['rss']}× its resident memory and {ratio['traced']}× its traced allocations (app.py "
        "imports boto3 itself; the rest is Chalice, Powertools, PynamoDB, pydantic and our code). "
        "AWS clients made during the import: "
        + (", ".join(imports_["app"]["aws_clients_made_at_import"]) or "none")
        + " (ours are built at the first request; the X-Ray ones, if listed, are the tracer's). Times "
        "swing with other work on the machine (see the load average): the memory figures and the module "
        "count do not, and are the steadier measure of what the entry point pulls in.",
        "",
        f"![Cold import](performance/{report['figure']})",
        "",
        "Deployment package, as `make package` builds it:",
        "",
        "| file | bytes | unpacked bytes | files | largest parts (unpacked) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, row in report["package"].items():
        largest = ", ".join(
            f"{p['name']} {p['unpacked_bytes'] / 1048576:.1f} MiB" for p in row["largest"][:5]
        )
        lines.append(
            f"| {name} | {row['bytes']:,} | {row['unpacked_bytes']:,} | {row['files']:,} | {largest} |"
        )
    lines += ["", "Lambda's limit is 250 MB unpacked for the function and its layers together.", ""]
    return "\n".join(lines)


def main() -> None:
    report: dict[str, Any] = {"machine": machine.info(runs=RUNS), "imports": imports(), "package": package()}
    report["figure"] = plot(report)
    record.save_json("coldstart", report)
    text = render(report)
    (RESULTS / "coldstart.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
