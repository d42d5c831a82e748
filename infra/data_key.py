"""The data key: one customer-managed KMS key (symmetric, rotated every year by KMS) that encrypts
what the stack keeps at rest — every table, queue, bucket (but the log bucket: infra/access_logs.py),
topic and the stack's log groups.

A customer-managed key, rather than AWS's own, lets an operator see every use of it in CloudTrail,
revoke access in one place, and let the AWS services that must read the data (SES and SNS delivering
mail events, CloudFront reading the site) do so by name in the key policy, which an AWS-managed key
cannot allow (SES cannot publish to a topic encrypted with `alias/aws/sns`). The functions use it
through their role (infra/iam.py, DataKey). docs/DEPLOY.md says what each statement is for.
"""

from __future__ import annotations

from infra.cfn import Json, account_administers, ref, sub
from infra.resources import Stack

DATA_KEY = "DadosKey"
# SQS asks KMS for a new data key at most this often per queue and producer (the maximum, one day,
# would cut KMS calls further; an hour keeps the blast radius of a leaked data key small).
QUEUE_DATA_KEY_REUSE_SECONDS = 3600


def log_group_name(stack: Stack, stage: str, suffix: str) -> str:
    """A CloudWatch log group of the stack: `/pen-<stage>-<suffix>`; the data key encrypts those only."""
    return "/" + stack.name(stage, suffix)


def data_key_resources(stack: Stack, stage: str) -> dict[str, Json]:
    prefix = stack.name(stage, "")
    return {
        DATA_KEY: {
            "Type": "AWS::KMS::Key",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Description": f"PEN {stage}: dados em repouso (tabelas, filas, arquivos, eventos)",
                "KeySpec": "SYMMETRIC_DEFAULT",
                "KeyUsage": "ENCRYPT_DECRYPT",
                "EnableKeyRotation": True,
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        account_administers(),
                        {
                            # SES publishes bounces and complaints to the encrypted topic, which
                            # delivers them to the encrypted events queue.
                            "Sid": "MailEventsDelivery",
                            "Effect": "Allow",
                            "Principal": {"Service": ["ses.amazonaws.com", "sns.amazonaws.com"]},
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                            "Resource": "*",
                            "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
                        },
                        {
                            # CloudWatch alarms publish to the encrypted alarms topic.
                            "Sid": "AlarmsPublish",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                            "Resource": "*",
                            "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
                        },
                        {
                            # The site's distribution reads the encrypted site bucket (origin access
                            # control). By account, not by distribution id: the distribution depends
                            # on the bucket, which depends on this key.
                            "Sid": "SiteDistributionReads",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudfront.amazonaws.com"},
                            "Action": "kms:Decrypt",
                            "Resource": "*",
                            "Condition": {
                                "StringLike": {
                                    "AWS:SourceArn": sub(
                                        "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/*"
                                    )
                                }
                            },
                        },
                        {
                            # CloudWatch Logs encrypts the stack's own log groups (API Gateway's
                            # access log, infra/access_logs.py, and the functions'); the encryption
                            # context names the group, so no other log group of the account can use
                            # this key.
                            "Sid": "StackLogGroups",
                            "Effect": "Allow",
                            "Principal": {"Service": sub("logs.${AWS::Region}.amazonaws.com")},
                            "Action": [
                                "kms:Encrypt",
                                "kms:Decrypt",
                                "kms:ReEncrypt*",
                                "kms:GenerateDataKey*",
                                "kms:DescribeKey",
                            ],
                            "Resource": "*",
                            "Condition": {
                                "ArnLike": {
                                    "kms:EncryptionContext:aws:logs:arn": [
                                        sub(
                                            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:"
                                            f"log-group:{group}"
                                        )
                                        for group in (
                                            log_group_name(stack, stage, "*"),
                                            # the functions' (infra/template.py, function_log_group)
                                            f"/aws/lambda/{stack.name(stage, '*')}",
                                        )
                                    ]
                                }
                            },
                        },
                    ],
                },
            },
        },
        f"{DATA_KEY}Alias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {"AliasName": f"alias/{prefix}dados", "TargetKeyId": ref(DATA_KEY)},
        },
    }


def table_encryption() -> Json:
    return {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": ref(DATA_KEY)}


def queue_encryption() -> Json:
    return {"KmsMasterKeyId": ref(DATA_KEY), "KmsDataKeyReusePeriodSeconds": QUEUE_DATA_KEY_REUSE_SECONDS}
