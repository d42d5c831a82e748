"""The mail Lambda (SQS trigger) through Chalice's test client, with real SES state on moto."""

from __future__ import annotations

import json

import pytest
from chalice.test import Client

import app as app_module
from infra.local.mail import fetch_ses_state, sent_mails
from tests import servers
from tests.integration.conftest import Stack


@pytest.fixture(autouse=True, scope="module")
def small_moto_state(moto_endpoint: str) -> None:
    """These tests read SES's state through moto's whole-state dump, whose time grows with everything
    the other tests left on the in-process moto (every server in a process shares one state): reset it
    first. Safe: every test creates the resources it uses."""
    servers.reset_moto(moto_endpoint)


def test_partial_batch_failure_reports_only_the_bad_record(stack: Stack) -> None:
    before = len(sent_mails(fetch_ses_state(stack.endpoint)))
    good = {
        "to": "cidadao@example.org",
        "subject": "Movimentação do processo",
        "text": "Olá, ação!",
        "headers": {},
    }
    with Client(app_module.app, stage_name="local") as client:
        event = client.events.generate_sqs_event(
            message_bodies=[json.dumps(good), "not json", json.dumps({**good, "subject": "Segunda"})],
            queue_name="pen-correio",
        )
        for number, record in enumerate(event["Records"]):
            record["messageId"] = f"msg-{number}"  # generate_sqs_event repeats one id
        result = client.lambda_.invoke("send_mail", event)
    assert result.payload == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    sent = sent_mails(fetch_ses_state(stack.endpoint))[before:]
    assert sorted(m.subject for m in sent) == ["Movimentação do processo", "Segunda"]
    assert sent[0].to == ("cidadao@example.org",)
    assert "ação" in sent[0].text
