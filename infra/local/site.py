"""The citizens' site, locally, as CloudFront serves it in the cloud: one origin that answers the
built site's files and forwards `/publico/*` to the API.

- files come from the build folder (infra/site.py), each with the Cache-Control and Content-Type the
  build recorded in `cache-control.json` and the security headers of the template's response
  headers policy (infra/resources.py: SITE_SECURITY_HEADERS);
- text (the API's JSON too) is gzip-compressed when the browser accepts it, as CloudFront's
  automatic compression does;
- an unknown path answers 404.html with status 404 (CloudFront's custom error response);
- `/publico/...` is passed to the API unchanged (method, query, body, the headers that matter) and
  its answer returned unchanged.
"""

from __future__ import annotations

import gzip
import http.client
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infra.resources import SITE_SECURITY_HEADERS
from infra.site_hosting import NOT_FOUND_PAGE

API_PREFIX = "/publico/"
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "application/problem+json")
MIN_COMPRESSED = 1000  # CloudFront compresses answers of 1,000 bytes or more
# Headers a browser sends that the API reads; the rest (cookies included) stay behind, as in the
# template's origin request policy.
FORWARDED_REQUEST_HEADERS = ("accept", "accept-language", "content-type", "if-none-match", "x-correlation-id")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "server", "date"}
PROXY_TIMEOUT = 30.0


class SiteFiles:
    """The built site in memory: path → (bytes, headers). Small (well under a megabyte)."""

    def __init__(self, root: Path) -> None:
        manifest: dict[str, dict[str, str]] = json.loads((root / "cache-control.json").read_text("utf-8"))
        self.files: dict[str, tuple[bytes, dict[str, str]]] = {}
        for name, headers in manifest.items():
            self.files["/" + name] = ((root / name).read_bytes(), dict(headers))

    def find(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        if path.endswith("/"):
            path += "index.html"
        found = self.files.get(path)
        if found is not None:
            return 200, found[0], found[1]
        body, headers = self.files[f"/{NOT_FOUND_PAGE}"]
        return 404, body, headers


def make_site_server(root: Path, api_url: str, host: str, port: int) -> ThreadingHTTPServer:
    files = SiteFiles(root)
    api = urlsplit(api_url)

    class SiteHandler(BaseHTTPRequestHandler):
        server_version = "pen-local-site"
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._handle()

        do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET  # noqa: N815

        def _handle(self) -> None:
            started = time.perf_counter()
            path = urlsplit(self.path).path
            if path.startswith(API_PREFIX):
                status = self._proxy()
            elif self.command in ("GET", "HEAD"):
                status = self._file(path)
            else:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))  # not the next request's start
                status = 405
                self._send(405, b"", {"Allow": "GET, HEAD", "Content-Length": "0"})
            elapsed = (time.perf_counter() - started) * 1000
            print(
                f"{time.strftime('%H:%M:%S')} site {self.command} {path} → {status} ({elapsed:.0f} ms)",
                flush=True,
            )

        def _file(self, path: str) -> int:
            status, body, headers = files.find(path)
            body, headers = self._compressed(body, {**headers, **SITE_SECURITY_HEADERS})
            self._send(status, body if self.command == "GET" else b"", headers)
            return status

        def _compressed(self, body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
            content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
            if (
                "gzip" in self.headers.get("Accept-Encoding", "")
                and content_type.startswith(COMPRESSIBLE)
                and len(body) >= MIN_COMPRESSED
                and not any(k.lower() == "content-encoding" for k in headers)
            ):
                body = gzip.compress(body, 6, mtime=0)
                headers = {**headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
            return body, {**headers, "Content-Length": str(len(body))}

        def _proxy(self) -> int:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            sent = {k: v for k, v in self.headers.items() if k.lower() in FORWARDED_REQUEST_HEADERS}
            connection = http.client.HTTPConnection(
                api.hostname or "127.0.0.1", api.port, timeout=PROXY_TIMEOUT
            )
            try:
                connection.request(self.command, self.path, body=body, headers=sent)
                answer = connection.getresponse()
                data = answer.read()
                headers = {k: v for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP}
                status = answer.status
            except OSError:
                status, data = 502, b""
                headers = {}
            finally:
                connection.close()
            data, headers = self._compressed(data, headers)
            self._send(status, data if self.command != "HEAD" else b"", headers)
            return status

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response_only(status)
            for name, value in headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", headers.get("Content-Length", str(len(body))))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"{time.strftime('%H:%M:%S')} site {format % args}\n")

    server = ThreadingHTTPServer((host, port), SiteHandler)
    server.daemon_threads = True
    return server
