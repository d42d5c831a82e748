"""What the citizen-facing e2e tests share: HTTP calls, the local mailbox (SES on moto), the demo
process as the local stack publishes it, and the site's links in the e-mails."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from email import message_from_string, policy
from email.message import EmailMessage
from typing import Any

from infra.local.mail import fetch_sent_mail
from tests.e2e.test_local_stack import Reply, RunningStack, get

NOTICE_TIMEOUT = 60.0  # the local stack's digest window is 10 s: a notice comes within about 20 s
DEMO_INTERESTED = "Maria das Dores Souza"  # the demo process's interessado: never in an e-mail


def call(method: str, url: str, body: Any = None, *, token: str | None = None,
         headers: dict[str, str] | None = None, raw: bytes | None = None) -> Reply:  # fmt: skip
    sent = {**(headers or {})}
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    if token:
        sent["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=sent, method=method)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return Reply(
                response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
            )
    except urllib.error.HTTPError as error:
        return Reply(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def mails_to(stack: RunningStack, address: str) -> list[EmailMessage]:
    endpoint = f"http://127.0.0.1:{stack.moto_port}"
    found = []
    for item in fetch_sent_mail(endpoint).get("RawMessage") or []:
        message = message_from_string(str(item["raw_data"]), policy=policy.default)
        assert isinstance(message, EmailMessage)
        if address in str(message["To"]):
            found.append(message)
    return found


def wait_for_mails(stack: RunningStack, address: str, count: int) -> list[EmailMessage]:
    deadline = time.monotonic() + NOTICE_TIMEOUT
    while True:
        mails = mails_to(stack, address)
        if len(mails) >= count or time.monotonic() > deadline:
            return mails
        time.sleep(0.5)


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None, "every citizen e-mail has a text part"
    assert html is not None, "every citizen e-mail has an HTML part"
    return str(text.get_content()), str(html.get_content())


def demo_nup(stack: RunningStack) -> str:
    data = json.loads((stack.local_dir / "stack.json").read_text(encoding="utf-8"))
    return str(data["demo_nup"])


def wait_for_record(stack: RunningStack, nup: str) -> dict[str, Any]:
    deadline = time.monotonic() + NOTICE_TIMEOUT
    while True:
        reply = get(f"{stack.api_url}/publico/processos/{nup}")
        if reply.status == 200 or time.monotonic() > deadline:
            assert reply.status == 200, reply.body
            return dict(reply.json())
        time.sleep(0.5)


def site_link(stack: RunningStack, text: str, page: str) -> tuple[str, str]:
    """The link to one of the site's landing pages in an e-mail, and the API address its button
    posts to (through the site's origin, as in the cloud)."""
    found = re.search(rf"(https?://\S+?)/{page}\?id=([0-9a-f]{{32}})&token=([\w\-]+)", text)
    assert found is not None, text
    assert found.group(1) == stack.site_url
    action = "confirmacao" if page == "confirmar.html" else "cancelamento"
    api = f"{stack.site_url}/publico/acompanhamentos/{found.group(2)}/{action}?token={found.group(3)}"
    return found.group(0), api
