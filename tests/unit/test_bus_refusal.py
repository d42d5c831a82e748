"""Motivos de recusa and the justificativa rules."""

from __future__ import annotations

import unicodedata

import pytest

from chalicelib.domain.bus import MAX_JUSTIFICATION, Refusal, RefusalReason, parse_refusal
from chalicelib.domain.errors import InvalidInput


def test_the_national_codes() -> None:
    assert [(r.value, r.label) for r in RefusalReason] == [
        ("01", "formato não suportado"),
        ("02", "componente digital corrompido (hash não confere)"),
        ("03", "falta de componentes digitais"),
        ("04", "espécie documental não mapeada"),
        ("99", "outro"),
    ]


@pytest.mark.parametrize("code", ["01", "02", "03", "04"])
def test_a_justificativa_is_optional_except_for_99(code: str) -> None:
    assert parse_refusal(code, None) == Refusal(RefusalReason(code), None)
    assert parse_refusal(code, "   ") == Refusal(RefusalReason(code), None)
    assert parse_refusal(code, " PDF/A exigido ") == Refusal(RefusalReason(code), "PDF/A exigido")


@pytest.mark.parametrize("justification", [None, "", "  \n "])
def test_99_needs_a_justificativa(justification: str | None) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_refusal("99", justification)
    assert [f.field for f in raised.value.fields] == ["justificativa"]
    assert "obrigatória para o motivo 99" in raised.value.fields[0].message


def test_justificativa_up_to_1000_characters() -> None:
    assert MAX_JUSTIFICATION == 1000
    ok = "ç" * 1000
    assert parse_refusal("99", ok).justification == ok
    # Counted in NFC: 1000 "ç" typed decomposed are still 1000 characters.
    assert parse_refusal("99", unicodedata.normalize("NFD", ok)).justification == ok
    with pytest.raises(InvalidInput) as raised:
        parse_refusal("01", "x" * 1001)
    assert raised.value.fields[0].field == "justificativa"
    assert "1001 caracteres; o máximo é 1000" in raised.value.fields[0].message


@pytest.mark.parametrize("code", ["1", "05", "98", "", "outro"])
def test_unknown_codes_are_refused(code: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_refusal(code, "texto")
    assert [f.field for f in raised.value.fields] == ["motivo"]
    assert "01, 02, 03, 04, 99" in raised.value.fields[0].message


def test_every_problem_is_listed() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_refusal("07", "x" * 1001)
    assert [f.field for f in raised.value.fields] == ["motivo", "justificativa"]


def test_summary_for_the_history() -> None:
    assert parse_refusal("03", None).summary == "motivo 03 (falta de componentes digitais)"
    assert parse_refusal("99", "Processo duplicado").summary == "motivo 99 (outro): Processo duplicado"
