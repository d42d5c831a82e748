"""CloudFormation intrinsic functions as small typed helpers (the template is built as plain data)."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]


def ref(logical_id: str) -> Json:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str) -> Json:
    return {"Fn::GetAtt": [logical_id, attribute]}


def sub(text: str) -> Json:
    return {"Fn::Sub": text}


def arn_of(logical_id: str) -> Json:
    """The ARN of a resource of this template, as `Fn::Sub`.

    Chalice's merge is a deep merge: a dict replacing a dict is merged key by key. Where Chalice
    already wrote `{"Fn::Sub": ...}` (its SQS event's queue ARN), a `Fn::GetAtt` would end up next to
    it in the same dict; a `Fn::Sub` replaces it cleanly.
    """
    return sub(f"${{{logical_id}.Arn}}")


def regional_arn(service: str, resource: str) -> Json:
    return sub(f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}")


def account_administers() -> Json:
    """A key policy's first statement: the account's IAM policies decide who uses the key."""
    return {
        "Sid": "AccountAdministers",
        "Effect": "Allow",
        "Principal": {"AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
        "Action": "kms:*",
        "Resource": "*",
    }
