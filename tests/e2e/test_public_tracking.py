"""Public tracking on `make run`'s stack, as a citizen uses it over real HTTP: look the demo process
up, follow it, read the confirmation e-mail in the local mailbox (SES on moto), confirm, see a notice
arrive when the agency moves the process, and unsubscribe with one click (RFC 8058).

The local stack's digest window is 10 s, so a notice arrives within about 20 s of the movement.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email import message_from_string, policy
from email.message import EmailMessage
from typing import Any

import pytest

from infra.local.mail import fetch_ses_state
from tests.e2e.test_local_stack import Reply, RunningStack, get, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

CITIZEN = "cidada.demo@example.com"
WITNESS = "testemunha.demo@example.com"  # follows along and stays: proves the last notice went out
NOTICE_TIMEOUT = 60.0
DEMO_INTERESTED = "Maria das Dores Souza"  # the demo process's interessado: never in an e-mail


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("public-tracking"))
    try:
        yield running
    finally:
        running.stop()


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
    for item in fetch_ses_state(endpoint).get("RawMessage") or []:
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
    return found.group(
        0
    ), f"{stack.site_url}/publico/acompanhamentos/{found.group(2)}/{action}?token={found.group(3)}"


def follow(stack: RunningStack, nup: str, address: str) -> None:
    reply = call("POST", f"{stack.api_url}/publico/acompanhamentos", {"nup": nup, "email": address})
    assert reply.status == 202, reply.body
    [confirmation] = wait_for_mails(stack, address, 1)
    _, confirm = site_link(stack, parts(confirmation)[0], "confirmar.html")
    assert call("POST", confirm).status == 200


def test_a_citizen_looks_up_follows_is_notified_and_unsubscribes(stack: RunningStack) -> None:
    nup = demo_nup(stack)
    record = wait_for_record(stack, nup)
    assert record["interessados"][0]["nome"] == DEMO_INTERESTED
    assert record["andamentos"], record

    follow(stack, nup, WITNESS)

    # Follow: a confirmation e-mail in the local mailbox, with a single-use link.
    reply = call("POST", f"{stack.api_url}/publico/acompanhamentos", {"nup": nup, "email": CITIZEN})
    assert reply.status == 202, reply.body
    [confirmation] = wait_for_mails(stack, CITIZEN, 1)
    text, html = parts(confirmation)
    page, confirm = site_link(stack, text, "confirmar.html")
    assert page in html.replace("&amp;", "&")
    landing = get(page)  # the site's page; its button posts to `confirm`
    assert landing.status == 200
    assert landing.headers["content-type"].startswith("text/html")
    confirmed = call("POST", confirm)
    assert confirmed.status == 200, confirmed.body
    assert call("POST", confirm).status == 409  # single use

    # The MS (which holds the process now) sends it to another of its units: one public movement.
    tokens = {c["sigla"]: c["token"] for c in stack.credentials()}
    moved = call("POST", f"{stack.api_url}/processos/{nup}/envios",
                 {"unidadeOrigem": "2002", "unidadesDestino": ["2003"]},
                 token=tokens["MS"], headers={"X-Usuario": "joao.protocolo"})  # fmt: skip
    assert moved.status == 200, moved.body
    mails = wait_for_mails(stack, CITIZEN, 2)
    assert len(mails) == 2, "the notice of the movement did not arrive"
    notice = mails[1]
    text, html = parts(notice)
    digits = re.sub(r"\D", "", record["nup"])
    assert record["nup"] in text or digits in text
    assert DEMO_INTERESTED not in text
    assert DEMO_INTERESTED not in html
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.search(r"<(https?://[^>]+)>", str(notice["List-Unsubscribe"]))
    assert unsubscribe is not None, notice["List-Unsubscribe"]
    assert unsubscribe.group(1).startswith(f"{stack.site_url}/publico/")  # the API, through the site's origin
    site_link(stack, text, "cancelar.html")  # people get the site's page
    assert f"{stack.site_url}/?nup={digits}" in text

    # One click, as a mail client does it (RFC 8058): a form POST to the header's URL.
    done = call("POST", unsubscribe.group(1), raw=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert done.status == 200, done.body

    # Another movement: the witness, still following, is told; the citizen gets nothing more.
    moved = call("POST", f"{stack.api_url}/processos/{nup}/envios",
                 {"unidadeOrigem": "2003", "unidadesDestino": ["2004"]},
                 token=tokens["MS"], headers={"X-Usuario": "joao.protocolo"})  # fmt: skip
    assert moved.status == 200, moved.body
    assert len(wait_for_mails(stack, WITNESS, 3)) == 3  # confirmation + two notices
    assert len(mails_to(stack, CITIZEN)) == 2
