"""Public tracking on `make run`'s stack, as a citizen uses it over real HTTP: look the demo process
up, follow it, read the confirmation e-mail in the local mailbox (SES on moto), confirm, see a notice
arrive when the agency moves the process, and unsubscribe with one click (RFC 8058).

The local stack's digest window is 10 s, so a notice arrives within about 20 s of the movement.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_local_stack import RunningStack, get
from tests.e2e.tracking import (
    DEMO_INTERESTED,
    call,
    demo_nup,
    mails_to,
    parts,
    site_link,
    wait_for_mails,
    wait_for_record,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local-stack")]

CITIZEN = "cidada.demo@example.com"
WITNESS = "testemunha.demo@example.com"  # follows along and stays: proves the last notice went out


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
