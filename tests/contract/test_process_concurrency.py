"""Processes under concurrency, on Amazon's DynamoDB Local: its transactions are isolated like
DynamoDB's. (moto's are not: two concurrent TransactWriteItems can both pass their conditions, so
these tests would prove nothing there.)"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest
from pynamodb.connection import Connection

from chalicelib.domain.errors import Conflict
from chalicelib.domain.processes import AccessLevel, Interested, Metadata
from chalicelib.domain.structures import Structure
from chalicelib.services.ports import SystemClock
from chalicelib.services.processes import Actor, Processes
from chalicelib.services.registry import Registry
from chalicelib.store.models import bind_models
from chalicelib.store.processes import DynamoProcessRepository
from tests import servers
from tests.fakes import InMemoryStructures

pytestmark = pytest.mark.xdist_group("contract")
METADATA = Metadata("Tipo", "Especificação", (Interested("Fulano de Tal"),), AccessLevel.PUBLICO)


@pytest.fixture
def processes(dynamodb_local_endpoint: str) -> Processes:
    stage = f"t{uuid.uuid4().hex[:10]}"
    servers.create_tables(dynamodb_local_endpoint, stage)
    bind_models(servers.settings_for(dynamodb_local_endpoint, stage))
    registry = Registry(InMemoryStructures())
    registry.save(Structure(id="100", name="Ministério", acronym="MS", agency_id=""))
    registry.save(
        Structure(
            id="101", name="Protocolo", acronym="PROT", agency_id="", parent_id="100", protocol_code="25000"
        )
    )
    repository = DynamoProcessRepository(Connection(region=servers.REGION, host=dynamodb_local_endpoint))
    return Processes(repository, registry, SystemClock())


def run_threads(count: int, work: Callable[[int], None]) -> None:
    barrier = threading.Barrier(count)

    def start(index: int) -> None:
        barrier.wait()
        work(index)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_concurrent_creations_get_consecutive_distinct_numbers(processes: Processes) -> None:
    numbers: list[int] = []
    lock = threading.Lock()

    def work(_: int) -> None:
        for _ in range(8):
            process = processes.create(Actor("100", "robo"), "101", METADATA)
            with lock:
                numbers.append(int(process.nup[5:11]))

    run_threads(8, work)
    assert sorted(numbers) == list(range(1, 65))


def test_two_people_editing_at_once_one_wins(processes: Processes) -> None:
    process = processes.create(Actor("100", "ana"), "101", METADATA)
    outcomes: list[str] = []

    def edit(index: int) -> None:
        text = f"Versão {index}"
        change = Metadata("Tipo", text, METADATA.interested, AccessLevel.PUBLICO)
        try:
            processes.update(Actor("100", text), process.nup, "101", change, process.version)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("409")

    run_threads(4, edit)
    assert sorted(outcomes) == ["409", "409", "409", "ok"]
    stored = processes.get("100", process.nup)
    assert stored.history_seq == 2
    assert stored.specification.startswith("Versão ")
