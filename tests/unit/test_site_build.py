"""The citizens' site build (infra/site.py) and the browser's NUP check against the Python one.

The build runs esbuild from node_modules (`make setup` installs it); nothing here touches the network.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.nup import Nup, check_digits_21, parse_nup
from infra import site

PAGES = ("index.html", "confirmar.html", "cancelar.html", "autenticidade.html", "404.html")
REFERENCE = re.compile(r'(?:href|src)="([^"]*)"')
CSS_URL = re.compile(r"url\(([^)]*)\)")
ANY_URL = re.compile(r"https?://[^\s\"'()<>]+")
HASHED = re.compile(r"^assets/[a-z0-9-]+-[A-Z0-9]{8}\.(js|css|woff2)$")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return site.build("local", tmp_path_factory.mktemp("site") / "local")


def _files(out: Path) -> list[Path]:
    return sorted(p for p in out.rglob("*") if p.is_file())


def test_every_page_is_built(built: Path) -> None:
    for page in PAGES:
        html = (built / page).read_text(encoding="utf-8")
        assert html.startswith("<!DOCTYPE html>")
        assert '<html lang="pt-BR">' in html
        assert '<main id="conteudo"' in html
        assert "<!-- partial:" not in html
        assert "{{" not in html


def test_pages_reference_only_files_of_the_output(built: Path) -> None:
    for page in PAGES:
        html = (built / page).read_text(encoding="utf-8")
        for ref in REFERENCE.findall(html):
            if ref.startswith(("#", "data:")):
                continue
            path = urlsplit(ref).path
            assert path.startswith("/"), f"{page}: {ref} is not a path on this origin"
            target = built / (path.lstrip("/") or "index.html")
            assert target.is_file(), f"{page} references {ref}, which is not in the output"
        assert 'src="/config.js"' in html
        assert "/css/" not in html
        assert "/js/" not in html
    for css in (built / "assets").glob("*.css"):
        for quoted in CSS_URL.findall(css.read_text(encoding="utf-8")):
            ref = quoted.strip("\"'")
            if ref.startswith("data:"):
                continue
            assert (css.parent / ref).resolve().is_file(), f"{css.name} references {ref}"


def test_assets_have_content_hashed_names(built: Path) -> None:
    assets = [p.relative_to(built).as_posix() for p in (built / "assets").iterdir()]
    assert assets
    for name in assets:
        assert HASHED.match(name), name
    kinds = {name.rsplit(".", 1)[1] for name in assets}
    assert kinds == {"js", "css", "woff2"}
    assert len([n for n in assets if n.endswith(".woff2")]) == 3  # Raleway 400, 600, 700
    index = (built / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<script type="module" src="/assets/index-[A-Z0-9]{8}\.js"></script>', index)
    assert re.search(r'<link rel="stylesheet" href="/assets/site-[A-Z0-9]{8}\.css">', index)


def test_config_js_names_the_stage_and_the_same_origin(built: Path) -> None:
    assert (built / "config.js").read_text(encoding="utf-8") == (
        'window.PEN_CONFIG = {"apiBaseUrl": "", "stage": "local"};\n'
    )


def test_no_output_file_points_at_another_host(built: Path) -> None:
    for path in _files(built):
        if path.suffix in (".woff2",):
            continue
        urls = ANY_URL.findall(path.read_text(encoding="utf-8"))
        assert not urls, f"{path.relative_to(built)} names {urls}"


def test_cache_control_covers_every_file(built: Path) -> None:
    headers = json.loads((built / "cache-control.json").read_text(encoding="utf-8"))
    names = {p.relative_to(built).as_posix() for p in _files(built)} - {"cache-control.json"}
    assert set(headers) == names
    for name, answer in headers.items():
        immutable = name.startswith("assets/")
        expected = "public, max-age=31536000, immutable" if immutable else "no-cache"
        assert answer["Cache-Control"] == expected, name
    assert headers["index.html"]["Content-Type"] == "text/html; charset=utf-8"
    assert headers["config.js"]["Content-Type"] == "text/javascript; charset=utf-8"
    assert {a["Content-Type"] for n, a in headers.items() if n.endswith(".woff2")} == {"font/woff2"}


def test_content_security_policy_allows_only_this_origin(built: Path) -> None:
    html = (built / "index.html").read_text(encoding="utf-8")
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp
    assert "script-src 'self';" in csp[1]
    assert "connect-src 'self';" in csp[1]
    assert "unsafe-inline" not in csp[1]
    assert "<script>" not in html  # no inline script: the CSP would refuse it


def test_page_scripts_stay_small(built: Path) -> None:
    for script in (built / "assets").glob("*.js"):
        assert script.stat().st_size < 15 * 1024, script.name


def test_a_stage_with_its_own_api_origin(tmp_path: Path) -> None:
    out = site.build("dev", tmp_path / "dev", api_base_url="https://api.example.org/")
    assert (out / "config.js").read_text(encoding="utf-8") == (
        'window.PEN_CONFIG = {"apiBaseUrl": "https://api.example.org", "stage": "dev"};\n'
    )
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "connect-src 'self' https://api.example.org;" in html


def test_rebuilds_replace_the_previous_output_and_refuse_other_folders(tmp_path: Path) -> None:
    out = tmp_path / "site"
    site.build("local", out)
    (out / "assets" / "old-ABCDEFGH.js").write_text("old", encoding="utf-8")
    site.build("local", out)
    assert not (out / "assets" / "old-ABCDEFGH.js").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(site.SiteBuildError, match="not a site build"):
        site.build("local", other)
    with pytest.raises(site.SiteBuildError, match="unknown stage"):
        site.build("staging", tmp_path / "x")
    with pytest.raises(site.SiteBuildError, match="api-base-url"):
        site.build("dev", tmp_path / "y", api_base_url="ftp://example.org")


def test_missing_node_modules_says_run_make_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(site, "ESBUILD", tmp_path / "node_modules" / ".bin" / "esbuild")
    monkeypatch.setattr(site, "ROOT", tmp_path)
    with pytest.raises(site.SiteBuildError, match="run make setup"):
        site.build("local", tmp_path / "out")


# --- the browser's NUP check (site/js/lib/nup.js) answers as chalicelib/domain/nup.py does -------------


def _samples() -> list[str]:
    rng = random.Random(11)  # noqa: S311 - reproducible samples, not secrets
    samples = ["", " ", "abc", "1" * 65, "10001.000001/2026", "10001.000000/2026-", "0000100000000000"]
    for _ in range(150):
        nup = Nup.issue(
            f"{rng.randrange(100000):05d}", rng.randrange(1, 1_000_000), rng.randrange(1000, 10000)
        )
        wrong = nup.digits[:15] + f"{(int(nup.digits[15:]) + rng.randrange(1, 100)) % 100:02d}"
        first19 = "".join(str(rng.randrange(10)) for _ in range(19))
        samples += [nup.digits, nup.masked, f" {nup.masked} ", wrong, nup.digits[:15], nup.digits[:13]]
        samples += [first19 + check_digits_21(first19), first19 + "00", first19[:13] + "-" + first19[13:]]
    samples += [
        "10001 000001 2026 45",
        "10001\u00a0000001/2026-45",
        "10001\x1c000001",
        "12345678901234\ufeff",
    ]
    return samples


def _python(text: str) -> dict[str, str]:
    try:
        parsed = parse_nup(text)
    except InvalidInput as error:
        return {"detail": error.detail}
    return {"digits": parsed.digits, "masked": parsed.masked, "form": parsed.format.value}


def test_browser_nup_check_matches_the_api() -> None:
    samples = _samples()
    script = (
        f"import {{ parseNup }} from {json.dumps((site.SITE / 'js/lib/nup.js').as_uri())};\n"
        "const samples = JSON.parse(process.argv[1]);\n"
        "console.log(JSON.stringify(samples.map((s) => { const r = parseNup(s); delete r.error; return r; })));\n"
    )
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script, json.dumps(samples)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    answers = json.loads(done.stdout)
    for text, answer in zip(samples, answers, strict=True):
        assert answer == _python(text), repr(text)
