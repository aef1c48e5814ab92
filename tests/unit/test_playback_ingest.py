"""POST /events/playback over moto: accepted events reach the playback events stream once, keyed by the
listener and enriched with what the service knows; resent events are duplicates and stay off the
stream; every rejection names its field and reason without touching its neighbours; a stream that
refuses entries gets them again, and what it still refuses is answered `retry`, not lost."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from backbeat.plays import ingest
from backbeat.plays.events import StreamedEvent
from devstack.resources import Deployment
from tests.support import api_event
from tests.unit.conftest import load_function

SONG = "SongAAAAAAAAAAAAAAAAAA"  # 200 s, artist "artA", genres
OTHER_SONG = "SongBBBBBBBBBBBBBBBBBB"  # 60 s, no genres yet
LINKED_SONG = "SongCCCCCCCCCCCCCCCCCC"  # 20 s of its own, plays OTHER_SONG's 60 s media
UNKNOWN_SONG = "SongZZZZZZZZZZZZZZZZZZ"
LISTENER = "listener-1"


def _song(song_id: str, duration_ms: int, artist: str, **extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "pk": {"S": f"SONG#{song_id}"},
        "sk": {"S": "META"},
        "entity": {"S": "song"},
        "id": {"S": song_id},
        "title": {"S": song_id},
        "artistId": {"S": artist},
        "artistName": {"S": artist.upper()},
        "albumId": {"S": "alb"},
        "albumTitle": {"S": "Album"},
        "albumType": {"S": "album"},
        "durationMs": {"N": str(duration_ms)},
        "gsi1pk": {"S": f"ARTIST#{artist}"},
        "gsi1sk": {"S": song_id.lower()},
        "gsi2pk": {"S": "ALBUM#alb"},
        "gsi2sk": {"S": "0001"},
        **extra,
    }


def seed_songs_and_listeners(aws: Deployment) -> None:
    dynamodb = boto3.client("dynamodb")
    catalog = aws.outputs["CatalogTableName"]
    genres = {"genres": {"L": [{"S": "indie"}, {"S": "folk"}]}}
    dynamodb.put_item(TableName=catalog, Item=_song(SONG, 200_000, "artA", **genres))
    dynamodb.put_item(TableName=catalog, Item=_song(OTHER_SONG, 60_000, "artB"))
    dynamodb.put_item(TableName=catalog, Item=_song(LINKED_SONG, 20_000, "artC", mediaId={"S": OTHER_SONG}))
    for user, tier in ((LISTENER, "premium"), ("free-listener", "free")):
        dynamodb.put_item(
            TableName=aws.outputs["UsersTableName"],
            Item={"userId": {"S": user}, "email": {"S": f"{user}@x.test"}, "tier": {"S": tier}},
        )


@pytest.fixture
def events_api(aws: Deployment) -> Any:
    seed_songs_and_listeners(aws)
    return load_function("events", aws)


def playback_event(song: str = SONG, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventId": str(uuid.uuid4()),
        "playId": str(uuid.uuid4()),
        "type": "progress",
        "songId": song,
        "positionMs": 45_000,
        "playedMs": 45_000,
        "bitrateKbps": 160,
        "deviceId": "phone-1",
        "deviceType": "mobile",
        "context": {"type": "album", "id": "alb"},
        "occurredAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
    }
    event.update(changes)
    return event


def post(
    module: Any, context: Any, events: Any, user: str = LISTENER, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    request = api_event(
        "POST", "/events/playback", body={"events": events}, claims={"sub": user}, route_key="POST /events/playback"
    )
    request["headers"].update(headers or {})
    response = module.lambda_handler(request, context)
    return int(response["statusCode"]), json.loads(response["body"])


def on_stream(aws: Deployment) -> list[tuple[str, StreamedEvent]]:
    """Every record on the playback events stream: (partition key, event)."""
    kinesis = boto3.client("kinesis")
    name = aws.outputs["PlaybackEventsStreamName"]
    found = []
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        for record in kinesis.get_records(ShardIterator=iterator, Limit=1000)["Records"]:
            found.append((record["PartitionKey"], StreamedEvent.from_record(record["Data"])))
    return found


def test_a_valid_batch_is_accepted_and_on_the_stream_keyed_by_the_listener(aws, events_api, context) -> None:  # type: ignore[no-untyped-def]
    batch = [playback_event(), playback_event(OTHER_SONG, type="start", positionMs=0, playedMs=0)]
    status, answer = post(events_api, context, batch, headers={"CloudFront-Viewer-Country": "se"})
    assert status == 202, answer
    assert answer["results"] == [{"eventId": e["eventId"], "status": "accepted"} for e in batch]
    assert (answer["accepted"], answer["duplicates"], answer["rejected"], answer["retry"]) == (2, 0, 0, 0)
    records = on_stream(aws)
    assert sorted(str(e.eventId) for _, e in records) == sorted(e["eventId"] for e in batch)
    assert {key for key, _ in records} == {LISTENER}
    first = next(e for _, e in records if str(e.eventId) == batch[0]["eventId"])
    assert (first.userId, first.tier, first.country) == (LISTENER, "premium", "SE")
    assert (first.artistId, first.durationMs, first.genres) == ("artA", 200_000, ("indie", "folk"))
    assert first.playedMs == 45_000 and first.context.type == "album"
    assert abs((datetime.now(UTC) - first.receivedAt).total_seconds()) < 60
    second = next(e for _, e in records if str(e.eventId) == batch[1]["eventId"])
    assert (second.artistId, second.genres) == ("artB", ())


def test_a_resent_batch_is_all_duplicates_and_puts_nothing_new(aws, events_api, context) -> None:  # type: ignore[no-untyped-def]
    batch = [playback_event() for _ in range(3)]
    assert post(events_api, context, batch)[1]["accepted"] == 3
    status, again = post(events_api, context, batch)
    assert status == 202
    assert again["results"] == [{"eventId": e["eventId"], "status": "duplicate"} for e in batch]
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    assert len(on_stream(aws)) == 3


def test_the_same_event_twice_in_one_batch_goes_once(aws, events_api, context) -> None:  # type: ignore[no-untyped-def]
    event = playback_event()
    _, answer = post(events_api, context, [event, event])
    assert [r["status"] for r in answer["results"]] == ["accepted", "duplicate"]
    assert len(on_stream(aws)) == 1


def test_a_marker_lives_as_long_as_its_event_could_still_be_accepted(aws, events_api, context) -> None:  # type: ignore[no-untyped-def]
    event = playback_event(occurredAt="2026-01-01T00:00:00Z")
    now = datetime(2026, 1, 2, tzinfo=UTC)
    answer = ingest.ingest(
        [event],
        ingest.Listener(LISTENER, "free", "unknown"),
        rules=ingest.IngestRules(),
        markers=events_api.markers,
        stream=events_api.stream,
        song_facts=events_api.song_facts,
        now=now,
    )
    assert answer.total("accepted") == 1
    item = boto3.client("dynamodb").get_item(
        TableName=aws.outputs["EventIdsTableName"], Key={"eventId": {"S": event["eventId"]}}
    )["Item"]
    assert int(item["expiresAt"]["N"]) == int(datetime(2026, 2, 1, tzinfo=UTC).timestamp())  # + 30 days + 1


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"songId": UNKNOWN_SONG}, "songId", "unknown song"),
        ({"occurredAt": _ago(hours=-6)}, "occurredAt", "more than 5 minutes ahead"),
        ({"occurredAt": _ago(days=30, minutes=1)}, "occurredAt", "older than the 30-day retention"),
        ({"playedMs": 202_001, "positionMs": 100}, "playedMs", "beyond the song's length"),
        ({"positionMs": 202_001}, "positionMs", "beyond the song's length"),
        ({"type": "rewind"}, "type", "type: Input should be"),
        ({"deviceType": "toaster"}, "deviceType", "deviceType"),
        ({"playedMs": -1}, "playedMs", "greater than or equal to 0"),
        ({"context": {"type": "playlist", "extra": 1}}, "context.extra", "Extra inputs are not permitted"),
        ({"occurredAt": "2026-01-01T00:00:00"}, "occurredAt", "timezone"),
        ({"songId": "short"}, "songId", "at least 22 characters"),
        ({"listener": "someone-else"}, "listener", "Extra inputs are not permitted"),
    ],
)
def test_each_rejection_names_its_field_and_reason(aws, events_api, context, changes, field, reason) -> None:  # type: ignore[no-untyped-def]
    event = playback_event(**changes)
    status, answer = post(events_api, context, [event])
    assert status == 202
    [result] = answer["results"]
    assert (result["eventId"], result["status"], result["field"]) == (event["eventId"], "rejected", field), result
    assert reason in result["reason"]
    assert answer["rejected"] == 1 and on_stream(aws) == []


def test_the_length_check_allows_two_seconds_and_uses_the_media_a_song_plays(aws, events_api, context) -> None:  # type: ignore[no-untyped-def]
    within = playback_event(playedMs=201_999, positionMs=200_000)
    linked = playback_event(LINKED_SONG, playedMs=59_000, positionMs=59_000)  # its own 20 s, its media's 60 s
    past_media = playback_event(LINKED_SONG, playedMs=62_001, positionMs=0)
    _, answer = post(events_api, context, [within, linked, past_media])
    assert [r["status"] for r in answer["results"]] == ["accepted", "accepted", "rejected"]
    streamed = {str(e.eventId): e for _, e in on_stream(aws)}
    assert streamed[linked["eventId"]].durationMs == 20_000  # the catalog's length travels on


def test_a_bad_event_among_good_ones_rejects_only_itself(aws, events_api, context) -> None:  # type: ignore[no-untyped-def]
    good = [playback_event(), playback_event(OTHER_SONG, playedMs=10_000, positionMs=10_000)]
    no_type = {key: value for key, value in playback_event().items() if key != "type"}
    batch = [good[0], no_type, "not an event", {"eventId": 7}, good[1]]
    status, answer = post(events_api, context, batch)
    assert status == 202
    statuses = [(r["eventId"], r["status"], r.get("field")) for r in answer["results"]]
    assert statuses == [
        (good[0]["eventId"], "accepted", None),
        (no_type["eventId"], "rejected", "type"),
        (None, "rejected", "event"),
        (None, "rejected", "eventId"),
        (good[1]["eventId"], "accepted", None),
    ]
    assert (answer["accepted"], answer["rejected"]) == (2, 3)
    assert sorted(str(e.eventId) for _, e in on_stream(aws)) == sorted(e["eventId"] for e in good)


@pytest.mark.parametrize("events", [[playback_event() for _ in range(101)], [], "no list"])
def test_a_batch_of_the_wrong_size_or_shape_is_422_naming_events(aws, events_api, context, events) -> None:  # type: ignore[no-untyped-def]
    status, answer = post(events_api, context, events)
    assert status == 422, answer
    assert answer["error"]["code"] == "InvalidInput" and answer["error"]["field"] == "events"
    assert on_stream(aws) == []


def test_a_hundred_events_are_one_batch(aws, events_api, context) -> None:  # type: ignore[no-untyped-def]
    status, answer = post(events_api, context, [playback_event() for _ in range(100)])
    assert (status, answer["accepted"]) == (202, 100)
    assert len(on_stream(aws)) == 100


@pytest.mark.parametrize(
    ("user", "headers", "tier", "country"),
    [
        ("free-listener", {"CloudFront-Viewer-Country": "BR"}, "free", "BR"),
        (LISTENER, {}, "premium", "unknown"),
        (LISTENER, {"cloudfront-viewer-country": "Sweden"}, "premium", "unknown"),
        ("never-signed-up", {"CloudFront-Viewer-Country": "jp"}, "free", "JP"),
    ],
)
def test_tier_and_country_are_the_listeners_at_receive_time(
    aws, events_api, context, user, headers, tier, country
) -> None:  # type: ignore[no-untyped-def]
    _, answer = post(events_api, context, [playback_event()], user=user, headers=headers)
    assert answer["accepted"] == 1
    [(key, event)] = on_stream(aws)
    assert (key, event.userId, event.tier, event.country) == (user, user, tier, country)


def test_a_tier_change_applies_to_the_next_batch(aws, events_api, context) -> None:  # type: ignore[no-untyped-def]
    post(events_api, context, [playback_event()], user="free-listener")
    boto3.client("dynamodb").put_item(
        TableName=aws.outputs["UsersTableName"],
        Item={"userId": {"S": "free-listener"}, "email": {"S": "f@x.test"}, "tier": {"S": "premium"}},
    )
    post(events_api, context, [playback_event()], user="free-listener")
    assert sorted(event.tier for _, event in on_stream(aws)) == ["free", "premium"]


def test_without_a_token_the_function_answers_401(aws, events_api, context) -> None:  # type: ignore[no-untyped-def]
    request = api_event(
        "POST", "/events/playback", body={"events": [playback_event()]}, route_key="POST /events/playback"
    )
    response = events_api.lambda_handler(request, context)
    assert response["statusCode"] == 401 and on_stream(aws) == []


class RefusingKinesis:
    """The real (moto) Kinesis client, except that PutRecords refuses some entries the way a
    throttled shard does (ProvisionedThroughputExceededException on the entry; nothing written)."""

    def __init__(self, refuse: Any) -> None:
        self.real = boto3.client("kinesis")
        self.refuse = refuse  # (attempt, event id) -> bool
        self.calls = 0

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        attempt, self.calls = self.calls, self.calls + 1
        entries: list[dict[str, Any]] = []
        for record in Records:
            event_id = json.loads(record["Data"])["eventId"]
            if self.refuse(attempt, event_id):
                entries.append({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"})
            else:
                answer = self.real.put_records(StreamName=StreamName, Records=[record])
                entries.append(answer["Records"][0])
        return {"FailedRecordCount": sum(1 for e in entries if "ErrorCode" in e), "Records": entries}


def _with_kinesis(monkeypatch: pytest.MonkeyPatch, kinesis: Any) -> None:
    from backbeat.aws import client as real_client

    monkeypatch.setattr(ingest, "client", lambda service: kinesis if service == "kinesis" else real_client(service))


def test_entries_a_partial_failure_refused_are_put_again(aws, events_api, context, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    batch = [playback_event() for _ in range(6)]
    refused_first = {e["eventId"] for e in batch[::2]}
    kinesis = RefusingKinesis(lambda attempt, event_id: attempt == 0 and event_id in refused_first)
    _with_kinesis(monkeypatch, kinesis)
    _, answer = post(events_api, context, batch)
    assert answer["accepted"] == 6 and kinesis.calls == 2
    assert sorted(str(e.eventId) for _, e in on_stream(aws)) == sorted(e["eventId"] for e in batch)


def test_what_the_stream_keeps_refusing_is_answered_retry_and_goes_on_a_resend(
    aws, events_api, context, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    batch = [playback_event() for _ in range(3)]
    stuck = batch[1]["eventId"]
    kinesis = RefusingKinesis(lambda attempt, event_id: event_id == stuck)
    _with_kinesis(monkeypatch, kinesis)
    _, answer = post(events_api, context, batch)
    assert [r["status"] for r in answer["results"]] == ["accepted", "retry", "accepted"]
    assert answer["retry"] == 1 and kinesis.calls == 4  # three more attempts for the refused entry
    kinesis.refuse = lambda attempt, event_id: False  # the stream recovers; the client resends the batch
    _, again = post(events_api, context, batch)
    assert [r["status"] for r in again["results"]] == ["duplicate", "accepted", "duplicate"]
    assert sorted(str(e.eventId) for _, e in on_stream(aws)) == sorted(e["eventId"] for e in batch)


def test_a_stream_that_takes_nothing_is_503_and_leaves_no_markers(aws, events_api, context, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    batch = [playback_event(), playback_event(UNKNOWN_SONG)]
    kinesis = RefusingKinesis(lambda attempt, event_id: True)
    _with_kinesis(monkeypatch, kinesis)
    status, answer = post(events_api, context, batch)
    assert status == 503 and answer["error"]["code"] == "ServiceUnavailable"
    kinesis.refuse = lambda attempt, event_id: False
    _, again = post(events_api, context, batch)
    assert [r["status"] for r in again["results"]] == ["accepted", "rejected"]


def test_event_ids_are_answered_as_sent_and_matched_whatever_their_case(aws, events_api, context) -> None:  # type: ignore[no-untyped-def]
    event = playback_event()
    shouted = {**event, "eventId": event["eventId"].upper()}
    _, first = post(events_api, context, [shouted])
    assert first["results"] == [{"eventId": shouted["eventId"], "status": "accepted"}]
    _, again = post(events_api, context, [event])
    assert again["results"] == [{"eventId": event["eventId"], "status": "duplicate"}]
