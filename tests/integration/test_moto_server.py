"""The moto we run behaves as DynamoDB under concurrent transactions (infra/local/moto_server.py).

Without its fixes, moto's server answers concurrent TransactWriteItems with 500s, a cancelled
transaction undoes other requests' writes, and every open stream iterator goes blind after one.
Its sent-mail view answers where moto's whole-state dump fails.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.local.state import SENT_MAIL_PATH
from tests.servers import REGION


def _clients(endpoint: str) -> tuple[Any, Any]:
    config = Config(retries={"max_attempts": 1})  # a 500 from moto must show, not be retried away
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION, config=config)
    streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name=REGION, config=config)
    return dynamodb, streams


def _table(dynamodb: Any) -> str:
    name = f"moto-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return name


def _iterator(dynamodb: Any, streams: Any, table: str) -> str:
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return str(
        streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
    )


def _put(table: str, pk: str, **condition: Any) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": {"pk": {"S": pk}}, **condition}}


def test_concurrent_transactions_on_one_counter_lose_nothing(moto_endpoint: str) -> None:
    dynamodb, _ = _clients(moto_endpoint)
    table = _table(dynamodb)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "counter"}, "n": {"N": "0"}})
    committed: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        for step in range(15):
            current = int(dynamodb.get_item(TableName=table, Key={"pk": {"S": "counter"}})["Item"]["n"]["N"])
            try:
                dynamodb.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": table,
                                "Key": {"pk": {"S": "counter"}},
                                "UpdateExpression": "SET n = :next",
                                "ConditionExpression": "n = :current",
                                "ExpressionAttributeValues": {
                                    ":next": {"N": str(current + 1)},
                                    ":current": {"N": str(current)},
                                },
                            }
                        },
                        _put(table, f"issued-{current + 1}", ConditionExpression="attribute_not_exists(pk)"),
                        _put(table, f"client-{number}-{step}"),
                    ]
                )
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    with lock:
                        failures.append(repr(error))
                continue
            with lock:
                committed.append(current + 1)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert sorted(committed) == list(range(1, len(committed) + 1))  # each number issued once, no gaps
    counter = dynamodb.get_item(TableName=table, Key={"pk": {"S": "counter"}})["Item"]["n"]["N"]
    assert int(counter) == len(committed)
    items = dynamodb.scan(TableName=table)["Items"]
    assert len([i for i in items if i["pk"]["S"].startswith("client-")]) == len(committed)
    assert len([i for i in items if i["pk"]["S"].startswith("issued-")]) == len(committed)


def test_a_cancelled_transaction_leaves_the_stream_readable(moto_endpoint: str) -> None:
    dynamodb, streams = _clients(moto_endpoint)
    table = _table(dynamodb)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "taken"}})
    iterator = _iterator(dynamodb, streams, table)
    first = streams.get_records(ShardIterator=iterator)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in first["Records"]] == ["taken"]

    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(
            TransactItems=[
                _put(table, "new"),
                _put(table, "taken", ConditionExpression="attribute_not_exists(pk)"),
            ]
        )
    assert cancelled.value.response["CancellationReasons"] == [
        {"Code": "None"},
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"},
    ]
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "after"}})

    later = streams.get_records(ShardIterator=first["NextShardIterator"])
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in later["Records"]] == ["after"]
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"pk": {"S": "new"}})


def test_a_write_failing_midway_is_undone_with_its_stream_records(moto_endpoint: str) -> None:
    dynamodb, streams = _clients(moto_endpoint)
    table = _table(dynamodb)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "old"}, "v": {"S": "before"}})
    iterator = _iterator(dynamodb, streams, table)
    first = streams.get_records(ShardIterator=iterator)

    with pytest.raises(ClientError):
        dynamodb.transact_write_items(
            TransactItems=[
                _put(table, "new"),
                {"Put": {"TableName": table, "Item": {"pk": {"S": "old"}, "v": {"S": "after"}}}},
                {  # adding a number to a string: fails only when written
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "third"}},
                        "UpdateExpression": "SET v = v + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )

    assert "Item" not in dynamodb.get_item(TableName=table, Key={"pk": {"S": "new"}})
    assert dynamodb.get_item(TableName=table, Key={"pk": {"S": "old"}})["Item"]["v"]["S"] == "before"
    assert streams.get_records(ShardIterator=first["NextShardIterator"])["Records"] == []


def _complete_a_multipart_upload(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("moto.s3.models.S3_UPLOAD_PART_MIN_SIZE", 1024)
    s3: Any = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    bucket, key = f"moto-{uuid.uuid4().hex[:8]}", "grande.pdf"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=body)["ETag"],
        }
        for n, body in [(1, b"a" * 1024), (2, b"b" * 10)]
    ]
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})


def test_the_sent_mail_view_lists_a_raw_message_after_a_multipart_upload(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # moto's /moto-api/data.json answers 500 from here on (the parts it keeps belong to no bucket)
    _complete_a_multipart_upload(moto_endpoint, monkeypatch)
    sender, to = "pen@example.gov.br", f"cidada.{uuid.uuid4().hex[:8]}@example.org"
    ses = boto3.client("sesv2", endpoint_url=moto_endpoint, region_name=REGION)
    ses.create_email_identity(EmailIdentity=sender)
    raw = f"From: {sender}\r\nTo: {to}\r\nSubject: Movimentação\r\n\r\nOlá".encode()
    ses.send_email(FromEmailAddress=sender, Destination={"ToAddresses": [to]}, Content={"Raw": {"Data": raw}})

    with urllib.request.urlopen(f"{moto_endpoint}{SENT_MAIL_PATH}", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        sent = json.load(response)
    mine = [m for m in sent["RawMessage"] if to in m["destinations"]]
    assert [(m["source"], m["raw_data"]) for m in mine] == [(sender, raw.decode())]


def test_the_sent_mail_view_is_read_only(moto_endpoint: str) -> None:
    request = urllib.request.Request(f"{moto_endpoint}{SENT_MAIL_PATH}", method="POST", data=b"{}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405
    assert refused.value.headers["Allow"] == "GET, HEAD"
