"""The pieces of a signing key rotation that need no AWS: the retired keys' setting, and the audit's
reading of the template's rotation parameters (tests/least_privilege.py) at their defaults."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.config import ENV_SIGNING_KEY, ENV_SIGNING_KEYS_RETIRED, REQUIRED, Settings
from infra.resources import STACK
from tests.least_privilege import ACCOUNT, REGION, Resolver, chalice_app, role_statements

A = "arn:aws:kms:sa-east-1:123456789012:key/aaaaaaaa-1111-2222-3333-444455556666"
B = "arn:aws:kms:sa-east-1:123456789012:key/bbbbbbbb-1111-2222-3333-444455556666"
C = "arn:aws:kms:sa-east-1:123456789012:key/cccccccc-1111-2222-3333-444455556666"
[KEY] = STACK.keys


def settings(**env: str) -> Settings:
    return Settings.from_env({**dict.fromkeys(REQUIRED, "x"), **env})


def test_no_retired_keys_unless_given() -> None:
    assert settings().retired_signing_keys == ()
    assert settings(**{ENV_SIGNING_KEY: A, ENV_SIGNING_KEYS_RETIRED: ""}).retired_signing_keys == ()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (B, (B,)),
        (f"{B},{C}", (B, C)),  # the order given: the newest retired first, as the operator lists them
        (f" {B} , ,{C},", (B, C)),  # blanks and stray commas ignored
        (f"{B},{B},{C}", (B, C)),  # each once
        (f"{A},{B}", (B,)),  # the current key is never also "retired"
    ],
)
def test_retired_keys_are_read_once_in_order(raw: str, expected: tuple[str, ...]) -> None:
    read = settings(**{ENV_SIGNING_KEY: A, ENV_SIGNING_KEYS_RETIRED: raw})
    assert (read.signing_key, read.retired_signing_keys) == (A, expected)


def resolver() -> Resolver:
    resources = {KEY.logical_id: {"Type": "AWS::KMS::Key", "Properties": {}}}
    parameters = {
        KEY.arn_parameter: {"Type": "String", "Default": ""},
        KEY.retired_parameter: {"Type": "String", "Default": ""},
    }
    conditions = {
        KEY.has_arn_condition: {"Fn::Not": [{"Fn::Equals": [{"Ref": KEY.arn_parameter}, ""]}]},
        KEY.has_retired_condition: {"Fn::Not": [{"Fn::Equals": [{"Ref": KEY.retired_parameter}, ""]}]},
    }
    return Resolver(resources, "x@y.gov.br", parameters, conditions)


def test_the_resolver_takes_the_branch_of_the_default_parameters() -> None:
    own_key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*"
    current = {
        "Fn::If": [KEY.has_arn_condition, {"Ref": KEY.arn_parameter}, {"Fn::GetAtt": [KEY.logical_id, "Arn"]}]
    }
    retired: dict[str, Any] = {
        "Fn::If": [
            KEY.has_retired_condition,
            {"Sid": "R", "Effect": "Allow", "Action": ["kms:GetPublicKey"],
             "Resource": {"Fn::Split": [",", {"Ref": KEY.retired_parameter}]}},
            {"Ref": "AWS::NoValue"},
        ]
    }  # fmt: skip
    statements = [{"Sid": "S", "Effect": "Allow", "Action": ["kms:Sign"], "Resource": [current]}, retired]
    assert resolver().value(statements) == [
        {"Sid": "S", "Effect": "Allow", "Action": ["kms:Sign"], "Resource": [own_key]}
    ]
    assert resolver().value({"Fn::Split": [",", f"{A},{B}"]}) == [A, B]
    assert resolver().value({"Ref": KEY.retired_parameter}) == ""
    assert resolver().value({"a": 1, "b": {"Ref": "AWS::NoValue"}}) == {"a": 1}
    with pytest.raises(ValueError, match="no condition"):
        resolver().holds("HasNothing")
    with pytest.raises(ValueError, match="no value for Ref"):
        Resolver({}, "x@y.gov.br").value({"Ref": KEY.arn_parameter})


def test_the_resolved_roles_sign_with_the_stack_key_and_read_no_retired_key() -> None:
    roles = role_statements("prod")
    for function in chalice_app().functions:
        kms = [s for s in roles[function.name] if any(a.startswith("kms:") for a in s["Action"])]
        signing = [s for s in kms if s["Sid"] != "DataKey"]
        if KEY.logical_id in STACK.access[function.name].signs:
            assert signing == [
                {
                    "Sid": "Signing",
                    "Effect": "Allow",
                    "Action": ["kms:GetPublicKey", "kms:Sign"],
                    "Resource": [f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*"],
                }
            ], function.name
        else:
            assert signing == [], function.name
