"""The mail leg: an SQS outbox the API writes to, and an SES sender the mail worker calls."""

from __future__ import annotations

import json
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from chalicelib.services.ports import MailMessage

# Headers are written unfolded up to RFC 5322's hard limit: a long URL in List-Unsubscribe would
# otherwise be folded into RFC 2047 encoded words, which mail clients do not read as a URL. Bodies
# keep quoted-printable's 76-character lines (they are encoded when set, with the default policy).
_WIRE = policy.default.clone(max_line_length=998)


def message_to_json(message: MailMessage) -> str:
    data: dict[str, Any] = {
        "to": message.to,
        "subject": message.subject,
        "text": message.text,
        "headers": message.headers,
    }
    if message.html is not None:
        data["html"] = message.html
    return json.dumps(data, ensure_ascii=False)


def message_from_json(body: str) -> MailMessage:
    data = json.loads(body)
    html = data.get("html")
    return MailMessage(
        to=data["to"],
        subject=data["subject"],
        text=data["text"],
        headers=dict(data.get("headers") or {}),
        html=str(html) if html is not None else None,
    )


class SqsMailOutbox:
    def __init__(self, sqs: Any, queue: str) -> None:
        """`queue` is the queue's URL (as the template passes it) or its name (operator tools)."""
        self._sqs = sqs
        self._queue = queue
        self._queue_url: str | None = queue if queue.startswith(("https://", "http://")) else None

    def enqueue(self, message: MailMessage) -> None:
        if self._queue_url is None:
            self._queue_url = str(self._sqs.get_queue_url(QueueName=self._queue)["QueueUrl"])
        self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=message_to_json(message))


class SesMailSender:
    """Sends raw MIME through SESv2, so custom headers (List-Unsubscribe) survive. A message with
    `html` goes as multipart/alternative: the text first, the HTML after (the preferred part)."""

    def __init__(self, ses: Any, sender: str, configuration_set: str | None) -> None:
        self._ses = ses
        self._sender = sender
        self._configuration_set = configuration_set

    def send(self, message: MailMessage) -> str:
        mime = EmailMessage()
        mime["From"] = self._sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Date"] = formatdate(localtime=False)
        mime["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2] or None)
        for name, value in message.headers.items():
            mime[name] = value
        # Quoted-printable keeps the message 7-bit clean across every relay on the way.
        mime.set_content(message.text, charset="utf-8", cte="quoted-printable")
        if message.html is not None:
            mime.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
        request: dict[str, Any] = {
            "FromEmailAddress": self._sender,
            "Destination": {"ToAddresses": [message.to]},
            "Content": {"Raw": {"Data": mime.as_bytes(policy=_WIRE)}},
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        return str(self._ses.send_email(**request)["MessageId"])
