"""The deployable template (`make package`): built once, linted with cfn-lint, and checked against
the sources it derives from (infra/resources.py, the PynamoDB models, problems.GATEWAY_RESPONSES,
the Chalice app). Packaging runs `chalice package` for real (a cold build downloads the Lambda
wheels; later builds reuse .chalice/deployments/)."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chalice.package import TemplateDeepMerger

from chalicelib import config
from chalicelib.api import problems
from chalicelib.store.models import TABLE_MODELS
from infra import monitoring, site_hosting, template
from infra.buckets import LOG_BUCKET
from infra.chalice_app import ChaliceApp, read_app
from infra.data_key import DATA_KEY
from infra.resources import SITE_SECURITY_HEADERS, STACK, Bucket, Queue, SigningKey, Table, key_schema

pytestmark = pytest.mark.xdist_group("template")  # one worker builds the package, once

STAGE = "prod"
ROOT = Path(__file__).resolve().parents[2]
DLQ_RETENTION = 14 * 24 * 3600
REQUEST_ID = "c0ffee00-1234-4abc-9def-000000000001"
DATA_KEY_REF = {"Ref": DATA_KEY}


@dataclass(frozen=True)
class Packaged:
    path: Path
    template: dict[str, Any]
    app: ChaliceApp

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.template["Resources"])

    def of_type(self, kind: str) -> dict[str, Any]:
        return {name: r for name, r in self.resources.items() if r.get("Type") == kind}

    def functions(self) -> dict[str, Any]:
        return self.of_type("AWS::Serverless::Function")


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    path = template.package(STAGE, tmp_path_factory.mktemp("package"))
    assert (path.parent / "deployment.zip").stat().st_size > 0
    return Packaged(path, json.loads(path.read_text(encoding="utf-8")), read_app(ROOT, STAGE))


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).parent / "cfn-lint"
    assert executable.exists(), "cfn-lint is missing from the venv: run `make setup`"
    return subprocess.run([str(executable), "--", str(path)], capture_output=True, text=True, check=False)


def ref_target(value: Any) -> str:
    assert isinstance(value, dict), value
    assert list(value) == ["Ref"], value
    return str(value["Ref"])


def arn_target(value: Any) -> str:
    """The logical id an ARN expression points at: GetAtt X.Arn or Sub "${X.Arn}", nothing else."""
    assert isinstance(value, dict), value
    assert len(value) == 1, f"more than one intrinsic in one value: {value}"
    if "Fn::GetAtt" in value:
        name, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn"
        return str(name)
    text = value["Fn::Sub"]
    assert isinstance(text, str), value
    assert text.startswith("${"), text
    assert text.endswith(".Arn}"), text
    return text[2 : -len(".Arn}")]


# --- the whole template ------------------------------------------------------------------------------


def test_cfn_lint_finds_nothing(packaged: Packaged) -> None:
    result = cfn_lint(packaged.path)
    assert result.returncode == 0, result.stdout + result.stderr


CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CHECKOV_CONFIG = ROOT / "infra" / "checkov.yaml"


def test_checkov_fails_nothing_beyond_its_justified_skip_list(packaged: Packaged) -> None:
    if not CHECKOV.is_file():
        pytest.fail(f"{CHECKOV.relative_to(ROOT)} is missing: run `make setup` (infra/setup.sh installs it)")
    result = subprocess.run(
        [str(CHECKOV), "-f", str(packaged.path), "--config-file", str(CHECKOV_CONFIG)],
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},  # no call home for its guideline links
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Passed checks" in result.stdout  # it really scanned the template


def test_every_skipped_check_says_why() -> None:
    lines = CHECKOV_CONFIG.read_text(encoding="utf-8").splitlines()
    skips = [i for i, line in enumerate(lines) if line.strip().startswith("- CKV_")]
    assert skips
    for i in skips:
        above = lines[i - 1].strip()
        assert above.startswith("#") or above.startswith("- CKV_"), f"{lines[i].strip()} has no reason"
    assert len(skips) <= 12  # a short list: fix rather than skip


def test_every_resource_is_complete(packaged: Packaged) -> None:
    # A merge-template entry for a logical id chalice did not generate would lack its Type.
    assert all("Type" in r for r in packaged.resources.values())
    assert set(packaged.functions()) == {f.logical_id for f in packaged.app.functions}


# --- tables -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", STACK.tables, ids=lambda t: t.logical_id)
def test_every_table_is_there_with_its_keys(packaged: Packaged, table: Any) -> None:
    resource = packaged.resources[table.logical_id]
    properties = resource["Properties"]
    attributes, keys, indexes = key_schema(table)
    assert resource["Type"] == "AWS::DynamoDB::Table"
    assert properties["TableName"] == f"pen-{STAGE}-{table.suffix}"
    assert properties["AttributeDefinitions"] == attributes
    assert properties["KeySchema"] == keys
    assert properties.get("GlobalSecondaryIndexes", []) == indexes
    if table.model_field is not None:  # the PynamoDB model itself, not only key_schema's reading of it
        model = TABLE_MODELS[table.model_field]
        assert properties["KeySchema"][0] == {"AttributeName": model._hash_keyname, "KeyType": "HASH"}
        model_indexes = {i.Meta.index_name for i in model._indexes.values()}
        assert {i["IndexName"] for i in properties.get("GlobalSecondaryIndexes", [])} == model_indexes
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": DATA_KEY_REF,
    }
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    if table.ttl_attribute:
        assert properties["TimeToLiveSpecification"] == {
            "AttributeName": table.ttl_attribute,
            "Enabled": True,
        }
    else:
        assert "TimeToLiveSpecification" not in properties
    assert ("StreamSpecification" in properties) == table.stream


# --- queues -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("queue", STACK.queues, ids=lambda q: q.logical_id)
def test_every_queue_has_a_dead_letter_queue_and_an_alarm_on_it(packaged: Packaged, queue: Queue) -> None:
    resources = packaged.resources
    main = resources[queue.logical_id]
    assert main["Type"] == "AWS::SQS::Queue"
    assert main["Properties"]["QueueName"] == f"pen-{STAGE}-{queue.suffix}"
    assert main["Properties"]["VisibilityTimeout"] == queue.visibility_timeout
    assert main["Properties"]["KmsMasterKeyId"] == DATA_KEY_REF
    redrive = main["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == queue.max_receive_count
    dlq_id = arn_target(redrive["deadLetterTargetArn"])
    assert dlq_id != queue.logical_id
    dlq = resources[dlq_id]
    assert dlq["Type"] == "AWS::SQS::Queue"
    assert dlq["Properties"]["MessageRetentionPeriod"] == DLQ_RETENTION
    assert dlq["Properties"]["KmsMasterKeyId"] == DATA_KEY_REF
    assert "RedrivePolicy" not in dlq["Properties"]
    alarms = [
        a["Properties"]
        for a in packaged.of_type("AWS::CloudWatch::Alarm").values()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}
        in a["Properties"].get("Dimensions", [])
    ]
    assert len(alarms) == 1
    assert alarms[0]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarms[0]["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarms[0]["Threshold"] == 0


@pytest.mark.parametrize("queue", STACK.queues, ids=lambda q: q.logical_id)
def test_the_consumer_reads_the_real_queue_and_reports_batch_failures(
    packaged: Packaged, queue: Queue
) -> None:
    consumers = [
        f["Properties"]
        for f in packaged.functions().values()
        if f["Properties"]["Handler"].rsplit(".", 1)[-1] == queue.handler
    ]
    assert len(consumers) == 1, f"no function with the handler {queue.handler}"
    events = [e["Properties"] for e in consumers[0].get("Events", {}).values() if e["Type"] == "SQS"]
    assert len(events) == 1
    assert arn_target(events[0]["Queue"]) == queue.logical_id
    assert events[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert events[0]["BatchSize"] == queue.batch_size


@pytest.mark.parametrize("table", STACK.stream_consumers, ids=lambda t: t.logical_id)
def test_every_stream_consumer_reads_its_table_stream(packaged: Packaged, table: Table) -> None:
    (function,) = (
        f["Properties"]
        for f in packaged.functions().values()
        if f["Properties"]["Handler"].rsplit(".", 1)[-1] == table.stream_handler
    )
    (event,) = (e["Properties"] for e in function["Events"].values() if e["Type"] == "DynamoDB")
    assert event["Stream"] == {"Fn::GetAtt": [table.logical_id, "StreamArn"]}
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["StartingPosition"] == table.stream_starting_position == "TRIM_HORIZON"
    assert event["BatchSize"] == table.stream_batch_size
    assert event["MaximumRetryAttempts"] == table.stream_max_retries
    assert event["BisectBatchOnFunctionError"] is table.stream_bisect_on_error
    failure_queue = arn_target(event["DestinationConfig"]["OnFailure"]["Destination"])
    assert (
        packaged.resources[failure_queue]["Properties"]["QueueName"]
        == f"pen-{STAGE}-{table.suffix}-stream-dlq"
    )
    for name, other in packaged.functions().items():
        policy = json.dumps(packaged.resources[role_of(other)]["Properties"]["Policies"])
        reads = other["Properties"] is function
        assert (json.dumps({"Fn::GetAtt": [table.logical_id, "StreamArn"]}) in policy) is reads, name
        assert (json.dumps({"Fn::GetAtt": [failure_queue, "Arn"]}) in policy) is reads, name


def test_no_sqs_event_points_outside_the_stack(packaged: Packaged) -> None:
    queues = {q.logical_id for q in STACK.queues}
    for function in packaged.functions().values():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                assert arn_target(event["Properties"]["Queue"]) in queues


# --- functions ----------------------------------------------------------------------------------------


def test_every_function_finds_every_resource(packaged: Packaged) -> None:
    expected = STACK.environment(STAGE)
    by_name = {
        r["Properties"]["TableName"]: name for name, r in packaged.of_type("AWS::DynamoDB::Table").items()
    }
    by_name.update(
        {r["Properties"]["QueueName"]: name for name, r in packaged.of_type("AWS::SQS::Queue").items()}
    )
    functions = packaged.functions()
    assert functions
    for name, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        missing = set(expected) - set(variables)
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert variables[config.ENV_STAGE] == STAGE
        for table in STACK.tables:
            assert ref_target(variables[table.env]) == by_name[expected[table.env]]
        for queue in STACK.queues:  # the Ref of a queue is its URL, which the outbox takes as is
            assert ref_target(variables[queue.env]) == by_name[expected[queue.env]]
        configuration_set = packaged.resources[ref_target(variables[config.ENV_MAIL_CONFIGURATION_SET])]
        assert configuration_set["Properties"]["Name"] == expected[config.ENV_MAIL_CONFIGURATION_SET]
        assert ref_target(variables[config.ENV_MAIL_SENDER]) in packaged.template["Parameters"]
        assert ref_target(variables[config.ENV_PUBLIC_BASE_URL]) == site_hosting.SITE_URL  # e-mail links
        assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"


def role_of(function: dict[str, Any]) -> str:
    return str(function["Properties"]["Role"]["Fn::GetAtt"][0])


def granted(packaged: Packaged, role: str) -> dict[str, set[str]]:
    """Action -> the logical ids (tables, queues, buckets, keys) its role grants it on."""
    names = {t.logical_id for t in STACK.tables} | {q.logical_id for q in STACK.queues}
    names |= {b.logical_id for b in STACK.buckets} | {k.logical_id for k in STACK.keys}
    names |= {f"{q.logical_id}Dlq" for q in STACK.queues} | {f"{t.logical_id}StreamDlq" for t in STACK.tables}
    policies = packaged.resources[role]["Properties"]["Policies"]
    assert len(policies) == 1
    found: dict[str, set[str]] = {}
    for listed in policies[0]["PolicyDocument"]["Statement"]:
        # A statement under a condition (Fn::If [condition, statement, AWS::NoValue]): what it grants when on.
        statement = listed["Fn::If"][1] if "Fn::If" in listed else listed
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        assert all("*" not in action for action in actions), actions
        if statement["Resource"] == ["*"]:
            assert all(a.startswith("xray:") for a in actions), f"{actions} on every resource"
            continue
        for action in actions:
            for resource in statement["Resource"]:
                text = json.dumps(resource)
                found.setdefault(action, set()).update(
                    name for name in names if f'"{name}"' in text or f"{{{name}." in text
                )
    return found


def test_every_function_has_its_own_role(packaged: Packaged) -> None:
    functions = packaged.functions()
    roles = [role_of(f) for f in functions.values()]
    assert len(set(roles)) == len(roles) == len(packaged.app.functions)
    assert "DefaultRole" not in packaged.resources
    assert set(STACK.access) == {f.name for f in packaged.app.functions}, "declare each function's access"


@pytest.mark.parametrize("name", sorted(STACK.access))
def test_each_role_grants_only_what_its_function_declares(packaged: Packaged, name: str) -> None:
    """The grants follow Stack.access and the function's trigger exactly; the e2e and integration
    tests check that every call each function made is granted (tests/least_privilege.py)."""
    function = packaged.app.function(name)
    access = STACK.access[name]
    resource = packaged.resources[function.logical_id]
    role = role_of(resource)
    grants = granted(packaged, role)
    queue = next((q.logical_id for q in STACK.queues if q.handler == name), None)
    stream = next((t for t in STACK.stream_consumers if t.stream_handler == name), None)
    reads = set(access.reads) | set(access.writes)

    assert not any(a.startswith("dynamodb:") and a.endswith(("Scan", "Table")) for a in grants)
    assert grants.get("dynamodb:GetItem", set()) == reads
    assert grants.get("dynamodb:Query", set()) == reads
    for action in ("PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"):
        assert grants.get(f"dynamodb:{action}", set()) == set(access.writes), action
    failure_queue = {f"{stream.logical_id}StreamDlq"} if stream else set()
    assert grants.get("sqs:SendMessage", set()) == set(access.sends) | failure_queue
    assert grants.get("sqs:ReceiveMessage", set()) == ({queue} if queue else set())
    assert grants.get("sqs:DeleteMessage", set()) == ({queue} if queue else set())
    assert grants.get("dynamodb:GetRecords", set()) == ({stream.logical_id} if stream else set())
    assert ("ses:SendEmail" in grants) is access.mails
    assert grants.get("s3:PutObject", set()) == set(access.writes_objects)
    assert grants.get("s3:GetObject", set()) == set(access.reads_objects) | set(access.writes_objects)
    assert grants.get("kms:Sign", set()) == set(access.signs)
    assert "sqs:PurgeQueue" not in grants
    statements = packaged.resources[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    [logs] = [st for st in statements if st.get("Sid") == "Logs"]
    log_group = resource["Properties"]["FunctionName"]
    assert logs["Resource"][0]["Fn::Sub"].endswith(f":log-group:/aws/lambda/{log_group}:*")
    group = packaged.resources[f"{function.logical_id}LogGroup"]["Properties"]
    assert group["LogGroupName"] == f"/aws/lambda/{log_group}"
    assert group["KmsKeyId"] == {"Fn::GetAtt": [DATA_KEY, "Arn"]}
    assert group["RetentionInDays"] == template.FUNCTION_LOG_RETENTION_DAYS
    [data_key] = [st for st in statements if st.get("Sid") == "DataKey"]
    assert (data_key["Action"], data_key["Resource"]) == (
        ["kms:Decrypt", "kms:GenerateDataKey"],
        [{"Fn::GetAtt": [DATA_KEY, "Arn"]}],
    )


def test_queue_consumers_poll_no_faster_than_their_reserved_concurrency(packaged: Packaged) -> None:
    for queue in STACK.queues:
        function = packaged.app.function(queue.handler)
        assert function.reserved_concurrency is not None
        assert function.reserved_concurrency >= 2
        properties = packaged.resources[function.logical_id]["Properties"]
        assert properties["ReservedConcurrentExecutions"] == function.reserved_concurrency
        (event,) = (e["Properties"] for e in properties["Events"].values() if e["Type"] == "SQS")
        assert event["ScalingConfig"] == {"MaximumConcurrency": function.reserved_concurrency}
    for function in packaged.app.functions:
        assert packaged.resources[function.logical_id]["Properties"]["ReservedConcurrentExecutions"] >= 1


def test_everything_at_rest_is_encrypted_with_the_rotated_data_key(packaged: Packaged) -> None:
    """Tables, queues, buckets and topics: one customer-managed key, rotated by KMS, whose policy lets
    only SES and SNS (mail events), CloudWatch (alarms) and CloudFront (the site) use it besides IAM."""
    resources = packaged.resources
    key = resources[DATA_KEY]["Properties"]
    assert key["EnableKeyRotation"] is True
    assert key["KeyUsage"] == "ENCRYPT_DECRYPT"
    services: set[str] = set()
    for statement in key["KeyPolicy"]["Statement"]:
        named = statement["Principal"].get("Service", [])
        if isinstance(named, dict):  # a regional service principal, Fn::Sub
            named = named["Fn::Sub"]
        services.update([named] if isinstance(named, str) else named)
    assert services == {
        "ses.amazonaws.com",
        "sns.amazonaws.com",
        "cloudwatch.amazonaws.com",
        "cloudfront.amazonaws.com",
        "logs.${AWS::Region}.amazonaws.com",  # the stack's log groups (infra/access_logs.py)
    }
    for name, table in packaged.of_type("AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"]["KMSMasterKeyId"] == DATA_KEY_REF, name
    for name, queue in packaged.of_type("AWS::SQS::Queue").items():
        assert queue["Properties"]["KmsMasterKeyId"] == DATA_KEY_REF, name
    for name, bucket in packaged.of_type("AWS::S3::Bucket").items():
        if name == LOG_BUCKET:  # SSE-S3, which S3 server access logs require (test_edge.py)
            continue
        [rule] = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": {"Fn::GetAtt": [DATA_KEY, "Arn"]},
        }, name
        assert rule["BucketKeyEnabled"] is True
    for name, topic in packaged.of_type("AWS::SNS::Topic").items():
        assert topic["Properties"]["KmsMasterKeyId"] == DATA_KEY_REF, name


def test_the_authorizer_result_is_never_cached(packaged: Packaged) -> None:
    swagger = packaged.resources["RestAPI"]["Properties"]["DefinitionBody"]
    authorizers = swagger["securityDefinitions"]
    assert authorizers
    for definition in authorizers.values():
        assert definition["x-amazon-apigateway-authorizer"]["authorizerResultTtlInSeconds"] == 0


# --- API Gateway's own answers --------------------------------------------------------------------


def test_every_gateway_response_is_problem_json(packaged: Packaged) -> None:
    swagger = packaged.resources["RestAPI"]["Properties"]["DefinitionBody"]
    responses = swagger["x-amazon-apigateway-gateway-responses"]
    assert set(responses) == set(problems.GATEWAY_RESPONSES)
    for response_type, (kind, detail) in problems.GATEWAY_RESPONSES.items():
        response = responses[response_type]
        assert response["statusCode"] == str(kind.status), response_type
        assert response["responseParameters"] == {
            "gatewayresponse.header.Content-Type": "'application/problem+json'"
        }
        body = response["responseTemplates"]["application/json"]
        rendered = body.replace("$context.requestId", REQUEST_ID)
        assert "$" not in rendered, f"{response_type}: a '$' API Gateway would read as a variable"
        assert json.loads(rendered) == problems.problem(
            kind, detail, instance=f"urn:pen:requisicao:{REQUEST_ID}"
        )
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"


def test_a_dollar_in_a_detail_is_escaped() -> None:
    body = template.problem_template(problems.INTERNAL, "custa $5 e ${x}")
    assert body.count("$") == 1  # only $context.requestId is left for API Gateway
    rendered = json.loads(body.replace("$context.requestId", "id"))
    assert rendered["detail"] == "custa $5 e ${x}"


# --- mail and outputs ----------------------------------------------------------------------------------


def test_mail_configuration_set_sends_bounces_and_complaints_on(packaged: Packaged) -> None:
    sets = packaged.of_type("AWS::SES::ConfigurationSet")
    assert [s["Properties"]["Name"] for s in sets.values()] == [f"pen-{STAGE}-correio"]
    (set_id,) = sets
    destinations = [
        d["Properties"]
        for d in packaged.of_type("AWS::SES::ConfigurationSetEventDestination").values()
        if d["Properties"]["ConfigurationSetName"] == {"Ref": set_id}
    ]
    assert len(destinations) == 1
    destination = destinations[0]["EventDestination"]
    assert destination["Enabled"] is True
    assert {"bounce", "complaint"} <= set(destination["MatchingEventTypes"])
    assert "EventBridgeDestination" in destination or "SnsDestination" in destination


def test_outputs_name_the_api_tables_and_queues(packaged: Packaged) -> None:
    outputs = packaged.template["Outputs"]
    assert "RestAPI" in json.dumps(outputs["EndpointURL"])
    referenced = {
        o["Value"]["Ref"] for o in outputs.values() if isinstance(o["Value"], dict) and "Ref" in o["Value"]
    }
    assert {t.logical_id for t in STACK.tables} <= referenced
    assert {q.logical_id for q in STACK.queues} <= referenced


# --- what STACK does not use yet, and the refusals ---------------------------------------------------


def test_buckets_and_signing_keys_lint_and_are_wired(packaged: Packaged, tmp_path: Path) -> None:
    stack = dataclasses.replace(
        STACK,
        buckets=(Bucket("DocumentosBucket", "documentos", "PEN_TEST_BUCKET"),),
        keys=(SigningKey("AssinaturaKey", "PEN_TEST_KEY", "recibos", "PEN_TEST_RETIRED"),),
    )
    merged = TemplateDeepMerger().merge(
        template.merge_template(STAGE, packaged.app, stack), copy.deepcopy(packaged.template)
    )
    path = tmp_path / "sam.json"
    path.write_text(json.dumps(merged), encoding="utf-8")
    result = cfn_lint(path)
    assert result.returncode == 0, result.stdout + result.stderr
    resources = merged["Resources"]
    assert resources["DocumentosBucket"]["Properties"]["BucketName"] == f"pen-{STAGE}-documentos"
    assert resources["AssinaturaKey"]["Properties"]["KeySpec"] == "ECC_NIST_P256"
    for name in packaged.functions():
        variables = resources[name]["Properties"]["Environment"]["Variables"]
        assert variables["PEN_TEST_BUCKET"] == {"Ref": "DocumentosBucket"}
        assert variables["PEN_TEST_KEY"]["Fn::If"][2] == {"Fn::GetAtt": ["AssinaturaKey", "Arn"]}
        assert variables["PEN_TEST_RETIRED"] == {"Ref": "AssinaturaKeyRetiredArns"}
    api_role = role_of(resources[packaged.app.function("api_handler").logical_id])
    policy = json.dumps(resources[api_role]["Properties"]["Policies"])
    assert "${DocumentosBucket.Arn}/*" in policy
    assert '["AssinaturaKey", "Arn"]' in policy


def test_the_site_is_a_private_bucket_behind_cloudfront_which_forwards_the_public_api(
    packaged: Packaged,
) -> None:
    resources = packaged.resources
    bucket = resources[site_hosting.SITE_BUCKET]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    statements = resources[f"{site_hosting.SITE_BUCKET}Policy"]["Properties"]["PolicyDocument"]["Statement"]
    [reader] = [s for s in statements if s["Effect"] == "Allow"]
    assert reader["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert reader["Action"] == "s3:GetObject"  # no listing, no writing
    assert "AWS:SourceArn" in reader["Condition"]["StringEquals"]  # this distribution only
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements)  # fmt: skip

    config_ = resources[site_hosting.SITE_DISTRIBUTION]["Properties"]["DistributionConfig"]
    origins = {o["Id"]: o for o in config_["Origins"]}
    assert origins["site"]["OriginAccessControlId"] == {"Fn::GetAtt": [site_hosting.SITE_ORIGIN_ACCESS, "Id"]}
    api = origins["api"]
    assert packaged.app.rest_api is not None
    assert packaged.app.rest_api in api["DomainName"]["Fn::Sub"]
    assert api["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    default = config_["DefaultCacheBehavior"]
    assert (default["TargetOriginId"], default["ViewerProtocolPolicy"], default["Compress"]) == (
        "site", "redirect-to-https", True,
    )  # fmt: skip
    [forward] = config_["CacheBehaviors"]
    assert (forward["PathPattern"], forward["TargetOriginId"]) == ("/publico/*", "api")
    assert "POST" in forward["AllowedMethods"]  # follow, confirm, one-click unsubscribe

    # The headers policy says what SITE_SECURITY_HEADERS says (the local site server sends those).
    policy = resources[site_hosting.SITE_HEADERS_POLICY]["Properties"]["ResponseHeadersPolicyConfig"]
    typed = policy["SecurityHeadersConfig"]
    assert (
        typed["ContentSecurityPolicy"]["ContentSecurityPolicy"]
        == SITE_SECURITY_HEADERS["Content-Security-Policy"]
    )
    assert typed["ReferrerPolicy"]["ReferrerPolicy"] == SITE_SECURITY_HEADERS["Referrer-Policy"]
    assert typed["FrameOptions"]["FrameOption"] == SITE_SECURITY_HEADERS["X-Frame-Options"]
    custom = {h["Header"]: h["Value"] for h in policy["CustomHeadersConfig"]["Items"]}
    named = {"Content-Security-Policy", "Referrer-Policy", "X-Frame-Options", "X-Content-Type-Options",
             "Strict-Transport-Security"}  # fmt: skip
    assert custom == {k: v for k, v in SITE_SECURITY_HEADERS.items() if k not in named}
    assert default["ResponseHeadersPolicyId"] == {"Ref": site_hosting.SITE_HEADERS_POLICY}
    outputs = packaged.template["Outputs"]
    assert {"SiteBucketName", "SiteDistributionUrl"} <= set(outputs)


def test_alarms_reach_the_alarms_topic_and_cover_every_function_the_api_and_mail(
    packaged: Packaged,
) -> None:
    alarms = packaged.of_type("AWS::CloudWatch::Alarm")
    topic = {"Ref": monitoring.ALARMS_TOPIC}
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [topic], name  # no alarm without an action
        assert alarm["Properties"]["AlarmDescription"], name
    watched = {
        (p.get("MetricName"), json.dumps(p.get("Dimensions", [])))
        for p in (a["Properties"] for a in alarms.values())
    }
    for function in packaged.functions():
        for metric in ("Errors", "Throttles"):
            assert (metric, json.dumps([{"Name": "FunctionName", "Value": {"Ref": function}}])) in watched
    names = {a["Properties"].get("MetricName") for a in alarms.values()}
    assert {"Reputation.BounceRate", "Reputation.ComplaintRate"} <= names
    thresholds = {a["Properties"].get("MetricName"): a["Properties"]["Threshold"] for a in alarms.values()}
    assert thresholds["Reputation.BounceRate"] == 0.05
    assert thresholds["Reputation.ComplaintRate"] == 0.001
    api = next(a["Properties"] for a in alarms.values() if "Metrics" in a["Properties"])
    assert {m["MetricStat"]["Metric"]["MetricName"] for m in api["Metrics"] if "MetricStat" in m} == {
        "5XXError",
        "Count",
    }
    topic_resource = packaged.resources[monitoring.ALARMS_TOPIC]["Properties"]
    assert topic_resource["KmsMasterKeyId"] == DATA_KEY_REF
    subscription = packaged.resources[f"{monitoring.ALARMS_TOPIC}Email"]
    assert subscription["Condition"] == monitoring.HAS_ALARM_EMAIL  # only when an address is given
    assert monitoring.ALARM_EMAIL in packaged.template["Parameters"]

    body = packaged.resources[monitoring.DASHBOARD]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(body)
    text = json.dumps(dashboard)
    for queue in STACK.queues:
        assert f"pen-{STAGE}-{queue.suffix}" in text
    for function in packaged.functions():
        assert f"${{{function}}}" in text  # Fn::Sub turns it into the function's name
    assert "5XXError" in text


def test_a_queue_without_its_handler_is_refused(packaged: Packaged) -> None:
    stack = dataclasses.replace(STACK, queues=(*STACK.queues, Queue("XQueue", "x", "PEN_X", handler="nada")))
    with pytest.raises(template.TemplateError, match="nada"):
        template.merge_template(STAGE, packaged.app, stack)


def test_a_handler_without_its_queue_is_refused(packaged: Packaged) -> None:
    with pytest.raises(template.TemplateError, match="send_mail"):
        template.merge_template(STAGE, packaged.app, dataclasses.replace(STACK, queues=()))


def test_a_visibility_timeout_below_the_consumer_timeout_is_refused(packaged: Packaged) -> None:
    short = tuple(dataclasses.replace(q, visibility_timeout=1) for q in STACK.queues)
    with pytest.raises(template.TemplateError, match="visibility_timeout"):
        template.merge_template(STAGE, packaged.app, dataclasses.replace(STACK, queues=short))


def test_a_merge_that_misses_chalice_resources_is_refused(packaged: Packaged) -> None:
    broken = copy.deepcopy(packaged.template)
    broken["Resources"]["NotFromChalice"] = {"Properties": {"Environment": {}}}
    with pytest.raises(template.TemplateError, match="NotFromChalice"):
        template.check_packaged(broken, packaged.app)


# --- a table stream consumed by a function (a test-only app and STACK) ----------------------------

STREAM_HANDLER = "record_events"
NOMINAL_STREAM_ARN = "arn:aws:dynamodb:sa-east-1:000000000000:table/pen-feitos/stream/nominal"
STREAM_APP = f'''from chalice import Chalice

app = Chalice(app_name="teste")
# Nominal: Chalice needs a literal ARN; the template points the trigger at the table's StreamArn.
EVENTS_STREAM = "{NOMINAL_STREAM_ARN}"


@app.on_dynamodb_record(stream_arn=EVENTS_STREAM, batch_size=100)
def {STREAM_HANDLER}(event):
    return {{"batchItemFailures": []}}
'''
EVENTS_TABLE = Table(
    "FeitosTable",
    "feitos",
    "PEN_TEST_TABLE_FEITOS",
    hash_key="id",
    stream=True,
    stream_handler=STREAM_HANDLER,
    stream_batch_size=25,
    stream_max_retries=4,
)
# STACK's tables with their streams left unconsumed (the small app has none of STACK's handlers).
UNCONSUMED_TABLES = tuple(dataclasses.replace(t, stream_handler=None) for t in STACK.tables)
STREAMED_STACK = dataclasses.replace(STACK, tables=(*UNCONSUMED_TABLES, EVENTS_TABLE), queues=())


@pytest.fixture(scope="module")
def streamed(tmp_path_factory: pytest.TempPathFactory) -> Packaged:
    """`chalice package` of a small project whose one function consumes FeitosTable's stream."""
    project = tmp_path_factory.mktemp("stream-project")
    (project / "app.py").write_text(STREAM_APP, encoding="utf-8")
    (project / ".chalice").mkdir()
    (project / ".chalice" / "config.json").write_text(
        json.dumps({"version": "2.0", "app_name": "teste", "stages": {STAGE: {"api_gateway_stage": "api"}}}),
        encoding="utf-8",
    )
    path = template.package(STAGE, tmp_path_factory.mktemp("stream-package"), project, STREAMED_STACK)
    return Packaged(path, json.loads(path.read_text(encoding="utf-8")), read_app(project, STAGE))


def stream_event(packaged: Packaged) -> dict[str, Any]:
    (function,) = packaged.functions().values()
    (event,) = function["Properties"]["Events"].values()
    assert event["Type"] == "DynamoDB"
    return dict(event["Properties"])


def test_a_streamed_table_lints(streamed: Packaged) -> None:
    result = cfn_lint(streamed.path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_stream_consumer_reads_the_real_table_stream_with_lambda_failure_handling(
    streamed: Packaged,
) -> None:
    assert [t.function for t in streamed.app.stream_triggers] == [STREAM_HANDLER]
    event = stream_event(streamed)
    assert event["Stream"] == {"Fn::GetAtt": ["FeitosTable", "StreamArn"]}  # not the nominal ARN
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert event["StartingPosition"] == "TRIM_HORIZON"  # not the decorator's default (LATEST)
    assert event["BatchSize"] == 25  # Table's, not the decorator's 100
    assert event["MaximumRetryAttempts"] == 4
    assert event["BisectBatchOnFunctionError"] is True
    table = streamed.resources["FeitosTable"]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}

    failure_queue = arn_target(event["DestinationConfig"]["OnFailure"]["Destination"])
    queue = streamed.resources[failure_queue]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["QueueName"] == f"pen-{STAGE}-feitos-stream-dlq"
    assert queue["Properties"]["MessageRetentionPeriod"] == DLQ_RETENTION
    assert queue["Properties"]["KmsMasterKeyId"] == DATA_KEY_REF
    alarms = [
        a["Properties"]
        for a in streamed.of_type("AWS::CloudWatch::Alarm").values()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": [failure_queue, "QueueName"]}}
        in a["Properties"].get("Dimensions", [])
    ]
    assert len(alarms) == 1
    assert alarms[0]["Threshold"] == 0
    assert streamed.template["Outputs"][f"{failure_queue}Url"] == {"Value": {"Ref": failure_queue}}


def test_the_role_reads_only_that_stream_and_sends_only_to_its_failure_queue(streamed: Packaged) -> None:
    failure_queue = arn_target(stream_event(streamed)["DestinationConfig"]["OnFailure"]["Destination"])
    (role,) = streamed.app.roles
    statements = streamed.resources[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    by_action: dict[str, list[Any]] = {}
    for statement in statements:
        for action in statement["Action"]:
            by_action.setdefault(action, []).extend(statement["Resource"])
    for action in ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"):
        assert by_action[action] == [{"Fn::GetAtt": ["FeitosTable", "StreamArn"]}], action
    assert by_action["dynamodb:ListStreams"] == [{"Fn::Sub": "${FeitosTable.Arn}/stream/*"}]
    assert {"Fn::GetAtt": [failure_queue, "Arn"]} in by_action["sqs:SendMessage"]
    assert all(r != "*" for a, rs in by_action.items() if not a.startswith("xray:") for r in rs)
    assert "sqs:ReceiveMessage" not in by_action  # this app consumes no queue


def test_a_stream_handler_no_table_names_is_refused(streamed: Packaged) -> None:
    unnamed = dataclasses.replace(EVENTS_TABLE, stream_handler=None)
    stack = dataclasses.replace(STREAMED_STACK, tables=(*UNCONSUMED_TABLES, unnamed))
    with pytest.raises(template.TemplateError, match=f"{STREAM_HANDLER}.*nominal"):
        template.merge_template(STAGE, streamed.app, stack)


def test_a_table_naming_a_stream_handler_the_app_lacks_is_refused(packaged: Packaged) -> None:
    stack = dataclasses.replace(STACK, tables=(*STACK.tables, EVENTS_TABLE))
    with pytest.raises(template.TemplateError, match=STREAM_HANDLER):
        template.merge_template(STAGE, packaged.app, stack)


def test_a_stream_event_left_on_the_nominal_arn_is_refused(streamed: Packaged) -> None:
    broken = copy.deepcopy(streamed.template)
    (function,) = (r for r in broken["Resources"].values() if r["Type"] == "AWS::Serverless::Function")
    (event,) = function["Properties"]["Events"].values()
    event["Properties"]["Stream"] = NOMINAL_STREAM_ARN
    with pytest.raises(template.TemplateError, match="nominal"):
        template.check_packaged(broken, streamed.app, STREAMED_STACK)


def test_stuck_tramite_alarms_watch_the_metric_the_schedule_prints(
    packaged: Packaged, capsys: pytest.CaptureFixture[str]
) -> None:
    from chalicelib.domain.bus import TramiteState
    from chalicelib.handlers.schedules import publish_stuck_counts
    from chalicelib.services.stuck import OPEN_STATES

    capsys.readouterr()
    publish_stuck_counts(dict.fromkeys(OPEN_STATES, 0))  # the schedule's own EMF lines
    printed: dict[str, dict[str, str]] = {}
    for line in capsys.readouterr().out.splitlines():
        blob = json.loads(line)
        [directive] = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "PEN"
        assert [m["Name"] for m in directive["Metrics"]] == ["TramitesParados"]
        [names] = directive["Dimensions"]
        printed[blob["Estado"]] = {name: blob[name] for name in names}
    assert set(printed) == {s.name for s in OPEN_STATES}

    parameter = packaged.template["Parameters"]["StuckTramitesThreshold"]
    assert parameter["Type"] == "Number"
    assert parameter["Default"] == 10
    assert parameter["MinValue"] == 0
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in packaged.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "TramitesParados"
    }
    expected = {f"pen-{STAGE}-tramites-parados-{s.name.lower().replace('_', '-')}": s for s in OPEN_STATES}
    assert set(alarms) == set(expected)
    assert "pen-prod-tramites-parados-recibo-enviado" in alarms
    for name, state in expected.items():
        alarm = alarms[name]
        # The same metric the handler prints, dimension for dimension, or the alarm reads no data.
        assert alarm["Namespace"] == "PEN"
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == printed[state.name]
        assert alarm["Threshold"] == {"Ref": "StuckTramitesThreshold"}
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["Statistic"] == "Maximum"
        assert alarm["Period"] >= 2 * 15 * 60  # two schedule runs: no period without data
        assert alarm["AlarmActions"] == [{"Ref": monitoring.ALARMS_TOPIC}]
        assert alarm["OKActions"] == [{"Ref": monitoring.ALARMS_TOPIC}]
        assert "docs/OPERATIONS.md" in alarm["AlarmDescription"]
        assert f"estado {state.value} ({state.label})" in alarm["AlarmDescription"]
    assert TramiteState.RECIBO_RECEBIDO.name not in printed  # final states never stay stuck


def test_the_dashboard_shows_tramites_by_state_notices_and_stuck_ones(packaged: Packaged) -> None:
    from chalicelib.domain.bus import TramiteState
    from chalicelib.services.stuck import OPEN_STATES

    body = packaged.resources[monitoring.DASHBOARD]["Properties"]["DashboardBody"]["Fn::Sub"]
    lines = {
        json.dumps(metric)
        for widget in json.loads(body)["widgets"]
        for metric in widget["properties"]["metrics"]
    }

    def line(name: str, *dimensions: str) -> str:
        return json.dumps(["PEN", name, *dimensions, "service", "pen"])

    assert line("AvisosEnviados") in lines
    for state in TramiteState:
        assert line("TramitesPorEstado", "Estado", state.name) in lines
    for state in OPEN_STATES:
        assert line("TramitesParados", "Estado", state.name) in lines
    assert line("TramitesParados", "Estado", TramiteState.CANCELADO.name) not in lines


def test_every_alarm_says_where_the_runbook_handles_it(packaged: Packaged) -> None:
    """Each description ends with docs/OPERATIONS.md#<alarm name without pen-<stage>->, an anchor the
    runbook has: the operator paged at night lands on what to do."""
    runbook = (ROOT / "docs" / "OPERATIONS.md").read_text(encoding="utf-8")
    alarms = packaged.of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) > 20
    for name, resource in alarms.items():
        properties = resource["Properties"]
        anchor = properties["AlarmName"].removeprefix(f"pen-{STAGE}-")
        assert properties["AlarmDescription"].endswith(f" O que fazer: docs/OPERATIONS.md#{anchor}"), name
        assert f'<a id="{anchor}"></a>' in runbook, f"docs/OPERATIONS.md has no anchor {anchor}"


# --- the signing key's rotation (docs/OPERATIONS.md, "Rotating the signing key") ---------------------

NEW_KEY_ARN = "arn:aws:kms:sa-east-1:123456789012:key/0a1b2c3d-1111-2222-3333-444455556666"
OLD_KEY_ARNS = (
    "arn:aws:kms:sa-east-1:123456789012:key/9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff",
    "arn:aws:kms:sa-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
)


def test_the_signing_key_can_be_rotated_by_parameters(packaged: Packaged, tmp_path: Path) -> None:
    [key] = STACK.keys
    tpl = packaged.template
    resources = packaged.resources
    own_arn = {"Fn::GetAtt": [key.logical_id, "Arn"]}
    current = {"Fn::If": [key.has_arn_condition, {"Ref": key.arn_parameter}, own_arn]}
    retired = {"Fn::Split": [",", {"Ref": key.retired_parameter}]}

    # Two optional parameters, empty by default (the stack's own key, no retired keys), checked.
    arn_parameter, retired_parameter = (
        tpl["Parameters"][key.arn_parameter],
        tpl["Parameters"][key.retired_parameter],
    )
    assert arn_parameter["Default"] == retired_parameter["Default"] == ""
    for value in ("", NEW_KEY_ARN):
        assert re.fullmatch(arn_parameter["AllowedPattern"], value), value
    for value in ("", OLD_KEY_ARNS[0], ",".join(OLD_KEY_ARNS)):
        assert re.fullmatch(retired_parameter["AllowedPattern"], value), value
    for wrong in ("alias/pen-prod-assinaturakey", NEW_KEY_ARN + ",", f"{OLD_KEY_ARNS[0]}, {OLD_KEY_ARNS[1]}"):
        assert not re.fullmatch(arn_parameter["AllowedPattern"], wrong), wrong
        assert not re.fullmatch(retired_parameter["AllowedPattern"], wrong), wrong
    assert tpl["Conditions"][key.has_arn_condition] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": key.arn_parameter}, ""]}]
    }
    assert tpl["Conditions"][key.has_retired_condition] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": key.retired_parameter}, ""]}]
    }

    # The alias, every function's variables and the stack's output follow the current key.
    assert resources[f"{key.logical_id}Alias"]["Properties"]["TargetKeyId"] == current
    assert tpl["Outputs"][f"{key.logical_id}Arn"]["Value"] == current
    for name, function in packaged.functions().items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables[key.env] == current, name
        assert variables[key.retired_env] == {"Ref": key.retired_parameter}, name
    assert key.retired_env == config.ENV_SIGNING_KEYS_RETIRED

    # Signing functions: Sign and GetPublicKey on the current key only, GetPublicKey alone on the
    # retired ones (a statement that exists only when some are given); the others: no key at all.
    for function in packaged.app.functions:
        statements = resources[role_of(resources[function.logical_id])]["Properties"]["Policies"][0][
            "PolicyDocument"
        ]["Statement"]
        kms_statements = [s for s in statements if "kms:" in json.dumps(s) and s.get("Sid") != "DataKey"]
        if key.logical_id not in STACK.access[function.name].signs:
            assert kms_statements == [], function.name
            continue
        assert kms_statements == [
            {
                "Sid": "Signing",
                "Effect": "Allow",
                "Action": ["kms:GetPublicKey", "kms:Sign"],
                "Resource": [current],
            },
            {
                "Fn::If": [
                    key.has_retired_condition,
                    {
                        "Sid": f"SigningRetired{key.logical_id}",
                        "Effect": "Allow",
                        "Action": ["kms:GetPublicKey"],
                        "Resource": retired,
                    },
                    {"Ref": "AWS::NoValue"},
                ]
            },
        ], function.name

    # cfn-lint resolves a Ref to its parameter's default: lint once more with both parameters set.
    given = copy.deepcopy(tpl)
    given["Parameters"][key.arn_parameter]["Default"] = NEW_KEY_ARN
    given["Parameters"][key.retired_parameter]["Default"] = ",".join(OLD_KEY_ARNS)
    path = tmp_path / "sam-rotated.json"
    path.write_text(json.dumps(given), encoding="utf-8")
    result = cfn_lint(path)
    assert result.returncode == 0, result.stdout + result.stderr
