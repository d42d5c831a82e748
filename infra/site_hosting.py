"""The citizens' site in the cloud: a private S3 bucket behind one CloudFront distribution, which also
forwards `/publico/*` to the API.

One origin for the site and the public API means no CORS (no preflight before a follow or a
confirmation), and CloudFront caches the public lookups for the `max-age` the API gives them. The
local stack reproduces this distribution (infra/local/site.py): same files, same headers, same
forwarding. Its standard logs go to the log bucket (infra/access_logs.py); its WebACL, domain and
certificate come from optional parameters (infra/edge.py). The site's files are uploaded by
`python -m infra.site publish` (docs/SITE.md).
"""

from __future__ import annotations

from infra.access_logs import cloudfront_logging
from infra.buckets import bucket_policy, private_bucket
from infra.cfn import Json, get_att, ref, sub
from infra.data_key import DATA_KEY
from infra.edge import distribution_edge
from infra.resources import SITE_API_PATH, SITE_SECURITY_HEADERS, Stack

SITE_BUCKET = "SiteBucket"
SITE_DISTRIBUTION = "SiteDistribution"
SITE_ORIGIN_ACCESS = "SiteOriginAccessControl"
SITE_HEADERS_POLICY = "SiteSecurityHeadersPolicy"
SITE_URL = "SiteUrl"  # template parameter: the address the e-mails link to
SITE_ORIGIN = "site"
API_ORIGIN = "api"
API_STAGE_PATH = "/api"  # Chalice's API Gateway stage
NOT_FOUND_PAGE = "404.html"  # the site's page for an unknown path (site/404.html)
# AWS's managed policies (the same ids in every account): CachingOptimized for the site's files;
# UseOriginCacheControlHeaders-QueryStrings for the API (each answer's own Cache-Control decides, the
# query string is part of the key); AllViewerExceptHostHeader, since API Gateway needs its own Host.
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
USE_ORIGIN_CACHE_CONTROL = "4cc15a8a-d715-48a4-82b8-cc0b614638fe"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
# Security headers CloudFront has a typed field for; the others go as custom headers.
_TYPED_HEADERS = {
    "Content-Security-Policy",
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
}


def site_url_parameter() -> Json:
    return {
        "Type": "String",
        "Description": (
            "Address of the citizens' site, which the e-mails link to: the distribution's domain "
            "(output SiteDistributionUrl, known after the first deploy) or your own domain"
        ),
        "AllowedPattern": r"^https://[a-z0-9.-]+[a-z0-9]$",
        "Default": "https://localhost.invalid",
    }


def _directive(part: str) -> tuple[str, str]:
    name, _, value = part.strip().partition("=")
    return name, value


def security_headers_config() -> Json:
    """SITE_SECURITY_HEADERS as a response headers policy (the one source of those headers)."""
    h = SITE_SECURITY_HEADERS
    hsts = dict(_directive(part) for part in h["Strict-Transport-Security"].split(";"))
    return {
        "SecurityHeadersConfig": {
            "ContentSecurityPolicy": {
                "ContentSecurityPolicy": h["Content-Security-Policy"],
                "Override": True,
            },
            "ContentTypeOptions": {"Override": True},
            "FrameOptions": {"FrameOption": h["X-Frame-Options"], "Override": True},
            "ReferrerPolicy": {"ReferrerPolicy": h["Referrer-Policy"], "Override": True},
            "StrictTransportSecurity": {
                "AccessControlMaxAgeSec": int(hsts["max-age"]),
                "IncludeSubdomains": "includeSubDomains" in hsts,
                "Override": True,
            },
        },
        "CustomHeadersConfig": {
            "Items": [
                {"Header": name, "Value": value, "Override": True}
                for name, value in h.items()
                if name not in _TYPED_HEADERS
            ]
        },
    }


def site_resources(stack: Stack, stage: str, rest_api: str) -> dict[str, Json]:
    """The bucket, its policy, the origin access control, the headers policy and the distribution."""
    name = stack.name(stage, "site")
    distribution_arn = sub(
        f"arn:${{AWS::Partition}}:cloudfront::${{AWS::AccountId}}:distribution/${{{SITE_DISTRIBUTION}}}"
    )
    old_versions = {
        "Id": "old-site-versions",
        "Status": "Enabled",
        "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
    }
    return {
        SITE_BUCKET: {
            "Type": "AWS::S3::Bucket",
            # Versions let an operator put back the previous site; they expire after 30 days.
            "Properties": private_bucket(name, [old_versions], get_att(DATA_KEY, "Arn")),
        },
        f"{SITE_BUCKET}Policy": bucket_policy(
            SITE_BUCKET,
            {
                "Sid": "ThisDistributionReads",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": sub(f"${{{SITE_BUCKET}.Arn}}/*"),
                "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
            },
        ),
        SITE_ORIGIN_ACCESS: {
            "Type": "AWS::CloudFront::OriginAccessControl",
            "Properties": {
                "OriginAccessControlConfig": {
                    "Name": name,
                    "OriginAccessControlOriginType": "s3",
                    "SigningBehavior": "always",
                    "SigningProtocol": "sigv4",
                }
            },
        },
        SITE_HEADERS_POLICY: {
            "Type": "AWS::CloudFront::ResponseHeadersPolicy",
            "Properties": {"ResponseHeadersPolicyConfig": {"Name": name, **security_headers_config()}},
        },
        SITE_DISTRIBUTION: {
            "Type": "AWS::CloudFront::Distribution",
            # cfn-lint checks the certificate's ARN against the parameter's default (empty), although
            # the certificate is used only under HasSiteDomain, which a template rule ties to a set ARN.
            "Metadata": {"cfn-lint": {"config": {"ignore_checks": ["W1030"]}}},
            "Properties": {
                "DistributionConfig": {
                    "Comment": f"PEN {stage}: citizens' site and public API",
                    "Enabled": True,
                    "HttpVersion": "http2and3",
                    "IPV6Enabled": True,
                    "DefaultRootObject": "index.html",
                    # A file the bucket does not hold: S3 answers 403 (the distribution may not list the
                    # bucket), shown as the site's own page with 404. Distribution-wide, so no answer of
                    # the API behind /publico/* may be a 403 (tests/integration/test_edge.py checks).
                    # The 404 is cached for a minute: a page published just after someone asked for
                    # it shows within that time, and scans of missing paths still mostly stop at the edge.
                    "CustomErrorResponses": [
                        {
                            "ErrorCode": 403,
                            "ResponseCode": 404,
                            "ResponsePagePath": f"/{NOT_FOUND_PAGE}",
                            "ErrorCachingMinTTL": 60,
                        }
                    ],
                    # South America's edges are only in the full price class.
                    "PriceClass": "PriceClass_All",
                    "Origins": [
                        {
                            "Id": SITE_ORIGIN,
                            "DomainName": get_att(SITE_BUCKET, "RegionalDomainName"),
                            "OriginAccessControlId": get_att(SITE_ORIGIN_ACCESS, "Id"),
                            "S3OriginConfig": {"OriginAccessIdentity": ""},
                        },
                        {
                            "Id": API_ORIGIN,
                            "DomainName": sub(f"${{{rest_api}}}.execute-api.${{AWS::Region}}.amazonaws.com"),
                            "OriginPath": API_STAGE_PATH,
                            "CustomOriginConfig": {
                                "OriginProtocolPolicy": "https-only",
                                "OriginSSLProtocols": ["TLSv1.2"],
                            },
                        },
                    ],
                    "DefaultCacheBehavior": {
                        "TargetOriginId": SITE_ORIGIN,
                        "ViewerProtocolPolicy": "redirect-to-https",
                        "Compress": True,
                        "AllowedMethods": ["GET", "HEAD"],
                        "CachePolicyId": CACHING_OPTIMIZED,
                        "ResponseHeadersPolicyId": ref(SITE_HEADERS_POLICY),
                    },
                    "CacheBehaviors": [
                        {
                            "PathPattern": SITE_API_PATH,
                            "TargetOriginId": API_ORIGIN,
                            "ViewerProtocolPolicy": "https-only",
                            "Compress": True,
                            "AllowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
                            "CachedMethods": ["GET", "HEAD"],
                            "CachePolicyId": USE_ORIGIN_CACHE_CONTROL,
                            "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST,
                        }
                    ],
                    # Standard logs to the log bucket (infra/access_logs.py); WebACL, alias and
                    # certificate from the optional parameters (infra/edge.py).
                    "Logging": cloudfront_logging(),
                    **distribution_edge(),
                }
            },
        },
    }


def site_outputs() -> dict[str, Json]:
    return {
        f"{SITE_BUCKET}Name": {"Value": ref(SITE_BUCKET)},
        f"{SITE_DISTRIBUTION}Url": {"Value": sub(f"https://${{{SITE_DISTRIBUTION}.DomainName}}")},
        f"{SITE_DISTRIBUTION}Id": {"Value": ref(SITE_DISTRIBUTION)},
    }
