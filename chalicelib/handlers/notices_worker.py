"""The notices queue: each message is one page of a NUP's digest fan-out (`{"nup", "janela",
"apos"}`). A page sends each of its followers the window's digest once (Powertools idempotency keyed
by subscription + NUP + window), having queued the next page first; a failed page is reported alone and
retried, resending nothing already sent (ReportBatchItemFailures, set in infra/).

Each invocation publishes AvisosEnviados: the e-mails its pages actually sent (fan_out's count, which
leaves out the suppressed addresses, the followers that confirmed later and the notices a redelivered
page had already sent)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint

from chalicelib.bootstrap import services
from chalicelib.observability import NOTICES_SENT, logger, publish
from chalicelib.store import once
from chalicelib.store.notice_queue import notice_from_json

bp = Blueprint(__name__)
NOTICES_QUEUE = "pen-avisos"  # nominal: the template points the trigger at the real queue's ARN


def notice_record(record: SQSRecord) -> int:
    """One page of a digest; returns how many e-mails it sent."""
    work = notice_from_json(record.body)
    sent = services().following.fan_out(work.nup, work.window, work.after)
    logger.info(
        "notices page done",
        extra={"sqs_message_id": record.message_id, "janela": work.window, "enviados": sent},
    )
    return sent


@bp.on_sqs_message(queue=NOTICES_QUEUE, batch_size=5)
def run_notices(event: Any) -> dict[str, Any]:
    once.register_lambda_context(event.context)
    # A batch that failed whole is reported like any other (every id listed), not raised.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    sent = 0

    def handle(record: SQSRecord) -> None:
        nonlocal sent
        sent += notice_record(record)

    try:
        response = process_partial_response(
            event=event.to_dict(), record_handler=handle, processor=processor, context=event.context
        )
    finally:
        publish(NOTICES_SENT, sent)  # one line per invocation, 0 included
    return dict(response)
