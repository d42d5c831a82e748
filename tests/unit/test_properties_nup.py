"""Property tests of the three NUP forms (/work/shared/PEN-REFERENCE.md, Portaria Interministerial
11/2019): parse/mask round trips for 13, 17 and 21 digits with any punctuation people type, check
digits against an independent reading of the published rules, and the errors each form catches.

tests/unit/test_nup.py has the worked examples and the 17-digit issue → parse round trip; these add
the older forms, typed punctuation, an oracle for the check digits, and what each form detects.
"""

from __future__ import annotations

import re

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

MASKS = {
    NupFormat.LEGACY_13: re.compile(r"^\d{5}\.\d{6}/\d{2}$"),
    NupFormat.CURRENT: re.compile(r"^\d{5}\.\d{6}/\d{4}-\d{2}$"),
    NupFormat.LEGACY_21: re.compile(r"^\d{7}\.\d{8}/\d{4}-\d{2}$"),
}
SEPARATORS = st.lists(st.sampled_from([" ", ".", "/", "-", "\t"]), max_size=2).map("".join)


def dv_by_the_book(digits: str) -> int:
    """PEN-REFERENCE.md, read literally: weights 2, 3, ... from the right; 11 - (sum mod 11); 10 → 0,
    11 → 1."""
    weights = range(2, len(digits) + 2)
    total = sum(w * int(d) for w, d in zip(weights, reversed(digits), strict=True))
    dv = 11 - total % 11
    return {10: 0, 11: 1}.get(dv, dv)


def digits_of(size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=size, max_size=size)


def typed(digits: str, data: st.DataObject) -> str:
    """The digits as a person might type them: any separators between any digits, and around."""
    gaps = data.draw(st.lists(SEPARATORS, min_size=len(digits) + 1, max_size=len(digits) + 1))
    return "".join(gap + digit for gap, digit in zip(gaps, digits, strict=False)) + gaps[-1]


current_numbers = st.builds(
    lambda unit, seq, year: Nup.issue(unit, seq, year).digits,
    digits_of(5),
    st.integers(1, 999_999),
    st.integers(1000, 9999),
)
legacy_21_numbers = digits_of(19).map(lambda first: first + check_digits_21(first))
legacy_13_numbers = digits_of(13)
valid_numbers = st.one_of(
    current_numbers.map(lambda d: (NupFormat.CURRENT, d)),
    legacy_21_numbers.map(lambda d: (NupFormat.LEGACY_21, d)),
    legacy_13_numbers.map(lambda d: (NupFormat.LEGACY_13, d)),
)


@settings(max_examples=200)
@given(digits_of(15))
def test_17_digit_check_digits_follow_the_published_rule(first15: str) -> None:
    dv1 = dv_by_the_book(first15)
    dv2 = dv_by_the_book(first15 + str(dv1))
    assert check_digits_17(first15) == f"{dv1}{dv2}"


@settings(max_examples=200)
@given(digits_of(19))
def test_21_digit_check_digits_make_the_number_1_mod_97(first19: str) -> None:
    """ISO 7064 MOD 97-10, as the reference's formula implies: the whole number is 1 modulo 97."""
    dv = check_digits_21(first19)
    assert re.fullmatch(r"\d{2}", dv)
    assert 2 <= int(dv) <= 98
    assert int(first19 + dv) % 97 == 1


@settings(max_examples=200)
@given(valid_numbers, st.data())
def test_every_form_round_trips_through_its_mask_and_typed_punctuation(
    number: tuple[NupFormat, str], data: st.DataObject
) -> None:
    form, digits = number
    parsed = parse_nup(digits)
    assert parsed == ParsedNup(form, digits)
    assert MASKS[form].match(parsed.masked)
    assert re.sub(r"\D", "", parsed.masked) == digits
    assert parse_nup(parsed.masked) == parsed
    text = typed(digits, data)
    if len(text) <= 64:  # longer input is refused before anything else (tested in test_nup.py)
        assert parse_nup(text) == parsed


@settings(max_examples=200)
@given(valid_numbers)
def test_only_the_17_digit_form_opens_or_addresses_a_process(number: tuple[NupFormat, str]) -> None:
    form, digits = number
    if form is NupFormat.CURRENT:
        nup = parse_current_nup(digits)
        assert nup.digits == digits
        assert Nup.issue(nup.unit_code, nup.sequence, nup.year) == nup
    else:
        with pytest.raises(InvalidInput, match=f"formato antigo de {form.value} dígitos"):
            parse_current_nup(digits)


@settings(max_examples=200)
@given(legacy_21_numbers, st.integers(0, 20), st.integers(1, 9))
def test_any_single_digit_error_in_a_21_digit_number_is_caught(
    digits: str, position: int, delta: int
) -> None:
    """Mod 97 catches every single substitution, wherever it is (97 is prime and divides no 10^k)."""
    changed = digits[:position] + str((int(digits[position]) + delta) % 10) + digits[position + 1 :]
    with pytest.raises(InvalidInput, match="dígitos verificadores não conferem"):
        parse_nup(changed)


@settings(max_examples=200)
@given(current_numbers, st.integers(0, 14), st.integers(1, 9))
def test_a_changed_17_digit_body_parses_only_with_its_own_check_digits(
    digits: str, position: int, delta: int
) -> None:
    """Mod 11 with "10 → 0, 11 → 1" cannot catch every substitution (two sums give DV 1), so the
    property is: a changed body is accepted exactly when the published rule gives it the same check
    digits, and then as that other NUP (never as the original)."""
    body = digits[:position] + str((int(digits[position]) + delta) % 10) + digits[position + 1 : 15]
    changed = body + digits[15:]
    by_the_book = f"{dv_by_the_book(body)}{dv_by_the_book(body + str(dv_by_the_book(body)))}"
    try:
        parsed = parse_nup(changed)
    except InvalidInput:
        assert by_the_book != digits[15:] or int(body[5:11]) == 0 or int(body[11:15]) < 1000
    else:
        assert by_the_book == digits[15:]
        assert parsed.digits == changed != digits


@settings(max_examples=200)
@given(
    st.text(
        alphabet=st.characters(categories=["Nd"], exclude_characters="0123456789"), min_size=13, max_size=21
    )
)
def test_digits_of_other_scripts_are_refused(text: str) -> None:
    """str.isdigit() accepts '٣' or '３'; a NUP is made of ASCII digits only."""
    with pytest.raises(InvalidInput):
        parse_nup(text)


@settings(max_examples=200)
@given(st.integers(0, 40).filter(lambda n: n not in (13, 17, 21)), st.data())
def test_any_other_number_of_digits_is_refused(size: int, data: st.DataObject) -> None:
    digits = data.draw(digits_of(size))
    with pytest.raises(InvalidInput) as error:
        parse_nup(digits)
    assert [f.field for f in error.value.fields] == ["nup"]
