"""The recorded benchmarks cover what docs/PERFORMANCE.md claims they cover: every route of the API
and every asynchronous function of the app has a measured row in bench/results/routes.json (`make
bench` refreshes it; a new route without a row fails here until the bench measures it), and the
performance page is assembled from every results section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import report
from bench.routes import RESULTS, content_bytes, openapi_routes
from tests.least_privilege import chalice_app

ROUTES = RESULTS / "routes.json"


def recorded() -> list[dict[str, Any]]:
    return list(json.loads(ROUTES.read_text(encoding="utf-8"))["rows"])


def test_every_route_of_the_openapi_document_has_a_measured_row() -> None:
    measured = {row["route"]: row for row in recorded() if row["status"] is not None}
    missing = sorted(set(openapi_routes()) - set(measured))
    assert not missing, f"routes with no row in {ROUTES.name}: run `make bench` (bench/routes.py): {missing}"
    for route in openapi_routes():
        row = measured[route]
        assert 200 <= row["status"] < 400, (route, row["status"])
        assert "api_handler" in row["functions"] or route in {"GET /saude", "GET /openapi.json"}, route


def test_every_asynchronous_function_of_the_app_ran_in_some_measured_leg() -> None:
    functions = {f.name for f in chalice_app().functions}
    ran = {name for row in recorded() for name in (*row["functions"], *row["asynchronous"])}
    assert functions - ran == set(), f"never measured: {sorted(functions - ran)}"


def test_no_file_content_passes_through_lambda_but_where_the_row_says_why() -> None:
    for row in recorded():
        if content_bytes(row):
            assert row["note"], f"{row['route']} moved {content_bytes(row)} content bytes with no note"


def test_the_page_takes_every_results_section_in_reading_order_with_headings_demoted(tmp_path: Path) -> None:
    for name in ("tracking", "zeta", "routes", "load"):
        (tmp_path / f"{name}.md").write_text(
            f"# Section {name}\n\n## Part\n\n```\n# not a heading\n```\n![x](docs/performance/{name}.png)\n",
            encoding="utf-8",
        )
    page = report.render(tmp_path)
    order = [page.index(f"## Section {name}") for name in ("routes", "tracking", "load", "zeta")]
    assert order == sorted(order)
    top = [line for line in page.splitlines() if line.startswith("# ")]
    assert top == ["# Performance"] + ["# not a heading"] * 4  # the title, and code left alone
    assert page.startswith("# Performance")
    assert "### Part" in page
    assert "\n# not a heading" in page
    assert "](performance/routes.png)" in page
    assert "docs/performance" not in page
