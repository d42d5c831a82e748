"""The functions' IAM policy: only what the code calls, only on this stack's resources.

It replaces the policy Chalice generates for its role (Chalice's analyser grants SQS actions on
"*"). The actions come from the adapters in chalicelib/store/ (PynamoDB models and transactions,
Powertools idempotency, the SQS outbox, the SESv2 sender) and from the event source mappings that
poll with the functions' role (SQS queues, DynamoDB streams); docs/DEPLOY.md lists them with
reasons. When an adapter starts calling a new AWS action, add it here.
"""

from __future__ import annotations

from typing import Any

from infra.cfn import Json, get_att, regional_arn, sub
from infra.resources import Stack

# PynamoDB get/save/update/delete/query and TransactWrite (whose items need these same actions),
# Powertools idempotency (get/put/update/delete). No Scan, no DescribeTable (PynamoDB's models carry
# their schema), no batch operations.
TABLE_ACTIONS = (
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
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
OBJECT_ACTIONS = (
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
)
SIGNING_ACTIONS = ("kms:GetPublicKey", "kms:Sign")
# Everything at rest is encrypted with the data key (infra/data_key.py): reading a queue's messages,
# an object or a stream needs Decrypt; sending a message or writing an object (presigned PUTs are
# made with the functions' credentials) needs GenerateDataKey.
DATA_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
TRACE_ACTIONS = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")


def _statement(sid: str, actions: tuple[str, ...], resources: list[Any], **extra: Any) -> Json:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources, **extra}


def functions_policy(
    stack: Stack,
    stage: str,
    *,
    consumed_queues: list[str],
    indexed_tables: list[str],
    mail_sender: Json,
    data_key: str,
    xray: bool,
    consumed_streams: list[str] | None = None,
    stream_failure_queues: list[str] | None = None,
) -> Json:
    """The policy document of the functions' role.

    `consumed_queues`: logical ids of the queues a function of the app consumes; `indexed_tables`:
    logical ids of the tables with secondary indexes; `mail_sender`: the sender address (a Ref);
    `consumed_streams`: logical ids of the tables whose stream a function consumes;
    `stream_failure_queues`: logical ids of those consumers' on-failure queues; `data_key`: the
    logical id of the key everything at rest is encrypted with.
    """
    statements = [
        _statement("Logs", LOG_ACTIONS, [regional_arn("logs", "log-group:/aws/lambda/*")]),
        _statement("Tables", TABLE_ACTIONS, [get_att(t.logical_id, "Arn") for t in stack.tables]),
    ]
    if indexed_tables:
        statements.append(
            _statement("TableIndexes", INDEX_ACTIONS, [sub(f"${{{t}.Arn}}/index/*") for t in indexed_tables])
        )
    if stack.queues:
        statements.append(
            _statement("QueuesSend", QUEUE_SEND_ACTIONS, [get_att(q.logical_id, "Arn") for q in stack.queues])
        )
    if consumed_queues:
        statements.append(
            _statement("QueuesConsume", QUEUE_CONSUME_ACTIONS, [get_att(q, "Arn") for q in consumed_queues])
        )
    if consumed_streams:
        statements.append(
            _statement(
                "StreamsRead", STREAM_READ_ACTIONS, [get_att(t, "StreamArn") for t in consumed_streams]
            )
        )
        statements.append(
            _statement(
                "StreamsList", STREAM_LIST_ACTIONS, [sub(f"${{{t}.Arn}}/stream/*") for t in consumed_streams]
            )
        )
    if stream_failure_queues:
        statements.append(
            _statement(
                "StreamFailuresSend",
                STREAM_FAILURE_ACTIONS,
                [get_att(q, "Arn") for q in stream_failure_queues],
            )
        )
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
    if stack.buckets:
        statements.append(
            _statement("Objects", OBJECT_ACTIONS, [sub(f"${{{b.logical_id}.Arn}}/*") for b in stack.buckets])
        )
    if stack.keys:
        statements.append(
            _statement("Signing", SIGNING_ACTIONS, [get_att(k.logical_id, "Arn") for k in stack.keys])
        )
    statements.append(_statement("DataKey", DATA_KEY_ACTIONS, [get_att(data_key, "Arn")]))
    if xray:
        # X-Ray has no resource-level permissions.
        statements.append(_statement("Tracing", TRACE_ACTIONS, ["*"]))
    return {"Version": "2012-10-17", "Statement": statements}
