"""SQS adapter of the bus's work queue (BusWorkQueue): one message per trâmite state change the
platform acts on for a hosted agency. The work is idempotent, so a duplicate message is harmless."""

from __future__ import annotations

import json
from typing import Any


def work_to_json(idt: str, state: int) -> str:
    return json.dumps({"idt": idt, "estado": state})


def work_from_json(body: str) -> tuple[str, int]:
    data = json.loads(body)
    return str(data["idt"]), int(data["estado"])


class SqsBusWorkQueue:
    def __init__(self, sqs: Any, queue: str) -> None:
        """`queue` is the queue's URL (as the template passes it) or its name (operator tools)."""
        self._sqs = sqs
        self._queue = queue
        self._queue_url: str | None = queue if queue.startswith(("https://", "http://")) else None

    def enqueue(self, idt: str, state: int) -> None:
        if self._queue_url is None:
            self._queue_url = str(self._sqs.get_queue_url(QueueName=self._queue)["QueueUrl"])
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=work_to_json(idt, state))
