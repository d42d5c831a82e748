"""Each function's IAM role: only what its code and its trigger call, only on this stack's resources.

Every function has its own role (.chalice/config.json sets `autogen_policy` off, so Chalice makes one
per function, and infra/template.py replaces its placeholder policy with the one built here). What a
function's code reaches is declared in infra/resources.py (`Stack.access`); what its trigger needs
(the queue or table stream it consumes, its on-failure queue) comes from the Queue or Table naming
it. The actions come from the adapters in chalicelib/store/ (PynamoDB models and transactions,
Powertools idempotency, the SQS outbox, the SESv2 sender) and from the event source mappings, which
poll with the function's role; docs/DEPLOY.md lists them with reasons. The only `*` resource is
X-Ray's, which has no resource-level permissions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.cfn import Json, get_att, ref, regional_arn, sub
from infra.resources import Access, SigningKey, Stack, key_schema

# PynamoDB get/save/update/delete/query and TransactWrite (whose items need these same actions),
# Powertools idempotency (get/put/update/delete). No Scan, no DescribeTable (PynamoDB's models carry
# their schema), no batch operations.
TABLE_READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query")
TABLE_WRITE_ACTIONS = (
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
INDEX_ACTIONS = ("dynamodb:Query",)
QUEUE_SEND_ACTIONS = ("sqs:GetQueueUrl", "sqs:SendMessage")
# Lambda's event source mapping polls with the function's role; it checks these when it is created.
QUEUE_CONSUME_ACTIONS = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
)
# A stream consumer's mapping reads the stream with the function's role (these three on the stream
# itself) and sends the batches that exhaust their retries to the on-failure queue. ListStreams
# takes no stream ARN: it is scoped to the table's streams, as SAM's DynamoDBStreamReadPolicy does.
STREAM_READ_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")
STREAM_LIST_ACTIONS = ("dynamodb:ListStreams",)
STREAM_FAILURE_ACTIONS = ("sqs:SendMessage",)
MAIL_ACTIONS = ("ses:SendEmail", "ses:SendRawEmail")
# DeleteObject: bytes that fail the declared checksum are removed from under that checksum's key.
OBJECT_READ_ACTIONS = ("s3:GetObject",)
OBJECT_ACTIONS = (
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
)
SIGNING_ACTIONS = ("kms:GetPublicKey", "kms:Sign")
# A rotation's previous keys (SigningKey.retired_parameter): published, never used to sign.
RETIRED_KEY_ACTIONS = ("kms:GetPublicKey",)
# Everything at rest is encrypted with the data key (infra/data_key.py): reading a queue's messages,
# an object or a stream needs Decrypt; sending a message or writing an object (presigned PUTs are
# made with the functions' credentials) needs GenerateDataKey.
DATA_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
TRACE_ACTIONS = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")


class AccessError(ValueError):
    """A function's declared access names a resource the stack does not have."""


def _statement(sid: str, actions: tuple[str, ...], resources: list[Any], **extra: Any) -> Json:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources, **extra}


@dataclass(frozen=True)
class Trigger:
    """What a function's event source mapping reads with the function's role (logical ids)."""

    queue: str | None = None  # the queue it consumes
    stream: str | None = None  # the table whose stream it consumes
    stream_failure_queue: str | None = None  # where that mapping sends the batches that failed


def signing_key_arn(key: SigningKey) -> Json:
    """The key the functions sign with: the `<key>Arn` parameter when given, else the stack's own."""
    return {"Fn::If": [key.has_arn_condition, ref(key.arn_parameter), get_att(key.logical_id, "Arn")]}


def retired_key_arns(key: SigningKey) -> Json:
    """The `<key>RetiredArns` parameter as a list of ARNs (use under `key.has_retired_condition`)."""
    return {"Fn::Split": [",", ref(key.retired_parameter)]}


def _known(function: str, kind: str, names: tuple[str, ...], known: set[str]) -> list[str]:
    unknown = sorted(set(names) - known)
    if unknown:
        raise AccessError(f"{function}: Stack.access names {kind} the stack lacks: {', '.join(unknown)}")
    return sorted(set(names))


def function_policy(
    stack: Stack,
    stage: str,
    function: str,
    *,
    function_name: str,
    trigger: Trigger,
    mail_sender: Json,
    data_key: str,
    xray: bool,
) -> Json:
    """The policy document of one function's role.

    `function`: its Chalice name (the key of `stack.access`); `function_name`: its Lambda name (its
    log group's); `mail_sender`: the sender address (a Ref); `data_key`: the logical id of the key
    everything at rest is encrypted with.
    """
    access = stack.access.get(function, Access())
    tables = {t.logical_id for t in stack.tables}
    writes = _known(function, "tables", access.writes, tables)
    reads = sorted(set(_known(function, "tables", access.reads, tables)) | set(writes))
    sends = _known(function, "queues", access.sends, {q.logical_id for q in stack.queues})
    buckets = {b.logical_id for b in stack.buckets}
    writes_objects = _known(function, "buckets", access.writes_objects, buckets)
    reads_objects = _known(function, "buckets", access.reads_objects, buckets)
    reads_objects = [b for b in reads_objects if b not in writes_objects]
    signs = _known(function, "keys", access.signs, {k.logical_id for k in stack.keys})
    indexed = {t.logical_id for t in stack.tables if key_schema(t)[2]}

    # The log group is the template's (infra/template.py): the role only writes to it.
    log_group = regional_arn("logs", f"log-group:/aws/lambda/{function_name}:*")
    statements = [_statement("Logs", LOG_ACTIONS, [log_group])]
    if reads:
        statements.append(_statement("TablesRead", TABLE_READ_ACTIONS, [get_att(t, "Arn") for t in reads]))
    if indexed & set(reads):
        statements.append(
            _statement(
                "TableIndexes",
                INDEX_ACTIONS,
                [sub(f"${{{t}.Arn}}/index/*") for t in reads if t in indexed],
            )
        )
    if writes:
        statements.append(_statement("TablesWrite", TABLE_WRITE_ACTIONS, [get_att(t, "Arn") for t in writes]))
    if sends:
        statements.append(_statement("QueuesSend", QUEUE_SEND_ACTIONS, [get_att(q, "Arn") for q in sends]))
    if trigger.queue:
        statements.append(_statement("QueueConsume", QUEUE_CONSUME_ACTIONS, [get_att(trigger.queue, "Arn")]))
    if trigger.stream:
        stream = get_att(trigger.stream, "StreamArn")
        statements.append(_statement("StreamRead", STREAM_READ_ACTIONS, [stream]))
        statements.append(
            _statement("StreamList", STREAM_LIST_ACTIONS, [sub(f"${{{trigger.stream}.Arn}}/stream/*")])
        )
    if trigger.stream_failure_queue:
        statements.append(
            _statement(
                "StreamFailureSend", STREAM_FAILURE_ACTIONS, [get_att(trigger.stream_failure_queue, "Arn")]
            )
        )
    if access.mails:
        configuration_set = stack.name(stage, stack.mail.configuration_set_suffix)
        statements.append(
            _statement(
                "MailSend",
                MAIL_ACTIONS,
                [
                    regional_arn("ses", "identity/*"),
                    regional_arn("ses", f"configuration-set/{configuration_set}"),
                ],
                Condition={"StringEquals": {"ses:FromAddress": mail_sender}},
            )
        )
    if reads_objects:
        statements.append(
            _statement("ObjectsRead", OBJECT_READ_ACTIONS, [sub(f"${{{b}.Arn}}/*") for b in reads_objects])
        )
    if writes_objects:
        statements.append(
            _statement("Objects", OBJECT_ACTIONS, [sub(f"${{{b}.Arn}}/*") for b in writes_objects])
        )
    if signs:
        keys = [next(k for k in stack.keys if k.logical_id == name) for name in signs]
        statements.append(_statement("Signing", SIGNING_ACTIONS, [signing_key_arn(k) for k in keys]))
        statements.extend(
            {
                "Fn::If": [
                    k.has_retired_condition,
                    {
                        "Sid": f"SigningRetired{k.logical_id}",
                        "Effect": "Allow",
                        "Action": list(RETIRED_KEY_ACTIONS),
                        "Resource": retired_key_arns(k),  # Fn::Split: already a list
                    },
                    ref("AWS::NoValue"),
                ]
            }
            for k in keys
        )
    # Every function reads or writes something encrypted with the data key (a table, a queue, an
    # object, a stream), and the CloudWatch log group is encrypted with it too.
    statements.append(_statement("DataKey", DATA_KEY_ACTIONS, [get_att(data_key, "Arn")]))
    if xray:
        # X-Ray has no resource-level permissions.
        statements.append(_statement("Tracing", TRACE_ACTIONS, ["*"]))
    return {"Version": "2012-10-17", "Statement": statements}
