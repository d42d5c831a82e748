"""Access logs: who asked what of the stack's front doors, kept for a year.

- The **log bucket** (`pen-<stage>-logs`) receives the S3 server access logs of every other bucket
  (infra/buckets.py, under `s3/<bucket>/`) and the distribution's standard logs (`cloudfront/`).
  It differs from the other buckets on two points, both imposed by the services writing to it:
  S3 server access logging delivers only to a target encrypted with SSE-S3 (not SSE-KMS), and
  CloudFront's standard logs are written through a bucket ACL (awslogsdelivery), so ACLs stay
  enabled with BucketOwnerPreferred ownership. Still private (public access blocked), versioned,
  TLS only; its objects expire after LOG_RETENTION_DAYS.
- **API Gateway's access log** goes to a log group encrypted with the data key: one JSON line per
  request, with no query string, no path parameter and no header but the user agent (see
  ACCESS_LOG_FORMAT).
- API Gateway writes logs with an account-level role (`AWS::ApiGateway::Account`, one per account
  and region): the stack sets it, and keeps it when deleted (docs/DEPLOY.md says why).
"""

from __future__ import annotations

import json

from infra.buckets import LOG_BUCKET, bucket_policy
from infra.cfn import Json, get_att, ref, sub
from infra.data_key import DATA_KEY, log_group_name
from infra.resources import Stack

API_ACCESS_LOGS = "ApiAccessLogs"
API_GATEWAY_ACCOUNT = "ApiGatewayAccount"
API_GATEWAY_LOGS_ROLE = "ApiGatewayLogsRole"
CLOUDFRONT_LOG_PREFIX = "cloudfront/"
# A year: twice the six months Brazil's Marco Civil da Internet (Lei 12.965/2014, art. 15) asks
# application providers to keep access records, time to investigate an incident found late (CloudTrail
# shows only 90 days by default), and no longer: the logs hold IP addresses, personal data under LGPD.
LOG_RETENTION_DAYS = 365
# One JSON object per request. The template's resource path (`/publico/acompanhamentos/{id}/confirmacao`)
# and never the request's path: path parameters carry NUPs and the follow links' secret ids. No query
# string, no Authorization or other header but the user agent (it tells agency systems, browsers and
# scanners apart, which the WAF's decisions are about). The caller's IP is the point of an access log;
# for citizens, who come through CloudFront, it is CloudFront's, and the distribution's own log has theirs.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTimeEpoch",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "domainName": "$context.domainName",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "errorType": "$context.error.responseType",
    "wafStatus": "$context.waf.status",
    "authorizerStatus": "$context.authorizer.status",
}
ACCESS_LOG_FORMAT = json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))


def log_bucket_resources(stack: Stack, stage: str) -> dict[str, Json]:
    name = stack.name(stage, "logs")
    expiry = {
        "Id": "access-logs-expire",
        "Status": "Enabled",
        "ExpirationInDays": LOG_RETENTION_DAYS,
        # Versions only protect a log against deletion or overwrite; a replaced one goes after 30 days.
        "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2},
    }
    source_buckets = sub(f"arn:${{AWS::Partition}}:s3:::{stack.name(stage, '*')}")
    return {
        LOG_BUCKET: {
            "Type": "AWS::S3::Bucket",
            # The logs are records: deleting the stack keeps them (they expire on their own).
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Metadata": {
                "checkov": {
                    "skip": [
                        {
                            "id": "CKV_AWS_18",
                            "comment": "The log bucket itself: logging it into itself would log its own "
                            "log deliveries without end",
                        },
                    ]
                }
            },
            "Properties": {
                "BucketName": name,
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                    ]
                },
                "VersioningConfiguration": {"Status": "Enabled"},
                "LifecycleConfiguration": {"Rules": [expiry]},
                # CloudFront's standard logs are delivered through an ACL grant it adds to the bucket.
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]},
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
            },
        },
        f"{LOG_BUCKET}Policy": bucket_policy(
            LOG_BUCKET,
            {
                # S3's logging service writes the server access logs of this stack's buckets.
                "Sid": "S3ServerAccessLogs",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": sub(f"${{{LOG_BUCKET}.Arn}}/s3/*"),
                "Condition": {
                    "ArnLike": {"aws:SourceArn": source_buckets},
                    "StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")},
                },
            },
        ),
    }


def cloudfront_logging() -> Json:
    """The distribution's standard logs (CloudFront's `Logging`), without cookies."""
    return {
        "Bucket": get_att(LOG_BUCKET, "DomainName"),
        "Prefix": CLOUDFRONT_LOG_PREFIX,
        "IncludeCookies": False,
    }


def api_access_log_resources(stack: Stack, stage: str) -> dict[str, Json]:
    """The API's access log group and the account-level role API Gateway writes logs with."""
    return {
        API_ACCESS_LOGS: {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "LogGroupName": log_group_name(stack, stage, "api-acessos"),
                "RetentionInDays": LOG_RETENTION_DAYS,
                "KmsKeyId": get_att(DATA_KEY, "Arn"),
            },
        },
        # Retained: the setting is the account's and the region's, shared by every API there;
        # deleting this stack must not leave the others' logging pointing at a deleted role.
        API_GATEWAY_LOGS_ROLE: {
            "Type": "AWS::IAM::Role",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Description": "API Gateway writes the APIs' logs to CloudWatch Logs (account setting)",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "apigateway.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "ManagedPolicyArns": [
                    sub(
                        "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                    )
                ],
            },
        },
        API_GATEWAY_ACCOUNT: {
            "Type": "AWS::ApiGateway::Account",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {"CloudWatchRoleArn": get_att(API_GATEWAY_LOGS_ROLE, "Arn")},
        },
    }


def access_log_setting() -> Json:
    """SAM's AccessLogSetting of the REST API's stage."""
    return {"DestinationArn": get_att(API_ACCESS_LOGS, "Arn"), "Format": ACCESS_LOG_FORMAT}


def log_bucket_outputs() -> dict[str, Json]:
    return {f"{LOG_BUCKET}Name": {"Value": ref(LOG_BUCKET)}}


def api_access_log_outputs() -> dict[str, Json]:
    return {f"{API_ACCESS_LOGS}Group": {"Value": ref(API_ACCESS_LOGS)}}
