"""DynamoDB streams: Lambda's `aws:dynamodb` records from the table's stream shards."""

from __future__ import annotations

import uuid
from typing import Any

from devstack.pollers.base import (
    lambda_json,
    region_of,
)
from devstack.pollers.streams import StreamPoller


class DynamoDBStreamPoller(StreamPoller):
    batch_info_key = "DDBStreamBatchInfo"

    def setup(self) -> None:
        self.client = self.session.client("dynamodbstreams")
        super().setup()

    def list_shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": self.mapping.source_arn}
        while True:
            description = self.client.describe_stream(**request)["StreamDescription"]
            shards.extend(description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            request["ExclusiveStartShardId"] = last

    def shard_iterator(self, shard_id: str, iterator_type: str, sequence_number: str | None) -> str:
        request = {
            "StreamArn": self.mapping.source_arn,
            "ShardId": shard_id,
            "ShardIteratorType": iterator_type,
        }
        if sequence_number is not None:
            request["SequenceNumber"] = sequence_number
        return str(self.client.get_shard_iterator(**request)["ShardIterator"])

    def get_records(self, iterator: str, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        response = self.client.get_records(ShardIterator=iterator, Limit=min(limit, 1000))
        return response.get("Records", []), response.get("NextShardIterator")

    def sequence_number(self, record: dict[str, Any]) -> str:
        return str(record["dynamodb"]["SequenceNumber"])

    def arrival(self, record: dict[str, Any]) -> Any:
        return record["dynamodb"].get("ApproximateCreationDateTime")

    def event_record(self, record: dict[str, Any], shard_id: str) -> dict[str, Any]:
        event = {
            "eventID": record.get("eventID") or uuid.uuid4().hex,
            "eventName": record["eventName"],
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": region_of(self.mapping.source_arn),
            "dynamodb": lambda_json(record["dynamodb"]),
            "eventSourceARN": self.mapping.source_arn,
        }
        if record.get("userIdentity"):
            event["userIdentity"] = record["userIdentity"]
        return event
