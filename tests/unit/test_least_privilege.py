"""The AWS-call audit's translation of calls into IAM authorisations, and the policy check on them."""

from __future__ import annotations

from infra.local.audit import Arns, Call, Need, needs
from tests.least_privilege import allows, role_statements, violations

ARNS = Arns("sa-east-1", "123456789012")
TABLE = "arn:aws:dynamodb:sa-east-1:123456789012:table/pen-local-"


def test_a_transaction_needs_each_item_action_on_its_table() -> None:
    params = {
        "TransactItems": [
            {"Put": {"TableName": "pen-local-acompanhamentos", "Item": {}}},
            {"ConditionCheck": {"TableName": "pen-local-processos", "Key": {}}},
        ]
    }
    assert needs("dynamodb", "TransactWriteItems", params, ARNS) == [
        Need("dynamodb:PutItem", TABLE + "acompanhamentos"),
        Need("dynamodb:ConditionCheckItem", TABLE + "processos"),
    ]


def test_an_index_query_a_queue_url_an_object_and_a_mail() -> None:
    assert needs(
        "dynamodb", "Query", {"TableName": "pen-local-tramites", "IndexName": "pendencias"}, ARNS
    ) == [Need("dynamodb:Query", TABLE + "tramites/index/pendencias")]
    url = "http://127.0.0.1:8001/123456789012/pen-local-avisos"
    assert needs("sqs", "SendMessage", {"QueueUrl": url}, ARNS) == [
        Need("sqs:SendMessage", "arn:aws:sqs:sa-east-1:123456789012:pen-local-avisos")
    ]
    assert needs("s3", "HeadObject", {"Bucket": "b", "Key": "sha256/ab"}, ARNS) == [
        Need("s3:GetObject", "arn:aws:s3:::b/sha256/ab")
    ]
    mail = needs(
        "sesv2", "SendEmail", {"FromEmailAddress": "PEN <x@y.gov.br>", "ConfigurationSetName": "c"}, ARNS
    )
    assert [n.resource.rsplit(":", 1)[-1] for n in mail] == ["identity/x@y.gov.br", "configuration-set/c"]
    assert all(n.context == {"ses:FromAddress": "x@y.gov.br"} for n in mail)


def test_a_service_the_app_never_calls_is_never_granted() -> None:
    [need] = needs("lambda", "Invoke", {"FunctionName": "x"}, ARNS)
    assert not any(allows(statements, need) for statements in role_statements("local").values())


def test_each_role_allows_its_own_and_refuses_the_rest() -> None:
    roles = role_statements("local")
    read = Need("dynamodb:GetItem", TABLE + "clientes")
    write = Need("dynamodb:PutItem", TABLE + "clientes")
    assert allows(roles["agency_auth"], read)
    assert not allows(roles["agency_auth"], write)
    assert not allows(roles["send_mail"], read)
    sender = "nao-responda@pen.example.gov.br"
    mail = Need(
        "ses:SendEmail", f"arn:aws:ses:sa-east-1:123456789012:identity/{sender}", {"ses:FromAddress": sender}
    )
    assert allows(roles["send_mail"], mail)
    assert not allows(
        roles["send_mail"], Need(mail.action, mail.resource, {"ses:FromAddress": "outro@x.gov.br"})
    )
    assert not allows(roles["api_handler"], mail)  # the API queues its mail, it never sends it


def test_violations_name_the_function_the_call_and_the_missing_grant() -> None:
    calls = [
        Call("agency_auth", "dynamodb", "GetItem", [Need("dynamodb:GetItem", TABLE + "clientes")]),
        Call("agency_auth", "dynamodb", "PutItem", [Need("dynamodb:PutItem", TABLE + "clientes")]),
        Call("nao_existe", "sqs", "SendMessage", []),
    ]
    assert violations(calls, "local") == [
        f"agency_auth: dynamodb PutItem needs dynamodb:PutItem on {TABLE}clientes, which its role does not "
        "grant (infra/resources.py, Stack.access)",
        "nao_existe: not a function of the app",
    ]
