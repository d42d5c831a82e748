"""CPF and CNPJ check digits, parsing, formatting and public masking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.people import (
    TaxId,
    TaxIdKind,
    cnpj_check_digits,
    cpf_check_digits,
    format_cnpj,
    format_cpf,
    mask_cpf,
    parse_document,
    validate_cnpj,
    validate_cpf,
)

CPF = "12345678909"
CNPJ = "12345678000195"
# Published by the Receita Federal with the alphanumeric CNPJ (IN RFB 2.229/2024).
ALPHANUMERIC_CNPJ = "12ABC34501DE35"


def first9_not_all_same() -> st.SearchStrategy[str]:
    return st.from_regex(r"\A[0-9]{9}\Z").filter(lambda s: len(set(s)) > 1)


valid_cpfs = first9_not_all_same().map(lambda s: s + cpf_check_digits(s))
valid_cnpjs = (
    st.from_regex(r"\A[0-9A-Z]{12}\Z")
    .filter(lambda s: len(set(s)) > 1)
    .map(lambda s: s + cnpj_check_digits(s))
)


def test_known_check_digits() -> None:
    assert cpf_check_digits("123456789") == "09"
    assert cpf_check_digits("529982247") == "25"
    assert cnpj_check_digits("123456780001") == "95"
    assert cnpj_check_digits("112223330001") == "81"


def test_alphanumeric_cnpj_uses_ascii_minus_48() -> None:
    assert cnpj_check_digits("12ABC34501DE") == "35"
    assert validate_cnpj("12.ABC.345/01DE-35") == ALPHANUMERIC_CNPJ
    assert validate_cnpj("12.abc.345/01de-35") == ALPHANUMERIC_CNPJ  # typed in lower case
    assert format_cnpj(ALPHANUMERIC_CNPJ) == "12.ABC.345/01DE-35"


def test_cpf_with_or_without_punctuation() -> None:
    assert validate_cpf("123.456.789-09") == CPF
    assert validate_cpf(" 123 456 789 09 ") == CPF
    assert validate_cpf(CPF) == CPF


def test_wrong_cpf_check_digit_has_the_portuguese_message_on_the_callers_field() -> None:
    with pytest.raises(InvalidInput) as error:
        parse_document("123.456.789-08", field="interessados[0].documento")
    assert error.value.detail == "CPF inválido: os dígitos verificadores não conferem."
    assert [f.field for f in error.value.fields] == ["interessados[0].documento"]


def test_wrong_cnpj_check_digit_is_refused() -> None:
    with pytest.raises(InvalidInput) as error:
        validate_cnpj("12.345.678/0001-94")
    assert error.value.detail == "CNPJ inválido: os dígitos verificadores não conferem."
    assert error.value.fields[0].field == "cnpj"


@pytest.mark.parametrize("digit", "0123456789")
def test_all_same_digits_are_refused_even_when_the_check_digits_match(digit: str) -> None:
    with pytest.raises(InvalidInput, match="iguais"):
        validate_cpf(digit * 11)
    with pytest.raises(InvalidInput, match="iguais"):
        validate_cnpj(digit * 14)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "Documento inválido"),
        ("123", "Documento inválido"),
        ("1234567890", "Documento inválido"),
        ("12345678909" + "0", "Documento inválido"),
        ("1234567890A", "CPF inválido"),  # 11 characters, but a CPF has only digits
        ("12ABC34501DEX5", "CNPJ inválido"),  # the check digits are always digits
        ("1" * 65, "longo demais"),
    ],
)
def test_malformed_documents_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_document(text)
    assert fragment in error.value.detail
    assert error.value.fields[0].field == "documento"


def test_length_decides_the_kind() -> None:
    assert parse_document("123.456.789-09") == TaxId(TaxIdKind.CPF, CPF)
    assert parse_document("12.345.678/0001-95") == TaxId(TaxIdKind.CNPJ, CNPJ)


def test_full_formats_for_the_agency() -> None:
    assert format_cpf(CPF) == "123.456.789-09"
    assert format_cnpj(CNPJ) == "12.345.678/0001-95"
    assert parse_document(CPF).formatted == "123.456.789-09"
    assert parse_document(CNPJ).formatted == "12.345.678/0001-95"


def test_public_display_masks_a_cpf_and_shows_a_cnpj_in_full() -> None:
    assert mask_cpf(CPF) == "***.456.789-**"
    assert parse_document(CPF).public == "***.456.789-**"
    assert parse_document(CNPJ).public == "12.345.678/0001-95"


def test_repr_never_shows_a_whole_cpf() -> None:
    text = repr(parse_document(CPF))
    assert CPF not in text
    assert "123.456.789-09" not in text
    assert "***.456.789-**" in text


@settings(max_examples=300)
@given(valid_cpfs)
def test_generated_cpfs_pass_and_round_trip(cpf: str) -> None:
    assert validate_cpf(format_cpf(cpf)) == cpf
    assert parse_document(cpf) == TaxId(TaxIdKind.CPF, cpf)
    masked = mask_cpf(cpf)
    assert masked[4:11] == f"{cpf[3:6]}.{cpf[6:9]}"
    assert masked.startswith("***.")
    assert masked.endswith("-**")


# The national algorithm cannot see every change: remainders 0 and 1 both give check digit 0, and
# the first digit weighs 11 (= 0 mod 11) in the second sum. Working the sums through, a single
# changed digit always shows except in position 0 (the first) and position 5 (a change of 2 or 9).
DETECTED_POSITIONS = [1, 2, 3, 4, 6, 7, 8, 9, 10]


def test_the_algorithms_blind_spots_are_the_national_ones() -> None:
    assert validate_cpf("05000000005") == "05000000005"
    assert validate_cpf("15000000005") == "15000000005"  # first digit changed, still valid


@settings(max_examples=500)
@given(valid_cpfs, st.sampled_from(DETECTED_POSITIONS), st.integers(min_value=1, max_value=9))
def test_one_changed_cpf_digit_fails(cpf: str, position: int, delta: int) -> None:
    changed = cpf[:position] + str((int(cpf[position]) + delta) % 10) + cpf[position + 1 :]
    with pytest.raises(InvalidInput, match="CPF inválido"):
        validate_cpf(changed)


@settings(max_examples=300)
@given(valid_cnpjs)
def test_generated_cnpjs_pass_and_round_trip(cnpj: str) -> None:
    assert validate_cnpj(format_cnpj(cnpj)) == cnpj
    assert parse_document(cnpj).kind is TaxIdKind.CNPJ


@settings(max_examples=300)
@given(valid_cnpjs, st.integers(min_value=12, max_value=13), st.integers(min_value=1, max_value=9))
def test_one_changed_cnpj_check_digit_fails(cnpj: str, position: int, delta: int) -> None:
    changed = cnpj[:position] + str((int(cnpj[position]) + delta) % 10) + cnpj[position + 1 :]
    with pytest.raises(InvalidInput, match="CNPJ inválido"):
        validate_cnpj(changed)


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_any_text_is_a_tax_id_or_invalid_input(text: str) -> None:
    try:
        parsed = parse_document(text)
    except InvalidInput as error:
        assert error.detail
        assert [f.field for f in error.fields] == ["documento"]
    else:
        assert parse_document(parsed.formatted) == parsed
