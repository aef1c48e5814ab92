"""DynamoDB streams: Lambda's `aws:dynamodb` records from the table's stream shards.

Where the stack's moto runs in this process (devstack/in_process_aws.py), the records are read from
moto's streams backend directly, as the Lambda service reads a stream from inside AWS: GetRecords
through botocore cost a serialised request, a WSGI dispatch, moto's response serializer and botocore's
parser for every image of every record, about a sixth of the stack's CPU with ten editors on one
playlist. The records are moto's own, under the same lock as its API (the stream is read only where
no transaction is half applied), in the shape botocore hands back (times as datetimes).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from devstack.in_process_aws import IN_PROCESS_AWS
from devstack.pollers.base import (
    lambda_json,
    region_of,
)
from devstack.pollers.streams import StreamPoller


def _as_read(record: dict[str, Any]) -> dict[str, Any]:
    """A record of moto's stream as botocore parses it: its creation time a UTC datetime in whole
    milliseconds (moto keeps a naive one, to the microsecond); moto's own record is left as it is."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime) and created.tzinfo is None:  # milliseconds, as on the wire
        change["ApproximateCreationDateTime"] = created.replace(
            tzinfo=UTC, microsecond=created.microsecond // 1000 * 1000
        )
    return {**record, "dynamodb": change}


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
        if IN_PROCESS_AWS.app is None:  # moto is another process's, or the stack is stopping
            response = self.client.get_records(ShardIterator=iterator, Limit=min(limit, 1000))
            return response.get("Records", []), response.get("NextShardIterator")
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        _, _, _, region, account, _ = self.mapping.source_arn.split(":", 5)
        try:
            answer = dynamodbstreams_backends[account][region].get_records(iterator, min(limit, 1000))
        except KeyError:  # an iterator moto no longer knows: read again from the last record fetched
            error: Any = {"Error": {"Code": "ExpiredIteratorException", "Message": "Iterator expired"}}
            raise ClientError(error, "GetRecords") from None
        return [_as_read(record) for record in answer.get("Records", [])], answer.get("NextShardIterator")

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
