from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests import servers

# Property tests judge behaviour, not speed: a busy 2-core CI machine must not fail them on time.
# They draw the same examples on every run, so a red CI is reproducible; `make fuzz` explores fresh
# random ones (PEN_FUZZ_EXPLORE=1) to find what the fixed ones miss.
EXPLORE = os.environ.get("PEN_FUZZ_EXPLORE") == "1"
settings.register_profile(
    "pen", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=not EXPLORE
)
settings.load_profile("pen")

servers.fake_aws_environment()
servers.share_botocore_models()

# The app now, once: Chalice(app_name="pen") and Powertools' Logger(service="pen") share the logging
# logger "pen", and Chalice sets it to ERROR without propagation unless it already has a handler on
# the current sys.stdout. Imported inside a test whose output pytest captures on another stream,
# the app would silence the access log for every later test of the process.
import app  # noqa: E402, F401


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with servers.moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def dynamodb_local_endpoint() -> Iterator[str]:
    with servers.dynamodb_local() as endpoint:
        yield endpoint


def pytest_configure(config: pytest.Config) -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
