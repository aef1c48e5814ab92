"""Play records written to the plays table (moto) and read back from its stream as the Lambda
events the devstack's DynamoDB stream poller builds, for the counters consumer's tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3

from devstack.pollers.dynamodb_streams import DynamoDBStreamPoller
from devstack.resources import Deployment


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class PlaysStream:
    """Writes play records and hands out the stream records written since the last call."""

    def __init__(self, deployment: Deployment) -> None:
        self.table_name = deployment.tables["PlaysTable"]
        self.table = boto3.resource("dynamodb").Table(self.table_name)
        self.streams = boto3.client("dynamodbstreams")
        description = boto3.client("dynamodb").describe_table(TableName=self.table_name)["Table"]
        self.stream_arn = description["LatestStreamArn"]
        self.poller = SimpleNamespace(mapping=SimpleNamespace(source_arn=self.stream_arn))
        self.seen: set[str] = set()

    def play(
        self,
        user_id: str,
        song_id: str,
        artist_id: str,
        *,
        played_ms: int,
        started_at: datetime | None = None,
        last_event_at: datetime | None = None,
        ended: str | None = None,
        play_id: str | None = None,
        genres: tuple[str, ...] = (),
        version: int = 1,
    ) -> dict[str, Any]:
        """Put a play record as the plays consumer writes it (billable from 30 s listened)."""
        started_at = started_at or datetime.now(UTC)
        billable = played_ms >= 30_000
        item: dict[str, Any] = {
            "userId": user_id,
            "sk": f"PLAY#{play_id or uuid.uuid4()}",
            "songId": song_id,
            "artistId": artist_id,
            "genres": list(genres),
            "tier": "premium",
            "country": "SE",
            "deviceId": "phone-1",
            "deviceType": "mobile",
            "contextType": "album",
            "startedAt": iso(started_at),
            "lastEventAt": iso(last_event_at or started_at + timedelta(milliseconds=played_ms)),
            "receivedAt": iso(datetime.now(UTC)),
            "playedMs": played_ms,
            "durationMs": 200_000,
            "bitrateKbps": 160,
            "ended": ended,
            "billable": billable,
            "reason": "billable" if billable else ("short" if ended else "open"),
            "events": version,
            "version": version,
            "expiresAt": int((started_at + timedelta(days=400)).timestamp()),
        }
        item["playId"] = item["sk"].removeprefix("PLAY#")
        self.table.put_item(Item=item)
        return item

    def advance(self, record: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """The same play a little later (more listened, ended...), as the next version."""
        item = {**record, **changes, "version": int(record["version"]) + 1}
        item["billable"] = int(item["playedMs"]) >= 30_000 and not str(item.get("reason", "")).startswith("bot:")
        if item["billable"]:
            item["reason"] = "billable"
        self.table.put_item(Item=item)
        return item

    def put_state(self, user_id: str, sk: str) -> None:
        """A per-listener state item of the plays table (not a play record)."""
        self.table.put_item(Item={"userId": user_id, "sk": sk, "count": 1})

    def event(self) -> dict[str, Any]:
        """The stream records written since the last call, as the devstack delivers them to Lambda."""
        records: list[dict[str, Any]] = []
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            iterator = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                for record in page.get("Records", []):
                    sequence = record["dynamodb"]["SequenceNumber"]
                    if sequence not in self.seen:
                        self.seen.add(sequence)
                        records.append(DynamoDBStreamPoller.event_record(self.poller, record, shard["ShardId"]))  # type: ignore[arg-type]
                if not page.get("Records"):
                    break
                iterator = page.get("NextShardIterator")
        records.sort(key=lambda record: int(record["dynamodb"]["SequenceNumber"]))
        return {"Records": records}
