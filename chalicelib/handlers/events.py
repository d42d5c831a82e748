"""The processes table's stream: every new history entry is an event for the tracking pillar, kept in
the event log and projected into the public base.

Partial batch failures report the failed record's sequence number, so Lambda retries from there
(infra/ sets ReportBatchItemFailures and bisection); recording is idempotent, so a retried or
redelivered record changes nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from chalice import Blueprint

from chalicelib.bootstrap import services
from chalicelib.domain.events import ProcessEvent
from chalicelib.observability import logger

bp = Blueprint(__name__)
# Nominal: Chalice needs a literal; the template and the local worker use the processes table's stream.
PROCESSES_STREAM = "arn:aws:dynamodb:sa-east-1:000000000000:table/pen-processos/stream/nominal"


def event_from(image: dict[str, Any]) -> ProcessEvent | None:
    """The event in a new item's image, or None when the item is not a history entry."""
    if not str(image.get("sk", "")).startswith("H#"):
        return None
    return ProcessEvent(
        nup=str(image["nup"]),
        seq=int(image["seq"]),
        at=datetime.fromisoformat(str(image["em"])),  # PynamoDB's UTC format, e.g. ...+0000
        agency_id=str(image["orgao_id"]),
        unit_id=str(image["unidade"]),
        operation=str(image["operacao"]),
        description=str(image["descricao"]),
        access_level=int(image["nivel_acesso"]),
        hash=str(image["hash"]),
    )


def record_event(record: DynamoDBRecord) -> None:
    if record.event_name is None or record.event_name.name != "INSERT" or record.dynamodb is None:
        return
    event = event_from(record.dynamodb.new_image)
    if event is None:
        return
    current = services()
    recorded = current.events.record(event)
    # The public base: rebuilt from the copy as it is now, so duplicates and late events converge.
    projected = current.tracking.project_copy(event.agency_id, event.nup)
    logger.info(
        "process event", extra={"nup": event.nup, "seq": event.seq, "new": recorded, "projected": projected}
    )


@bp.on_dynamodb_record(stream_arn=PROCESSES_STREAM, batch_size=10, starting_position="TRIM_HORIZON")
def record_process_events(event: Any) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    response = process_partial_response(
        event=event.to_dict(), record_handler=record_event, processor=processor, context=event.context
    )
    return dict(response)
