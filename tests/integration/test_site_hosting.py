"""Where the built site goes: the local stack's server (CloudFront's stand-in) and the upload to the
site bucket (moto's S3)."""

from __future__ import annotations

import gzip
import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra import site
from infra.local.site import make_site_server
from infra.resources import SITE_SECURITY_HEADERS

pytestmark = pytest.mark.xdist_group("site-build")  # one esbuild at a time


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return site.build("local", tmp_path_factory.mktemp("site") / "out")


class FakeApi(BaseHTTPRequestHandler):
    """Answers every request with what it received, so the test sees what the proxy forwarded."""

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        received = {
            "method": self.command,
            "path": self.path,
            "body": self.rfile.read(length).decode() if length else "",
            "headers": {k.lower(): v for k, v in self.headers.items()},
        }
        data = json.dumps(received).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("ETag", '"abc"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _echo  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(server: ThreadingHTTPServer) -> None:
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture(scope="module")
def origin(built: Path) -> Iterator[int]:
    api = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    serve(api)
    server = make_site_server(built, f"http://127.0.0.1:{api.server_address[1]}", "127.0.0.1", 0)
    serve(server)
    yield int(server.server_address[1])
    server.shutdown()
    api.shutdown()


@dataclass(frozen=True)
class Fetched:
    """An answer read to its end: the response (status, headers) and its body."""

    response: http.client.HTTPResponse
    data: bytes

    @property
    def status(self) -> int:
        return self.response.status

    def getheader(self, name: str) -> str | None:
        return self.response.getheader(name)


def fetch(port: int, method: str, path: str, body: bytes | None = None, **headers: str) -> Fetched:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body, headers={k.replace("_", "-"): v for k, v in headers.items()})
    response = connection.getresponse()
    fetched = Fetched(response, response.read())
    connection.close()
    return fetched


def test_pages_and_assets_are_served_as_cloudfront_serves_them(built: Path, origin: int) -> None:
    manifest = json.loads((built / "cache-control.json").read_text("utf-8"))
    page = fetch(origin, "GET", "/", Accept_Encoding="gzip, br")
    assert page.status == 200
    assert page.getheader("Content-Encoding") == "gzip"
    assert gzip.decompress(page.data) == (built / "index.html").read_bytes()
    assert page.getheader("Cache-Control") == manifest["index.html"]["Cache-Control"] == "no-cache"
    for name, value in SITE_SECURITY_HEADERS.items():
        assert page.getheader(name) == value

    [script] = [name for name in manifest if name.startswith("assets/index-") and name.endswith(".js")]
    asset = fetch(origin, "GET", f"/{script}")  # no Accept-Encoding: sent as is
    assert asset.status == 200
    assert asset.getheader("Content-Encoding") is None
    assert asset.data == (built / script).read_bytes()
    cache_control = asset.getheader("Cache-Control")
    assert cache_control is not None
    assert "immutable" in cache_control

    head = fetch(origin, "HEAD", "/autenticidade.html")
    assert (head.status, head.data) == (200, b"")
    missing = fetch(origin, "GET", "/nada/aqui")
    assert missing.status == 404
    assert missing.data == (built / "404.html").read_bytes()
    assert fetch(origin, "GET", "/cache-control.json").status == 404  # the build's manifest is not served
    assert fetch(origin, "POST", "/index.html", b"x").status == 405


def test_public_api_paths_are_forwarded_with_what_the_api_reads(origin: int) -> None:
    answer = fetch(
        origin, "POST", "/publico/acompanhamentos/abc/confirmacao?token=t-1", b'{"a": 1}',
        Content_Type="application/json", If_None_Match='"x"', Cookie="rastreio=1", Accept="application/json",
    )  # fmt: skip
    assert answer.status == 201
    assert answer.getheader("ETag") == '"abc"'  # the API's answer comes back unchanged
    received = json.loads(answer.data)
    assert (received["method"], received["path"], received["body"]) == (
        "POST",
        "/publico/acompanhamentos/abc/confirmacao?token=t-1",
        '{"a": 1}',
    )
    assert received["headers"]["content-type"] == "application/json"
    assert received["headers"]["if-none-match"] == '"x"'
    assert "cookie" not in received["headers"]  # as the distribution's origin request policy
    assert fetch(origin, "GET", "/saude").status == 404  # only /publico/* reaches the API


@mock_aws
def test_publish_uploads_assets_before_the_pages_that_name_them(built: Path) -> None:
    s3 = boto3.client("s3", region_name="sa-east-1")
    s3.create_bucket(Bucket="pen-prod-site", CreateBucketConfiguration={"LocationConstraint": "sa-east-1"})
    keys = site.publish(built, "pen-prod-site", s3)
    manifest = json.loads((built / "cache-control.json").read_text("utf-8"))
    assert sorted(keys) == sorted(manifest)
    first_page = min(i for i, key in enumerate(keys) if key.endswith(".html"))
    assert all(key.startswith("assets/") for key in keys[: keys.index("config.js")])
    assert keys.index("config.js") < first_page
    for key in keys:
        stored = s3.get_object(Bucket="pen-prod-site", Key=key)
        assert stored["ContentType"] == manifest[key]["Content-Type"]
        assert stored["CacheControl"] == manifest[key]["Cache-Control"]
        assert stored["Body"].read() == (built / key).read_bytes()
