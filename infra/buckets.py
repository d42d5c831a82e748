"""What every bucket of the stack has, whatever it holds: no public access, encryption at rest with
KMS, the owner owning every object, versions, server access logs to the log bucket
(infra/access_logs.py), and a policy refusing any request not made over TLS."""

from __future__ import annotations

from typing import Any

from infra.cfn import Json, arn_of, ref, sub

LOG_BUCKET = "LogsBucket"  # infra/access_logs.py declares it; every other bucket logs to it
S3_LOG_PREFIX = "s3/"  # then the source bucket's name: s3/pen-prod-site/...


def server_access_logging(bucket_name: str) -> Json:
    """S3 server access logs of the bucket `bucket_name`, to the log bucket under its own prefix."""
    return {"DestinationBucketName": ref(LOG_BUCKET), "LogFilePrefix": f"{S3_LOG_PREFIX}{bucket_name}/"}


def private_bucket(name: str, lifecycle_rules: list[Json], kms_key_arn: Json) -> Json:
    """The Properties of a private, versioned bucket encrypted with the KMS key `kms_key_arn`, whose
    server access logs go to the log bucket. The bucket key makes S3 ask KMS once per bucket and
    period instead of once per object."""
    return {
        "BucketName": name,
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [
                {
                    "ServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": kms_key_arn,
                    },
                    "BucketKeyEnabled": True,
                },
            ]
        },
        "VersioningConfiguration": {"Status": "Enabled"},
        "LifecycleConfiguration": {"Rules": lifecycle_rules},
        "LoggingConfiguration": server_access_logging(name),
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
    }


def bucket_policy(logical_id: str, *statements: dict[str, Any]) -> Json:
    """The bucket's policy: TLS only, then `statements`."""
    tls_only = {
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn_of(logical_id), sub(f"${{{logical_id}.Arn}}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": ref(logical_id),
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [tls_only, *statements]},
        },
    }
