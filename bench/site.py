"""The citizens' site: what a first visit to a result page costs a phone, and that the page is usable
before the API answers.

    .venv/bin/python -m bench.site            (make bench)

It starts the local stack (which builds the site and serves it as CloudFront does: text compressed
with gzip, hashed assets immutable, `/publico/*` forwarded to the API) and opens the demo process's
page (`/?nup=…`) in Debian's chromium, with an empty cache, then again with a warm one. Chromium's
DevTools protocol reports the bytes each response took on the wire (headers included) and whether it
came from the cache. A third visit holds the API's answer back, to see what a person has on screen
meanwhile. CloudFront also offers Brotli, a little smaller than the gzip counted here.
"""

from __future__ import annotations

import gzip
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, Route

from bench import machine, record
from tests.e2e.browser import launch
from tests.e2e.test_local_stack import RunningStack, start_stack
from tests.e2e.tracking import demo_nup

RESULTS = Path(__file__).resolve().parent / "results"
RUNS = 5
RESULT_SELECTOR = "main[data-state='result']"


@contextmanager
def local_stack() -> Iterator[RunningStack]:
    with tempfile.TemporaryDirectory(prefix="pen-bench-site-") as folder:
        stack = start_stack(Path(folder))
        try:
            yield stack
        finally:
            stack.stop()


def wait_until_published(page: Page, stack: RunningStack, nup: str) -> None:
    """Right after start-up the worker may still be projecting the demo into the public base."""
    for _ in range(60):
        if page.request.get(f"{stack.site_url}/publico/processos/{nup}").status == 200:
            return
        time.sleep(0.5)
    raise RuntimeError(f"the demo process {nup} never reached the public base")


def visit(browser: Browser, url: str, *, warm_with: str | None = None) -> dict[str, Any]:
    """One visit in a fresh browser context; `warm_with` loads that URL first (the warm cache)."""
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    try:
        if warm_with:
            page.goto(warm_with)
            page.wait_for_selector(RESULT_SELECTOR)
            page.goto("about:blank")
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        responses: dict[str, dict[str, Any]] = {}

        def on_response(event: dict[str, Any]) -> None:
            response = event["response"]
            responses[event["requestId"]] = {
                "url": response["url"],
                "status": response["status"],
                "cached": bool(response.get("fromDiskCache") or response.get("fromMemoryCache")),
                "encoding": {k.lower(): v for k, v in response.get("headers", {}).items()}.get(
                    "content-encoding", ""
                ),
                "bytes": 0,
            }

        def on_finished(event: dict[str, Any]) -> None:
            if event["requestId"] in responses:
                responses[event["requestId"]]["bytes"] = int(event["encodedDataLength"])

        cdp.on("Network.responseReceived", on_response)
        cdp.on("Network.loadingFinished", on_finished)
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(RESULT_SELECTOR)
        ready_ms = (time.perf_counter() - started) * 1000
        page.wait_for_load_state("networkidle")
    finally:
        context.close()
    requests = list(responses.values())
    return {
        "ready_ms": round(ready_ms, 1),
        "requests": len(requests),
        "from_network": sum(1 for r in requests if not r["cached"]),
        "bytes_on_wire": sum(r["bytes"] for r in requests if not r["cached"]),
        "api_calls": sum(1 for r in requests if urlsplit(r["url"]).path.startswith("/publico/")),
        "files": sorted(
            (
                {
                    "path": urlsplit(r["url"]).path,
                    "bytes": r["bytes"],
                    "cached": r["cached"],
                    "encoding": r["encoding"],
                }
                for r in requests
            ),
            key=lambda f: str(f["path"]),
        ),
    }


def before_the_answer(browser: Browser, url: str) -> dict[str, Any]:
    """The API's answer held back until the page has been looked at: what shows meanwhile."""
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    held: list[Route] = []
    try:

        def hold(route: Route) -> None:
            held.append(route)

        page.route("**/publico/processos/**", hold)
        started = time.perf_counter()
        page.goto(url, wait_until="commit")
        page.wait_for_selector("[aria-busy='true']")
        skeleton_ms = (time.perf_counter() - started) * 1000
        editable = page.get_by_label("Número do processo (NUP)").is_editable()
        pending = len(held) == 1 and page.locator(RESULT_SELECTOR).count() == 0
        released = time.perf_counter()
        for route in held:
            route.continue_()
        page.wait_for_selector(RESULT_SELECTOR)
        filled_ms = (time.perf_counter() - released) * 1000
    finally:
        context.close()
    return {
        "skeleton_shown_ms": round(skeleton_ms, 1),
        "api_request_pending_meanwhile": pending,
        "search_editable_while_waiting": editable,
        "result_after_the_answer_ms": round(filled_ms, 1),
    }


def site_files(stack: RunningStack) -> list[dict[str, Any]]:
    """Every file of the built site: raw size and gzip size (what CloudFront sends a browser)."""
    root = stack.local_dir / "site"
    manifest: dict[str, dict[str, str]] = json.loads((root / "cache-control.json").read_text("utf-8"))
    files = []
    for name, headers in sorted(manifest.items()):
        data = (root / name).read_bytes()
        compressible = not headers["Content-Type"].startswith("font/")
        files.append(
            {
                "path": name,
                "bytes": len(data),
                "gzip": len(gzip.compress(data, 6)) if compressible else len(data),
                "cache_control": headers["Cache-Control"],
            }
        )
    return files


def main() -> None:
    with local_stack() as stack, launch() as browser:
        nup = demo_nup(stack)
        page = browser.new_page()
        wait_until_published(page, stack, nup)
        page.close()
        url = f"{stack.site_url}/?nup={nup}"
        first = [visit(browser, url) for _ in range(RUNS)]
        warm = [visit(browser, url, warm_with=url) for _ in range(RUNS)]
        waiting = before_the_answer(browser, url)
        files = site_files(stack)
    report = {
        "recorded_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine.line(),
        "browser": "Debian chromium, headless, 360×740 viewport",
        "runs": RUNS,
        "first_visit": summary(first),
        "repeat_visit": summary(warm),
        "before_the_api_answers": waiting,
        "site_files": files,
    }
    record.save_json("site", report)
    (RESULTS / "site.md").write_text(render(report), encoding="utf-8")
    print(render(report))


def summary(visits: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs, and one run's files (they are the same in every run)."""
    return {
        "requests": statistics.median(v["requests"] for v in visits),
        "from_network": statistics.median(v["from_network"] for v in visits),
        "bytes_on_wire": statistics.median(v["bytes_on_wire"] for v in visits),
        "api_calls": statistics.median(v["api_calls"] for v in visits),
        "ready_ms_median": round(statistics.median(v["ready_ms"] for v in visits), 1),
        "files": visits[-1]["files"],
    }


def render(report: dict[str, Any]) -> str:
    first, warm, waiting = report["first_visit"], report["repeat_visit"], report["before_the_api_answers"]
    lines = [
        "# Citizens' site: recorded results",
        "",
        f"Recorded {report['recorded_at']} on {report['machine']}; {report['browser']}; medians of "
        f"{report['runs']} visits to the demo process's page (`/?nup=…`) on the local stack, which serves "
        "the site as CloudFront does (gzip, the same Cache-Control, `/publico/*` forwarded to the API).",
        "",
        "| visit | requests | from the network | bytes on the wire (headers included) | API calls | "
        "result shown (ms, loopback) |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| first (empty cache) | {first['requests']:g} | {first['from_network']:g} | "
        f"{first['bytes_on_wire']:,.0f} | {first['api_calls']:g} | {first['ready_ms_median']} |",
        f"| repeat (warm cache) | {warm['requests']:g} | {warm['from_network']:g} | "
        f"{warm['bytes_on_wire']:,.0f} | {warm['api_calls']:g} | {warm['ready_ms_median']} |",
        "",
        "First visit, file by file:",
        "",
        "| path | bytes on the wire | encoding |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{f['path']}` | {f['bytes']:,} | {f['encoding'] or '—'} |" for f in first["files"]]
    fonts = sum(f["bytes"] for f in first["files"] if f["path"].endswith(".woff2"))
    lines += [
        "",
        f"The three Raleway faces are {fonts:,} of those bytes ({fonts / first['bytes_on_wire']:.0%}); "
        "they load with `font-display: swap`, so the text shows at once in the fallback face and needs "
        "none of them. The API's answer goes uncompressed below 1,000 bytes, as CloudFront does.",
        "",
        "With the API's answer held back: the loading skeleton showed "
        f"{waiting['skeleton_shown_ms']} ms after navigation started, while the one API request was "
        f"{'still pending' if waiting['api_request_pending_meanwhile'] else 'NOT pending'}; the search field "
        f"was {'editable' if waiting['search_editable_while_waiting'] else 'NOT editable'} meanwhile; the "
        f"result replaced the skeleton {waiting['result_after_the_answer_ms']} ms after the answer was "
        "let through.",
        "",
        "The built site (every file; fonts are already compressed):",
        "",
        "| file | bytes | gzip | Cache-Control |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| `{f['path']}` | {f['bytes']:,} | {f['gzip']:,} | {f['cache_control']} |"
        for f in report["site_files"]
    ]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
