from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests import servers

# Property tests judge behaviour, not speed: a busy 2-core CI machine must not fail them on time.
settings.register_profile("pen", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("pen")

servers.fake_aws_environment()
servers.share_botocore_models()


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
