"""Tokens: parsing the Authorization header and checking a presented secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.credentials import (
    ApiClient,
    PresentedToken,
    Scope,
    format_token,
    hash_secret,
    new_client_id,
    new_secret,
    parse_scopes,
)
from chalicelib.domain.errors import InvalidInput, Unauthenticated

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def make_client(secret: str, **changes: object) -> ApiClient:
    base = ApiClient(id=new_client_id(), agency_id="100", name="SEI", scopes=frozenset({Scope.BARRAMENTO}),
                     token_hash=hash_secret(secret), created_at=NOW)  # fmt: skip
    return base.__class__(**{**base.__dict__, **changes})


def test_a_formatted_token_parses_back_to_its_parts() -> None:
    client_id, secret = new_client_id(), new_secret()
    presented = PresentedToken.from_authorization(f"Bearer {format_token(client_id, secret)}")
    assert (presented.client_id, presented.secret) == (client_id, secret)


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_scheme_is_case_insensitive(scheme: str) -> None:
    client_id, secret = new_client_id(), new_secret()
    presented = PresentedToken.from_authorization(f"{scheme} {format_token(client_id, secret)}")
    assert (presented.client_id, presented.secret) == (client_id, secret)


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token pen_0123456789abcdef_x",
     "pen_0123456789abcdef_" + "a" * 43, "Bearer pen_0123456789abcdef_short", "Bearer pen_XYZ_" + "a" * 43],
)  # fmt: skip
def test_malformed_authorization_is_unauthenticated(header: str | None) -> None:
    with pytest.raises(Unauthenticated):
        PresentedToken.from_authorization(header)


def test_check_accepts_the_right_secret_only() -> None:
    secret = new_secret()
    client = make_client(secret)
    client.check(PresentedToken(client.id, secret), NOW)
    with pytest.raises(Unauthenticated):
        client.check(PresentedToken(client.id, new_secret()), NOW)


def test_revoked_and_expired_clients_are_refused() -> None:
    secret = new_secret()
    with pytest.raises(Unauthenticated, match="revogado"):
        make_client(secret, revoked_at=NOW).check(PresentedToken("x", secret), NOW)
    expiring = make_client(secret, expires_at=NOW + timedelta(hours=1))
    expiring.check(PresentedToken("x", secret), NOW)
    with pytest.raises(Unauthenticated, match="expirou"):
        expiring.check(PresentedToken("x", secret), NOW + timedelta(hours=1))


def test_the_stored_hash_is_not_the_secret() -> None:
    secret = new_secret()
    assert secret not in hash_secret(secret)
    assert len(hash_secret(secret)) == 64


def test_scopes_parse_from_text_and_refuse_unknown_ones() -> None:
    assert parse_scopes("processos, barramento") == {Scope.PROCESSOS, Scope.BARRAMENTO}
    with pytest.raises(InvalidInput):
        parse_scopes("processos root")
    with pytest.raises(InvalidInput):
        parse_scopes("")
