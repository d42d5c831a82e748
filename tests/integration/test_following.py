"""Following a process by e-mail, end to end on moto: the HTTP API, the mail worker (send_mail), the
notices worker (run_notices) and the SES events worker (record_mail_events), reading what SES sent
back as MIME.

The moto server runs in this process, so SES's sent messages are read from its backend directly
(`sent_mail`, what the server's sent-mail view answers). Addresses are
unique per test, so other tests' mail never counts.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_string, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.client import BaseClient
from chalice.test import Client

import app as app_module
from chalicelib.config import ENV_QUEUE_AVISOS, ENV_QUEUE_CORREIO
from chalicelib.domain.following import window_of
from chalicelib.domain.processes import AccessLevel, Interested, Metadata
from chalicelib.domain.structures import Structure
from chalicelib.services.processes import Actor
from infra.local.moto_server import sent_mail
from infra.local.resources import client as aws_client
from infra.local.worker import Worker
from tests import servers
from tests.fakes import FakeClock
from tests.integration.conftest import Api, Stack, assert_problem, queue_urls

METADATA = Metadata(
    "Requerimento", "Pedido de certidão", (Interested("Maria das Dores da Silva", "11144477735"),),
    AccessLevel.PUBLICO,
)  # fmt: skip
ACTOR = Actor("100", "ana")


class World:
    def __init__(self, stack: Stack, api: Api, lambdas: Client, clock: FakeClock) -> None:
        self.stack, self.api, self.lambdas, self.clock = stack, api, lambdas, clock
        self.sqs = aws_client("sqs", stack.endpoint, servers.REGION)
        self.urls = queue_urls()
        self.worker = Worker.for_stack(app_module.app, self.sqs, self.urls, stage=stack.settings.stage,
                                       region=servers.REGION, log=lambda _: None)  # fmt: skip
        self._ids = 0
        self._units: dict[str, str] = {}

    # the agency's side
    def new_process(self) -> str:
        process = self.stack.services.processes.create(ACTOR, "101", METADATA)
        self.stack.services.tracking.project_copy("100", process.nup)
        return process.nup

    def move(self, nup: str) -> int:
        """A new movement of the process, projected into the public base; its digest window."""
        source = self._units.get(nup, "101")
        target = "102" if source == "101" else "101"
        self.stack.services.processes.send(
            ACTOR, nup, from_unit=source, to_units=[target], keep_open=False, return_by=None
        )
        self._units[nup] = target
        self.stack.services.tracking.project_copy("100", nup)
        return window_of(self.clock.now(), self.stack.settings.notice_window_seconds)

    # the mail leg
    def deliver_mail(self) -> None:
        source = next(s for s in self.worker.sources if s.queue.env == ENV_QUEUE_CORREIO)
        while self.worker.poll(source, wait_seconds=0).received:
            pass

    # the notices leg: every message delivered twice, failures redelivered
    def invoke_notices(self, bodies: list[str]) -> list[str]:
        event = self.lambdas.events.generate_sqs_event(message_bodies=bodies, queue_name="pen-avisos")
        for record in event["Records"]:
            self._ids += 1
            record["messageId"] = f"aviso-{self._ids}"
        by_id = {r["messageId"]: r["body"] for r in event["Records"]}
        result = self.lambdas.lambda_.invoke("run_notices", event).payload
        return [by_id[f["itemIdentifier"]] for f in result["batchItemFailures"]]

    def notices(self, nup: str, window: int) -> int:
        """The digest of `window`, first page as the scheduled message brings it, then every page
        the queue gets; each delivered twice, each failure redelivered. Returns how many distinct
        pages ran (a duplicate delivery queues the next page twice: that copy runs too)."""
        pending = [json.dumps({"nup": nup, "janela": window, "apos": None})]
        pages: set[str] = set()
        while pending and len(pages) < 50:
            body = pending.pop(0)
            pages.add(body)
            for _ in range(2):  # a duplicate delivery
                failed = self.invoke_notices([body])
                for _ in range(3):  # the queue's redelivery of a failed message
                    if not failed:
                        break
                    failed = self.invoke_notices(failed)
                assert failed == []
            pending += self._take(self.urls[ENV_QUEUE_AVISOS])
        return len(pages)

    def _take(self, url: str) -> list[str]:
        bodies: list[str] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages") or []
            if not messages:
                return bodies
            for message in messages:
                bodies.append(message["Body"])
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    # the citizen's side
    def page(self, method: str, path: str, body: bytes = b"", content_type: str | None = None) -> Any:
        """A raw call: any method, any body and content type (Api.call sends JSON only)."""
        headers = {"content-type": content_type} if content_type else {}
        response = self.api._http.request(method, path, headers=headers, body=body)
        response.text = (  # type: ignore[attr-defined]
            response.body.decode() if isinstance(response.body, bytes) else str(response.body)
        )
        response.lower_headers = {k.lower(): v for k, v in response.headers.items()}  # type: ignore[attr-defined]
        return response

    def follow(self, nup: str, email: str) -> Any:
        return self.api.call("POST", "/publico/acompanhamentos", body={"nup": nup, "email": email})

    def confirmed(self, nup: str, email: str) -> None:
        assert self.follow(nup, email).status_code == 202
        self.deliver_mail()
        path = link(mails_to(email)[-1], "confirmacao")
        assert self.api.call("POST", path).status_code == 200


@pytest.fixture
def world(stack: Stack, api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    stack.services.registry.save(
        Structure(id="102", name="Divisão de Atendimento", acronym="DIV", agency_id="", parent_id="101")
    )
    clock = FakeClock(datetime.now(UTC))
    monkeypatch.setattr(stack.services.tracking, "_clock", clock)  # the digest windows, under control
    with Client(app_module.app, stage_name="local") as lambdas:
        yield World(stack, api, lambdas, clock)


def address() -> str:
    return f"cidada.{uuid.uuid4().hex[:10]}@example.org"


def mails_to(email: str) -> list[EmailMessage]:
    """Every message SES accepted for `email`, oldest first, parsed as MIME."""
    found: list[EmailMessage] = []
    for sent in sent_mail().get("RawMessage", []):
        if email in (sent.get("destinations") or []):
            parsed = message_from_string(sent["raw_data"], policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
    return found


def bodies(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


SITE_PAGES = {"confirmacao": "confirmar.html", "cancelamento": "cancelar.html"}


def link(message: EmailMessage, action: str) -> str:
    """The API path and query behind the message's `action` link. The e-mail sends people to the
    site's page (`confirmar.html?id=…&token=…`), whose button posts to this path."""
    text, html = bodies(message)
    page = re.escape(SITE_PAGES[action])
    found = re.search(rf"https?://\S+?/{page}\?id=([0-9a-f]{{32}})&token=([\w\-%]+)", text)
    assert found is not None, text
    assert found.group(0).replace("&", "&amp;") in html
    return f"/publico/acompanhamentos/{found.group(1)}/{action}?token={found.group(2)}"


def test_follow_confirm_notice_and_one_click_unsubscribe(world: World) -> None:
    nup = world.new_process()
    email = address()
    answer = world.follow(nup, email)
    assert answer.status_code == 202
    assert "confirmação" in answer.json["mensagem"]
    world.deliver_mail()
    [confirmation] = mails_to(email)
    assert confirmation.get_content_type() == "multipart/alternative"
    assert confirmation["To"] == email
    confirm = link(confirmation, "confirmacao")

    # A GET (a mail scanner prefetching the link) changes nothing: only the site's button posts.
    assert world.page("GET", confirm).status_code in (403, 405)
    assert world.notices(nup, world.move(nup)) == 1
    assert len(mails_to(email)) == 1  # still pending: no notice

    confirmed = world.api.call("POST", confirm)
    assert confirmed.status_code == 200
    assert confirmed.json["estado"] == "confirmado"
    world.clock.advance(seconds=world.stack.settings.notice_window_seconds)
    window = world.move(nup)
    world.notices(nup, window)
    [_, notice] = mails_to(email)
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(r"<(.+)>", str(notice["List-Unsubscribe"]))
    assert unsubscribe is not None
    text, html = bodies(notice)
    assert re.search(r"\d\d/\d\d/\d{4} às \d\d:\d\d \| (PROT|DIV) \| ", text), text
    for body in (text, html, str(notice["Subject"])):  # no personal data
        assert "Maria" not in body
        assert "111.444" not in body
        assert "Pedido de certidão" not in body
        assert email not in body
    # People get the unsubscribe page's link and the process's page; mail clients get the header's.
    assert (
        link(notice, "cancelamento") == urlsplit(unsubscribe.group(1))._replace(scheme="", netloc="").geturl()
    )
    assert f"/?nup={nup}" in text

    parts = urlsplit(unsubscribe.group(1))
    one_click = world.page(
        "POST",
        f"{parts.path}?{parts.query}",
        b"List-Unsubscribe=One-Click",
        "application/x-www-form-urlencoded",
    )
    assert one_click.status_code == 200
    assert json.loads(one_click.text)["estado"] == "cancelado"
    again = world.api.call("POST", f"{parts.path}?{parts.query}")  # repeating is harmless
    assert again.json["estado"] == "cancelado"

    world.clock.advance(seconds=world.stack.settings.notice_window_seconds)
    world.notices(nup, world.move(nup))
    assert len(mails_to(email)) == 2  # no more mail


def test_tokens_reused_expired_or_wrong(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    nup = world.new_process()
    email = address()
    world.follow(nup, email)
    world.deliver_mail()
    confirm = link(mails_to(email)[-1], "confirmacao")
    wrong = re.sub(r"token=.", "token=%21", confirm)
    assert_problem(world.api.call("POST", wrong), 404, "nao-encontrado")
    assert_problem(world.api.call("POST", confirm.split("?")[0]), 400, "dados-invalidos")

    later = FakeClock(datetime.now(UTC))
    later.advance(hours=25)
    with monkeypatch.context() as patched:
        patched.setattr(world.stack.services.following, "_clock", later)
        assert_problem(world.api.call("POST", confirm), 410, "link-expirado")

    assert world.api.call("POST", confirm).status_code == 200
    reused = assert_problem(world.api.call("POST", confirm), 409, "link-ja-usado")
    assert "já foi usado" in reused["detail"]


def test_bad_address_unknown_nup_and_the_quota(world: World) -> None:
    nup = world.new_process()
    bad = assert_problem(world.follow(nup, "isto não é um e-mail"), 400, "dados-invalidos")
    assert [e["campo"] for e in bad["erros"]] == ["email"]
    unknown = assert_problem(world.follow("25000.999999/2026-" + "00", address()), 400, "dados-invalidos")
    assert "verificadores" in unknown["detail"]
    from chalicelib.domain.nup import Nup

    missing = Nup.issue("25000", 999_999, 2026).masked
    assert_problem(world.follow(missing, address()), 404, "nao-encontrado")

    email = address()
    for _ in range(5):
        assert world.follow(nup, email).status_code == 202
    too_many = assert_problem(world.follow(nup, email), 429, "limite-atingido")
    assert "hora" in too_many["detail"]
    world.deliver_mail()
    assert len(mails_to(email)) == 5


def test_two_movements_in_one_window_are_one_email(world: World) -> None:
    nup = world.new_process()
    email = address()
    world.confirmed(nup, email)
    world.clock.advance(seconds=world.stack.settings.notice_window_seconds)
    first = world.move(nup)
    second = world.move(nup)
    assert first == second
    world.notices(nup, first)
    world.notices(nup, first)  # the digest scheduled by the second movement
    [_, digest] = mails_to(email)
    text, _ = bodies(digest)
    assert "2 novas movimentações" in text


def test_fan_out_over_pages_sends_each_follower_once_despite_duplicates_and_a_failure(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(world.stack.services.following, "page_size", 2)
    nup = world.new_process()
    emails = [address() for _ in range(5)]
    for email in emails:
        world.confirmed(nup, email)
    world.clock.advance(seconds=world.stack.settings.notice_window_seconds)
    window = world.move(nup)

    failures: list[str] = []
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def flaky(self: BaseClient, operation: str, params: Any) -> Any:
        if operation == "SendEmail" and not failures:
            failures.append(operation)
            raise ConnectionError("injected: SES fails once")
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", flaky)
    pages = world.notices(nup, window)
    assert failures == ["SendEmail"]
    assert pages == 3
    for email in emails:
        assert len(mails_to(email)) == 2, email  # the confirmation and exactly one notice


def test_a_bounce_or_a_complaint_stops_the_mail(world: World) -> None:
    nup = world.new_process()
    bounced, complained, kept = address(), address(), address()
    for email in (bounced, complained, kept):
        world.confirmed(nup, email)
    events = [
        {"eventType": "Bounce", "bounce": {"bounceType": "Permanent",
                                           "bouncedRecipients": [{"emailAddress": bounced}]}},
        {"notificationType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": complained}]}},
    ]  # fmt: skip
    envelopes = [json.dumps({"Type": "Notification", "Message": json.dumps(e)}) for e in events]
    event = world.lambdas.events.generate_sqs_event(
        message_bodies=envelopes, queue_name="pen-correio-eventos"
    )
    for number, record in enumerate(event["Records"]):
        record["messageId"] = f"ses-{number}"
    assert world.lambdas.lambda_.invoke("record_mail_events", event).payload == {"batchItemFailures": []}

    world.clock.advance(seconds=world.stack.settings.notice_window_seconds)
    world.notices(nup, world.move(nup))
    assert [len(mails_to(e)) for e in (bounced, complained, kept)] == [1, 1, 2]
    # Following again from a suppressed address: the same answer, and no mail.
    assert world.follow(nup, bounced).status_code == 202
    world.deliver_mail()
    assert len(mails_to(bounced)) == 1
