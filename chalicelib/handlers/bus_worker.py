"""The bus's asynchronous legs for the agencies hosted here.

1. `forward_tramite_changes` reads the trâmites table's stream and puts each state change on the bus
   work queue: one small message per change (the trâmite's IDT; its state as a hint for the logs).
2. `run_bus_work` consumes that queue and lets HostedBus do the hosted party's part (import, receipt,
   ciência, unlock) on the trâmite's current state.

Both report partial batch failures (infra/ sets ReportBatchItemFailures), so one failing trâmite is
retried alone; every step is idempotent, so retries and duplicates are harmless, and a message that
keeps failing ends in the queue's dead-letter queue with an alarm on it.

`forward_tramite_changes` also publishes TramitesPorEstado (dimension Estado): the trâmites entering
each state. The stream is where each state change is seen exactly once, whoever made it (an agency's
API call, the hosted worker, the schedule's automatic cancel); only a retried batch can count a change
again, and only when the retry redelivers a record that was already forwarded.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint

from chalicelib.bootstrap import services
from chalicelib.domain.bus import TramiteState
from chalicelib.observability import STATE_DIMENSION, TRAMITES_BY_STATE, logger, publish
from chalicelib.store.bus_queue import work_from_json

bp = Blueprint(__name__)
# Nominal: Chalice needs literals; the template and the local worker use the real stream and queue.
TRAMITES_STREAM = "arn:aws:dynamodb:sa-east-1:000000000000:table/pen-tramites/stream/nominal"
BUS_QUEUE = "pen-barramento"


def state_change(record: DynamoDBRecord) -> tuple[str, int] | None:
    """(IDT, new state) when the record is a trâmite entering a state; None otherwise (the NRE
    guards, a download recorded without a state change, removals)."""
    if record.dynamodb is None or record.event_name is None or record.event_name.name == "REMOVE":
        return None
    new = record.dynamodb.new_image
    if not str(new.get("pk", "")).startswith("T#") or "estado" not in new:
        return None
    old = record.dynamodb.old_image or {}
    state = int(new["estado"])
    if "estado" in old and int(old["estado"]) == state:
        return None
    return str(new["idt"]), state


def forward_record(record: DynamoDBRecord) -> int | None:
    """Queues the record's state change, if any; returns the state entered (or None)."""
    change = state_change(record)
    if change is None:
        return None
    services().bus_work.enqueue(*change)
    return change[1]


@bp.on_dynamodb_record(stream_arn=TRAMITES_STREAM, batch_size=10, starting_position="TRIM_HORIZON")
def forward_tramite_changes(event: Any) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    entered: Counter[int] = Counter()

    def handle(record: DynamoDBRecord) -> None:
        state = forward_record(record)
        if state is not None:  # counted once forwarded: a failed record is counted on its retry
            entered[state] += 1

    try:
        response = process_partial_response(
            event=event.to_dict(), record_handler=handle, processor=processor, context=event.context
        )
    finally:
        for state, count in sorted(entered.items()):
            publish(TRAMITES_BY_STATE, count, dimensions={STATE_DIMENSION: TramiteState(state).name})
    return dict(response)


def work_record(record: SQSRecord) -> None:
    idt, state = work_from_json(record.body)
    done = services().hosted.handle(idt)
    logger.info("bus work", extra={"idt": idt, "estado": state, "feito": done})


@bp.on_sqs_message(queue=BUS_QUEUE, batch_size=10)
def run_bus_work(event: Any) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS)
    response = process_partial_response(
        event=event.to_dict(), record_handler=work_record, processor=processor, context=event.context
    )
    return dict(response)
