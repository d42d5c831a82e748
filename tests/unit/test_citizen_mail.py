"""The citizen's e-mails: content (pt-BR, Brasília time, escaped HTML, no personal data), RFC 8058
headers as they leave through the SES sender (raw MIME), and the parsing of SES's events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from chalicelib.domain.nup import Nup
from chalicelib.domain.tracking import PublicMovement
from chalicelib.handlers.mail_events import suppressions
from chalicelib.services.citizen_mail import confirmation_mail, digest_mail
from chalicelib.services.ports import MailMessage
from chalicelib.services.site_links import SiteLinks
from chalicelib.store.mail import SesMailSender, message_from_json, message_to_json
from chalicelib.store.notice_queue import NoticeWork, notice_from_json, notice_to_json

NUP = Nup.issue("25000", 1, 2026)
BASE = "https://acompanhe.pen.example.gov.br"
LINKS = SiteLinks(BASE)
SUBSCRIPTION = "0123456789abcdef0123456789abcdef"
TOKEN = "t0k-en_" * 6
ONE_CLICK = f"{BASE}/publico/acompanhamentos/{SUBSCRIPTION}/cancelamento?token={TOKEN}"
UNSUBSCRIBE_PAGE = f"{BASE}/cancelar.html?id={SUBSCRIPTION}&token={TOKEN}"


class CapturingSes:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def send_email(self, **request: Any) -> dict[str, str]:
        self.requests.append(request)
        return {"MessageId": "m-1"}


def sent_mime(message: MailMessage) -> tuple[bytes, EmailMessage]:
    ses = CapturingSes()
    SesMailSender(ses, "nao-responda@pen.example.gov.br", "correio").send(message)
    raw = ses.requests[0]["Content"]["Raw"]["Data"]
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return raw, parsed


def test_confirmation_mail_has_text_and_html_with_the_link() -> None:
    link = LINKS.confirm("abc", "x&y")
    assert link == f"{BASE}/confirmar.html?id=abc&token=x%26y"  # the site's landing page
    mail = confirmation_mail("ana@example.org", NUP.digits, link, datetime(2026, 3, 11, 15, 0, tzinfo=UTC))
    raw, parsed = sent_mime(mail)
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert text is not None
    assert html is not None
    assert link in text.get_content()
    assert link.replace("&", "&amp;") in html.get_content()  # escaped in HTML
    assert NUP.masked in parsed["Subject"]
    assert "11/03/2026 às 12:00" in text.get_content()  # 15:00 UTC is noon in Brasília
    assert b"Content-Transfer-Encoding: quoted-printable" in raw
    assert "List-Unsubscribe" not in parsed  # not a notice: nothing to unsubscribe from yet


def test_digest_carries_only_the_nup_and_movements_with_one_click_unsubscribe() -> None:
    movements = [
        PublicMovement(datetime(2026, 3, 10, 2, 30, tzinfo=UTC), "PROT", "05"),
        PublicMovement(datetime(2026, 3, 10, 13, 5, tzinfo=UTC), "<DIV&>", "02"),
    ]
    mail = digest_mail(
        "ana.maria@example.org",
        NUP.digits,
        movements,
        links=LINKS,
        subscription_id=SUBSCRIPTION,
        unsubscribe_token=TOKEN,
    )
    raw, parsed = sent_mime(mail)
    # On the wire, the header is the API's URL itself (mail clients POST to it), not folded into
    # encoded words clients cannot read.
    assert f"List-Unsubscribe: <{ONE_CLICK}>".encode() in raw
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "09/03/2026 às 23:30 | PROT | Autuação" in text  # the day before, in Brasília
    assert "10/03/2026 às 10:05 | <DIV&> | Envio de documento avulso/processo" in text
    assert "&lt;DIV&amp;&gt;" in html
    assert "<DIV&>" not in html
    # People get the site: the unsubscribe page and the process's own page.
    assert UNSUBSCRIBE_PAGE in text
    assert UNSUBSCRIBE_PAGE.replace("&", "&amp;") in html
    assert f"{BASE}/?nup={NUP.digits}" in text
    assert f'href="{BASE}/?nup={NUP.digits}"' in html
    for part in (text, html, str(parsed["Subject"])):
        assert "ana.maria" not in part  # the address is only in To
    assert NUP.masked in parsed["Subject"]


def test_a_text_only_message_is_still_a_single_part() -> None:
    _, parsed = sent_mime(MailMessage("ti@ms.example.gov.br", "Aviso", "Olá, ação!"))
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content() == "Olá, ação!\n"


def test_the_outbox_message_carries_the_html() -> None:
    message = MailMessage("a@example.org", "Assunto", "texto", {"X-A": "1"}, "<p>ação</p>")
    assert message_from_json(message_to_json(message)) == message
    assert message_from_json(message_to_json(MailMessage("a@example.org", "s", "t"))).html is None
    work = NoticeWork(NUP.digits, 42, "cursor")
    assert notice_from_json(notice_to_json(work)) == work


def _sns(event: dict[str, Any]) -> str:
    return json.dumps({"Type": "Notification", "MessageId": "n-1", "Message": json.dumps(event)})


def test_ses_events_that_suppress_and_those_that_do_not() -> None:
    bounce: dict[str, Any] = {
        "eventType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bouncedRecipients": [{"emailAddress": "a@example.org"}, {"emailAddress": "b@example.org"}],
        },
    }
    assert suppressions(_sns(bounce)) == [("a@example.org", "bounce"), ("b@example.org", "bounce")]
    complaint = {
        "notificationType": "Complaint",
        "complaint": {"complainedRecipients": [{"emailAddress": "c@x.org"}]},
    }
    assert suppressions(_sns(complaint)) == [("c@x.org", "complaint")]
    assert suppressions(json.dumps(complaint)) == [("c@x.org", "complaint")]  # SNS raw delivery
    transient = {**bounce, "bounce": {**bounce["bounce"], "bounceType": "Transient"}}
    assert suppressions(_sns(transient)) == []
    assert suppressions(_sns({"eventType": "Delivery", "delivery": {}})) == []
