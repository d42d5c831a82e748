"""Shared helpers for the tests that drive the citizens' site in a real browser.

- `launch()`: Python Playwright (sync API) driving Debian's chromium, never a downloaded browser
  (`playwright install` is never run). Missing chromium or playwright fails the test under CI and
  skips it, with the command that installs it, elsewhere.
- `Guard`: watches a page for requests to any host other than the site's origin, console errors,
  uncaught exceptions and Content-Security-Policy violations, and fails the test on any of them.
- `check_axe()`: runs axe-core (node_modules/axe-core) on the page and fails on any serious or critical
  violation, listing rule, help and targets.
- `screenshots()`: full-page PNGs at 360 and 1280 px wide into $PEN_SCREENSHOTS (default
  build/screenshots), named `<name>-360.png` and `<name>-1280.png`.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_PATHS = (Path("/usr/lib/chromium/chromium"), Path("/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = "apt-get install -y chromium (Debian), pip install playwright; never `playwright install`"
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")
WIDTHS = (360, 1280)
HEIGHTS = {360: 740, 1280: 900}
ENV_SCREENSHOTS = "PEN_SCREENSHOTS"
DEFAULT_SCREENSHOTS = ROOT / "build" / "screenshots"

# Records CSP violations from the first script on (init scripts are injected by the browser, outside
# the page's CSP), so a blocked style or script fails the test even when the page itself goes on.
_CSP_RECORDER = """
window.__penCspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__penCspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


def _missing(what: str) -> None:
    message = f"{what} is missing: {INSTALL_HINT}"
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {message}", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def require_playwright() -> None:
    """Call at the top of a browser test module, before importing playwright: a missing package fails
    under CI and skips the module elsewhere (instead of an import error)."""
    if importlib.util.find_spec("playwright") is None:
        _missing("Python Playwright")


def chromium_path() -> Path:
    for path in CHROMIUM_PATHS:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    found = shutil.which("chromium")
    if found:
        return Path(found)
    _missing("Debian's chromium")
    raise AssertionError("unreachable")  # pragma: no cover - _missing fails or skips


@contextmanager
def launch() -> Iterator[Browser]:
    """One headless chromium for the block (a module's tests share it)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Python Playwright")
    if not AXE_SCRIPT.is_file():
        _missing(f"{AXE_SCRIPT.relative_to(ROOT)} (npm ci installs axe-core)")
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class Guard:
    """What a page did that it must not: requests to other hosts (but a navigation the test allows),
    console errors, page errors, CSP violations. `requests` keeps every request URL (tests read it to prove a request was or was not
    made). Console errors the test expects (the browser logs a failed status, e.g. a 404 it provoked)
    are allowed with `allow_console(substring)`."""

    site_origin: str
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    allowed_console: list[str] = field(default_factory=list)
    allowed_navigations: list[str] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.add_init_script(_CSP_RECORDER)
        page.on("request", self._on_request)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))
        self.pages.append(page)

    def _on_request(self, request: Request) -> None:
        url = request.url
        self.requests.append(url)
        if url.startswith(("data:", "blob:", "about:")):
            return
        if origin(url) == self.site_origin:
            return
        if request.is_navigation_request() and origin(url) in self.allowed_navigations:
            return
        self.foreign.append(url)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        text = f"{message.text} ({message.location.get('url', '')})"
        if not any(allowed in text for allowed in self.allowed_console):
            self.console_errors.append(text)

    def allow_console(self, substring: str) -> None:
        self.allowed_console.append(substring)

    def allow_navigation(self, other_origin: str) -> None:
        """A page may navigate to `other_origin` (the document store's short-lived download address,
        which the site sends the person to); it still may not load anything from there."""
        self.allowed_navigations.append(other_origin)

    def api_requests(self, path_prefix: str = "/publico/") -> list[str]:
        return [u for u in self.requests if urlsplit(u).path.startswith(path_prefix)]

    def csp_violations(self) -> list[str]:
        found: list[str] = []
        for page in self.pages:
            if page.is_closed():
                continue
            try:
                found.extend(page.evaluate("window.__penCspViolations || []"))
            except Exception as error:  # a page mid-navigation cannot be read: say so, do not hide it
                found.append(f"could not read CSP violations of {page.url}: {error}")
        return found

    def problems(self) -> list[str]:
        listed = [f"request to another host: {u}" for u in self.foreign]
        listed += [f"console error: {t}" for t in self.console_errors]
        listed += [f"uncaught error: {t}" for t in self.page_errors]
        listed += [f"CSP violation: {t}" for t in self.csp_violations()]
        return listed

    def assert_clean(self) -> None:
        problems = self.problems()
        assert not problems, "the page misbehaved:\n" + "\n".join(problems)


def check_axe(page: Page, state: str) -> None:
    """axe-core over the whole document: no serious or critical violation.

    The script is evaluated through the DevTools protocol rather than added as a <script> tag: the
    site's CSP (script-src 'self') rightly blocks inline scripts, and the test must not weaken it.
    """
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    blocking = [v for v in result["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    if blocking:
        lines = []
        for violation in blocking:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
            lines.append(
                f"- {violation['id']} ({violation['impact']}): {violation['help']}\n    {violation['helpUrl']}\n"
                f"    targets: {', '.join(targets)}"
            )
        pytest.fail(f"axe found serious/critical violations in state {state!r}:\n" + "\n".join(lines))


def screenshot_dir() -> Path:
    folder = Path(os.environ.get(ENV_SCREENSHOTS) or DEFAULT_SCREENSHOTS)
    if not folder.is_absolute():
        folder = ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshots(page: Page, name: str, *, axe: bool = True) -> list[Path]:
    """At each width: axe (unless told not to) and a full-page PNG `<name>-<width>.png`. The page is
    left at the last width (1280)."""
    folder = screenshot_dir()
    written = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHTS[width]})
        if axe:
            check_axe(page, f"{name} at {width} px")
        path = folder / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
        written.append(path)
    return written


def focus_is_visible(page: Page) -> bool:
    """The focused element draws a focus indicator: an outline or a box-shadow, under :focus-visible."""
    return bool(
        page.evaluate(
            """() => {
              const el = document.activeElement;
              if (!el || el === document.body) return false;
              const style = getComputedStyle(el);
              const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
              const shadow = style.boxShadow && style.boxShadow !== 'none';
              return el.matches(':focus-visible') && (outline || shadow);
            }"""
        )
    )
