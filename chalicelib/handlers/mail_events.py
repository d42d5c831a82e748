"""SES bounces and complaints (configuration set -> SNS -> SQS): the suppression list.

The SQS body is SNS's envelope whose "Message" is SES's event JSON (or SES's JSON itself, with SNS
raw message delivery). A permanent bounce suppresses each bounced recipient; a complaint each
complaining one. Transient bounces, deliveries and anything else are ignored.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint

from chalicelib.bootstrap import services
from chalicelib.observability import logger

bp = Blueprint(__name__)
MAIL_EVENTS_QUEUE = "pen-correio-eventos"  # nominal: the template points the trigger at the real queue


def suppressions(body: str) -> list[tuple[str, str]]:
    """(address, reason) pairs an SES event asks to suppress; [] for events that do not."""
    data = json.loads(body)
    if isinstance(data, dict) and isinstance(data.get("Message"), str) and "Type" in data:
        data = json.loads(data["Message"])  # the SNS envelope
    if not isinstance(data, dict):
        return []
    kind = str(data.get("eventType") or data.get("notificationType") or "")
    if kind == "Bounce":
        bounce = data.get("bounce") or {}
        if bounce.get("bounceType") != "Permanent":
            return []
        recipients, reason = bounce.get("bouncedRecipients") or [], "bounce"
    elif kind == "Complaint":
        recipients, reason = (data.get("complaint") or {}).get("complainedRecipients") or [], "complaint"
    else:
        return []
    return [
        (str(r["emailAddress"]), reason)
        for r in recipients
        if isinstance(r, dict) and isinstance(r.get("emailAddress"), str)
    ]


def mail_event_record(record: SQSRecord) -> None:
    found = suppressions(record.body)
    for address, reason in found:
        services().following.suppress(address, reason)
    # Never log the addresses: only how many and why.
    logger.info(
        "mail event",
        extra={"sqs_message_id": record.message_id, "suprimidos": len(found),
               "motivos": sorted({reason for _, reason in found})},
    )  # fmt: skip


@bp.on_sqs_message(queue=MAIL_EVENTS_QUEUE, batch_size=10)
def record_mail_events(event: Any) -> dict[str, Any]:
    # A batch that failed whole is reported like any other (every id listed), not raised.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event.to_dict(), record_handler=mail_event_record, processor=processor, context=event.context
    )
    return dict(response)
