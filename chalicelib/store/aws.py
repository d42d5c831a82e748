"""boto3 clients built once from the settings (endpoint switch for the local stack)."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.config import Settings

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)
# One session: it caches the service models, so a client costs milliseconds, not a tenth of a second.
# Creating clients from a shared session is not thread-safe, hence the lock.
_SESSION = boto3.session.Session()
_LOCK = threading.Lock()


@cache
def client(service: Any, settings: Settings) -> Any:
    with _LOCK:
        return _SESSION.client(
            service, region_name=settings.region, endpoint_url=settings.endpoint_url, config=_CONFIG
        )
