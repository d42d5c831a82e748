"""Redelivery on the public tracking projection, through the real handlers on the moto server: the
processes table's stream (`record_process_events` → events + `project_copy`) delivering a movement's
records twice, or newest first, leaves the public record exactly as a clean run's, and queues the
movement's digest once.

Every AWS call of the projection and of the notices failing once (throttled, timed out, or the process
dying after it) is tests/integration/test_fault_matrix.py's part.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.sqs.models import sqs_backends

import app as app_module
from chalicelib.config import ENV_QUEUE_AVISOS
from chalicelib.domain.following import window_of
from chalicelib.domain.nup import parse_nup
from chalicelib.domain.structures import Structure
from infra.local.resources import client
from infra.local.worker import LambdaContext, Worker
from tests import servers
from tests.fakes import FakeClock
from tests.integration.conftest import Api, Stack, queue_urls

WHO = {"x-usuario": "maria.silva"}
CPF = "529.982.247-25"
T0 = datetime(2026, 3, 10, 12, 0, 5, tzinfo=UTC)


def queued(url: str) -> list[dict[str, Any]]:
    """Every message on the queue, delayed ones included (moto's backend, in this process)."""
    name = url.rsplit("/", 1)[-1]
    found: list[dict[str, Any]] = []
    for _, regions in sqs_backends.items():
        for region, backend in regions.items():
            queue = backend.queues.get(name) if region == servers.REGION else None
            if queue is not None:
                found += [json.loads(m.body) for m in list(queue._messages)]
    return found


# --- projection ---------------------------------------------------------------------------------------


class Projection:
    def __init__(self, stack: Stack, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
        stack.services.registry.save(
            Structure(id="102", name="Divisão", acronym="DIV", agency_id="", parent_id="101")
        )
        self.stack, self.api = stack, api
        self.clock = FakeClock(T0)
        # One clock for the copies and the projection: every run's record is the same but for its NUP.
        monkeypatch.setattr(stack.services.processes, "_clock", self.clock)
        monkeypatch.setattr(stack.services.tracking, "_clock", self.clock)
        sqs = client("sqs", stack.endpoint, servers.REGION)
        self.urls = queue_urls()
        self.worker = Worker.for_stack(app_module.app, sqs, self.urls, stage=stack.settings.stage,
                                       region=servers.REGION, log=lambda _: None)  # fmt: skip
        self.source = next(s for s in self.worker.streams if s.table.logical_id == "ProcessosTable")
        self._consumer = self.worker._stream_consumers["ProcessosTable"]
        self.handler = self._consumer._handler
        self.context = LambdaContext(self.worker.function_name("record_process_events"), servers.REGION)

    def captured(self) -> list[dict[str, Any]]:
        """The stream's new records, as Lambda would pass them, taken off the stream unhandled."""
        taken: list[dict[str, Any]] = []

        def take(event: dict[str, Any], context: Any) -> dict[str, Any]:
            taken.extend(event["Records"])
            return {"batchItemFailures": []}

        self._consumer._handler = take
        try:
            self.drain()
        finally:
            self._consumer._handler = self.handler
        return taken

    def deliver(self, records: list[dict[str, Any]]) -> None:
        """Each record in its own invocation of the real stream handler, in the order given."""
        for record in records:
            assert self.handler({"Records": [record]}, self.context) == {"batchItemFailures": []}

    def drain(self, rounds: int = 12) -> None:
        for _ in range(rounds):
            result = self.worker.poll_stream(self.source)
            assert result.discarded == 0, result
            if result.delivered == 0 and result.retried == 0:
                return
        raise AssertionError("the stream never drained")

    def created(self, project: bool = True) -> str:
        """A público process created at T0 (projected unless told not to); the clock then moves to
        the next window, so every run's movements fall in the same windows."""
        self.clock.current = T0
        body = {"unidade": "101", "tipo": "Requerimento", "especificacao": "Pedido de certidão",
                "interessados": [{"nome": "João da Silva", "documento": CPF}], "nivelAcesso": 1}  # fmt: skip
        response = self.api.call("POST", "/processos", self.stack.tokens["ms-admin"], body, headers=WHO)
        assert response.status_code == 201, response.body
        if project:
            self.drain()
        self.clock.advance(seconds=self.stack.settings.notice_window_seconds)
        return parse_nup(response.json["nup"]).digits

    def move(self, nup: str) -> int:
        """Sends the process to another unit (not yet projected); the movement's digest window."""
        body = {"unidadeOrigem": "101", "unidadesDestino": ["102"], "manterAberto": False}
        response = self.api.call("POST", f"/processos/{nup}/envios", self.stack.tokens["ms-admin"], body,
                                 headers=WHO)  # fmt: skip
        assert response.status_code in (200, 201), response.body
        return window_of(self.clock.now(), self.stack.settings.notice_window_seconds)

    def public(self, nup: str) -> dict[str, Any]:
        """The citizen's lookup, whole, with the NUP made anonymous (the rest is the same each run)."""
        response = self.api.call("GET", f"/publico/processos/{nup}")
        assert response.status_code == 200, response.body
        text = response.body.decode()
        return dict(json.loads(text.replace(nup, "<nup>").replace(parse_nup(nup).masked, "<nup>")))

    def digests(self, nup: str, window: int) -> int:
        wanted = {"nup": nup, "janela": window, "apos": None}
        return sum(1 for m in queued(self.urls[ENV_QUEUE_AVISOS]) if m == wanted)


@pytest.fixture
def projection(stack: Stack, api: Api, monkeypatch: pytest.MonkeyPatch) -> Projection:
    return Projection(stack, api, monkeypatch)


def clean_reference(projection: Projection) -> dict[str, Any]:
    nup = projection.created()
    window = projection.move(nup)
    projection.drain()
    reference = projection.public(nup)
    assert [a["unidade"] for a in reference["andamentos"]] == ["PROT", "PROT"]
    assert projection.digests(nup, window) == 1
    return reference


def test_a_record_delivered_twice_or_events_newest_first_leave_the_same_record(
    projection: Projection,
) -> None:
    reference = clean_reference(projection)

    nup = projection.created()
    window = projection.move(nup)
    records = projection.captured()
    assert len(records) >= 1
    projection.deliver(records + records)  # the stream delivers the move's records twice
    assert projection.public(nup) == reference
    assert projection.digests(nup, window) == 1  # the duplicate published nothing new

    nup = projection.created(project=False)
    window = projection.move(nup)
    records = projection.captured()
    assert [r["dynamodb"]["NewImage"]["seq"]["N"] for r in records if history(r)] == ["1", "2"]
    projection.deliver(list(reversed(records)))  # the move's event first, the creation's last
    assert projection.public(nup) == reference
    assert projection.digests(nup, window) == 1


def history(record: dict[str, Any]) -> bool:
    image = record["dynamodb"].get("NewImage") or {}
    return record["eventName"] == "INSERT" and str(image.get("sk", {}).get("S", "")).startswith("H#")
