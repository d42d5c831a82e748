from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import servers

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
