"""The e-mails a citizen who follows a process receives: the confirmation of a subscription and the
digest of new movements. pt-BR, plain text plus an HTML alternative (every value escaped).

They carry the NUP, the public movements (date in Brasília time, unit, operation) and the links of
the subscription; no personal data, not even the recipient's address (it is only in To). Notices
carry RFC 8058's one-click unsubscribe headers, so a mail client can offer "cancelar inscrição".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.nup import parse_nup
from chalicelib.domain.tracking import PublicMovement
from chalicelib.services.ports import MailMessage
from chalicelib.services.site_links import SiteLinks

BRASILIA = ZoneInfo("America/Sao_Paulo")
FOOTER = "Esta é uma mensagem automática da Plataforma PEN; não responda."


def shown_nup(nup: str) -> str:
    """The NUP as people write it (NNNNN.SSSSSS/AAAA-DD), or as stored when not recognised."""
    try:
        return parse_nup(nup).masked
    except InvalidInput:
        return nup


def brasilia(at: datetime) -> str:
    return at.astimezone(BRASILIA).strftime("%d/%m/%Y às %H:%M")


def _html(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="pt-BR">\n<head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>\n"
        '<body style="font-family: Arial, Helvetica, sans-serif; color: #1b1b1b; max-width: 40em;">\n'
        f"{body}\n"
        f'<p style="color: #555; font-size: 90%;">{escape(FOOTER)}</p>\n'
        "</body>\n</html>\n"
    )


def confirmation_mail(to: str, nup: str, url: str, expires_at: datetime) -> MailMessage:
    """The double opt-in: nothing is sent about the process until this link is used."""
    number = shown_nup(nup)
    until = brasilia(expires_at)
    text = (
        f"Olá,\n\n"
        f"Recebemos um pedido para acompanhar por e-mail o processo {number}.\n\n"
        'Para confirmar, abra o link abaixo e clique em "Confirmar acompanhamento" '
        f"(válido até {until}, horário de Brasília):\n\n{url}\n\n"
        "Se você não fez este pedido, ignore esta mensagem: sem a confirmação, nenhum aviso será "
        "enviado.\n\n"
        f"{FOOTER}\n"
    )
    html = _html(
        f"Confirme o acompanhamento do processo {number}",
        f"<p>Olá,</p>\n"
        "<p>Recebemos um pedido para acompanhar por e-mail o processo "
        f"<strong>{escape(number)}</strong>.</p>\n"
        f'<p><a href="{escape(url)}">Confirmar o acompanhamento</a> (válido até {escape(until)}, '
        f"horário de Brasília).</p>\n"
        f"<p>Se o link não abrir, copie este endereço no navegador:<br>{escape(url)}</p>\n"
        "<p>Se você não fez este pedido, ignore esta mensagem: sem a confirmação, nenhum aviso será "
        "enviado.</p>",
    )
    return MailMessage(
        to=to,
        subject=f"Confirme o acompanhamento do processo {number}",
        text=text,
        html=html,
    )


def digest_mail(
    to: str,
    nup: str,
    movements: Sequence[PublicMovement],
    *,
    links: SiteLinks,
    subscription_id: str,
    unsubscribe_token: str,
) -> MailMessage:
    """The movements of one window, oldest first, a link to the process's page, and the
    unsubscribe: a page for people, RFC 8058's one-click POST for mail clients."""
    number = shown_nup(nup)
    page = links.process(nup)
    unsubscribe = links.unsubscribe_page(subscription_id, unsubscribe_token)
    many = len(movements) > 1
    heading = (
        f"O processo {number} teve {len(movements)} novas movimentações:"
        if many
        else f"O processo {number} teve uma nova movimentação:"
    )
    lines = "\n".join(f"- {brasilia(m.at)} | {m.unit} | {m.operation_name}" for m in movements)
    text = (
        f"Olá,\n\n{heading}\n\n{lines}\n\n"
        "(datas e horas no horário de Brasília)\n\n"
        f"Veja o processo e todas as suas movimentações:\n{page}\n\n"
        "Você recebe este aviso porque confirmou o acompanhamento deste processo. Para não receber "
        f"mais avisos dele, abra:\n{unsubscribe}\n\n"
        f"{FOOTER}\n"
    )
    rows = "\n".join(
        f"<tr><td>{escape(brasilia(m.at))}</td><td>{escape(m.unit)}</td><td>{escape(m.operation_name)}</td></tr>"
        for m in movements
    )
    html = _html(
        f"Movimentação do processo {number}",
        f"<p>Olá,</p>\n<p>{escape(heading)}</p>\n"
        '<table style="border-collapse: collapse;" cellpadding="4" border="1">\n'
        "<thead><tr><th>Data (Brasília)</th><th>Unidade</th><th>Operação</th></tr></thead>\n"
        f"<tbody>\n{rows}\n</tbody>\n</table>\n"
        f'<p><a href="{escape(page)}">Veja o processo e todas as suas movimentações</a></p>\n'
        "<p>Você recebe este aviso porque confirmou o acompanhamento deste processo.</p>\n"
        f'<p><a href="{escape(unsubscribe)}">Cancelar o acompanhamento deste processo</a></p>',
    )
    return MailMessage(
        to=to,
        subject=(
            f"Novas movimentações do processo {number}" if many else f"Nova movimentação do processo {number}"
        ),
        text=text,
        html=html,
        headers={
            "List-Unsubscribe": f"<{links.one_click_unsubscribe(subscription_id, unsubscribe_token)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
