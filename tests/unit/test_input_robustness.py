"""Whatever a client sends, parsing answers with a model or a typed InvalidInput: never a crash."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.api.models import RevocationIn, StructureListQuery
from chalicelib.api.validation import parse_body, parse_query
from chalicelib.domain.credentials import PresentedToken
from chalicelib.domain.errors import InvalidInput, Unauthenticated
from chalicelib.store import cursors

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_body_parses_or_is_invalid_input(raw: bytes) -> None:
    try:
        parsed = parse_body(RevocationIn, raw)
    except InvalidInput as error:
        assert error.detail
        assert all(f.field and f.message for f in error.fields)
    else:
        assert 3 <= len(parsed.motivo) <= 500


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["sigla", "nome", "orgao", "limite", "cursor", "x"]), st.text(max_size=30)
    )
)
def test_any_query_parses_or_is_invalid_input(params: dict[str, str]) -> None:
    try:
        parsed = parse_query(StructureListQuery, params)
    except InvalidInput as error:
        assert {f.field for f in error.fields} <= set(params) | {"corpo"}
    else:
        assert 1 <= parsed.limite <= 100


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_cursor_is_valid_or_invalid_input(cursor: str) -> None:
    try:
        cursors.decode(cursor, ("q",), {"pk"})
    except InvalidInput as error:
        assert error.fields[0].field == "cursor"


@given(st.dictionaries(st.sampled_from(["pk", "ordem"]), st.text(max_size=20), min_size=2))
def test_cursors_round_trip_for_their_own_query(key: dict[str, str]) -> None:
    start = {name: {"S": value} for name, value in key.items()}
    cursor = cursors.encode(start, ("q", 1))
    assert cursors.decode(cursor, ("q", 1), {"pk", "ordem"}) == start
    with pytest.raises(InvalidInput):
        cursors.decode(cursor, ("q", 2), {"pk", "ordem"})


@given(st.text(max_size=120))
def test_any_authorization_header_is_a_token_or_unauthenticated(header: str) -> None:
    try:
        presented = PresentedToken.from_authorization(header)
    except Unauthenticated:
        return
    assert len(presented.client_id) == 16
    assert len(presented.secret) == 43
