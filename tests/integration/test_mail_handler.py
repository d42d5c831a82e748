"""The mail Lambda (SQS trigger) through Chalice's test client, with real SES state on moto."""

from __future__ import annotations

import json

from chalice.test import Client

import app as app_module
from infra.local.mail import fetch_sent_mail, sent_mails
from tests.integration.conftest import Stack


def test_partial_batch_failure_reports_only_the_bad_record(stack: Stack) -> None:
    before = len(sent_mails(fetch_sent_mail(stack.endpoint)))
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
    sent = sent_mails(fetch_sent_mail(stack.endpoint))[before:]
    assert sorted(m.subject for m in sent) == ["Movimentação do processo", "Segunda"]
    assert sent[0].to == ("cidadao@example.org",)
    assert "ação" in sent[0].text
