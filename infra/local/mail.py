"""Shows the e-mails the local stack has "sent" (`make mail`): SES on the moto server keeps them.

    python -m infra.local.mail [--to ADDRESS] [--last N]

It finds the running stack through `.local/stack.json` and reads what SES sent from the moto server
(`SENT_MAIL_PATH`, infra/local/moto_server.py), oldest first, newest last.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

from infra.local.state import SENT_MAIL_PATH, StackNotRunningError, read_stack

_SHOWN_HEADERS = {"from", "to", "subject", "date", "message-id", "mime-version", "content-type"}
_SHOWN_HEADERS |= {"content-transfer-encoding"}


@dataclass(frozen=True)
class SentMail:
    sender: str
    to: tuple[str, ...]
    subject: str
    date: datetime | None
    text: str
    extra_headers: tuple[tuple[str, str], ...] = ()


def fetch_sent_mail(endpoint: str, timeout: float = 5.0) -> dict[str, Any]:
    with urllib.request.urlopen(f"{endpoint}{SENT_MAIL_PATH}", timeout=timeout) as response:
        data: dict[str, Any] = json.load(response)
    return data


def parse_raw(raw: str, destinations: list[str] | None = None) -> SentMail:
    message = message_from_string(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)  # noqa: S101 - policy.default builds EmailMessage
    body = message.get_body(preferencelist=("plain", "html"))
    text = str(body.get_content()) if body is not None else ""
    to = [str(a) for a in (message.get_all("To") or [])] or list(dict.fromkeys(destinations or []))
    date = None
    if message["Date"]:
        try:
            date = parsedate_to_datetime(str(message["Date"]))
        except (TypeError, ValueError):
            date = None
    extra = tuple((k, str(v)) for k, v in message.items() if k.lower() not in _SHOWN_HEADERS)
    return SentMail(
        sender=str(message["From"] or ""),
        to=tuple(to),
        subject=str(message["Subject"] or ""),
        date=date,
        text=text,
        extra_headers=extra,
    )


def sent_mails(ses: dict[str, Any]) -> list[SentMail]:
    """Every message SES accepted, oldest first (SESv2 raw MIME is what the app sends; SES v1
    simple and templated messages are shown too, for tools that use them)."""
    mails: list[SentMail] = []
    for item in ses.get("Message") or []:
        destinations = item.get("destinations") or {}
        to = destinations.get("ToAddresses", []) if isinstance(destinations, dict) else list(destinations)
        mails.append(
            SentMail(
                sender=str(item.get("source", "")),
                to=tuple(to),
                subject=str(item.get("subject", "")),
                date=None,
                text=str(item.get("body", "")),
            )
        )
    for item in ses.get("RawMessage") or []:
        mails.append(parse_raw(str(item.get("raw_data", "")), item.get("destinations")))
    for item in ses.get("TemplateMessage") or []:
        destinations = item.get("destinations") or {}
        to = destinations.get("ToAddresses", []) if isinstance(destinations, dict) else list(destinations)
        mails.append(
            SentMail(
                sender=str(item.get("source", "")),
                to=tuple(to),
                subject=f"(template {item.get('template')})",
                date=None,
                text=json.dumps(item.get("template_data"), ensure_ascii=False),
            )
        )
    dated = [m for m in mails if m.date is not None]
    undated = [m for m in mails if m.date is None]
    return undated + sorted(dated, key=lambda m: m.date or datetime.min)


def render(mails: list[SentMail]) -> str:
    if not mails:
        return "No e-mail sent yet."
    blocks = []
    for number, mail in enumerate(mails, start=1):
        lines = [
            f"─── {number}/{len(mails)} " + "─" * 60,
            f"From:    {mail.sender}",
            f"To:      {', '.join(mail.to)}",
            f"Subject: {mail.subject}",
            f"Date:    {mail.date.isoformat() if mail.date else '-'}",
        ]
        lines += [f"{name}: {value}" for name, value in mail.extra_headers]
        lines += ["", mail.text.rstrip(), ""]
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + f"\n{len(mails)} e-mail(s)."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.mail", description=__doc__.split("\n")[0])
    parser.add_argument("--to", help="only e-mails to this address")
    parser.add_argument("--last", type=int, default=0, help="only the N newest")
    args = parser.parse_args(argv)
    try:
        endpoint = str(read_stack()["endpoint"])
    except StackNotRunningError as error:
        print(error, file=sys.stderr)
        return 1
    try:
        ses = fetch_sent_mail(endpoint)
    except OSError as error:  # urllib's URLError included
        print(
            f"The local stack does not answer at {endpoint} ({error}); it was probably stopped. "
            "Start it with `make run`.",
            file=sys.stderr,
        )
        return 1
    mails = sent_mails(ses)
    if args.to:
        mails = [m for m in mails if args.to.lower() in ", ".join(m.to).lower()]
    if args.last > 0:
        mails = mails[-args.last :]
    print(render(mails))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
