"""The stack's edge, read from the packaged template (`make package`): access logs (every bucket to
the log bucket, the distribution's standard logs, the API stage's access log), the API's WAF and
throttling, and the optional custom domains with mutual TLS and TLS minimums. The template is
linted with its optional parameters empty (tests/integration/test_template.py) and here with them
all set."""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra import access_logs, edge, template
from infra.buckets import LOG_BUCKET
from infra.data_key import DATA_KEY
from infra.site_hosting import SITE_DISTRIBUTION

pytestmark = pytest.mark.xdist_group("template")  # packaging shares .chalice/deployments

ROOT = Path(__file__).resolve().parents[2]
STAGE = "prod"
REST_API = "RestAPI"
CERTIFICATE_ID = "0a1b2c3d-1111-2222-3333-444455556666"
EDGE_VALUES = {
    edge.SITE_WEB_ACL_ARN: "arn:aws:wafv2:us-east-1:123456789012:global/webacl/pen-site/0a1b2c3d",
    edge.SITE_DOMAIN_NAME: "acompanhe.pen.gov.br",
    edge.SITE_CERTIFICATE_ARN: f"arn:aws:acm:us-east-1:123456789012:certificate/{CERTIFICATE_ID}",
    edge.API_DOMAIN_NAME: "api.pen.gov.br",
    edge.API_CERTIFICATE_ARN: f"arn:aws:acm:sa-east-1:123456789012:certificate/{CERTIFICATE_ID}",
    edge.API_TRUSTSTORE_URI: "s3://pen-truststore/icp-brasil.pem",
    edge.API_TRUSTSTORE_VERSION: "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY",
}
# Anything an access log line must never carry: the request's own path (NUPs, follow ids), its
# query string, headers other than the user agent, the body, the caller's credentials.
FORBIDDEN_IN_ACCESS_LOG = (
    "$context.path",
    "$input",
    "$method.request",
    "querystring",
    "header",
    "authorization",
    "$context.identity.apiKey",
    "$context.authorizer.principalId",
    "$context.requestOverride",
)


@pytest.fixture(scope="module")
def sam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template.package(STAGE, tmp_path_factory.mktemp("edge"))


@pytest.fixture(scope="module")
def tpl(sam: Path) -> dict[str, Any]:
    return dict(json.loads(sam.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def resources(tpl: dict[str, Any]) -> dict[str, Any]:
    return dict(tpl["Resources"])


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    executable = Path(sys.executable).parent / "cfn-lint"
    return subprocess.run([str(executable), "--", str(path)], capture_output=True, text=True, check=False)


# --- a small evaluator of the template's conditions and rules -----------------------------------------


def evaluate(expression: Any, values: dict[str, str], conditions: dict[str, Any]) -> Any:
    if isinstance(expression, str):
        return expression
    ((function, argument),) = expression.items()
    if function == "Ref":
        return values[argument]
    if function == "Condition":
        return evaluate(conditions[argument], values, conditions)
    if function == "Fn::Equals":
        left, right = (evaluate(a, values, conditions) for a in argument)
        return left == right
    if function == "Fn::Not":
        return not evaluate(argument[0], values, conditions)
    if function == "Fn::And":
        return all(evaluate(a, values, conditions) for a in argument)
    if function == "Fn::Or":
        return any(evaluate(a, values, conditions) for a in argument)
    raise AssertionError(f"the evaluator does not know {function}")


def refused_by_rules(tpl: dict[str, Any], values: dict[str, str]) -> list[str]:
    """The descriptions of the template rules these parameter values break."""
    conditions = tpl["Conditions"]
    broken = []
    for rule in tpl["Rules"].values():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], values, conditions):
            continue
        broken += [
            a["AssertDescription"]
            for a in rule["Assertions"]
            if not evaluate(a["Assert"], values, conditions)
        ]
    return broken


def parameter_values(tpl: dict[str, Any], **overrides: str) -> dict[str, str]:
    values = {name: p.get("Default", "") for name, p in tpl["Parameters"].items()}
    return values | overrides


# --- access logs ----------------------------------------------------------------------------------------


def test_every_bucket_but_the_log_bucket_logs_to_the_log_bucket(resources: dict[str, Any]) -> None:
    buckets = of_type(resources, "AWS::S3::Bucket")
    assert LOG_BUCKET in buckets
    assert len(buckets) >= 3  # documents, site, logs at least
    policy = resources[f"{LOG_BUCKET}Policy"]["Properties"]["PolicyDocument"]["Statement"]
    (delivery,) = [s for s in policy if s["Principal"] == {"Service": "logging.s3.amazonaws.com"}]
    source_pattern = delivery["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    for name, bucket in buckets.items():
        properties = bucket["Properties"]
        if name == LOG_BUCKET:
            assert "LoggingConfiguration" not in properties
            continue
        logging = properties["LoggingConfiguration"]
        assert logging["DestinationBucketName"] == {"Ref": LOG_BUCKET}, name
        assert logging["LogFilePrefix"] == f"s3/{properties['BucketName']}/"
        # The log bucket's policy lets S3's logging service write for exactly these buckets.
        arn = f"arn:${{AWS::Partition}}:s3:::{properties['BucketName']}"
        assert fnmatch.fnmatchcase(arn, source_pattern), (arn, source_pattern)
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Resource"] == {"Fn::Sub": f"${{{LOG_BUCKET}.Arn}}/s3/*"}
    assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_the_log_bucket_is_private_sse_s3_tls_only_and_expires_its_logs(resources: dict[str, Any]) -> None:
    bucket = resources[LOG_BUCKET]
    properties = bucket["Properties"]
    assert bucket["DeletionPolicy"] == "Retain"
    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    # S3 server access logs are delivered only to a target encrypted with SSE-S3.
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert properties["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    # CloudFront's standard logs are written through an ACL grant.
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = properties["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == access_logs.LOG_RETENTION_DAYS == 365
    assert "Prefix" not in rule
    assert "Filter" not in rule
    statements = resources[f"{LOG_BUCKET}Policy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statements[0]["Effect"] == "Deny"
    assert statements[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    skips = {s["id"]: s["comment"] for s in bucket["Metadata"]["checkov"]["skip"]}
    assert set(skips) == {"CKV_AWS_18"}
    assert skips["CKV_AWS_18"]


def test_the_distribution_writes_standard_logs_to_the_log_bucket_without_cookies(
    resources: dict[str, Any],
) -> None:
    config = resources[SITE_DISTRIBUTION]["Properties"]["DistributionConfig"]
    assert config["Logging"] == {
        "Bucket": {"Fn::GetAtt": [LOG_BUCKET, "DomainName"]},
        "Prefix": "cloudfront/",
        "IncludeCookies": False,
    }


def test_the_api_stage_logs_each_request_as_json_without_query_strings_or_credentials(
    resources: dict[str, Any],
) -> None:
    api = resources[REST_API]
    setting = api["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": [access_logs.API_ACCESS_LOGS, "Arn"]}
    fields = json.loads(setting["Format"])  # one JSON object per line
    assert {
        "requestId",
        "ip",
        "httpMethod",
        "resourcePath",
        "status",
        "responseLatency",
        "responseLength",
    } <= set(fields)
    assert fields["resourcePath"] == "$context.resourcePath"  # the route's template, not the path
    assert all(re.fullmatch(r"\$context\.[A-Za-z.]+", value) for value in fields.values()), fields
    lowered = setting["Format"].lower()
    for forbidden in FORBIDDEN_IN_ACCESS_LOG:
        assert forbidden.lower() not in lowered, forbidden
    # API Gateway needs the account's logging role before it accepts a stage with an access log.
    assert access_logs.API_GATEWAY_ACCOUNT in api["DependsOn"]


def test_the_access_log_group_is_encrypted_with_the_data_key_which_lets_logs_use_it(
    resources: dict[str, Any],
) -> None:
    group = resources[access_logs.API_ACCESS_LOGS]
    assert group["Type"] == "AWS::Logs::LogGroup"
    properties = group["Properties"]
    assert properties["RetentionInDays"] == 365
    assert properties["KmsKeyId"] == {"Fn::GetAtt": [DATA_KEY, "Arn"]}
    statements = resources[DATA_KEY]["Properties"]["KeyPolicy"]["Statement"]
    (logs,) = [
        s
        for s in statements
        if s["Principal"] == {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}
    ]
    assert "kms:GenerateDataKey*" in logs["Action"]
    assert "kms:Decrypt" in logs["Action"]
    patterns = [p["Fn::Sub"] for p in logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]]
    group_arn = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
    groups = [properties["LogGroupName"]]
    groups += [r["Properties"]["LogGroupName"] for n, r in resources.items() if n.endswith("LogGroup")]
    assert len(groups) > 2  # the API's access log and the functions' logs
    for group in groups:
        assert any(fnmatch.fnmatchcase(group_arn + group, p) for p in patterns), group
    assert not any(fnmatch.fnmatchcase(group_arn + "/aws/lambda/someone-else", p) for p in patterns)


def test_the_account_logging_role_is_set_and_outlives_the_stack(resources: dict[str, Any]) -> None:
    account = resources[access_logs.API_GATEWAY_ACCOUNT]
    assert account["Type"] == "AWS::ApiGateway::Account"
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    role = resources[role_id]
    assert account["DeletionPolicy"] == role["DeletionPolicy"] == "Retain"
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    (policy,) = role["Properties"]["ManagedPolicyArns"]
    assert policy["Fn::Sub"].endswith(":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
    assert "Policies" not in role["Properties"]


# --- throttling and WAF ---------------------------------------------------------------------------------


def test_the_stage_is_throttled_and_the_follow_form_more(resources: dict[str, Any]) -> None:
    settings = {
        (s["ResourcePath"], s["HttpMethod"]): s for s in resources[REST_API]["Properties"]["MethodSettings"]
    }
    stage = settings[("/*", "*")]
    follow = settings[("/~1publico~1acompanhamentos", "POST")]
    assert 0 < follow["ThrottlingRateLimit"] < stage["ThrottlingRateLimit"]
    assert 0 < follow["ThrottlingBurstLimit"] < stage["ThrottlingBurstLimit"]
    assert "LoggingLevel" not in stage  # no execution logs: they would record bodies


def test_the_regional_web_acl_is_on_the_api_stage(resources: dict[str, Any]) -> None:
    acl = resources[edge.API_WEB_ACL]["Properties"]
    assert acl["Scope"] == "REGIONAL"
    assert acl["DefaultAction"] == {"Allow": {}}
    association = resources[edge.API_WEB_ACL_ASSOCIATION]["Properties"]
    assert association["WebACLArn"] == {"Fn::GetAtt": [edge.API_WEB_ACL, "Arn"]}
    arn = association["ResourceArn"]["Fn::Sub"]
    assert arn.endswith(f"::/restapis/${{{REST_API}}}/stages/${{{REST_API}.Stage}}")
    rules = [r for r in acl["Rules"] if "Fn::If" not in r]
    groups = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in rules
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert groups == {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"}
    priorities = [r["Priority"] for r in rules] + [
        r["Fn::If"][1]["Priority"] for r in acl["Rules"] if "Fn::If" in r
    ]
    assert len(priorities) == len(set(priorities))


def test_the_follow_form_is_rate_limited_per_forwarded_client_address(resources: dict[str, Any]) -> None:
    acl = resources[edge.API_WEB_ACL]["Properties"]
    (rule,) = [r for r in acl["Rules"] if "RateBasedStatement" in r.get("Statement", {})]
    # A blocked address gets the 429 problem the follow form shows as it is, with when to retry.
    answer = rule["Action"]["Block"]["CustomResponse"]
    assert answer["ResponseCode"] == 429
    assert answer["ResponseHeaders"] == [{"Name": "Retry-After", "Value": str(edge.FOLLOW_WINDOW_SECONDS)}]
    body = acl["CustomResponseBodies"][answer["CustomResponseBodyKey"]]
    assert body["ContentType"] == "APPLICATION_JSON"
    assert len(body["Content"].encode()) <= 4096  # WAF's limit for one body
    problem = json.loads(body["Content"])
    assert (problem["type"], problem["status"]) == ("urn:pen:problema:limite-atingido", 429)
    assert "Aguarde alguns minutos" in problem["detail"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate["AggregateKeyType"] == "FORWARDED_IP"
    assert rate["ForwardedIPConfig"]["HeaderName"] == "X-Forwarded-For"  # CloudFront puts the viewer's there
    assert 10 <= rate["Limit"] <= 1000
    method, path = rate["ScopeDownStatement"]["AndStatement"]["Statements"]
    assert method["ByteMatchStatement"]["SearchString"] == "POST"
    assert method["ByteMatchStatement"]["FieldToMatch"] == {"Method": {}}
    regex = re.compile(path["RegexMatchStatement"]["RegexString"])
    assert path["RegexMatchStatement"]["FieldToMatch"] == {"UriPath": {}}
    for seen in ("/api/publico/acompanhamentos", "/publico/acompanhamentos"):  # execute-api host, own domain
        assert regex.search(seen), seen
    for other in ("/api/publico/acompanhamentos/abc/confirmacao", "/api/processos", "/api/publico/processos"):
        assert not regex.search(other), other


def test_with_mutual_tls_agency_routes_are_refused_outside_the_mtls_domain(
    resources: dict[str, Any], tpl: dict[str, Any]
) -> None:
    rules = resources[edge.API_WEB_ACL]["Properties"]["Rules"]
    (conditional,) = [r["Fn::If"] for r in rules if "Fn::If" in r]
    condition, rule, otherwise = conditional
    assert condition == edge.HAS_API_TRUSTSTORE
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert rule["Action"] == {"Block": {}}
    host, public = rule["Statement"]["AndStatement"]["Statements"]
    assert host["NotStatement"]["Statement"]["ByteMatchStatement"]["SearchString"] == {
        "Ref": edge.API_DOMAIN_NAME
    }
    regex = re.compile(public["NotStatement"]["Statement"]["RegexMatchStatement"]["RegexString"])
    # Every route of the app: the public ones (which CloudFront forwards on the execute-api host)
    # pass, every agency route is refused there.
    paths = list(resources[REST_API]["Properties"]["DefinitionBody"]["paths"])
    public_paths = [p for p in paths if p.startswith("/publico/") or p in ("/saude", "/openapi.json")]
    assert len(public_paths) >= 3
    assert len(paths) - len(public_paths) >= 10
    for route in paths:
        for seen in (route, "/api" + route):
            assert bool(regex.search(seen)) == (route in public_paths), seen
    values = parameter_values(tpl, MailSender="x@y")
    assert not evaluate({"Condition": edge.HAS_API_TRUSTSTORE}, values, tpl["Conditions"])
    values |= {edge.API_DOMAIN_NAME: "api.pen.gov.br", edge.API_TRUSTSTORE_URI: "s3://b/ca.pem"}
    assert evaluate({"Condition": edge.HAS_API_TRUSTSTORE}, values, tpl["Conditions"])


# --- custom domains and TLS -----------------------------------------------------------------------------


def test_the_optional_parameters_are_empty_by_default_and_conditions_follow_them(tpl: dict[str, Any]) -> None:
    for name, value in EDGE_VALUES.items():
        parameter = tpl["Parameters"][name]
        assert parameter["Default"] == ""
        assert re.fullmatch(parameter["AllowedPattern"], ""), name
        assert re.fullmatch(parameter["AllowedPattern"], value), name
    conditions = tpl["Conditions"]
    empty = parameter_values(tpl, MailSender="x@y")
    every = empty | EDGE_VALUES
    names = (edge.HAS_SITE_WEB_ACL, edge.HAS_SITE_DOMAIN, edge.HAS_API_DOMAIN, edge.HAS_API_TRUSTSTORE)
    for name in (*names, edge.HAS_API_TRUSTSTORE_VERSION):
        assert evaluate({"Condition": name}, empty, conditions) is False, name
        assert evaluate({"Condition": name}, every, conditions) is True, name
    assert refused_by_rules(tpl, empty) == []
    assert refused_by_rules(tpl, every) == []
    # Half-given settings are refused before anything is created.
    assert refused_by_rules(tpl, empty | {edge.SITE_DOMAIN_NAME: "acompanhe.pen.gov.br"})
    assert refused_by_rules(tpl, empty | {edge.API_DOMAIN_NAME: "api.pen.gov.br"})
    assert refused_by_rules(tpl, empty | {edge.API_TRUSTSTORE_URI: "s3://b/ca.pem"})
    assert not re.fullmatch(
        tpl["Parameters"][edge.SITE_CERTIFICATE_ARN]["AllowedPattern"], EDGE_VALUES[edge.API_CERTIFICATE_ARN]
    )


def test_the_agency_domain_is_regional_tls_1_2_with_mutual_tls_from_the_truststore(
    resources: dict[str, Any],
) -> None:
    domain = resources[edge.API_DOMAIN]
    assert domain["Condition"] == edge.HAS_API_DOMAIN
    properties = domain["Properties"]
    assert properties["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert properties["SecurityPolicy"] == "TLS_1_2"
    assert properties["RegionalCertificateArn"] == {"Ref": edge.API_CERTIFICATE_ARN}
    condition, mtls, otherwise = properties["MutualTlsAuthentication"]["Fn::If"]
    assert condition == edge.HAS_API_TRUSTSTORE
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert mtls["TruststoreUri"] == {"Ref": edge.API_TRUSTSTORE_URI}
    mapping = resources[edge.API_BASE_PATH_MAPPING]
    assert mapping["Condition"] == edge.HAS_API_DOMAIN
    assert mapping["Properties"] == {
        "DomainName": {"Ref": edge.API_DOMAIN},
        "RestApiId": {"Ref": REST_API},
        "Stage": {"Ref": f"{REST_API}.Stage"},
    }


def test_the_site_domain_gets_its_certificate_with_tls_1_2_and_the_web_acl_when_given(
    resources: dict[str, Any],
) -> None:
    config = resources[SITE_DISTRIBUTION]["Properties"]["DistributionConfig"]
    assert config["WebACLId"] == {
        "Fn::If": [edge.HAS_SITE_WEB_ACL, {"Ref": edge.SITE_WEB_ACL_ARN}, {"Ref": "AWS::NoValue"}]
    }
    assert config["Aliases"] == {
        "Fn::If": [edge.HAS_SITE_DOMAIN, [{"Ref": edge.SITE_DOMAIN_NAME}], {"Ref": "AWS::NoValue"}]
    }
    condition, own, default = config["ViewerCertificate"]["Fn::If"]
    assert condition == edge.HAS_SITE_DOMAIN
    assert own == {
        "AcmCertificateArn": {"Ref": edge.SITE_CERTIFICATE_ARN},
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }
    assert default == {"CloudFrontDefaultCertificate": True}


def test_the_template_lints_with_every_optional_parameter_set(tpl: dict[str, Any], tmp_path: Path) -> None:
    # cfn-lint resolves a Ref to its parameter's default: give every edge parameter a real value.
    given = copy.deepcopy(tpl)
    for name, value in EDGE_VALUES.items():
        given["Parameters"][name]["Default"] = value
    del given["Resources"][SITE_DISTRIBUTION]["Metadata"]  # its W1030 ignore is for the empty default
    path = tmp_path / "sam-with-parameters.json"
    path.write_text(json.dumps(given), encoding="utf-8")
    result = cfn_lint(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_outputs_name_the_log_bucket_log_group_web_acl_and_dns_target(tpl: dict[str, Any]) -> None:
    outputs = tpl["Outputs"]
    assert outputs[f"{LOG_BUCKET}Name"]["Value"] == {"Ref": LOG_BUCKET}
    assert outputs[f"{access_logs.API_ACCESS_LOGS}Group"]["Value"] == {"Ref": access_logs.API_ACCESS_LOGS}
    assert outputs[f"{edge.API_WEB_ACL}Arn"]["Value"] == {"Fn::GetAtt": [edge.API_WEB_ACL, "Arn"]}
    target = outputs[f"{edge.API_DOMAIN}Target"]
    assert target["Condition"] == edge.HAS_API_DOMAIN
    assert target["Value"] == {"Fn::GetAtt": [edge.API_DOMAIN, "RegionalDomainName"]}


def test_a_missing_site_file_is_the_sites_404_page_and_no_public_api_answer_is_taken_for_one(
    resources: dict[str, Any],
) -> None:
    """S3 answers 403 for a key it does not hold (the distribution may not list the bucket); the
    distribution shows the site's 404 page for it, with status 404. That mapping is distribution-wide:
    it would also swallow a 403 of the API behind /publico/*, so none may exist."""
    config = resources[SITE_DISTRIBUTION]["Properties"]["DistributionConfig"]
    assert config["CustomErrorResponses"] == [
        {"ErrorCode": 403, "ResponseCode": 404, "ResponsePagePath": "/404.html", "ErrorCachingMinTTL": 60}
    ]
    assert (ROOT / "site" / "404.html").is_file()
    assert [b["PathPattern"] for b in config["CacheBehaviors"]] == ["/publico/*"]
    definition = resources[REST_API]["Properties"]["DefinitionBody"]
    public = {
        f"{method.upper()} {path}": operation
        for path, item in definition["paths"].items()
        if path.startswith("/publico/")
        for method, operation in item.items()
        if isinstance(operation, dict)
    }
    assert len(public) >= 8
    assert [route for route, op in public.items() if op.get("security") or "403" in op["responses"]] == []
    # Without an authorizer, API Gateway's only 403 (ACCESS_DENIED) cannot happen there; WAF's blocks
    # are 400 (managed rules) and 429 (the follow form's rate rule).
    responses = definition[template.GATEWAY_RESPONSES]
    assert {kind for kind, answer in responses.items() if answer["statusCode"] == "403"} == {"ACCESS_DENIED"}
    assert responses["WAF_FILTERED"]["statusCode"] == "400"
