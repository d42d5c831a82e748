"""Every AWS call a function made, checked against that function's role in the template.

infra/local/audit.py records, while the app's functions run (on the local stack, or in-process in
the integration tests), which IAM action on which resource each call needs. Here the role policies
come from the same merge template `make package` deploys, with its intrinsic functions resolved
for the stage the calls ran on, and each need is evaluated as IAM would: some Allow statement whose
action, resource and conditions match (the template has no Deny). A call the role would refuse in
AWS is a violation.

Key ARNs are random, so `GetAtt <key>.Arn` stands for any key of the account; which key a statement
names is the template tests' concern (tests/integration/test_template.py). Conditions take the
parameters' defaults (MailSender: the sender the calls used): the stack's own signing key, no
retired keys, no optional edge settings; a statement or list item left out under them
(`Ref AWS::NoValue`) is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.config import DEFAULT_MAIL_SENDER
from infra import template
from infra.chalice_app import ChaliceApp, read_app
from infra.local.audit import Call, Need

ROOT = Path(__file__).resolve().parents[1]
REGION = "sa-east-1"
ACCOUNT = "123456789012"  # moto's
_SUB = re.compile(r"\$\{([^}]+)\}")


@cache
def chalice_app() -> ChaliceApp:
    return read_app(ROOT, "prod")  # roles and policies have the same shape in every stage


class _NoValue:
    """What `Ref AWS::NoValue` resolves to: the list item or property it stands in for is dropped."""


NO_VALUE = _NoValue()


class Resolver:
    """Turns the template's intrinsic functions into the values they take in one stage, with the
    parameters at their defaults (the sender excepted)."""

    def __init__(
        self,
        resources: dict[str, Any],
        sender: str,
        parameters: dict[str, Any] | None = None,
        conditions: dict[str, Any] | None = None,
    ) -> None:
        self._resources = resources
        self._sender = sender
        self._parameters = parameters or {}
        self._conditions = conditions or {}

    def arn(self, logical_id: str, attribute: str) -> str:
        resource = self._resources[logical_id]
        kind, properties = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::DynamoDB::Table":
            table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{properties['TableName']}"
            return table + "/stream/*" if attribute == "StreamArn" else table
        if kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{properties['QueueName']}"
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{properties['BucketName']}"
        if kind == "AWS::KMS::Key":
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*"
        raise ValueError(f"no ARN for {logical_id} ({kind}) in the audit's resolver")

    def value(self, value: Any) -> Any:
        if not isinstance(value, (dict, list)):
            return value  # a string, number or boolean
        if isinstance(value, list):
            return [v for v in (self.value(v) for v in value) if v is not NO_VALUE]
        if not (len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref"))):
            resolved = {k: self.value(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        [(function, argument)] = value.items()
        if function == "Fn::GetAtt":
            return self.arn(argument[0], argument[1])
        if function == "Ref":
            return self._ref(argument)
        if function == "Fn::Sub":
            return _SUB.sub(lambda m: self._variable(m[1]), argument)
        if function == "Fn::If":
            condition, when_true, when_false = argument
            return self.value(when_true if self.holds(condition) else when_false)
        if function == "Fn::Split":
            separator, text = argument
            return self.value(text).split(separator)
        raise ValueError(f"unsupported intrinsic {function}")

    def holds(self, condition: str) -> bool:
        """A template condition, under the parameters' defaults."""
        if condition not in self._conditions:
            raise ValueError(f"no condition {condition} in the template")
        return bool(self._evaluate(self._conditions[condition]))

    def _evaluate(self, expression: Any) -> Any:
        if not isinstance(expression, dict):
            return self.value(expression)
        [(function, argument)] = expression.items()
        if function == "Condition":
            return self.holds(argument)
        if function == "Fn::Equals":
            left, right = (self._evaluate(a) for a in argument)
            return left == right
        if function == "Fn::Not":
            return not self._evaluate(argument[0])
        if function == "Fn::And":
            return all(self._evaluate(a) for a in argument)
        if function == "Fn::Or":
            return any(self._evaluate(a) for a in argument)
        return self.value(expression)

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name == template.MAIL_SENDER:
            return self._sender
        if name in self._parameters and "Default" in self._parameters[name]:
            return self._parameters[name]["Default"]
        raise ValueError(f"no value for Ref {name} in the audit's resolver")

    def _variable(self, name: str) -> str:
        fixed = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
        if name in fixed:
            return fixed[name]
        logical_id, _, attribute = name.partition(".")
        return self.arn(logical_id, attribute)


@cache
def role_statements(stage: str, sender: str = DEFAULT_MAIL_SENDER) -> dict[str, tuple[dict[str, Any], ...]]:
    """Chalice function name -> the statements of its role, resolved for `stage`."""
    app = chalice_app()
    merge = template.merge_template(stage, app)
    resolver = Resolver(merge["Resources"], sender, merge["Parameters"], merge["Conditions"])
    statements: dict[str, tuple[dict[str, Any], ...]] = {}
    for function in app.functions:
        assert function.role is not None, function
        [policy] = merge["Resources"][function.role]["Properties"]["Policies"]
        statements[function.name] = tuple(resolver.value(policy["PolicyDocument"]["Statement"]))
    return statements


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _conditions_hold(conditions: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, tests in conditions.items():
        if operator != "StringEquals":
            raise ValueError(f"the audit does not evaluate the condition operator {operator}")
        for key, expected in tests.items():
            if context.get(key) not in _listed(expected):
                return False
    return True


def allows(statements: Iterable[dict[str, Any]], need: Need) -> bool:
    for statement in statements:
        assert statement["Effect"] == "Allow", statement
        if not any(fnmatchcase(need.action.lower(), a.lower()) for a in _listed(statement["Action"])):
            continue
        if not any(fnmatchcase(need.resource, r) for r in _listed(statement["Resource"])):
            continue
        if _conditions_hold(statement.get("Condition", {}), need.context):
            return True
    return False


def violations(calls: Iterable[Call], stage: str) -> list[str]:
    """One line per need some function's role does not grant (each distinct one once)."""
    roles = role_statements(stage)
    found: dict[tuple[str, str, str], str] = {}
    for call in calls:
        statements = roles.get(call.function)
        if statements is None:
            found[(call.function, "", "")] = f"{call.function}: not a function of the app"
            continue
        for need in call.needs:
            if not allows(statements, need):
                found[(call.function, need.action, need.resource)] = (
                    f"{call.function}: {call.service} {call.operation} needs {need.action} on "
                    f"{need.resource}, which its role does not grant (infra/resources.py, Stack.access)"
                )
    return sorted(found.values())


def assert_least_privilege_holds(calls: list[Call], stage: str) -> None:
    problems = violations(calls, stage)
    assert not problems, "AWS calls the functions' roles would refuse:\n" + "\n".join(problems)
