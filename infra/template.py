"""The deployable cloud template: `python -m infra.template package --stage prod --out build`.

`chalice package` writes the functions, their role and the REST API (SAM). Everything else comes
from the resource definitions in infra/resources.py (the local stack reads the same ones), merged
in with `chalice package --merge-template`:

- tables, queues (each with its dead-letter queue and an alarm on it), buckets, signing keys and the
  SES configuration set, named `pen-<stage>-<suffix>`;
- the SQS triggers pointed at the real queues, with ReportBatchItemFailures (Chalice cannot set it);
- the DynamoDB stream triggers (`@app.on_dynamodb_record`, declared with a nominal stream ARN)
  pointed at the StreamArn of the table whose `stream_handler` names them, with
  ReportBatchItemFailures, the starting position, retries and bisection of `Table`, and an on-failure
  queue (with an alarm) for the records that exhaust their retries;
- every function's environment naming those resources (chalicelib/config.py reads it);
- a least-privilege policy replacing the one Chalice generates (infra/iam.py);
- API Gateway's own error answers as problem+json (chalicelib/api/problems.GATEWAY_RESPONSES).

Chalice's merge is a deep merge (dicts merge, anything else replaces), so the merge template only
states what it adds or overrides. docs/DEPLOY.md says how to deploy the result.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from chalicelib import config
from chalicelib.api import problems
from chalicelib.api.problems import ProblemType
from infra import edge
from infra.access_logs import (
    API_GATEWAY_ACCOUNT,
    access_log_setting,
    api_access_log_outputs,
    api_access_log_resources,
    log_bucket_outputs,
    log_bucket_resources,
)
from infra.buckets import bucket_policy, private_bucket
from infra.cfn import Json, account_administers, arn_of, get_att, ref
from infra.chalice_app import ChaliceApp, Function, read_app
from infra.data_key import DATA_KEY, data_key_resources, queue_encryption, table_encryption
from infra.iam import AccessError, Trigger, function_policy, signing_key_arn
from infra.monitoring import (
    ALARM_EMAIL,
    ALARMS_TOPIC,
    DASHBOARD,
    HAS_ALARM_EMAIL,
    alarm,
    monitoring_parameters,
    monitoring_resources,
)
from infra.resources import STACK, Bucket, Queue, SigningKey, Stack, Table, key_schema
from infra.site_hosting import SITE_URL, site_outputs, site_resources, site_url_parameter

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REGION = "sa-east-1"  # packaging needs a region, never an account
STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")  # valid in every physical name (S3 is the strictest)

BATCH_FAILURES = "ReportBatchItemFailures"
MIN_SQS_CONCURRENCY = 2  # the least MaximumConcurrency an SQS event source mapping takes
MAIL_SENDER = "MailSender"  # template parameter: the verified SES sender address
MAIL_CONFIGURATION_SET = "MailConfigurationSet"
MAIL_EVENTS = "MailEventDestination"
MAIL_EVENTS_TOPIC = "MailEventsTopic"
# Bounces and complaints go through an SNS topic to a queue whose consumer keeps our suppression
# list (no mail to those addresses again). SES's own suppression list also takes them
# (SuppressionOptions).
MAIL_EVENT_TYPES = ("bounce", "complaint")
GATEWAY_RESPONSES = "x-amazon-apigateway-gateway-responses"
REQUEST_ID = "$context.requestId"
INSTANCE_PREFIX = "urn:pen:requisicao:"
_REQUEST_ID_SLOT = "PEN-REQUEST-ID-SLOT"
# Added to each function's environment unless .chalice/config.json sets them: responses carry
# personal data, so traces never record them.
POWERTOOLS_DEFAULTS = {"POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false"}
# Lambda's logs: request ids, routes, statuses and pseudonymous references, never personal data
# (chalicelib/observability.py). Three months covers an incident noticed late; older logs only cost.
FUNCTION_LOG_RETENTION_DAYS = 90
CHALICE_CLI = "import sys; from chalice.cli import main; sys.exit(main())"


class TemplateError(RuntimeError):
    """The app, the resource definitions and the template disagree: fix the code, not the deploy."""


def dlq_id(queue: Queue) -> str:
    return f"{queue.logical_id}Dlq"


def dlq_alarm_id(queue: Queue) -> str:
    return f"{queue.logical_id}DlqAlarm"


def stream_dlq_id(table: Table) -> str:
    """The on-failure queue of the table's stream consumer."""
    return f"{table.logical_id}StreamDlq"


def stream_dlq_alarm_id(table: Table) -> str:
    return f"{table.logical_id}StreamDlqAlarm"


# --- resources from STACK -------------------------------------------------------------------------


def table_resource(stack: Stack, stage: str, table: Table) -> Json:
    attributes, keys, indexes = key_schema(table)
    properties: Json = {
        "TableName": stack.name(stage, table.suffix),
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": attributes,
        "KeySchema": keys,
        "SSESpecification": table_encryption(),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "DeletionProtectionEnabled": True,
    }
    if indexes:
        properties["GlobalSecondaryIndexes"] = indexes
    if table.ttl_attribute:
        properties["TimeToLiveSpecification"] = {"AttributeName": table.ttl_attribute, "Enabled": True}
    if table.stream:
        properties["StreamSpecification"] = {"StreamViewType": table.stream_view}
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties,
    }


def queue_resources(stack: Stack, stage: str, queue: Queue) -> dict[str, Json]:
    # Queues hold work in transit, not records: deleting the stack deletes them (stated, not implied).
    return {
        queue.logical_id: {
            "Type": "AWS::SQS::Queue",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "QueueName": stack.name(stage, queue.suffix),
                "VisibilityTimeout": queue.visibility_timeout,
                "MessageRetentionPeriod": queue.retention_seconds,
                **queue_encryption(),
                "RedrivePolicy": {
                    "deadLetterTargetArn": get_att(dlq_id(queue), "Arn"),
                    "maxReceiveCount": queue.max_receive_count,
                },
            },
        },
        dlq_id(queue): {
            "Type": "AWS::SQS::Queue",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "QueueName": stack.dlq_name(stage, queue),
                "MessageRetentionPeriod": queue.dlq_retention_seconds,
                **queue_encryption(),
            },
        },
        dlq_alarm_id(queue): nonempty_queue_alarm(
            stack,
            stage,
            dlq_id(queue),
            f"{queue.suffix}-dlq-nao-vazia",
            f"Mensagens de {stack.name(stage, queue.suffix)} falharam {queue.max_receive_count} "
            "vezes e estão na fila de mensagens mortas.",
        ),
    }


def nonempty_queue_alarm(stack: Stack, stage: str, queue_id: str, suffix: str, description: str) -> Json:
    """An alarm as soon as the queue holds a message (dead-letter and on-failure queues)."""
    return alarm(
        stack,
        stage,
        suffix,
        description,
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": get_att(queue_id, "QueueName")}],
        Statistic="Maximum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
    )


def stream_failure_resources(stack: Stack, stage: str, table: Table) -> dict[str, Json]:
    """The on-failure queue of a stream consumer and its alarm. Lambda sends it the coordinates of
    each batch that exhausted its retries (shard, first and last sequence numbers), not the records:
    the stream keeps those 24 hours (docs/DEPLOY.md says what to do)."""
    name = stack.stream_dlq_name(stage, table)
    return {
        stream_dlq_id(table): {
            "Type": "AWS::SQS::Queue",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "QueueName": name,
                "MessageRetentionPeriod": table.stream_dlq_retention_seconds,
                **queue_encryption(),
            },
        },
        stream_dlq_alarm_id(table): nonempty_queue_alarm(
            stack,
            stage,
            stream_dlq_id(table),
            f"{table.suffix}-stream-dlq-nao-vazia",
            f"Registros do stream de {stack.name(stage, table.suffix)} falharam em {table.stream_handler} "
            + (
                f"{table.stream_max_retries + 1} vezes e foram descartados"
                if table.stream_max_retries >= 0
                else "até expirarem e foram descartados"
            )
            + ": leia-os do stream em até 24 h.",
        ),
    }


def bucket_resources(stack: Stack, stage: str, bucket: Bucket) -> dict[str, Json]:
    # Multipart uploads that were started and never completed cost storage: drop them.
    abandoned = {
        "Id": "abandoned-multipart-uploads",
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2},
    }
    return {
        bucket.logical_id: {
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": private_bucket(
                stack.name(stage, bucket.suffix), [abandoned], get_att(DATA_KEY, "Arn")
            ),
        },
        f"{bucket.logical_id}Policy": bucket_policy(bucket.logical_id),
    }


def key_resources(stack: Stack, stage: str, key: SigningKey) -> dict[str, Json]:
    return {
        key.logical_id: {
            "Type": "AWS::KMS::Key",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Description": key.description,
                "KeySpec": key.key_spec,
                "KeyUsage": "SIGN_VERIFY",
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [account_administers()],
                },
            },
        },
        f"{key.logical_id}Alias": {
            "Type": "AWS::KMS::Alias",
            # The key the functions sign with (a rotation may point it at another key).
            "Properties": {"AliasName": stack.key_alias(stage, key), "TargetKeyId": signing_key_arn(key)},
        },
    }


KMS_KEY_ARN = r"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+"


def key_parameters(key: SigningKey) -> dict[str, Json]:
    """A rotation's two optional parameters (docs/OPERATIONS.md, "Rotating the signing key")."""
    return {
        key.arn_parameter: {
            "Type": "String",
            "Default": "",
            "AllowedPattern": f"^$|^{KMS_KEY_ARN}$",
            "Description": f"ARN of the KMS key to sign with (ECC_NIST_P256, SIGN_VERIFY, this account); "
            f"empty: the stack's own {key.logical_id}",
        },
        key.retired_parameter: {
            "Type": "String",
            "Default": "",
            "AllowedPattern": f"^$|^{KMS_KEY_ARN}(,{KMS_KEY_ARN})*$",
            "Description": "ARNs of the keys signed with before, comma-separated, no spaces: published "
            "so their stamps keep verifying, never used to sign; keep them enabled",
        },
    }


def key_conditions(key: SigningKey, *, signed: bool) -> dict[str, Json]:
    """`signed`: some function of the app signs with the key (only their roles use the second)."""
    conditions = {key.has_arn_condition: {"Fn::Not": [{"Fn::Equals": [ref(key.arn_parameter), ""]}]}}
    if signed:
        retired = {"Fn::Not": [{"Fn::Equals": [ref(key.retired_parameter), ""]}]}
        conditions[key.has_retired_condition] = retired
    return conditions


def mail_resources(stack: Stack, stage: str) -> dict[str, Json]:
    """The configuration set, and its bounces and complaints on their way to the suppression list:
    SES -> SNS topic -> the mail events queue (its consumer records them)."""
    queue = stack.mail.events_queue
    resources: dict[str, Json] = {
        MAIL_CONFIGURATION_SET: {
            "Type": "AWS::SES::ConfigurationSet",
            "Properties": {
                "Name": stack.name(stage, stack.mail.configuration_set_suffix),
                "ReputationOptions": {"ReputationMetricsEnabled": True},
                "SuppressionOptions": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
            },
        },
        MAIL_EVENTS_TOPIC: {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": stack.name(stage, "correio-eventos"),
                "KmsMasterKeyId": ref(DATA_KEY),  # SES may publish to it (infra/data_key.py)
            },
        },
        f"{MAIL_EVENTS_TOPIC}Policy": {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {
                "Topics": [ref(MAIL_EVENTS_TOPIC)],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "SesPublishes",
                            "Effect": "Allow",
                            "Principal": {"Service": "ses.amazonaws.com"},
                            "Action": "sns:Publish",
                            "Resource": ref(MAIL_EVENTS_TOPIC),
                            "Condition": {"StringEquals": {"AWS:SourceAccount": ref("AWS::AccountId")}},
                        }
                    ],
                },
            },
        },
        MAIL_EVENTS: {
            "Type": "AWS::SES::ConfigurationSetEventDestination",
            "Properties": {
                "ConfigurationSetName": ref(MAIL_CONFIGURATION_SET),
                "EventDestination": {
                    "Name": "devolucoes-e-reclamacoes",
                    "Enabled": True,
                    "MatchingEventTypes": list(MAIL_EVENT_TYPES),
                    "SnsDestination": {"TopicARN": ref(MAIL_EVENTS_TOPIC)},
                },
            },
        },
    }
    if not any(q.logical_id == queue for q in stack.queues):
        return resources  # a stack without the consumer (tests of other parts) has no subscription
    resources |= {
        f"{MAIL_EVENTS_TOPIC}Subscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": ref(MAIL_EVENTS_TOPIC),
                "Protocol": "sqs",
                "Endpoint": get_att(queue, "Arn"),
                # The consumer reads SNS's envelope (its Message is SES's event).
                "RawMessageDelivery": False,
            },
        },
        f"{queue}Policy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [ref(queue)],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "MailEventsTopicSends",
                            "Effect": "Allow",
                            "Principal": {"Service": "sns.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": get_att(queue, "Arn"),
                            "Condition": {"ArnEquals": {"aws:SourceArn": ref(MAIL_EVENTS_TOPIC)}},
                        }
                    ],
                },
            },
        },
    }
    return resources


# --- API Gateway's own answers ----------------------------------------------------------------------


def problem_template(kind: ProblemType, detail: str) -> str:
    """The body of a gateway response: `problems.problem(kind, detail)` plus the request's id.

    API Gateway substitutes `$context.*` in these templates (they are not VTL), so every other `$`
    is written as the JSON escape \\u0024; non-ASCII text is escaped as well (still the same JSON).
    """
    if _REQUEST_ID_SLOT in detail:
        raise TemplateError(f"a problem detail contains the reserved text {_REQUEST_ID_SLOT}")
    body = problems.problem(kind, detail, instance=INSTANCE_PREFIX + _REQUEST_ID_SLOT)
    text = json.dumps(body, ensure_ascii=True)
    return text.replace("$", "\\u0024").replace(_REQUEST_ID_SLOT, REQUEST_ID)


def gateway_responses() -> Json:
    return {
        response_type: {
            "statusCode": str(kind.status),
            "responseParameters": {"gatewayresponse.header.Content-Type": f"'{problems.MEDIA_TYPE}'"},
            "responseTemplates": {"application/json": problem_template(kind, detail)},
        }
        for response_type, (kind, detail) in problems.GATEWAY_RESPONSES.items()
    }


# --- the functions ----------------------------------------------------------------------------------


def function_environment(stack: Stack, stage: str, function: Function, *, xray: bool) -> Json:
    """The variables naming each resource: STACK.environment(stage) with cloud values (Refs)."""
    env: Json = dict(stack.environment(stage))
    env.update({t.env: ref(t.logical_id) for t in stack.tables})
    env.update({q.env: ref(q.logical_id) for q in stack.queues})  # Ref of a queue is its URL
    env.update({b.env: ref(b.logical_id) for b in stack.buckets})
    env.update({k.env: signing_key_arn(k) for k in stack.keys})
    env.update({k.retired_env: ref(k.retired_parameter) for k in stack.keys})
    env[stack.mail.env_configuration_set] = ref(MAIL_CONFIGURATION_SET)
    env[stack.mail.env_sender] = ref(MAIL_SENDER)
    env[config.ENV_PUBLIC_BASE_URL] = ref(SITE_URL)  # the e-mails' links
    defaults = dict(POWERTOOLS_DEFAULTS)
    if not xray:
        defaults["POWERTOOLS_TRACE_DISABLED"] = "true"
    env.update({name: value for name, value in defaults.items() if name not in function.environment})
    return env


def _consumers(stack: Stack, app: ChaliceApp) -> dict[str, Queue]:
    """Chalice name of each SQS handler -> the queue it consumes; every trigger must have one."""
    consumers: dict[str, Queue] = {}
    for queue in stack.queues:
        if not any(t.function == queue.handler for t in app.sqs_triggers):
            raise TemplateError(
                f"queue {queue.logical_id} names handler {queue.handler!r}, but the app has no "
                "@on_sqs_message function by that name"
            )
        if queue.handler in consumers:
            raise TemplateError(
                f"queues {consumers[queue.handler].logical_id} and {queue.logical_id} "
                f"name the same handler {queue.handler!r}: a function consumes one queue"
            )
        consumers[queue.handler] = queue
    for trigger in app.sqs_triggers:
        if trigger.function not in consumers:
            raise TemplateError(
                f"the SQS handler {trigger.function!r} consumes {trigger.queue!r}, which no queue of "
                "infra/resources.py declares (set Queue.handler)"
            )
        queue = consumers[trigger.function]
        timeout = app.function(trigger.function).timeout
        if queue.visibility_timeout < timeout:
            # Lambda refuses to map a queue whose visibility timeout is below the function's timeout.
            raise TemplateError(
                f"queue {queue.logical_id}: visibility_timeout {queue.visibility_timeout} s is below the "
                f"timeout of {trigger.function} ({timeout} s)"
            )
    return consumers


def _stream_consumers(stack: Stack, app: ChaliceApp) -> dict[str, Table]:
    """Chalice name of each stream handler -> the table whose stream it consumes; every
    `@on_dynamodb_record` function must have one (its decorator's stream ARN is only nominal)."""
    consumers = {t.stream_handler: t for t in stack.stream_consumers if t.stream_handler is not None}
    for handler, table in consumers.items():
        if not any(t.function == handler for t in app.stream_triggers):
            raise TemplateError(
                f"table {table.logical_id} names stream_handler {handler!r}, but the app has no "
                "@on_dynamodb_record function by that name"
            )
    for trigger in app.stream_triggers:
        if trigger.function not in consumers:
            raise TemplateError(
                f"the stream handler {trigger.function!r} reads {trigger.stream_arn!r}, which is only "
                "nominal: name it in the stream_handler of a table of infra/resources.py"
            )
    return consumers


def stack_resources(stack: Stack, stage: str) -> dict[str, Json]:
    resources: dict[str, Json] = {t.logical_id: table_resource(stack, stage, t) for t in stack.tables}
    for table in stack.stream_consumers:
        resources.update(stream_failure_resources(stack, stage, table))
    for queue in stack.queues:
        resources.update(queue_resources(stack, stage, queue))
    for bucket in stack.buckets:
        resources.update(bucket_resources(stack, stage, bucket))
    for key in stack.keys:
        resources.update(key_resources(stack, stage, key))
    resources.update(data_key_resources(stack, stage))
    resources.update(mail_resources(stack, stage))
    return resources


def sqs_event_properties(queue: Queue, function: Function) -> Json:
    """A queue consumer's event source mapping (SAM's SQS event), from its Queue and function."""
    properties: Json = {
        "Queue": arn_of(queue.logical_id),
        "BatchSize": queue.batch_size,
        "FunctionResponseTypes": [BATCH_FAILURES],
    }
    if function.reserved_concurrency is not None:
        # Lambda's SQS poller scales past a function's reserved concurrency and the invocations it
        # cannot run are throttled: their messages come back and count receives, and enough of them
        # land in the DLQ. Capping the poller at the reserved concurrency keeps them waiting in the
        # queue instead. SQS mappings accept 2 at least.
        if function.reserved_concurrency < MIN_SQS_CONCURRENCY:
            raise TemplateError(
                f"{function.name} consumes {queue.logical_id}: its reserved_concurrency must be at least "
                f"{MIN_SQS_CONCURRENCY} (.chalice/config.json)"
            )
        properties["ScalingConfig"] = {"MaximumConcurrency": function.reserved_concurrency}
    return properties


def stream_event_properties(table: Table) -> Json:
    """A stream consumer's event source mapping (SAM's DynamoDB event), from its Table."""
    return {
        "Stream": get_att(table.logical_id, "StreamArn"),
        "BatchSize": table.stream_batch_size,
        "StartingPosition": table.stream_starting_position,
        "MaximumRetryAttempts": table.stream_max_retries,
        "BisectBatchOnFunctionError": table.stream_bisect_on_error,
        "FunctionResponseTypes": [BATCH_FAILURES],
        "DestinationConfig": {"OnFailure": {"Destination": get_att(stream_dlq_id(table), "Arn")}},
    }


def function_name(stack: Stack, stage: str, function: Function) -> str:
    return stack.name(stage, function.name)


def function_log_group(stack: Stack, stage: str, function: Function) -> Json:
    """The function's log group, made by the stack (not by Lambda on the first write) so it has a
    retention and is encrypted with the data key."""
    return {
        "Type": "AWS::Logs::LogGroup",
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {
            "LogGroupName": f"/aws/lambda/{function_name(stack, stage, function)}",
            "RetentionInDays": FUNCTION_LOG_RETENTION_DAYS,
            "KmsKeyId": get_att(DATA_KEY, "Arn"),
        },
    }


def function_role(
    stack: Stack,
    stage: str,
    app: ChaliceApp,
    function: Function,
    *,
    consumers: dict[str, Queue],
    stream_consumers: dict[str, Table],
) -> dict[str, Json]:
    """The function's own role: its whole inline policy (a list replaces Chalice's list)."""
    if function.role is None:
        return {}  # a role made outside the stack (Chalice's iam_role_arn): not ours to scope
    sharing = sorted(f.name for f in app.functions if f.role == function.role)
    if len(sharing) > 1:
        raise TemplateError(
            f"functions {', '.join(sharing)} share the role {function.role}: each function needs its own "
            '(set "autogen_policy": false in .chalice/config.json)'
        )
    queue = consumers.get(function.name)
    table = stream_consumers.get(function.name)
    trigger = Trigger(
        queue=queue.logical_id if queue else None,
        stream=table.logical_id if table else None,
        stream_failure_queue=stream_dlq_id(table) if table else None,
    )
    try:
        policy = function_policy(
            stack,
            stage,
            function.name,
            function_name=function_name(stack, stage, function),
            trigger=trigger,
            mail_sender=ref(MAIL_SENDER),
            data_key=DATA_KEY,
            xray=app.xray,
        )
    except AccessError as error:
        raise TemplateError(str(error)) from None
    policies = [{"PolicyName": f"{function.role}Policy", "PolicyDocument": policy}]
    return {function.role: {"Properties": {"Policies": policies}}}


def function_overrides(stack: Stack, stage: str, app: ChaliceApp) -> dict[str, Json]:
    """Per function: its environment and, for a queue or stream consumer, its event on the real
    queue or table stream."""
    consumers = _consumers(stack, app)
    stream_consumers = _stream_consumers(stack, app)
    overrides: dict[str, Json] = {}
    for function in app.functions:
        environment = function_environment(stack, stage, function, xray=app.xray)
        properties: Json = {"Environment": {"Variables": environment}}
        events = {
            trigger.event_id: {"Properties": sqs_event_properties(consumers[trigger.function], function)}
            for trigger in app.sqs_triggers
            if trigger.function == function.name
        }
        events.update(
            {
                trigger.event_id: {"Properties": stream_event_properties(stream_consumers[trigger.function])}
                for trigger in app.stream_triggers
                if trigger.function == function.name
            }
        )
        if events:
            properties["Events"] = events
        # Named as `chalice deploy` would name it, so its log group (below) and the operators'
        # console searches know the name before the stack exists.
        properties["FunctionName"] = function_name(stack, stage, function)
        log_group = f"{function.logical_id}LogGroup"
        # Before the function: Lambda would otherwise make the group at its first write, and the
        # stack could not make it after.
        overrides[function.logical_id] = {"DependsOn": [log_group], "Properties": properties}
        overrides[log_group] = function_log_group(stack, stage, function)
        overrides.update(
            function_role(stack, stage, app, function, consumers=consumers, stream_consumers=stream_consumers)
        )
    return overrides


def stack_outputs(stack: Stack) -> dict[str, Json]:
    """Names and URLs an operator needs; Chalice already outputs the API's (EndpointURL)."""
    outputs: dict[str, Json] = {f"{t.logical_id}Name": {"Value": ref(t.logical_id)} for t in stack.tables}
    for queue in stack.queues:
        outputs[f"{queue.logical_id}Url"] = {"Value": ref(queue.logical_id)}
        outputs[f"{dlq_id(queue)}Url"] = {"Value": ref(dlq_id(queue))}
    for table in stack.stream_consumers:
        outputs[f"{stream_dlq_id(table)}Url"] = {"Value": ref(stream_dlq_id(table))}
    outputs.update({f"{b.logical_id}Name": {"Value": ref(b.logical_id)} for b in stack.buckets})
    outputs.update({f"{k.logical_id}Arn": {"Value": signing_key_arn(k)} for k in stack.keys})  # signs now
    outputs[f"{MAIL_CONFIGURATION_SET}Name"] = {"Value": ref(MAIL_CONFIGURATION_SET)}
    outputs[f"{ALARMS_TOPIC}Arn"] = {"Value": ref(ALARMS_TOPIC)}
    outputs[f"{DASHBOARD}Name"] = {"Value": ref(DASHBOARD)}
    outputs.update(log_bucket_outputs())
    return outputs


def check_stage(stage: str) -> None:
    if not STAGE_PATTERN.match(stage):
        raise TemplateError(f"stage {stage!r}: use 1-20 lowercase letters, digits or '-', first a letter")


def merge_template(stage: str, app: ChaliceApp, stack: Stack = STACK) -> Json:
    """What infra/template.py adds to (or overrides in) `chalice package`'s SAM template."""
    check_stage(stage)
    resources = stack_resources(stack, stage)
    resources.update(log_bucket_resources(stack, stage))  # every bucket logs to it (infra/buckets.py)
    resources.update(function_overrides(stack, stage, app))
    resources.update(monitoring_resources(stack, stage, app))
    outputs = stack_outputs(stack)
    parameters: dict[str, Json] = {
        MAIL_SENDER: {
            "Type": "String",
            "Description": "Sender of the e-mails: an address verified in SES (docs/DEPLOY.md)",
            "AllowedPattern": r"^[^@\s]+@[^@\s]+$",
        },
        SITE_URL: site_url_parameter(),
        **monitoring_parameters(),
    }
    conditions: dict[str, Json] = {HAS_ALARM_EMAIL: {"Fn::Not": [{"Fn::Equals": [ref(ALARM_EMAIL), ""]}]}}
    signed = {k for f in app.functions if f.name in stack.access for k in stack.access[f.name].signs}
    for key in stack.keys:
        parameters.update(key_parameters(key))
        conditions.update(key_conditions(key, signed=key.logical_id in signed))
    rules: dict[str, Json] = {}
    if app.rest_api is not None:
        resources[app.rest_api] = {
            # API Gateway refuses a stage with an access log until the account has its logging role.
            "DependsOn": [API_GATEWAY_ACCOUNT],
            "Properties": {
                "DefinitionBody": {GATEWAY_RESPONSES: gateway_responses()},
                "TracingEnabled": True,  # X-Ray from API Gateway on, so a trace starts at the edge
                "AccessLogSetting": access_log_setting(),  # infra/access_logs.py
                "MethodSettings": edge.method_settings(),  # throttling (infra/edge.py)
            },
        }
        resources.update(api_access_log_resources(stack, stage))
        resources.update(edge.api_waf_resources(stack, stage, app.rest_api))
        resources.update(edge.api_domain_resources(app.rest_api))
        resources.update(site_resources(stack, stage, app.rest_api))
        outputs.update(site_outputs())
        outputs.update(api_access_log_outputs())
        outputs.update(edge.edge_outputs())
        # The optional WAF, custom domain and TLS parameters (infra/edge.py), all empty by default.
        parameters.update(edge.edge_parameters())
        conditions.update(edge.edge_conditions())
        rules.update(edge.edge_rules())
    merge: Json = {
        "Description": f"PEN - Processo Eletrônico Nacional, stage {stage} (infra/template.py)",
        "Parameters": parameters,
        "Conditions": conditions,
        "Resources": resources,
        "Outputs": outputs,
    }
    if rules:
        merge["Rules"] = rules
    return merge


# --- packaging --------------------------------------------------------------------------------------


def check_packaged(template: Json, app: ChaliceApp, stack: Stack = STACK) -> None:
    """Fails when the merge did not land where Chalice put things (its naming changed)."""
    resources: dict[str, Json] = template.get("Resources", {})
    typeless = sorted(name for name, resource in resources.items() if "Type" not in resource)
    if typeless:
        raise TemplateError(
            f"the merge template names resources chalice package did not generate: {', '.join(typeless)}"
        )
    for trigger in app.sqs_triggers:
        function = app.function(trigger.function).logical_id
        event = resources[function]["Properties"].get("Events", {}).get(trigger.event_id)
        queue = (event or {}).get("Properties", {}).get("Queue")
        if not isinstance(queue, dict) or len(queue) != 1:
            raise TemplateError(f"{function}: the SQS event {trigger.event_id} has queue {queue!r}")
    for stream_trigger in app.stream_triggers:
        function = app.function(stream_trigger.function).logical_id
        event = resources[function]["Properties"].get("Events", {}).get(stream_trigger.event_id)
        properties = (event or {}).get("Properties", {})
        if properties.get("Stream") == stream_trigger.stream_arn or BATCH_FAILURES not in properties.get(
            "FunctionResponseTypes", []
        ):
            raise TemplateError(
                f"{function}: the DynamoDB event {stream_trigger.event_id} still reads the nominal stream "
                f"{stream_trigger.stream_arn!r} or lacks {BATCH_FAILURES}"
            )


def package(stage: str, out: Path, project_dir: Path = ROOT, stack: Stack = STACK) -> Path:
    """Runs `chalice package` with the merge template; returns the path of the SAM template."""
    check_stage(stage)
    os.environ.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)
    app = read_app(project_dir, stage)
    merge = merge_template(stage, app, stack)
    out.mkdir(parents=True, exist_ok=True)
    merge_file = out / "merge-template.json"
    merge_file.write_text(json.dumps(merge, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    command = [sys.executable, "-c", CHALICE_CLI, "--project-dir", str(project_dir), "package"]
    command += ["--stage", stage, "--merge-template", str(merge_file), str(out)]
    subprocess.run(command, cwd=project_dir, check=True)
    template_file = out / "sam.json"
    check_packaged(json.loads(template_file.read_text(encoding="utf-8")), app, stack)
    return template_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.template", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("package", help="chalice package + our resources into --out")
    build.add_argument("--stage", required=True)
    build.add_argument("--out", type=Path, default=Path("build"))
    show = commands.add_parser("merge", help="print the merge template (no packaging)")
    show.add_argument("--stage", required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "merge":
            check_stage(args.stage)
            os.environ.setdefault("AWS_DEFAULT_REGION", DEFAULT_REGION)
            merge = merge_template(args.stage, read_app(ROOT, args.stage))
            print(json.dumps(merge, indent=2, ensure_ascii=False))
            return 0
        started = time.monotonic()
        template_file = package(args.stage, args.out.resolve())
    except (TemplateError, subprocess.CalledProcessError) as error:
        print(f"infra.template: {error}", file=sys.stderr)
        return 1
    print(
        f"stage {args.stage} packaged in {time.monotonic() - started:.0f} s: {template_file} and "
        f"{template_file.parent / 'deployment.zip'}\nDeploy it as docs/DEPLOY.md says."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
