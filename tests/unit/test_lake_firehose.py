"""The devstack's Firehose delivers the lake as template.yaml declares it: JSON records in, Parquet
out with the Glue table's columns and types, under the day prefix the partition query gives,
buffered until the interval or size says so; unconvertible records go under the error prefix. The
plays export function puts play record changes on the plays delivery stream."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from devstack.firehose import FirehoseHub, parse_partition_query, patch_moto_firehose, set_active_hub
from devstack.resources import Deployment
from tests.support import ROOT
from tests.unit.conftest import load_function


def play(play_id: str, version: int, started_at: str, **changes: Any) -> dict[str, Any]:
    record = {
        "userId": "user-1",
        "sk": f"PLAY#{play_id}",
        "playId": play_id,
        "songId": "s" * 22,
        "artistId": "artist-1",
        "genres": ["rock", "indie"],
        "tier": "premium",
        "country": "SE",
        "deviceId": "phone-1",
        "deviceType": "mobile",
        "contextType": "album",
        "contextId": "album-1",
        "startedAt": started_at,
        "lastEventAt": started_at,
        "receivedAt": started_at,
        "playedMs": 45_000,
        "durationMs": 200_000,
        "bitrateKbps": 160,
        "ended": "completed",
        "billable": True,
        "reason": "billable",
        "events": 3,
        "version": version,
        "expiresAt": 1_900_000_000,
    }
    record.update(changes)
    return record


@pytest.fixture
def hub(aws: Deployment) -> Iterator[FirehoseHub]:
    patch_moto_firehose()
    firehose = FirehoseHub(aws.delivery_streams, boto3.Session(region_name="us-east-1"))
    set_active_hub(firehose)
    yield firehose
    set_active_hub(None)


def lake_objects(deployment: Deployment, prefix: str) -> dict[str, bytes]:
    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = deployment.outputs["LakeBucketName"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {item["Key"]: s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed}


def glue_columns(deployment: Deployment, table: str) -> list[tuple[str, str]]:
    described = boto3.client("glue", region_name="us-east-1").get_table(
        DatabaseName=deployment.outputs["LakeDatabaseName"], Name=table
    )["Table"]
    return [(column["Name"], column["Type"]) for column in described["StorageDescriptor"]["Columns"]]


def test_put_record_batch_becomes_parquet_with_the_glue_schema_under_the_day_prefix(
    aws: Deployment, hub: FirehoseHub
) -> None:
    firehose = boto3.client("firehose", region_name="us-east-1")
    stream = aws.ref("PlaysDelivery")
    lines = [
        play("p1", 1, "2026-12-02T23:59:58.120Z"),
        play("p2", 1, "2026-12-03T00:00:01.000Z", billable=False, reason="short", ended="skipped", playedMs=9_000),
    ]
    answer = firehose.put_record_batch(
        DeliveryStreamName=stream, Records=[{"Data": json.dumps(line).encode() + b"\n"} for line in lines]
    )
    assert answer["FailedPutCount"] == 0
    assert lake_objects(aws, "plays/") == {}  # buffered: the interval has not passed
    assert hub.flush_all() == 2

    written = lake_objects(aws, "plays/")
    days = sorted(key.split("/")[1] for key in written)
    assert days == ["dt=2026-12-02", "dt=2026-12-03"]  # the day each play started
    assert all(key.endswith(".parquet") for key in written)
    table = pq.read_table(io.BytesIO(written[next(key for key in written if "dt=2026-12-02" in key)]))
    expected = glue_columns(aws, "plays_raw")
    assert table.schema.names == [name for name, _ in expected]
    assert str(table.schema.field("startedat").type) == "timestamp[ms]"
    assert str(table.schema.field("billable").type) == "bool"
    assert str(table.schema.field("genres").type) == "list<element: string>"
    row = table.to_pylist()[0]
    assert row["playid"] == "p1" and row["version"] == 1 and row["billable"] is True
    assert row["startedat"] == datetime(2026, 12, 2, 23, 59, 58, 120000)
    assert row["genres"] == ["rock", "indie"]
    assert "expiresat" not in table.schema.names  # not a Glue column: dropped, as the SerDe does


def test_the_events_stream_is_read_from_kinesis_into_events_by_day_received(aws: Deployment, hub: FirehoseHub) -> None:
    delivery = hub.deliveries[aws.ref("EventsDelivery")]
    delivery.start_reading_source()
    event = {
        "eventId": "6f1c3a4e-2b7d-4c1e-9a55-0d2f8e7b6a10",
        "playId": "0c9d7e1f-5a3b-4f60-8e2d-1b7a9c4d3e21",
        "type": "progress",
        "songId": "s" * 22,
        "positionMs": 15_000,
        "playedMs": 15_000,
        "bitrateKbps": 160,
        "deviceId": "phone-1",
        "deviceType": "mobile",
        "context": {"type": "playlist", "id": "pl-1"},
        "occurredAt": "2026-12-03T06:00:00.500000Z",
        "userId": "user-1",
        "tier": "free",
        "country": "SE",
        "receivedAt": "2026-12-03T06:00:01.250000Z",
        "artistId": "artist-1",
        "durationMs": 200_000,
        "genres": ["pop"],
    }
    boto3.client("kinesis", region_name="us-east-1").put_record(
        StreamName=aws.ref("PlaybackEventsStream"), Data=json.dumps(event).encode(), PartitionKey="user-1"
    )
    assert delivery.read_source() == 1
    hub.flush_all()
    (key, body), *others = lake_objects(aws, "events/").items()
    assert not others and key.startswith("events/dt=2026-12-03/")
    row = pq.read_table(io.BytesIO(body)).to_pylist()[0]
    assert row["eventid"] == event["eventId"]
    assert row["context"] == {"type": "playlist", "id": "pl-1", "variant": None}
    assert row["receivedat"] == datetime(2026, 12, 3, 6, 0, 1, 250000)


def test_a_full_buffer_is_written_at_once(aws: Deployment, hub: FirehoseHub) -> None:
    delivery = hub.deliveries[aws.ref("PlaysDelivery")]
    delivery.spec = replace(delivery.spec, buffer_bytes=1)
    delivery.put([json.dumps(play("p1", 1, "2026-12-02T10:00:00.000Z")).encode()])
    assert list(lake_objects(aws, "plays/dt=2026-12-02/"))


def test_records_that_cannot_be_converted_or_partitioned_go_to_the_error_prefix(
    aws: Deployment, hub: FirehoseHub
) -> None:
    delivery = hub.deliveries[aws.ref("PlaysDelivery")]
    delivery.put(
        [
            json.dumps(play("p1", 1, "2026-12-02T10:00:00.000Z")).encode(),
            json.dumps(play("p2", 1, "2026-12-02T10:00:00.000Z", playedMs="seven")).encode(),
            json.dumps({"playId": "p3"}).encode(),  # no startedAt: nothing to partition by
            b"not json",
        ]
    )
    hub.flush_all()
    assert len(lake_objects(aws, "plays/")) == 1
    errors = lake_objects(aws, "errors/plays/")
    by_type = {key.split("/")[2]: body for key, body in errors.items()}
    assert set(by_type) == {"format-conversion-failed", "partitioning-failed"}
    assert b'"p2"' in by_type["format-conversion-failed"]
    assert by_type["partitioning-failed"].count(b"\n") == 2


def test_the_partition_query_reads_only_what_it_understands() -> None:
    assert parse_partition_query("{dt: .receivedAt[0:10]}") == (("dt", "receivedAt", 0, 10),)
    with pytest.raises(ValueError, match="unsupported"):
        parse_partition_query("{dt: .receivedAt | strftime}")


def stream_record(sequence: str, name: str, image: dict[str, Any] | None) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    change: dict[str, Any] = {"SequenceNumber": sequence, "Keys": {}}
    if image is not None:
        change["NewImage"] = {key: serializer.serialize(value) for key, value in image.items()}
    return {"eventID": sequence, "eventName": name, "eventSource": "aws:dynamodb", "dynamodb": change}


def test_the_plays_export_function_puts_play_changes_and_skips_other_items(
    aws: Deployment, hub: FirehoseHub, context: Any
) -> None:
    app = load_function("lake_plays", aws)
    records = [
        stream_record("1", "INSERT", play("p1", 1, "2026-12-02T10:00:00.000Z", billable=False, reason="open")),
        stream_record("2", "MODIFY", play("p1", 2, "2026-12-02T10:00:00.000Z")),
        stream_record("3", "INSERT", {"userId": "user-1", "sk": "STATE#dedupe", "version": 1}),
        stream_record("4", "REMOVE", None),
    ]
    assert app.lambda_handler({"Records": records}, context) == {"batchItemFailures": []}
    hub.flush_all()
    (body,) = lake_objects(aws, "plays/dt=2026-12-02/").values()
    rows = pq.read_table(io.BytesIO(body)).to_pylist()
    assert [(row["playid"], row["version"], row["billable"]) for row in rows] == [("p1", 1, False), ("p1", 2, True)]


def test_the_plays_export_reports_the_records_firehose_refused(
    aws: Deployment, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = load_function("lake_plays", aws)

    class Refusing:
        def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
            self.calls = getattr(self, "calls", 0) + 1
            answers = [
                {"ErrorCode": "ServiceUnavailableException"} if b'"p2"' in record["Data"] else {"RecordId": "a"}
                for record in Records
            ]
            return {"FailedPutCount": sum("ErrorCode" in answer for answer in answers), "RequestResponses": answers}

    refusing = Refusing()
    monkeypatch.setattr(app, "client", lambda service: refusing)
    records = [
        stream_record("10", "INSERT", play("p1", 1, "2026-12-02T10:00:00.000Z")),
        stream_record("11", "INSERT", play("p2", 1, "2026-12-02T10:00:00.000Z")),
    ]
    assert app.lambda_handler({"Records": records}, context) == {"batchItemFailures": [{"itemIdentifier": "11"}]}
    assert refusing.calls == 3  # the refused record was retried before the stream is asked to


def test_the_sample_play_change_lands_in_the_lake_on_the_day_the_play_started(
    aws: Deployment, hub: FirehoseHub, context: Any
) -> None:
    sample = json.loads((ROOT / "events" / "streams" / "lake_plays_play_changes.json").read_text(encoding="utf-8"))
    app = load_function("lake_plays", aws)
    assert app.lambda_handler(sample, context) == {"batchItemFailures": []}
    hub.flush_all()
    (body,) = lake_objects(aws, "plays/dt=2026-12-02/").values()
    (row,) = pq.read_table(io.BytesIO(body)).to_pylist()
    assert (row["version"], row["billable"], row["ended"], row["playedms"]) == (2, True, "completed", 45_000)


def test_a_failed_write_keeps_the_records_for_the_next_flush(
    aws: Deployment, hub: FirehoseHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = hub.deliveries[aws.ref("PlaysDelivery")]
    delivery.put([json.dumps(play("p1", 1, "2026-12-02T10:00:00.000Z")).encode()])
    real_put = delivery.s3.put_object

    def unavailable(**kwargs: Any) -> None:
        raise ConnectionError("S3 is not answering")

    monkeypatch.setattr(delivery.s3, "put_object", unavailable)
    with pytest.raises(ConnectionError):
        delivery.flush()
    delivery.put([json.dumps(play("p2", 1, "2026-12-02T10:00:00.000Z")).encode()])
    monkeypatch.setattr(delivery.s3, "put_object", real_put)
    assert delivery.flush() == 2
    (body,) = lake_objects(aws, "plays/").values()
    assert [row["playid"] for row in pq.read_table(io.BytesIO(body)).to_pylist()] == ["p1", "p2"]


def test_an_idle_source_is_not_read_until_a_record_arrives(
    aws: Deployment, hub: FirehoseHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader of a Kinesis source waits for moto to store a record in it (as the stream pollers
    do) instead of asking every half second: an idle stream costs no GetRecords, and a record put
    is in the delivery's buffer at once."""
    import time

    from devstack.pollers.wakeups import QUIET_SECONDS, patch_moto_stream_wakeups

    patch_moto_stream_wakeups()
    delivery = hub.deliveries[aws.ref("EventsDelivery")]
    assert delivery.kinesis is not None
    reads: list[float] = []
    get_records = delivery.kinesis.get_records

    def counted(**arguments: Any) -> Any:
        reads.append(time.monotonic())
        return get_records(**arguments)

    monkeypatch.setattr(delivery.kinesis, "get_records", counted)
    for other in hub.deliveries.values():  # only the events stream's reader runs
        if other is not delivery:
            other.kinesis = None
    hub.start()
    try:
        time.sleep(0.3)  # the first read finds nothing
        idle_since, before = time.monotonic(), len(reads)
        time.sleep(QUIET_SECONDS * 0.75)
        assert len(reads) == before, "read while the stream was idle"
        put_at = time.monotonic()
        boto3.client("kinesis", region_name="us-east-1").put_record(
            StreamName=aws.ref("PlaybackEventsStream"), Data=b'{"eventId": "x"}', PartitionKey="user-1"
        )
        while not delivery._buffer.records and time.monotonic() < put_at + QUIET_SECONDS / 2:
            time.sleep(0.01)
        assert delivery._buffer.records == [b'{"eventId": "x"}']
        assert idle_since < put_at
    finally:
        hub.stop()
