"""Every function of the app runs on the local stack, and every AWS call it makes is one its own role
in the template grants (the module's stack fixture checks the calls after the tests).

The demo's seed already drives the API, the authorizer, the bus and tracking handlers; this module
adds what the seed does not: the schedule (run every 2 s here) and an SES bounce reaching the mail
events queue through SNS's envelope, as in the cloud.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from infra.local import audit
from infra.local.state import REGION, STAGE
from infra.local.worker import ENV_SCHEDULE_SECONDS
from infra.resources import STACK
from tests.e2e.test_local_stack import RunningStack, get, start_stack
from tests.least_privilege import assert_least_privilege_holds, chalice_app, violations

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]
WAIT = 60


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("least-privilege"), **{ENV_SCHEDULE_SECONDS: "2"})
    try:
        yield running
    finally:
        running.stop()
    assert_least_privilege_holds(audit.read(running.audit_file), STAGE)


def functions_seen(audit_file: Path) -> set[str]:
    return {call.function for call in audit.read(audit_file)}


def bounce(stack: RunningStack, address: str) -> None:
    """What SES publishes to the configuration set's topic, as SNS delivers it to the queue."""
    sqs = boto3.client(
        "sqs",
        endpoint_url=f"http://127.0.0.1:{stack.moto_port}",
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    queue = STACK.name(STAGE, next(q.suffix for q in STACK.queues if q.logical_id == STACK.mail.events_queue))
    event = {
        "eventType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": address}]},
    }
    envelope = {"Type": "Notification", "Message": json.dumps(event)}
    sqs.send_message(
        QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"], MessageBody=json.dumps(envelope)
    )


def test_every_function_of_the_app_runs_and_stays_within_its_role(stack: RunningStack) -> None:
    token = stack.credentials()[0]["token"]
    assert get(f"{stack.api_url}/orgaos/eu", token).status == 200  # the authorizer, then a route
    bounce(stack, "devolvido@example.com")
    expected = {f.name for f in chalice_app().functions}
    deadline = time.monotonic() + WAIT
    while (seen := functions_seen(stack.audit_file)) != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    assert seen == expected, f"never ran: {sorted(expected - seen)}"
    assert not violations(audit.read(stack.audit_file), STAGE)
