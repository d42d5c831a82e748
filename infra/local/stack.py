"""The local stack (`make run` → `python -m infra.local`): everything in one process, no AWS account.

1. a moto server on 127.0.0.1 stands in for every AWS service (PEN_MOTO_PORT, default 8001);
2. every resource of STACK is created on it (infra/local/resources.py);
3. the demo is seeded through the real services (infra/local/seed.py);
4. the API is served by Chalice's dev server answering through ProblemGateway (PEN_API_PORT,
   default 8000; infra/local/server.py);
5. a worker plays Lambda's event sources (queues, table streams, schedules) against the same handler
   functions (infra/local/worker.py);
6. the citizens' site is built (infra/site.py) and served as CloudFront serves it, `/publico/*`
   forwarded to the API (PEN_SITE_PORT, default 8002; infra/local/site.py). The e-mails' links
   point at it.

Console: one line per API request and per worker batch. The app's own JSON logs (Powertools) are
set to WARNING so the console stays readable; `POWERTOOLS_LOG_LEVEL=INFO make run` shows them all.
Ctrl-C or SIGTERM stops everything and exits 0. State lives in memory only.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from types import FrameType

from chalicelib import bootstrap, config, observability
from infra.local import audit, state
from infra.local.moto_server import MotoServer
from infra.local.resources import client, create_resources
from infra.local.seed import DemoCredential, seed
from infra.local.server import make_api_server, stage_environment
from infra.local.site import make_site_server
from infra.local.state import HOST, REGION, ROOT, SENT_MAIL_PATH, STAGE
from infra.local.worker import ACCOUNT, ENV_SCHEDULE_SECONDS, Worker
from infra.site import build as build_site

READY_LINE = "Local stack ready"
ENV_APP_LOG_LEVEL = "POWERTOOLS_LOG_LEVEL"
QUIET_APP_LOG_LEVEL = "WARNING"
_UNSET_FOR_SAFETY = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN")


def say(line: str = "") -> None:
    print(line, flush=True)


def port_from_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SystemExit(f"{name} must be a TCP port number, not {value!r}")
    return int(value)


def schedule_every_from_env() -> timedelta | None:
    """PEN_LOCAL_SCHEDULE_SECONDS: run every rate schedule this often instead of its own rate."""
    value = os.environ.get(ENV_SCHEDULE_SECONDS, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) == 0:
        raise SystemExit(f"{ENV_SCHEDULE_SECONDS} must be a whole number of seconds, not {value!r}")
    return timedelta(seconds=int(value))


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as both servers do
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


def base_environment(endpoint: str, site_url: str) -> dict[str, str]:
    """Fake credentials that only moto accepts, and the switches every function reads."""
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        config.ENV_ENDPOINT: endpoint,
        config.ENV_PUBLIC_BASE_URL: site_url,  # the site's origin also answers /publico/*
        # Followers get a digest per window of movements: 10 s here, so the demo's notice arrives
        # while a person waits for it (production: 10 minutes).
        config.ENV_NOTICE_WINDOW: "10",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "PEN",
    }


class LocalStack:
    def __init__(self, api_port: int, moto_port: int, site_port: int) -> None:
        self.api_port = api_port
        self.moto_port = moto_port
        self.site_port = site_port
        self.endpoint = f"http://{HOST}:{moto_port}"
        self.api_url = f"http://{HOST}:{api_port}"
        self.site_url = f"http://{HOST}:{site_port}"
        self.stop = threading.Event()
        self._exit = ExitStack()
        self.credentials: list[DemoCredential] = []
        self.public_nup = ""
        self.document_codes = ("", "")
        self.worker: Worker | None = None

    # start-up

    def start(self) -> None:
        user_log_level = os.environ.get(ENV_APP_LOG_LEVEL)
        for name in _UNSET_FOR_SAFETY:
            os.environ.pop(name, None)
        os.environ.update(base_environment(self.endpoint, self.site_url))
        self._start_moto()
        audit.install_from_env(REGION, ACCOUNT)
        resources_env = create_resources(self.endpoint, STAGE, REGION)
        os.environ.update(stage_environment(ROOT, STAGE))
        os.environ.update(resources_env)
        os.environ[ENV_APP_LOG_LEVEL] = user_log_level or QUIET_APP_LOG_LEVEL
        # The app's logger was made when chalicelib was first imported, before this variable was set.
        observability.logger.setLevel(os.environ[ENV_APP_LOG_LEVEL])

        # Only now may the app be imported: Powertools reads the environment when handlers load.
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        import app as app_module

        bootstrap.reset()
        demo = seed(bootstrap.services())
        self.credentials, self.public_nup = demo.credentials, demo.public_nup
        self.document_codes = demo.document_codes
        state.write_json(state.CREDENTIALS_FILE, [c.as_json() for c in self.credentials])

        self.worker = Worker.for_stack(
            app_module.app,
            client("sqs", self.endpoint, REGION),
            resources_env,
            stage=STAGE,
            region=REGION,
            dynamodb=client("dynamodb", self.endpoint, REGION),
            dynamodb_streams=client("dynamodbstreams", self.endpoint, REGION),
            schedule_every=schedule_every_from_env(),
        )
        threads = self.worker.start(self.stop)
        self._exit.callback(self._join, threads)
        self._exit.callback(self.stop.set)

        server = make_api_server(app_module.app, ROOT, HOST, self.api_port, STAGE)
        api_thread = threading.Thread(
            target=server.server.serve_forever, kwargs={"poll_interval": 0.2}, name="api", daemon=True
        )
        api_thread.start()
        self._exit.callback(server.server.server_close)
        self._exit.callback(server.shutdown)

        site = make_site_server(build_site(STAGE, state.site_dir()), self.api_url, HOST, self.site_port)
        site_thread = threading.Thread(
            target=site.serve_forever, kwargs={"poll_interval": 0.2}, name="site", daemon=True
        )
        site_thread.start()
        self._exit.callback(site.server_close)
        self._exit.callback(site.shutdown)

        state.write_json(
            state.STACK_FILE,
            {
                "stage": STAGE,
                "region": REGION,
                "endpoint": self.endpoint,
                "api_url": self.api_url,
                "api_port": self.api_port,
                "moto_port": self.moto_port,
                "site_url": self.site_url,
                "site_port": self.site_port,
                "pid": os.getpid(),
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "environment": resources_env,
                "demo_nup": self.public_nup,
                "demo_document": {"codigo": self.document_codes[0], "crc": self.document_codes[1]},
            },
        )
        self._exit.callback(state.remove_stack_file)

    def _start_moto(self) -> None:
        moto = MotoServer(HOST, self.moto_port)
        moto.start()
        self._exit.callback(moto.stop)

    @staticmethod
    def _join(threads: list[threading.Thread]) -> None:
        for thread in threads:
            thread.join(timeout=10)

    def close(self) -> None:
        self.stop.set()
        self._exit.close()

    # console

    def summary(self) -> str:
        folder = state.local_dir()
        try:
            shown_folder = str(folder.relative_to(Path.cwd()))
        except ValueError:
            shown_folder = str(folder)
        lines = [
            "",
            "PEN — local stack (stage local). Everything runs in this one process.",
            "State lives in memory: Ctrl-C loses it (the demo is seeded again at the next start).",
            "",
            f"  Site         {self.site_url}/   (the citizens' site; open it in a browser)",
            f"  API          {self.api_url}   (OpenAPI: {self.api_url}/openapi.json)",
            f"  AWS (moto)   {self.endpoint}   (e-mails sent: make mail, or {self.endpoint}{SENT_MAIL_PATH})",
        ]
        if self.worker is not None:
            lines += [f"  Worker       {line}" for line in self.worker.describe()]
        lines += [
            f"  Files        {shown_folder}/stack.json, {shown_folder}/demo-credentials.json",
            "",
            "Demo agencies and their API tokens (shown once; also in demo-credentials.json):",
        ]
        for c in self.credentials:
            kind = "hosted" if c.hosted else "bus only"
            lines.append(
                f"  {c.acronym:<5} id {c.agency_id}  {c.name} ({kind}; scopes: {' '.join(c.scopes)})"
            )
            lines.append(f"        TOKEN_{c.acronym}={c.token}")
        first = self.credentials[0] if self.credentials else None
        code, crc = self.document_codes
        lines += ["", "Try:"]
        if first is not None:
            lines.append(f"  export TOKEN={first.token}   # {first.acronym}")
        lines += [
            f'  curl -H "Authorization: Bearer $TOKEN" {self.api_url}/barramento/estruturas',
            f'  curl -H "Authorization: Bearer $TOKEN" {self.api_url}/orgaos/eu',
            f"  curl {self.api_url}/saude",
            "",
            "Public tracking: the MGI's demo process, as a citizen sees it on the site",
            f"  {self.site_url}/?nup={self.public_nup}",
            "and its signed PDF's authenticity (código verificador and CRC)",
            f"  {self.site_url}/autenticidade.html?codigo={code}&crc={crc}",
            "or through the API (no token)",
            f"  curl {self.api_url}/publico/processos/{self.public_nup}",
            f"  curl -X POST -H 'Content-Type: application/json' {self.api_url}/publico/acompanhamentos \\",
            f'       -d \'{{"nup": "{self.public_nup}", "email": "cidadao@example.com"}}\'',
            "  then read the confirmation e-mail with `make mail` and open its link (docs/TRACKING.md)",
            "",
            'E-mails "sent" (SES on moto): make mail',
            f"App JSON logs: {os.environ.get(ENV_APP_LOG_LEVEL)} and above "
            f"(POWERTOOLS_LOG_LEVEL=INFO make run shows every one).",
            "",
        ]
        return "\n".join(lines)


def main() -> int:
    ports = {
        state.ENV_API_PORT: port_from_env(state.ENV_API_PORT, state.DEFAULT_API_PORT),
        state.ENV_MOTO_PORT: port_from_env(state.ENV_MOTO_PORT, state.DEFAULT_MOTO_PORT),
        state.ENV_SITE_PORT: port_from_env(state.ENV_SITE_PORT, state.DEFAULT_SITE_PORT),
    }
    for name, port in ports.items():
        if port_in_use(port):
            say(f"Port {port} on {HOST} is in use (is a local stack running already?); free it or set {name}")
            return 1
    if len(set(ports.values())) < len(ports):
        say(f"{', '.join(ports)} must all differ.")
        return 1
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request

    stack = LocalStack(ports[state.ENV_API_PORT], ports[state.ENV_MOTO_PORT], ports[state.ENV_SITE_PORT])

    signalled: list[int] = []

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        # Only a plain append: a handler runs in the main thread between two of its bytecodes, maybe
        # while that thread holds stack.stop's lock (inside Event.wait), and a second signal can come
        # while the first handler holds it (make, timeout and the shell each forward one); setting the
        # Event here deadlocked the stop. The loop below sets it from ordinary code.
        signalled.append(signum)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        say(f"Starting the local stack: moto on {stack.endpoint}, API on {stack.api_url}...")
        started = time.perf_counter()
        stack.start()
        if not signalled:
            say(stack.summary())
            say(f"{READY_LINE} in {time.perf_counter() - started:.1f} s: {stack.api_url} (Ctrl-C to stop)")
        while not signalled and not stack.stop.is_set():
            time.sleep(0.2)
        if signalled:
            say(f"\n{signal.Signals(signalled[0]).name}: stopping the local stack...")
    finally:
        stack.close()
    say("Local stack stopped.")
    return 0
