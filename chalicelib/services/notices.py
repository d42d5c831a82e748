"""E-mails the platform sends to agencies. Text only, pt-BR, never a token or a secret."""

from __future__ import annotations

from datetime import datetime

from chalicelib.domain.credentials import ApiClient
from chalicelib.domain.structures import Structure
from chalicelib.services.ports import MailMessage


def credential_notice(
    agency: Structure, client: ApiClient, what: str, when: datetime, reason: str = ""
) -> MailMessage:
    assert agency.contact_email is not None  # noqa: S101 - callers check it
    scopes = ", ".join(sorted(s.value for s in client.scopes))
    text = (
        f"Prezado(a) responsável técnico(a) do órgão {agency.name} ({agency.acronym}),\n\n"
        f'O token do cliente de API "{client.name}" (id {client.id}, escopos: {scopes}) foi {what} '
        f"em {when:%d/%m/%Y às %H:%M} (UTC).\n" + (f"Motivo informado: {reason}\n" if reason else "") + "\n"
        "Se esta operação não foi solicitada pelo seu órgão, revogue o cliente e procure a equipe de "
        "operação da plataforma imediatamente.\n\n"
        "Esta é uma mensagem automática; não responda.\n"
    )
    return MailMessage(
        to=agency.contact_email,
        subject=f"[PEN] Token de API {what}: {client.name}",
        text=text,
    )
