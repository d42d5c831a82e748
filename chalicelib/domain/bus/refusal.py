"""Recusa: the receiver's refusal of a trâmite, with a national motivo and a justificativa."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.domain.errors import FieldError, InvalidInput

MAX_JUSTIFICATION = 1000


class RefusalReason(StrEnum):
    """Motivos de recusa of the national bus (the value is the code the API shows)."""

    FORMATO_NAO_SUPORTADO = "01"
    COMPONENTE_CORROMPIDO = "02"
    FALTA_DE_COMPONENTES = "03"
    ESPECIE_NAO_MAPEADA = "04"
    OUTRO = "99"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    RefusalReason.FORMATO_NAO_SUPORTADO: "formato não suportado",
    RefusalReason.COMPONENTE_CORROMPIDO: "componente digital corrompido (hash não confere)",
    RefusalReason.FALTA_DE_COMPONENTES: "falta de componentes digitais",
    RefusalReason.ESPECIE_NAO_MAPEADA: "espécie documental não mapeada",
    RefusalReason.OUTRO: "outro",
}


@dataclass(frozen=True)
class Refusal:
    """A valid refusal: build it with `parse_refusal`."""

    reason: RefusalReason
    justification: str | None = None

    @property
    def summary(self) -> str:
        """E.g. "motivo 02 (componente digital corrompido (hash não confere)): o anexo 3 ..."."""
        text = f"motivo {self.reason.value} ({self.reason.label})"
        return f"{text}: {self.justification}" if self.justification else text


def parse_refusal(reason: str, justification: str | None) -> Refusal:
    """The refusal a receiver declares: `reason` is the code ("01" ... "04", "99"); the
    justificativa is required for 99 and allowed for the others, up to 1000 characters (after
    trimming; Unicode NFC). Raises InvalidInput listing every bad field ("motivo", "justificativa")."""
    problems: list[FieldError] = []
    codes = ", ".join(r.value for r in RefusalReason)
    parsed = next((r for r in RefusalReason if r.value == reason), None)
    if parsed is None:
        problems.append(FieldError("motivo", f"use um dos códigos de motivo de recusa: {codes}"))
    text = unicodedata.normalize("NFC", justification).strip() if justification is not None else ""
    if len(text) > MAX_JUSTIFICATION:
        problems.append(
            FieldError("justificativa", f"tem {len(text)} caracteres; o máximo é {MAX_JUSTIFICATION}")
        )
    if parsed is RefusalReason.OUTRO and not text:
        problems.append(
            FieldError(
                "justificativa", "é obrigatória para o motivo 99 (outro): explique o que impede o recebimento"
            )
        )
    if problems or parsed is None:
        raise InvalidInput("A recusa tem dados inválidos.", problems)
    return Refusal(parsed, text or None)


def clip_justification(text: str) -> str:
    """`text` cut to the national limit (with an ellipsis when cut): for justificativas the platform
    writes itself from longer messages."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_JUSTIFICATION else text[: MAX_JUSTIFICATION - 1] + "…"
