"""One correlation id follows a request: an HTTP playlist edit's id (the caller's x-correlation-id, or
the request id) comes back on the response, rides the change through the table's stream to the
fan-out, is in the WebSocket message and on the fan-out's log lines; a playback event's id rides the
Kinesis stream to the plays consumer's log line and on through the plays table's stream to the
counters and the lake; a download job's rides its SQS message; a state machine task's comes in its
input, and what the task writes to the catalog carries it to the search indexer."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from backbeat.observability import (
    correlated,
    correlation_id,
    correlation_message_attributes,
    lambda_entry,
    logger,
    sqs_correlation_id,
)
from devstack.pollers.base import lambda_json
from devstack.resources import Deployment
from tests.support import ROOT, api_event
from tests.unit.conftest import FakeContext, load_function
from tests.unit.test_playback_ingest import playback_event, post, seed_songs_and_listeners
from tests.unit.test_realtime import event as socket_event
from tests.unit.test_realtime import sent_to, token_for


class Captured(logging.Handler):
    """The structured log lines (parsed JSON) the one Powertools logger writes while installed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logger.registered_formatter)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def saying(self, message: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["message"] == message]


@pytest.fixture
def logs() -> Iterator[Captured]:
    captured = Captured()
    level = logger.log_level
    logger.addHandler(captured)
    logger.setLevel(logging.DEBUG)
    yield captured
    logger.removeHandler(captured)
    logger.setLevel(level)


def _stream_records(table: str) -> list[dict[str, Any]]:
    """The table's DynamoDB stream as the Lambda event's records (what the fan-out receives)."""
    streams = boto3.client("dynamodbstreams")
    arn = boto3.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in streams.get_records(ShardIterator=iterator)["Records"]:
            records.append(
                {
                    "eventID": record["eventID"],
                    "eventName": record["eventName"],
                    "eventSource": "aws:dynamodb",
                    "eventSourceARN": arn,
                    "dynamodb": lambda_json(record["dynamodb"]),
                }
            )
    return records


def _kinesis_records(stream: str) -> list[dict[str, Any]]:
    """The Kinesis stream as the Lambda event's records (what the plays consumer receives)."""
    kinesis = boto3.client("kinesis")
    records = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in kinesis.get_records(ShardIterator=iterator)["Records"]:
            records.append(
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": record["PartitionKey"],
                        "sequenceNumber": record["SequenceNumber"],
                        "data": base64.b64encode(record["Data"]).decode("ascii"),
                    },
                    "eventSource": "aws:kinesis",
                    "eventID": f"{shard['ShardId']}:{record['SequenceNumber']}",
                }
            )
    return records


def _rename(playlists_api: Any, playlist_id: str, owner: str, headers: dict[str, str]) -> dict[str, Any]:
    request = api_event(
        "PATCH",
        f"/playlists/{playlist_id}",
        body={"name": "Renamed"},
        claims={"sub": owner},
        route_key="PATCH /playlists/{playlistId}",
    )
    request["headers"].update(headers)
    response: dict[str, Any] = playlists_api.lambda_handler(request, FakeContext())
    assert response["statusCode"] == 200, response
    return response


def test_a_playlist_edit_is_followed_to_the_websocket_message_and_the_fan_out_logs(
    aws: Deployment, context: Any, logs: Captured
) -> None:
    from backbeat.realtime import service

    service._management_client.cache_clear()
    realtime = load_function("realtime", aws)
    playlists_api = load_function("playlists", aws)
    fanout = load_function("fanout", aws)
    owner, token = token_for(aws, "owner@example.com")
    created = playlists_api.lambda_handler(
        api_event("POST", "/playlists", body={"name": "Mix"}, claims={"sub": owner}, route_key="POST /playlists"),
        context,
    )
    playlist_id = json.loads(created["body"])["id"]
    assert created["headers"]["x-correlation-id"] == "req"  # no header: API Gateway's request id
    assert (
        realtime.lambda_handler(socket_event("$connect", "sock", query={"token": token}), context)["statusCode"] == 200
    )
    realtime.lambda_handler(
        socket_event("subscribe", "sock", {"action": "subscribe", "playlistId": playlist_id}), context
    )

    response = _rename(playlists_api, playlist_id, owner, {"X-Correlation-Id": "edit-42"})
    assert response["headers"]["x-correlation-id"] == "edit-42"

    records = _stream_records(aws.outputs["PlaylistsTableName"])
    assert fanout.lambda_handler({"Records": records}, context) == {"batchItemFailures": []}
    changed = [message for message in sent_to("sock") if message["type"] == "playlist.changed"]
    assert [(m["version"], m.get("correlationId")) for m in changed] == [(1, "edit-42")]
    (fanned,) = logs.saying("playlist change fanned out")
    assert (fanned["correlation_id"], fanned["playlistId"], fanned["version"]) == ("edit-42", playlist_id, 1)
    assert fanned["delivered"] == 1
    assert correlation_id() is None, "the record's id does not leak past its record"

    # A replay from the change log carries the same id.
    resync = {"action": "resync", "playlistId": playlist_id, "fromVersion": 1}
    realtime.lambda_handler(socket_event("resync", "sock", resync), context)
    assert sent_to("sock")[-2]["correlationId"] == "edit-42" and sent_to("sock")[-1]["type"] == "resynced"

    # A header that is not a short plain id is not used: the request id stands in.
    for unusable in ("has spaces", "x" * 101, "-leading-dash", "ünïcode"):
        response = _rename(playlists_api, playlist_id, owner, {"x-correlation-id": unusable})
        assert response["headers"]["x-correlation-id"] == "req", unusable
    missing = playlists_api.lambda_handler(
        api_event("GET", "/playlists/nope", claims={"sub": owner}, route_key="GET /playlists/{playlistId}"), context
    )
    assert missing["statusCode"] == 404 and missing["headers"]["x-correlation-id"] == "req"


def test_a_playback_event_is_followed_to_the_plays_consumer_logs(aws: Deployment, context: Any, logs: Captured) -> None:
    seed_songs_and_listeners(aws)
    events_api = load_function("events", aws)
    plays = load_function("plays", aws)
    sent = playback_event()
    request_headers = {"x-correlation-id": "play-7"}
    status, answer = post(events_api, context, [sent], headers=request_headers)
    assert status == 202 and answer["accepted"] == 1

    records = _kinesis_records(aws.outputs["PlaybackEventsStreamName"])
    assert len(records) == 1
    assert plays.lambda_handler({"Records": records}, context) == {"batchItemFailures": []}
    (recorded,) = logs.saying("playback event recorded")
    assert (recorded["correlation_id"], recorded["eventId"]) == ("play-7", sent["eventId"])

    # The play record carries it on: the plays table's stream hands it to the counters and the lake.
    play_changes = _stream_records(aws.outputs["PlaysTableName"])
    assert play_changes, "the plays consumer wrote the play"
    counters = load_function("counters", aws)
    assert counters.lambda_handler({"Records": play_changes}, context) == {"batchItemFailures": []}
    (counted,) = logs.saying("billable play counted")
    assert (counted["correlation_id"], counted["playId"]) == ("play-7", sent["playId"])
    lake = load_function("lake_plays", aws)
    lake.deliver = lambda firehose, stream, lines: {sequence for sequence, _ in lines}  # Firehose refuses all
    refused = lake.lambda_handler({"Records": play_changes}, context)["batchItemFailures"]
    not_delivered = logs.saying("play change not delivered; the stream delivers it again")
    assert refused and len(not_delivered) == len(refused)
    assert {line["correlation_id"] for line in not_delivered} == {"play-7"}
    assert correlation_id() is None, "the record's id does not leak past its record"


def test_a_play_closed_by_a_newer_play_carries_the_newer_events_id(aws: Deployment, context: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from backbeat.plays.records import play_key
    from tests.unit.test_playback_ingest import LISTENER

    seed_songs_and_listeners(aws)
    events_api, plays = load_function("events", aws), load_function("plays", aws)
    started = datetime.now(UTC) - timedelta(minutes=5)
    first = playback_event(type="start", positionMs=0, playedMs=0, occurredAt=started.isoformat())
    second = playback_event(
        type="start", positionMs=0, playedMs=0, occurredAt=(started + timedelta(seconds=10)).isoformat()
    )
    table = boto3.client("dynamodb")
    for sent, request_id in ((first, "play-1"), (second, "play-2")):
        assert post(events_api, context, [sent], headers={"x-correlation-id": request_id})[0] == 202
        assert plays.lambda_handler(
            {"Records": _kinesis_records(aws.outputs["PlaybackEventsStreamName"])}, context
        ) == {"batchItemFailures": []}
    key = {"userId": {"S": LISTENER}, "sk": {"S": play_key(first["playId"])}}
    left = table.get_item(TableName=aws.outputs["PlaysTableName"], Key=key, ConsistentRead=True)["Item"]
    assert left["ended"]["S"] == "abandoned"  # the device moved on to the second play
    assert left["correlationId"]["S"] == "play-2"  # the change was the second request's


def test_a_song_written_by_an_encode_run_is_indexed_under_the_runs_id(
    aws: Deployment, context: Any, logs: Captured
) -> None:
    from backbeat.catalog.models import META, SongItem, new_song, song_key
    from backbeat.media import pipeline
    from backbeat.media.masters import MASTERS_PREFIX, song_id_for_key

    master = f"{MASTERS_PREFIX}lucky-man.flac"
    song_id = song_id_for_key(master)
    with correlated("encode-run-5"):
        new_song(
            song_id,
            title="Lucky Man",
            artist_id="a1",
            artist_name="Montgomery Gentry",
            album_id="al1",
            album_title="Lucky Man",
            album_type="single",
            duration_ms=1000,
            status="ready",
        ).save()
        pipeline.mark_failed(master, {"Error": "Transcode", "Cause": "no audio stream"})
    song = SongItem.get(song_key(song_id), META)
    assert (song.status, song.correlation_id) == ("failed", "encode-run-5")

    indexer = load_function("search_indexer", aws)
    indexer.client = _EveryActionFails()
    records = _stream_records(aws.outputs["CatalogTableName"])
    assert len(records) == 2
    response = indexer.lambda_handler({"Records": records}, context)
    assert len(response["batchItemFailures"]) == 2  # the song indexed, then taken out when it failed
    warned = logs.saying("record not indexed; the stream delivers it again")
    assert [line["correlation_id"] for line in warned] == ["encode-run-5", "encode-run-5"]


class _EveryActionFails:
    """A search engine answering every action of a bulk request with a 503."""

    def bulk(self, body: list[dict[str, Any]]) -> dict[str, Any]:
        actions = [line for line in body if set(line) & {"index", "delete"}]
        return {"errors": True, "items": [{next(iter(action)): {"status": 503}} for action in actions]}


def test_a_queued_job_carries_the_id_in_a_message_attribute(aws: Deployment, context: Any, logs: Captured) -> None:
    with correlated("download-9"):
        attributes = correlation_message_attributes()
    assert attributes == {"correlationId": {"DataType": "String", "StringValue": "download-9"}}
    assert correlation_message_attributes() == {}
    worker = load_function("download_worker", aws)
    record = {
        "messageId": "m1",
        "receiptHandle": "r",
        "body": "not a job",
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {"correlationId": {"stringValue": "download-9", "dataType": "String"}},
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
    }
    assert sqs_correlation_id(record) == "download-9"
    assert worker.lambda_handler({"Records": [record]}, context) == {"batchItemFailures": []}
    (skipped,) = logs.saying("unreadable download job skipped")
    assert skipped["correlation_id"] == "download-9"


def test_a_state_machine_task_logs_under_its_inputs_id(logs: Captured) -> None:
    @lambda_entry()
    def task(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.info("task ran")
        return {"ok": True}

    task({"correlationId": "run-2026-12", "step": "prepare"}, FakeContext())
    task({"step": "prepare"}, FakeContext())
    ran = logs.saying("task ran")
    assert [line.get("correlation_id") for line in ran] == ["run-2026-12", None]


def _lambda_tasks(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in states.items():
        if state["Type"] == "Task" and str(state.get("Resource", "")).endswith("FunctionArn}"):
            yield name, state
        for branch in state.get("Branches") or []:
            yield from _lambda_tasks(branch["States"])


def test_every_state_machine_lambda_task_is_given_the_executions_id() -> None:
    """Each Lambda task of the top-level flows gets `correlationId` (the execution's name), which
    `lambda_entry` logs under; a distributed map's children get their items as sent."""
    tasks = 0
    for path in sorted((ROOT / "statemachines").glob("*.asl.json")):
        for name, state in _lambda_tasks(json.loads(path.read_text())["States"]):
            assert state["Parameters"]["correlationId.$"] == "$$.Execution.Name", f"{path.name}: {name}"
            tasks += 1
    assert tasks >= 10
