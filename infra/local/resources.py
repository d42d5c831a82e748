"""Creates every resource of STACK (infra/resources.py) on a local AWS endpoint (the moto server).

The same definitions feed the cloud template, so the local stack has exactly the cloud's tables
(with their streams), queues (each with its dead-letter queue), the on-failure queue of each stream
consumer, mail setup, buckets and keys; nothing is named here.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.config import Settings
from infra.resources import STACK, Stack, key_schema

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=30)


def client(service: str, endpoint_url: str, region: str) -> Any:
    """A boto3 client for the local endpoint (credentials come from the environment)."""
    session: Any = boto3.session.Session()  # Any: the service name is not a literal here
    return session.client(service, region_name=region, endpoint_url=endpoint_url, config=_CONFIG)


def create_resources(endpoint_url: str, stage: str, region: str, stack: Stack = STACK) -> dict[str, str]:
    """Creates the stack's resources (idempotently) and returns the environment that names them:
    `stack.environment(stage)` with the values only known after creation (queue URLs, key ARNs).
    `stack` is STACK but in tests."""
    env = stack.environment(stage)
    _create_tables(client("dynamodb", endpoint_url, region), stage, stack)
    sqs = client("sqs", endpoint_url, region)
    env.update(_create_queues(sqs, stage, stack))
    _create_stream_failure_queues(sqs, stage, stack)
    env.update(_create_buckets(client("s3", endpoint_url, region), stage, region, stack))
    env.update(_create_keys(client("kms", endpoint_url, region), stage, stack))
    _create_mail_setup(client("sesv2", endpoint_url, region), env, stack)
    return env


def _create_tables(dynamodb: Any, stage: str, stack: Stack) -> None:
    for table in stack.tables:
        attributes, keys, indexes = key_schema(table)
        name = stack.name(stage, table.suffix)
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": attributes,
            "KeySchema": keys,
            "BillingMode": "PAY_PER_REQUEST",
        }
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        if table.stream:
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream_view}
        try:
            dynamodb.create_table(**request)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceInUseException":
                raise
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.1})
        if table.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )


def _create_queues(sqs: Any, stage: str, stack: Stack) -> dict[str, str]:
    env: dict[str, str] = {}
    for queue in stack.queues:
        dlq_url = sqs.create_queue(
            QueueName=stack.dlq_name(stage, queue),
            Attributes={"MessageRetentionPeriod": str(queue.dlq_retention_seconds)},
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
        attributes = {
            "VisibilityTimeout": str(queue.visibility_timeout),
            "MessageRetentionPeriod": str(queue.retention_seconds),
            "RedrivePolicy": json.dumps(redrive),
        }
        url = sqs.create_queue(QueueName=stack.name(stage, queue.suffix))["QueueUrl"]
        # Set apart from create_queue so a second run (same queue, any attributes) stays idempotent.
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        env[queue.env] = str(url)
    return env


def _create_stream_failure_queues(sqs: Any, stage: str, stack: Stack) -> None:
    """The on-failure destination of each stream consumer, as in the cloud: the local worker sends
    it what Lambda sends, for the records that exhausted their retries (infra/local/worker.py)."""
    for table in stack.stream_consumers:
        sqs.create_queue(
            QueueName=stack.stream_dlq_name(stage, table),
            Attributes={"MessageRetentionPeriod": str(table.stream_dlq_retention_seconds)},
        )


def _create_buckets(s3: Any, stage: str, region: str, stack: Stack) -> dict[str, str]:
    env: dict[str, str] = {}
    for bucket in stack.buckets:
        name = stack.name(stage, bucket.suffix)
        request: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            s3.create_bucket(**request)
        except ClientError as error:
            if error.response["Error"]["Code"] not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                raise
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        env[bucket.env] = name
    return env


def _create_keys(kms: Any, stage: str, stack: Stack) -> dict[str, str]:
    env: dict[str, str] = {}
    for key in stack.keys:
        alias = stack.key_alias(stage, key)
        existing = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
        if alias in existing:
            env[key.env] = kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
            continue
        metadata = kms.create_key(KeySpec=key.key_spec, KeyUsage="SIGN_VERIFY", Description=key.description)[
            "KeyMetadata"
        ]
        kms.create_alias(AliasName=alias, TargetKeyId=metadata["KeyId"])
        env[key.env] = str(metadata["Arn"])
    return env


def _create_mail_setup(ses: Any, env: dict[str, str], stack: Stack) -> None:
    """Verifies the sender (moto refuses mail from unverified identities) and creates the
    configuration set. The sender is whatever the functions will use: the settings' default or
    an explicit PEN_MAIL_SENDER."""
    settings = Settings.from_env({**os.environ, **env})
    configuration_set = env[stack.mail.env_configuration_set]
    try:
        ses.create_email_identity(EmailIdentity=settings.mail_sender)
    except ClientError as error:
        if error.response["Error"]["Code"] != "AlreadyExistsException":
            raise
    try:
        ses.create_configuration_set(ConfigurationSetName=configuration_set)
    except ClientError as error:
        # SESv2 says AlreadyExistsException; moto answers with SES v1's code.
        if error.response["Error"]["Code"] not in {
            "AlreadyExistsException",
            "ConfigurationSetAlreadyExistsException",
        }:
            raise
