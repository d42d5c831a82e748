"""The security matrix as a table: every authenticated route × (no token, revoked token, expired token,
token without the route's scope, another agency's token with every scope, the owner), with the status
expected and the status observed, from a real run of tests/integration/test_security_matrix.py (which
`make test` runs too, and which fails on any cell that differs or any answer holding another agency's
data).

    .venv/bin/python -m bench.security            (make bench)

Writes bench/results/security.json (every cell) and bench/results/security.md (the table).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import machine, record

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
TEST = "tests/integration/test_security_matrix.py"
HEADERS = ["sem token", "token revogado", "token expirado", "sem escopo", "outro órgão", "dono (controle)"]


def run_matrix() -> tuple[list[dict[str, Any]], float, int]:
    """Runs the matrix tests once (serially), collecting every cell they observed."""
    with tempfile.TemporaryDirectory(prefix="pen-security-") as folder:
        out = Path(folder) / "cells.jsonl"
        env = {**os.environ, "PEN_SECURITY_RESULTS": str(out)}
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-k", "test_security_matrix", TEST],
            cwd=ROOT,
            env=env,
            check=False,
        )
        elapsed = time.perf_counter() - started
        rows = (
            [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
            if out.exists()
            else []
        )
    return sorted(rows, key=lambda r: r["route"]), elapsed, done.returncode


def cell_text(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "n/a"
    mark = "✓" if cell["status"] == cell["expected"] and not cell["leaked"] else "✗"
    text = f"{cell['status']} {mark}"
    return text if cell["status"] == cell["expected"] else f"{text} (esperado {cell['expected']})"


def markdown(report: dict[str, Any]) -> str:
    rows = report["rows"]
    cells = [c for r in rows for c in r["cells"]]
    good = sum(1 for c in cells if c["status"] == c["expected"] and not c["leaked"])
    lines = [
        "# Security matrix",
        "",
        f"Recorded on {machine.describe(report['machine'])}. {len(rows)} authenticated routes, "
        f"{len(cells)} cells, {good} as expected; pytest exit code {report['pytest_exit_code']} "
        f"({report['seconds']} s). Each cell is the HTTP status observed (✓ when it is the expected one "
        "and the answer holds none of the owner's data). `make test` runs the same matrix and fails on "
        "any ✗.",
        "",
        "Columns: no token (401); a revoked token of the owner agency (401); an expired one (401); a token "
        "of the owner agency with every scope but the route's (403; n/a on routes open to any scope); "
        "a token of another agency "
        "with every scope (404 on the owner's resource; the other agency's own view on a shared directory "
        "or a collection); the owner itself (the control: the request is valid and the resource exists).",
        "",
        "| route | " + " | ".join(HEADERS) + " | notes |",
        "| --- | " + " | ".join("---" for _ in HEADERS) + " | --- |",
    ]
    for row in rows:
        by_who = {c["who"]: c for c in row["cells"]}
        scope = next((c for w, c in by_who.items() if w.startswith("without-")), None)
        owner = next(c for w, c in by_who.items() if w.startswith("owner"))
        refused = [by_who.get(who) for who in ("no token", "revoked", "expired")]
        values = [*refused, scope, by_who.get("other"), owner]
        route = row["route"].replace("|", "\\|")
        lines.append(f"| `{route}` | " + " | ".join(cell_text(v) for v in values) + f" | {row['why']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    rows, elapsed, code = run_matrix()
    report = {
        "machine": machine.info(runs=1),
        "seconds": round(elapsed, 1),
        "pytest_exit_code": code,
        "rows": rows,
    }
    record.save_json("security", report)
    (RESULTS / "security.md").write_text(markdown(report), encoding="utf-8")
    print(f"security matrix: {len(rows)} routes, exit code {code}, {elapsed:.0f} s")
    if code != 0:
        raise SystemExit(code)


if __name__ == "__main__":
    main()
