"""The stuck-trâmite count (services/stuck.py), run by the bus's schedule every 15 minutes, on Amazon's
DynamoDB Local, calls counted: the registry's units are never read, so the count's Queries depend on
the number of agencies only (bench/cost.py prices a run from this shape)."""

from __future__ import annotations

import math
import uuid

import pytest
from pynamodb.connection import Connection

from bench import counting
from chalicelib.domain.structures import Structure
from chalicelib.services.registry import Registry
from chalicelib.services.stuck import StuckTramites
from chalicelib.store.models import bind_models
from chalicelib.store.structures import DynamoStructureRepository
from chalicelib.store.tramites import DynamoTramiteRepository
from tests import servers
from tests.fakes import FakeClock

pytestmark = pytest.mark.xdist_group("contract")

AGENCIES = 12
PAGE = 5


def test_the_count_reads_the_agencies_never_their_units(dynamodb_local_endpoint: str) -> None:
    counting.install()  # before the connection below: the hook rides on new botocore sessions
    stage = f"t{uuid.uuid4().hex[:10]}"
    servers.create_tables(dynamodb_local_endpoint, stage)
    bind_models(servers.settings_for(dynamodb_local_endpoint, stage))
    connection = Connection(region=servers.REGION, host=dynamodb_local_endpoint)
    registry = Registry(DynamoStructureRepository(connection))
    stuck = StuckTramites(DynamoTramiteRepository(connection), registry, FakeClock(), page_size=PAGE)

    def add_units(per_agency: int, start: int) -> None:
        for agency in range(AGENCIES):
            for number in range(start, start + per_agency):
                registry.save(Structure(id=f"{100 + agency}{number:03d}", name=f"Unidade {number}",
                                        acronym=f"U{number}", agency_id="", parent_id=str(100 + agency)))  # fmt: skip

    for agency in range(AGENCIES):
        registry.save(
            Structure(id=str(100 + agency), name=f"Órgão {agency}", acronym=f"O{agency}", agency_id="")
        )
    # One Query of the automatic-cancel index (states 1-4), a page of agencies per Query, one
    # pendências Query per agency (states 5 and 8).
    expected = {"DynamoDB.Query": 1 + math.ceil(AGENCIES / PAGE) + AGENCIES}
    seen = []
    for units, start in ((2, 0), (10, 2)):  # 24 units, then 144
        add_units(units, start)
        with counting.counting() as calls:
            found = stuck.find()
        assert found.tramites == ()
        seen.append(dict(calls))
    assert seen == [expected, expected]
