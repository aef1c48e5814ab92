"""The devstack's DynamoDB stream poller reads moto's stream directly when moto runs in its process
(devstack/pollers/dynamodb_streams.py): the records it hands the function are, byte for byte, those it
built from GetRecords through botocore."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.in_process_aws import IN_PROCESS_AWS
from devstack.moto_patches import patch_moto_dynamodb_isolation
from devstack.pollers.dynamodb_streams import DynamoDBStreamPoller
from devstack.resources.model import EventSourceMapping


@pytest.fixture
def stream() -> Iterator[str]:
    patch_moto_dynamodb_isolation()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        table = dynamodb.create_table(
            TableName="playlists",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk")],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )["TableDescription"]
        every_kind = {
            "pk": {"S": "PL#1"},
            "sk": {"S": "META"},
            "name": {"S": "Mix ✓"},
            "version": {"N": "3"},
            "cover": {"B": b"\x00\xffbytes"},
            "covers": {"BS": [b"\x01", b"\x02"]},
            "tags": {"SS": ["a", "b"]},
            "counts": {"NS": ["1", "2.5"]},
            "public": {"BOOL": True},
            "gone": {"NULL": True},
            "lastChanges": {"L": [{"M": {"version": {"N": "3"}, "op": {"M": {"type": {"S": "tracks.added"}}}}}]},
        }
        dynamodb.put_item(TableName="playlists", Item=every_kind)
        dynamodb.update_item(
            TableName="playlists",
            Key={"pk": {"S": "PL#1"}, "sk": {"S": "META"}},
            UpdateExpression="SET version = :v",
            ExpressionAttributeValues={":v": {"N": "4"}},
        )
        dynamodb.delete_item(TableName="playlists", Key={"pk": {"S": "PL#1"}, "sk": {"S": "META"}})
        yield str(table["LatestStreamArn"])


def _events(poller: DynamoDBStreamPoller, shard_id: str) -> list[dict[str, Any]]:
    iterator = poller.shard_iterator(shard_id, "TRIM_HORIZON", None)
    records, _ = poller.get_records(iterator, 100)
    return [poller.event_record(record, shard_id) for record in records]


def test_records_read_from_moto_directly_are_those_read_through_botocore(stream: str) -> None:
    mapping = EventSourceMapping(function="fanout", kind="dynamodb", source_arn=stream, batch_size=100)
    poller = DynamoDBStreamPoller(mapping, None, boto3.Session(region_name="us-east-1"), threading.Event())  # type: ignore[arg-type]
    poller.setup()
    (shard,) = poller.list_shards()
    through_botocore = _events(poller, shard["ShardId"])
    IN_PROCESS_AWS.app = object()  # moto runs in this process (as in the devstack)
    try:
        direct = _events(poller, shard["ShardId"])
        with pytest.raises(Exception) as expired:
            poller.get_records("not-an-iterator-moto-knows", 10)
    finally:
        IN_PROCESS_AWS.app = None
    assert [event["eventName"] for event in direct] == ["INSERT", "MODIFY", "REMOVE"]
    assert json.dumps(direct, sort_keys=True) == json.dumps(through_botocore, sort_keys=True)
    cover = direct[0]["dynamodb"]["NewImage"]["cover"]["B"]
    assert base64.b64decode(cover) == b"\x00\xffbytes"  # binary as Lambda sends it: base64 text
    assert isinstance(direct[0]["dynamodb"]["ApproximateCreationDateTime"], float)
    assert getattr(expired.value, "response", {}).get("Error", {}).get("Code") == "ExpiredIteratorException"
