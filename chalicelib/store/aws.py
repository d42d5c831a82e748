"""boto3 clients built once from the settings (endpoint switch for the local stack)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.config import Settings

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str, settings: Settings) -> Any:
    return boto3.session.Session().client(
        service, region_name=settings.region, endpoint_url=settings.endpoint_url, config=_CONFIG
    )
