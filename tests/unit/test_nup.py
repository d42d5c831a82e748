"""NUP rules (Portaria Interministerial 11/2019) and the older forms accepted for lookup."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.nup import (
    Nup,
    NupFormat,
    ParsedNup,
    check_digits_17,
    check_digits_21,
    parse_current_nup,
    parse_nup,
)

# The example published with the Portaria: sums 313 and 358 give check digits 6 and 5.
EXAMPLE = "23037.001462/2021-65"

unit_codes = st.from_regex(r"\A[0-9]{5}\Z")
sequences = st.integers(min_value=1, max_value=999_999)
years = st.integers(min_value=1000, max_value=9999)
nups = st.builds(Nup.issue, unit_codes, sequences, years)


def test_published_example_is_issued_with_its_check_digits() -> None:
    nup = Nup.issue("23037", 1462, 2021)
    assert nup.check_digits == "65"
    assert nup.digits == "23037001462202165"
    assert nup.masked == EXAMPLE
    assert str(nup) == EXAMPLE


def test_check_digits_follow_the_weighted_sums_of_the_example() -> None:
    first15 = "230370014622021"
    assert sum(int(d) * w for w, d in enumerate(reversed(first15), start=2)) == 313
    assert sum(int(d) * w for w, d in enumerate(reversed(first15 + "6"), start=2)) == 358
    assert check_digits_17(first15) == "65"


def test_check_digit_ten_is_written_zero_and_eleven_is_written_one() -> None:
    # "...6": 6 * 2 = 12, remainder 1, 11 - 1 = 10 -> 0.
    assert check_digits_17("000000000000006")[0] == "0"
    # All zeros: remainder 0, 11 - 0 = 11 -> 1.
    assert check_digits_17("000000000000000")[0] == "1"
    # "...5": 5 * 2 = 10 -> DV1 1; then 1 * 2 + 5 * 3 = 17, remainder 6 -> DV2 5.
    assert check_digits_17("000000000000005") == "15"


def test_masked_and_bare_forms_parse_to_the_same_digits() -> None:
    for text in (EXAMPLE, "23037001462202165", " 23037 001462 2021 65 ", "23037.001462.2021.65"):
        parsed = parse_nup(text)
        assert parsed == ParsedNup(NupFormat.CURRENT, "23037001462202165")
        assert parsed.masked == EXAMPLE


def test_wrong_check_digit_is_refused_in_portuguese_on_the_nup_field() -> None:
    with pytest.raises(InvalidInput) as error:
        parse_nup("23037.001462/2021-66")
    assert (
        error.value.detail == "O NUP 23037.001462/2021-66 é inválido: os dígitos verificadores não conferem."
    )
    assert [f.field for f in error.value.fields] == ["nup"]


def test_caller_names_the_field() -> None:
    with pytest.raises(InvalidInput) as error:
        parse_nup("23037.001462/2021-66", field="processosRelacionados[0]")
    assert error.value.fields[0].field == "processosRelacionados[0]"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "Informe o NUP"),
        ("  ", "Informe o NUP"),
        ("23037.001462/2021-6X", "apenas dígitos"),
        ("２３０３７００１４６２２０２１６５", "apenas dígitos"),  # full-width digits are not ASCII digits
        ("23037.001462/2021", "Faltam os 2 dígitos verificadores"),
        ("1234", "tem 4 dígitos"),
        ("9" * 65, "longo demais"),
    ],
)
def test_malformed_text_is_refused_with_a_clear_message(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_nup(text)
    assert fragment in error.value.detail
    assert error.value.fields[0].field == "nup"


def test_zero_sequence_is_refused_even_with_matching_check_digits() -> None:
    first15 = "230370000002021"
    with pytest.raises(InvalidInput, match="sequencial"):
        parse_nup(first15 + check_digits_17(first15))


def test_old_thirteen_digit_form_is_accepted_for_lookup() -> None:
    parsed = parse_nup("23037.001462/98")
    assert parsed.format is NupFormat.LEGACY_13
    assert parsed.digits == "2303700146298"
    assert parsed.masked == "23037.001462/98"
    assert not parsed.is_current


def test_old_twenty_one_digit_form_checks_its_mod_97_digits() -> None:
    # 98 - (1234567000000012015 * 100 mod 97) = 18, zero-padded.
    assert 98 - int("123456700000001201500") % 97 == 18
    assert check_digits_21("1234567000000012015") == "18"
    parsed = parse_nup("1234567.00000001/2015-18")
    assert parsed == ParsedNup(NupFormat.LEGACY_21, "123456700000001201518")
    assert parsed.masked == "1234567.00000001/2015-18"
    with pytest.raises(InvalidInput, match="dígitos verificadores não conferem"):
        parse_nup("1234567.00000001/2015-19")


def test_twenty_one_digit_check_digits_are_zero_padded() -> None:
    # Find a body whose check value is a single digit and make sure it is written with two.
    body = next(f"{n:019d}" for n in range(1, 10_000) if 98 - int(f"{n:019d}00") % 97 < 10)
    digits = check_digits_21(body)
    assert len(digits) == 2
    assert digits.startswith("0")
    assert parse_nup(body + digits).format is NupFormat.LEGACY_21


@pytest.mark.parametrize("text", ["23037.001462/98", "1234567.00000001/2015-18"])
def test_current_parser_refuses_older_forms(text: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_current_nup(text)
    assert "apenas para consulta" in error.value.detail
    assert "17 dígitos" in error.value.detail


def test_current_parser_returns_the_nup() -> None:
    assert parse_current_nup("23037001462202165") == Nup("23037", 1462, 2021, "65")


def test_nup_cannot_be_built_with_wrong_parts_or_check_digits() -> None:
    with pytest.raises(InvalidInput) as error:
        Nup.issue("2303", 0, 21)
    assert len(error.value.fields) == 3
    with pytest.raises(InvalidInput, match="dígitos verificadores"):
        Nup("23037", 1462, 2021, "66")
    with pytest.raises(InvalidInput):
        Nup("23037", 1_000_000, 2021, "00")


@settings(max_examples=300)
@given(nups)
def test_issue_format_parse_round_trip(nup: Nup) -> None:
    assert len(nup.digits) == 17
    for text in (nup.masked, nup.digits, nup.masked.replace(".", " ")):
        assert parse_current_nup(text) == nup
        assert parse_nup(text).digits == nup.digits


@settings(max_examples=300)
@given(nups, st.integers(min_value=15, max_value=16), st.integers(min_value=1, max_value=9))
def test_any_change_to_a_check_digit_is_refused(nup: Nup, position: int, delta: int) -> None:
    digits = nup.digits
    changed = str((int(digits[position]) + delta) % 10)
    tampered = digits[:position] + changed + digits[position + 1 :]
    with pytest.raises(InvalidInput, match="dígitos verificadores não conferem"):
        parse_nup(tampered)


@settings(max_examples=500)
@given(st.text(max_size=80) | st.from_regex(r"\A[0-9 ./\-]{0,30}\Z"))
def test_any_text_parses_or_is_invalid_input(text: str) -> None:
    try:
        parsed = parse_nup(text)
    except InvalidInput as error:
        assert error.detail
        assert [f.field for f in error.fields] == ["nup"]
    else:
        assert len(parsed.digits) == int(parsed.format.value)
        assert parse_nup(parsed.masked) == parsed
