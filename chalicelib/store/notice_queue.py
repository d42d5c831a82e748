"""SQS adapter of the notices' fan-out (NoticeQueue): one message per page of a NUP's followers,
`{"nup", "janela", "apos"}`. The first page waits (DelaySeconds) until its window has closed, so one
digest covers every movement of the window; the next pages go at once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_DELAY_SECONDS = 900  # SQS's limit


@dataclass(frozen=True)
class NoticeWork:
    nup: str
    window: int
    after: str | None = None


def notice_to_json(work: NoticeWork) -> str:
    return json.dumps({"nup": work.nup, "janela": work.window, "apos": work.after})


def notice_from_json(body: str) -> NoticeWork:
    data = json.loads(body)
    after = data.get("apos")
    return NoticeWork(nup=str(data["nup"]), window=int(data["janela"]), after=str(after) if after else None)


class SqsNoticeQueue:
    def __init__(self, sqs: Any, queue: str) -> None:
        """`queue` is the queue's URL (as the template passes it) or its name (operator tools)."""
        self._sqs = sqs
        self._queue = queue
        self._queue_url: str | None = queue if queue.startswith(("https://", "http://")) else None

    def _url(self) -> str:
        if self._queue_url is None:
            self._queue_url = str(self._sqs.get_queue_url(QueueName=self._queue)["QueueUrl"])
        return self._queue_url

    def schedule_digest(self, nup: str, window: int, delay_seconds: int) -> None:
        self._sqs.send_message(
            QueueUrl=self._url(),
            MessageBody=notice_to_json(NoticeWork(nup, window)),
            DelaySeconds=max(0, min(int(delay_seconds), MAX_DELAY_SECONDS)),
        )

    def continue_digest(self, nup: str, window: int, after: str) -> None:
        self._sqs.send_message(
            QueueUrl=self._url(), MessageBody=notice_to_json(NoticeWork(nup, window, after))
        )
