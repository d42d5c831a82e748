"""The API over HTTP, locally: Chalice's dev server with ProblemGateway in place of LocalGateway.

`chalice local` builds `LocalDevServer(app, config, host, port)` whose handler class,
`ChaliceRequestHandler`, creates a `LocalGateway` per request. We build the same server with a
handler subclass that creates a `ProblemGateway` instead, so API Gateway's own answers (unknown
route, missing or refused token, denied scope) are problem+json here as in the cloud.

Chalice internals relied on (chalice 1.34, chalice/local.py): `LocalDevServer(..., handler_cls=)`,
`ChaliceRequestHandler.__init__` only setting `self.local_gateway`, its `_generic_handle` and the
`do_*` aliases, and the `CustomLocalChalice` class swap `create_local_server` does so that
`app.current_request` is thread-local under the threaded server.
"""

from __future__ import annotations

import json
import sys
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.deploy.validate import validate_routes
from chalice.local import (
    ChaliceRequestHandler,
    CustomLocalChalice,
    LocalChalice,
    LocalDevServer,
    ThreadedHTTPServer,
)

from chalicelib.api import problems
from infra.local.gateway import ProblemGateway


def chalice_config(project_dir: Path, stage: str, app: Chalice | None = None) -> Config:
    """The project's `.chalice/config.json` for one stage, as `chalice local --stage` reads it."""
    from_disk = json.loads((project_dir / ".chalice" / "config.json").read_text(encoding="utf-8"))
    params: dict[str, Any] = {"project_dir": str(project_dir)}
    if app is not None:
        params["chalice_app"] = app
    return Config(chalice_stage=stage, config_from_disk=from_disk, user_provided_params=params)


def stage_environment(project_dir: Path, stage: str) -> dict[str, str]:
    """The stage's `environment_variables` (top level merged with the stage's)."""
    return {k: str(v) for k, v in chalice_config(project_dir, stage).environment_variables.items()}


class ProblemRequestHandler(ChaliceRequestHandler):
    """ChaliceRequestHandler answering through ProblemGateway, with a one-line access log."""

    server_version = "pen-local"
    _started = 0.0

    def __init__(
        self, request: Any, client_address: Any, server: Any, app_object: Chalice, config: Config
    ) -> None:
        self.local_gateway = ProblemGateway(app_object, config)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)

    def _generic_handle(self) -> None:
        self._started = time.perf_counter()
        super()._generic_handle()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle  # noqa: N815

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """An HTTP method the API does not define (TRACE, say) is problem+json here too, not the
        standard library's HTML page; API Gateway answers such a request with a problem as well."""
        if code != HTTPStatus.NOT_IMPLEMENTED:
            super().send_error(code, message, explain)
            return
        detail = f"O método {self.command} não é aceito por esta API."
        body = problems.problem_bytes(problems.METHOD_NOT_ALLOWED, detail)
        self.send_response(problems.METHOD_NOT_ALLOWED.status)
        self.send_header("Content-Type", problems.MEDIA_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        code_value = getattr(code, "value", code)
        elapsed = (time.perf_counter() - self._started) * 1000 if self._started else 0.0
        path = self.path.split("?", 1)[0]  # query strings may carry personal data: keep them out
        print(
            f"{time.strftime('%H:%M:%S')} api {self.command} {path} → {code_value} ({elapsed:.0f} ms)",
            flush=True,
        )

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{time.strftime('%H:%M:%S')} api {format % args}\n")


class ApiHttpServer(ThreadedHTTPServer):
    """Chalice's threaded server with a listen backlog for many clients: socketserver's default of
    5 pending connections reset some of 20 concurrent clients' connections (bench/load.py)."""

    request_queue_size = 128
    daemon_threads = True


def make_api_server(app: Chalice, project_dir: Path, host: str, port: int, stage: str) -> LocalDevServer:
    """A bound (not yet serving) dev server; call `.server.serve_forever()` from a thread."""
    validate_routes(app.routes)  # what `chalice local` checks: routes `chalice deploy` would refuse
    if not isinstance(app, LocalChalice):
        CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
        app.__class__ = CustomLocalChalice
    config = chalice_config(project_dir, stage, app)
    return LocalDevServer(
        app, config, host, port, handler_cls=ProblemRequestHandler, server_cls=ApiHttpServer
    )
