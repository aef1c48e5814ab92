"""Kinesis: Lambda's `aws:kinesis` records (base64 data) from the stream's shards."""

from __future__ import annotations

import base64
from typing import Any

from devstack.pollers.base import (
    epoch,
    region_of,
)
from devstack.pollers.streams import StreamPoller


class KinesisPoller(StreamPoller):
    batch_info_key = "KinesisBatchInfo"

    def setup(self) -> None:
        self.client = self.session.client("kinesis")
        super().setup()

    def list_shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamARN": self.mapping.source_arn}
        while True:
            response = self.client.list_shards(**request)
            shards.extend(response.get("Shards", []))
            token = response.get("NextToken")
            if not token:
                return shards
            request = {"NextToken": token}

    def shard_iterator(self, shard_id: str, iterator_type: str, sequence_number: str | None) -> str:
        request = {
            "StreamARN": self.mapping.source_arn,
            "ShardId": shard_id,
            "ShardIteratorType": iterator_type,
        }
        if sequence_number is not None:
            request["StartingSequenceNumber"] = sequence_number
        return str(self.client.get_shard_iterator(**request)["ShardIterator"])

    def get_records(self, iterator: str, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        response = self.client.get_records(
            StreamARN=self.mapping.source_arn, ShardIterator=iterator, Limit=min(limit, 10000)
        )
        return response.get("Records", []), response.get("NextShardIterator")

    def sequence_number(self, record: dict[str, Any]) -> str:
        return str(record["SequenceNumber"])

    def arrival(self, record: dict[str, Any]) -> Any:
        return record.get("ApproximateArrivalTimestamp")

    def event_record(self, record: dict[str, Any], shard_id: str) -> dict[str, Any]:
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": record["PartitionKey"],
                "sequenceNumber": record["SequenceNumber"],
                "data": base64.b64encode(record["Data"]).decode("ascii"),
                "approximateArrivalTimestamp": epoch(record.get("ApproximateArrivalTimestamp")),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{record['SequenceNumber']}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": f"arn:aws:iam::{self.mapping.source_arn.split(':')[4]}:role/devstack",
            "awsRegion": region_of(self.mapping.source_arn),
            "eventSourceARN": self.mapping.source_arn,
        }
