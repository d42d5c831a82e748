"""The citizens' site build: `python -m infra.site --stage local --out build/site/local`.

site/ holds the sources (HTML pages, one stylesheet, one ES module per page). The build:

1. runs esbuild once over the stylesheet and every page's module (bundled, minified, content-hashed
   names, a metafile saying which output came from which entry); the stylesheet pulls in the gov.br DS
   tokens and components from node_modules and the Raleway fonts, which esbuild copies with hashed names;
2. writes each page with the shared fragments of site/partials/ filled in (`<!-- partial:NAME -->`),
   its `/css/...` and `/js/...` references pointed at the hashed files, the Content-Security-Policy and
   the current page marked in the navigation;
3. writes `config.js` (not hashed, loaded before the page's module): `window.PEN_CONFIG`, the API's
   base URL ("" = same origin, as CloudFront and the local server serve it) and the stage;
4. writes `cache-control.json`: every other file of the output -> its Cache-Control and Content-Type
   (hashed assets immutable for a year, pages and config.js revalidated), which both the local server
   and the deploy use.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "site"
NODE_MODULES = ROOT / "node_modules"
ESBUILD = NODE_MODULES / ".bin" / "esbuild"
STAGES = ("local", "dev", "prod")
ASSETS = "assets"
CONFIG = "config.js"
CACHE_CONTROL = "cache-control.json"

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".woff2": "font/woff2",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
# Every browser of the last five years runs ES2020 modules as written; esbuild only minifies.
TARGET = "es2020"

_PARTIAL = re.compile(r"<!-- partial:([a-z-]+) -->")
_ASSET_REF = re.compile(r'(?P<attr>href|src)="/(?P<path>(?:css|js)/[^"]+)"')
_HASHED = re.compile(r"-[A-Z0-9]{8}\.[a-z0-9]+$")


class SiteBuildError(RuntimeError):
    """The site cannot be built; the message says what to do."""


def content_security_policy(api_base_url: str = "") -> str:
    """Only this origin: no inline script or style, nothing from any other host (the API's origin is
    added when a stage calls it elsewhere)."""
    connect = "'self'"
    if api_base_url:
        parts = urlsplit(api_base_url)
        connect += f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; form-action 'self'; base-uri 'none'; object-src 'none'"
    )


def _check_inputs(stage: str, api_base_url: str) -> str:
    if stage not in STAGES:
        raise SiteBuildError(f"unknown stage {stage!r}: use one of {', '.join(STAGES)}")
    base = api_base_url.strip().rstrip("/")
    if base:
        parts = urlsplit(base)
        if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
            raise SiteBuildError(f"--api-base-url must be an http(s) URL without query, not {api_base_url!r}")
    if not ESBUILD.exists():
        raise SiteBuildError(
            f"{ESBUILD.relative_to(ROOT)} is missing: run make setup (it installs node_modules)"
        )
    return base


def _pages() -> list[Path]:
    pages = sorted(SITE.glob("*.html"))
    if not pages:
        raise SiteBuildError(f"no pages in {SITE}")
    return pages


def _with_partials(page: Path) -> str:
    """The page with the shared fragments of site/partials/ in place of `<!-- partial:NAME -->`."""

    def partial(match: re.Match[str]) -> str:
        source = SITE / "partials" / f"{match[1]}.html"
        if not source.is_file():
            raise SiteBuildError(f"{page.name}: no partial {source.relative_to(ROOT)}")
        return source.read_text(encoding="utf-8").strip()

    return _PARTIAL.sub(partial, page.read_text(encoding="utf-8"))


def _entries(pages: dict[str, str]) -> list[str]:
    """The stylesheet and scripts the pages reference, as paths from the repository root."""
    found: set[str] = set()
    for name, html in pages.items():
        for match in _ASSET_REF.finditer(html):
            path = match["path"]
            if not (SITE / path).is_file():
                raise SiteBuildError(f"{name} references /{path}, which is not in site/")
            found.add(f"site/{path}")
    return sorted(found)


def _prepare(out: Path) -> None:
    """An earlier build in `out` (even a failed one) is replaced; a folder with anything else is refused."""
    if out.exists():
        ours = {ASSETS, CONFIG, CACHE_CONTROL}
        if not all(p.name in ours or p.suffix == ".html" for p in out.iterdir()):
            raise SiteBuildError(f"{out} exists and is not a site build: choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)


def _esbuild(entries: list[str], out: Path) -> dict[str, str]:
    """Bundles every entry into out/assets; returns entry (site/...) -> output (assets/...)."""
    with tempfile.TemporaryDirectory(prefix="pen-site-") as scratch:
        metafile = Path(scratch) / "meta.json"
        command = [
            str(ESBUILD),
            *entries,
            "--bundle",
            "--minify",
            "--format=esm",
            f"--target={TARGET}",
            "--charset=utf8",
            "--legal-comments=eof",
            "--loader:.woff2=file",
            f"--outdir={out / ASSETS}",
            "--entry-names=[name]-[hash]",
            "--asset-names=[name]-[hash]",
            f"--metafile={metafile}",
            "--log-level=warning",
        ]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SiteBuildError(f"esbuild failed:\n{done.stderr.strip()}")
        meta = json.loads(metafile.read_text(encoding="utf-8"))
    outputs: dict[str, str] = {}
    for output, info in meta["outputs"].items():
        entry = info.get("entryPoint")
        if entry:
            outputs[entry] = (ROOT / output).resolve().relative_to(out).as_posix()
    missing = [e for e in entries if e not in outputs]
    if missing:
        raise SiteBuildError(f"esbuild wrote no output for {', '.join(missing)}")
    return outputs


def _render(page: Path, html: str, outputs: dict[str, str], csp: str) -> str:
    def asset(match: re.Match[str]) -> str:
        return f'{match["attr"]}="/{outputs["site/" + match["path"]]}"'

    html = _ASSET_REF.sub(asset, html.replace("{{csp}}", csp))
    # The navigation marks the page it is on.
    return html.replace(f'data-nav="{page.stem}"', f'data-nav="{page.stem}" aria-current="page"')


def config_script(stage: str, api_base_url: str = "") -> str:
    config = {"apiBaseUrl": api_base_url, "stage": stage}
    return f"window.PEN_CONFIG = {json.dumps(config, ensure_ascii=False)};\n"


def _headers(out: Path) -> dict[str, dict[str, str]]:
    headers: dict[str, dict[str, str]] = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        name = path.relative_to(out).as_posix()
        if name == CACHE_CONTROL:
            continue
        kind = CONTENT_TYPES.get(path.suffix)
        if kind is None:
            raise SiteBuildError(f"no Content-Type known for {name}")
        hashed = name.startswith(f"{ASSETS}/") and _HASHED.search(name) is not None
        headers[name] = {"Cache-Control": IMMUTABLE if hashed else REVALIDATE, "Content-Type": kind}
    return headers


def build(stage: str, out: Path, api_base_url: str = "") -> Path:
    """Builds the site for `stage` into `out` (replacing an earlier build there); returns `out`."""
    base = _check_inputs(stage, api_base_url)
    out = out.resolve()
    pages = {page: _with_partials(page) for page in _pages()}
    entries = _entries({page.name: html for page, html in pages.items()})
    _prepare(out)
    outputs = _esbuild(entries, out)
    csp = content_security_policy(base)
    for page, html in pages.items():
        (out / page.name).write_text(_render(page, html, outputs, csp), encoding="utf-8")
    (out / CONFIG).write_text(config_script(stage, base), encoding="utf-8")
    headers = _headers(out)
    (out / CACHE_CONTROL).write_text(json.dumps(headers, indent=2) + "\n", encoding="utf-8")
    return out


def publish(out: Path, bucket: str, s3: Any) -> list[str]:
    """Uploads a build to the site bucket, each file with the Content-Type and Cache-Control of
    `cache-control.json`: the hashed assets first, then config.js, then the pages, so a page never
    names an asset that is not there yet. Nothing is deleted: a browser holding yesterday's page still
    finds yesterday's assets (the bucket's lifecycle expires old versions). Returns the keys, in order."""
    manifest: dict[str, dict[str, str]] = json.loads((out / CACHE_CONTROL).read_text(encoding="utf-8"))
    order = sorted(manifest, key=lambda name: (not name.startswith(f"{ASSETS}/"), name != CONFIG, name))
    for name in order:
        headers = manifest[name]
        s3.put_object(
            Bucket=bucket,
            Key=name,
            Body=(out / name).read_bytes(),
            ContentType=headers["Content-Type"],
            CacheControl=headers["Cache-Control"],
        )
    return order


def _summary(out: Path) -> str:
    lines = [f"site built in {out}"]
    for path in sorted(p for p in (out / ASSETS).iterdir() if p.is_file()):
        lines.append(f"  {path.relative_to(out).as_posix():48} {path.stat().st_size / 1024:7.1f} KiB")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.site", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--stage", choices=STAGES, default="local")
    parser.add_argument("--out", type=Path, help="output folder (default build/site/<stage>)")
    parser.add_argument("--api-base-url", default="", help='the API\'s base URL; "" = same origin (default)')
    parser.add_argument(
        "--publish-bucket",
        metavar="NAME",
        help="then upload the build to this bucket (the stack's output SiteBucketName), with the "
        "usual AWS credentials and region (AWS_PROFILE, AWS_REGION)",
    )
    args = parser.parse_args(argv)
    out = args.out or ROOT / "build" / "site" / args.stage
    try:
        built = build(args.stage, out, args.api_base_url)
    except SiteBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(_summary(built))
    if args.publish_bucket:
        import boto3  # only for a publish: building needs no AWS

        keys = publish(built, args.publish_bucket, boto3.client("s3"))
        print(f"published {len(keys)} files to s3://{args.publish_bucket}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
