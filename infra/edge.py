"""The stack's edge: the WAF in front of the API, API Gateway's throttling, and the optional custom
domains (the agency API's with mutual TLS, the site's with its own certificate).

Every parameter here is empty by default: the stack deploys without any of them. docs/DEPLOY.md
("Edge: WAF, domains, TLS") says how to fill them in.

- **WAF (REGIONAL)** on the API's stage: a rate-based rule on the public follow form
  (`POST /publico/acompanhamentos`, which sends an e-mail to any address), AWS's managed rule groups
  "common" and "known bad inputs", and, when mutual TLS is on, a rule refusing agency routes on any
  host but the mTLS domain. A CLOUDFRONT-scope WebACL can only be created in us-east-1 and this
  stack lives in sa-east-1: the parameter `SiteWebAclArn` takes one made there, for the distribution.
- **Throttling**: a stage-wide rate and burst, and a lower one on the follow form (a hard cap on the
  e-mails it can make SES send, whatever IP addresses they come from).
- **Custom domain for agencies** (`ApiDomainName`, `ApiCertificateArn`, optionally `ApiTruststoreUri`
  and `ApiTruststoreVersion`): a REGIONAL API Gateway domain, TLS 1.2 minimum, mutual TLS when a
  truststore is given, mapped at its root to the API's stage.
- **Custom domain for the site** (`SiteDomainName`, `SiteCertificateArn` in us-east-1): the
  distribution's alias and certificate, TLSv1.2_2021 minimum, SNI only.
"""

from __future__ import annotations

import json

from chalicelib.api import problems
from infra.cfn import Json, get_att, ref, sub
from infra.resources import Stack

# Parameters
SITE_WEB_ACL_ARN = "SiteWebAclArn"
SITE_DOMAIN_NAME = "SiteDomainName"
SITE_CERTIFICATE_ARN = "SiteCertificateArn"
API_DOMAIN_NAME = "ApiDomainName"
API_CERTIFICATE_ARN = "ApiCertificateArn"
API_TRUSTSTORE_URI = "ApiTruststoreUri"
API_TRUSTSTORE_VERSION = "ApiTruststoreVersion"
# Conditions
HAS_SITE_WEB_ACL = "HasSiteWebAcl"
HAS_SITE_DOMAIN = "HasSiteDomain"
HAS_API_DOMAIN = "HasApiDomain"
HAS_API_TRUSTSTORE = "HasApiTruststore"
HAS_API_TRUSTSTORE_VERSION = "HasApiTruststoreVersion"
# Resources
API_WEB_ACL = "ApiWebAcl"
API_WEB_ACL_ASSOCIATION = "ApiWebAclAssociation"
API_DOMAIN = "ApiDomain"
API_BASE_PATH_MAPPING = "ApiBasePathMapping"

FOLLOW_ROUTE = "/publico/acompanhamentos"
# WAF sees an API Gateway request's path with the stage in front (`/api/publico/...`) on the
# execute-api host, and as sent on a custom domain mapped at its root: both are accepted.
FOLLOW_PATH_REGEX = r"^(/api)?/publico/acompanhamentos/?$"
# What CloudFront forwards (`/publico/*`) and the two unauthenticated utility routes: everything
# else is an agency route, which must come through the mTLS domain once mutual TLS is on.
PUBLIC_PATH_REGEX = r"^(/api)?/(publico/|saude$|openapi\.json$)"
# Follow requests per client IP address in FOLLOW_WINDOW_SECONDS before WAF blocks the address: a
# citizen follows a few processes; many people share an address behind a carrier-grade NAT.
FOLLOW_RATE_LIMIT = 100
FOLLOW_WINDOW_SECONDS = 300
# What a blocked address gets: the site's own 429 problem (the one the app gives a per-address quota),
# which the follow form shows as it is. WAF answers it itself, before API Gateway, so its gateway
# responses cannot shape it; WAF's bodies are plain JSON (no problem+json content type there).
FOLLOW_LIMIT_BODY = "limite-acompanhamentos"
FOLLOW_LIMIT_DETAIL = (
    "Muitos pedidos de acompanhamento a partir deste endereço. Aguarde alguns minutos e tente novamente."
)
# The stage: ten times the assumed national peak (50 lookups/s, docs/COST.md), well below the
# account's 10,000/s that other APIs of the account share.
STAGE_RATE_LIMIT = 500
STAGE_BURST_LIMIT = 1000
# The follow form, whatever the addresses: every accepted request sends one confirmation e-mail.
FOLLOW_RATE_LIMIT_PER_SECOND = 10
FOLLOW_BURST_LIMIT = 20
# AWS's managed rule groups; SizeRestrictions_BODY blocks bodies over 8 KB, which a bus trâmite with
# many documents or a process with many interessados exceeds: counted, not blocked (API Gateway's own
# 10 MB limit and the models' validation still apply).
MANAGED_RULE_GROUPS = (
    ("AWSManagedRulesCommonRuleSet", ("SizeRestrictions_BODY",)),
    ("AWSManagedRulesKnownBadInputsRuleSet", ()),
)
CLOUDFRONT_MINIMUM_TLS = "TLSv1.2_2021"
API_SECURITY_POLICY = "TLS_1_2"

_ACM_ARN = r"arn:aws[a-z-]*:acm:{region}:[0-9]{{12}}:certificate/[0-9a-f-]+"
_DOMAIN = r"([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}"


def _optional(pattern: str, description: str) -> Json:
    return {"Type": "String", "Default": "", "AllowedPattern": f"^$|^{pattern}$", "Description": description}


def edge_parameters() -> dict[str, Json]:
    return {
        SITE_WEB_ACL_ARN: _optional(
            r"arn:aws[a-z-]*:wafv2:us-east-1:[0-9]{12}:global/webacl/.+",
            "A CLOUDFRONT-scope WAF WebACL (made in us-east-1) for the site's distribution; empty: none",
        ),
        SITE_DOMAIN_NAME: _optional(
            _DOMAIN, "The site's own domain (e.g. acompanhe.example.gov.br); empty: the distribution's"
        ),
        SITE_CERTIFICATE_ARN: _optional(
            _ACM_ARN.format(region="us-east-1"),
            "ACM certificate of SiteDomainName, in us-east-1 (CloudFront's region); with SiteDomainName",
        ),
        API_DOMAIN_NAME: _optional(
            _DOMAIN, "The agency API's own domain (e.g. api.example.gov.br), REGIONAL; empty: none"
        ),
        API_CERTIFICATE_ARN: _optional(
            _ACM_ARN.format(region="[a-z0-9-]+"),
            "ACM certificate of ApiDomainName, in the stack's region; with ApiDomainName",
        ),
        API_TRUSTSTORE_URI: _optional(
            r"s3://[a-z0-9.-]{3,63}/.+",
            "s3:// URI of the PEM bundle of the CAs that sign agency client certificates: "
            "mutual TLS on ApiDomainName; empty: no mutual TLS",
        ),
        API_TRUSTSTORE_VERSION: _optional(
            r"[A-Za-z0-9._-]{1,1024}",
            "S3 version id of the truststore (a new one makes API Gateway reload it); empty: latest",
        ),
    }


def _is_set(parameter: str) -> Json:
    return {"Fn::Not": [{"Fn::Equals": [ref(parameter), ""]}]}


def edge_conditions() -> dict[str, Json]:
    return {
        HAS_SITE_WEB_ACL: _is_set(SITE_WEB_ACL_ARN),
        HAS_SITE_DOMAIN: _is_set(SITE_DOMAIN_NAME),
        HAS_API_DOMAIN: _is_set(API_DOMAIN_NAME),
        HAS_API_TRUSTSTORE: {"Fn::And": [{"Condition": HAS_API_DOMAIN}, _is_set(API_TRUSTSTORE_URI)]},
        HAS_API_TRUSTSTORE_VERSION: _is_set(API_TRUSTSTORE_VERSION),
    }


def _rule(when_set: str, must_set: str, why: str) -> Json:
    assertion = {"Assert": _is_set(must_set), "AssertDescription": why}
    return {"RuleCondition": _is_set(when_set), "Assertions": [assertion]}


def edge_rules() -> dict[str, Json]:
    """Parameter combinations CloudFormation refuses before creating anything."""
    return {
        "SiteDomainNeedsCertificate": _rule(
            SITE_DOMAIN_NAME, SITE_CERTIFICATE_ARN, "SiteDomainName needs SiteCertificateArn (us-east-1)"
        ),
        "ApiDomainNeedsCertificate": _rule(
            API_DOMAIN_NAME, API_CERTIFICATE_ARN, "ApiDomainName needs ApiCertificateArn"
        ),
        "TruststoreNeedsApiDomain": _rule(
            API_TRUSTSTORE_URI, API_DOMAIN_NAME, "mutual TLS (ApiTruststoreUri) needs ApiDomainName"
        ),
        "TruststoreVersionNeedsTruststore": _rule(
            API_TRUSTSTORE_VERSION, API_TRUSTSTORE_URI, "ApiTruststoreVersion needs ApiTruststoreUri"
        ),
    }


# --- WAF --------------------------------------------------------------------------------------------


def _visibility(name: str) -> Json:
    return {"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": name}


def _path_matches(regex: str) -> Json:
    return {
        "RegexMatchStatement": {
            "RegexString": regex,
            "FieldToMatch": {"UriPath": {}},
            "TextTransformations": [{"Priority": 0, "Type": "URL_DECODE"}],
        }
    }


def follow_rate_rule(priority: int) -> Json:
    """Blocks a client address that posts the follow form more than FOLLOW_RATE_LIMIT times in
    FOLLOW_WINDOW_SECONDS. Citizens come through CloudFront, so the address WAF sees is CloudFront's:
    the client's is the first one of X-Forwarded-For (a client can put a false one there; the stage's
    throttling on this route is the cap that no header changes)."""
    return {
        "Name": "limite-acompanhamentos",
        "Priority": priority,
        "Action": {
            "Block": {
                "CustomResponse": {
                    "ResponseCode": 429,
                    "CustomResponseBodyKey": FOLLOW_LIMIT_BODY,
                    "ResponseHeaders": [{"Name": "Retry-After", "Value": str(FOLLOW_WINDOW_SECONDS)}],
                }
            }
        },
        "VisibilityConfig": _visibility("limite-acompanhamentos"),
        "Statement": {
            "RateBasedStatement": {
                "Limit": FOLLOW_RATE_LIMIT,
                "EvaluationWindowSec": FOLLOW_WINDOW_SECONDS,
                "AggregateKeyType": "FORWARDED_IP",
                "ForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "MATCH"},
                "ScopeDownStatement": {
                    "AndStatement": {
                        "Statements": [
                            {
                                "ByteMatchStatement": {
                                    "SearchString": "POST",
                                    "FieldToMatch": {"Method": {}},
                                    "PositionalConstraint": "EXACTLY",
                                    "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                                }
                            },
                            _path_matches(FOLLOW_PATH_REGEX),
                        ]
                    }
                },
            }
        },
    }


def agency_routes_only_on_mtls_domain_rule(priority: int) -> Json:
    """With mutual TLS on, an agency route asked on any host but ApiDomainName (the execute-api
    endpoint, which CloudFront needs for /publico/*) is blocked: no way around the client certificate."""
    return {
        "Name": "rotas-de-orgaos-so-com-mtls",
        "Priority": priority,
        "Action": {"Block": {}},
        "VisibilityConfig": _visibility("rotas-de-orgaos-so-com-mtls"),
        "Statement": {
            "AndStatement": {
                "Statements": [
                    {
                        "NotStatement": {
                            "Statement": {
                                "ByteMatchStatement": {
                                    "SearchString": ref(API_DOMAIN_NAME),
                                    "FieldToMatch": {"SingleHeader": {"Name": "host"}},
                                    "PositionalConstraint": "EXACTLY",
                                    "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}],
                                }
                            }
                        }
                    },
                    {"NotStatement": {"Statement": _path_matches(PUBLIC_PATH_REGEX)}},
                ]
            }
        },
    }


def managed_rule(priority: int, group: str, counted: tuple[str, ...]) -> Json:
    statement: Json = {"VendorName": "AWS", "Name": group}
    if counted:
        statement["RuleActionOverrides"] = [{"Name": rule, "ActionToUse": {"Count": {}}} for rule in counted]
    return {
        "Name": group,
        "Priority": priority,
        "OverrideAction": {"None": {}},
        "VisibilityConfig": _visibility(group),
        "Statement": {"ManagedRuleGroupStatement": statement},
    }


def api_waf_resources(stack: Stack, stage: str, rest_api: str) -> dict[str, Json]:
    rules: list[Json] = [
        {"Fn::If": [HAS_API_TRUSTSTORE, agency_routes_only_on_mtls_domain_rule(0), ref("AWS::NoValue")]},
        follow_rate_rule(1),
    ]
    rules += [managed_rule(2 + i, group, counted) for i, (group, counted) in enumerate(MANAGED_RULE_GROUPS)]
    name = stack.name(stage, "api")
    return {
        API_WEB_ACL: {
            "Type": "AWS::WAFv2::WebACL",
            "Properties": {
                "Name": name,
                "Description": f"PEN {stage} - REST API stage",
                "Scope": "REGIONAL",
                "DefaultAction": {"Allow": {}},
                "VisibilityConfig": _visibility(name),
                "Rules": rules,
                "CustomResponseBodies": {
                    FOLLOW_LIMIT_BODY: {
                        "ContentType": "APPLICATION_JSON",
                        "Content": json.dumps(
                            problems.problem(problems.LIMIT_REACHED, FOLLOW_LIMIT_DETAIL), ensure_ascii=False
                        ),
                    }
                },
            },
        },
        API_WEB_ACL_ASSOCIATION: {
            "Type": "AWS::WAFv2::WebACLAssociation",
            "Properties": {
                # `<api>.Stage` is SAM's reference to the stage it generates (and waits for it).
                "ResourceArn": sub(
                    f"arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}::/restapis/${{{rest_api}}}"
                    f"/stages/${{{rest_api}.Stage}}"
                ),
                "WebACLArn": get_att(API_WEB_ACL, "Arn"),
            },
        },
    }


# --- the REST API's stage ---------------------------------------------------------------------------


def method_settings() -> list[Json]:
    """SAM's MethodSettings: the stage's throttling, and the follow form's lower one. No execution
    logging (the access log says what happened; execution logs at INFO would record bodies)."""
    # API Gateway's form of a resource path: the first slash, then each other one as ~1.
    follow_path = "/" + FOLLOW_ROUTE.replace("/", "~1")
    return [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": STAGE_RATE_LIMIT,
            "ThrottlingBurstLimit": STAGE_BURST_LIMIT,
        },
        {
            "ResourcePath": follow_path,
            "HttpMethod": "POST",
            "ThrottlingRateLimit": FOLLOW_RATE_LIMIT_PER_SECOND,
            "ThrottlingBurstLimit": FOLLOW_BURST_LIMIT,
        },
    ]


# --- custom domains ---------------------------------------------------------------------------------


def api_domain_resources(rest_api: str) -> dict[str, Json]:
    return {
        API_DOMAIN: {
            "Type": "AWS::ApiGateway::DomainName",
            "Condition": HAS_API_DOMAIN,
            "Properties": {
                "DomainName": ref(API_DOMAIN_NAME),
                "RegionalCertificateArn": ref(API_CERTIFICATE_ARN),
                "EndpointConfiguration": {"Types": ["REGIONAL"]},  # mutual TLS needs REGIONAL
                "SecurityPolicy": API_SECURITY_POLICY,
                "MutualTlsAuthentication": {
                    "Fn::If": [
                        HAS_API_TRUSTSTORE,
                        {
                            "TruststoreUri": ref(API_TRUSTSTORE_URI),
                            "TruststoreVersion": {
                                "Fn::If": [
                                    HAS_API_TRUSTSTORE_VERSION,
                                    ref(API_TRUSTSTORE_VERSION),
                                    ref("AWS::NoValue"),
                                ]
                            },
                        },
                        ref("AWS::NoValue"),
                    ]
                },
            },
        },
        API_BASE_PATH_MAPPING: {
            "Type": "AWS::ApiGateway::BasePathMapping",
            "Condition": HAS_API_DOMAIN,
            "Properties": {
                # At the root: https://<ApiDomainName>/processos, as on the default endpoint's /api/.
                "DomainName": ref(API_DOMAIN),
                "RestApiId": ref(rest_api),
                "Stage": ref(f"{rest_api}.Stage"),
            },
        },
    }


def distribution_edge() -> Json:
    """The distribution's WebACL, alias and viewer certificate, each from its optional parameter."""
    return {
        "WebACLId": {"Fn::If": [HAS_SITE_WEB_ACL, ref(SITE_WEB_ACL_ARN), ref("AWS::NoValue")]},
        "Aliases": {"Fn::If": [HAS_SITE_DOMAIN, [ref(SITE_DOMAIN_NAME)], ref("AWS::NoValue")]},
        "ViewerCertificate": {
            "Fn::If": [
                HAS_SITE_DOMAIN,
                {
                    "AcmCertificateArn": ref(SITE_CERTIFICATE_ARN),
                    "MinimumProtocolVersion": CLOUDFRONT_MINIMUM_TLS,
                    "SslSupportMethod": "sni-only",
                },
                # *.cloudfront.net's certificate: CloudFront sets its TLS versions, no minimum can be set.
                {"CloudFrontDefaultCertificate": True},
            ]
        },
    }


def edge_outputs() -> dict[str, Json]:
    return {
        f"{API_WEB_ACL}Arn": {"Value": get_att(API_WEB_ACL, "Arn")},
        f"{API_DOMAIN}Target": {
            "Condition": HAS_API_DOMAIN,
            "Description": "Point ApiDomainName here (DNS CNAME or alias with ApiDomainHostedZoneId)",
            "Value": get_att(API_DOMAIN, "RegionalDomainName"),
        },
        f"{API_DOMAIN}HostedZoneId": {
            "Condition": HAS_API_DOMAIN,
            "Value": get_att(API_DOMAIN, "RegionalHostedZoneId"),
        },
    }
