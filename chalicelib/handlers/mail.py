"""The mail worker: sends what the API put on the mail queue, reporting partial batch failures so
one bad message never re-sends the good ones (Lambda needs ReportBatchItemFailures, set in infra/)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint

from chalicelib.bootstrap import services
from chalicelib.observability import logger
from chalicelib.store.mail import message_from_json

bp = Blueprint(__name__)
MAIL_QUEUE = "pen-correio"  # nominal: the template points the trigger at the real queue's ARN


def send_record(record: SQSRecord) -> None:
    message = message_from_json(record.body)
    message_id = services().mail_sender.send(message)
    logger.info("mail sent", extra={"sqs_message_id": record.message_id, "ses_message_id": message_id})


@bp.on_sqs_message(queue=MAIL_QUEUE, batch_size=10)
def send_mail(event: Any) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS)
    response = process_partial_response(
        event=event.to_dict(), record_handler=send_record, processor=processor, context=event.context
    )
    return dict(response)
