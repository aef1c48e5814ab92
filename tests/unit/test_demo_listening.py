"""Demo listening: synthetic listeners whose plays follow Last.fm play counts, reported as a client
reports them, sent once through POST /events/playback."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from backbeat.plays.events import BILLABLE_MS, MAX_BATCH, PlaybackEvent
from backbeat_ops.listening import (
    PROGRESS_EVERY_MS,
    WINDOW_DAYS,
    CatalogSong,
    DemoListening,
    generate_listening,
)
from backbeat_ops.listening_sender import ListeningSender, SendFailed

NOW = datetime(2026, 12, 3, 6, 30, 12, 345000, tzinfo=UTC)


def _song(artist: int, number: int) -> CatalogSong:
    song_id = f"{artist:02d}{number:02d}".ljust(22, "x")
    return CatalogSong(song_id, f"artist{artist}", f"album{artist}{number}", 120_000 + 20_000 * number, hit=number == 0)


SONGS = [_song(artist, number) for artist in range(12) for number in range(4)]
# 30 Last.fm users: user u listened to artists u % 12 .. (u % 12) + 6 (wrapping), the first one most.
PLAYS_BY_USER = {
    user: {f"artist{(user + offset) % 12}": 1000 // (offset + 1) for offset in range(7)} for user in range(100, 130)
}


def _generate(**options: Any) -> DemoListening:
    options = {"listeners": 10, "plays_per_listener": (20, 40)} | options
    return generate_listening(PLAYS_BY_USER, SONGS, options.pop("now", NOW), **options)


def _wire(listening: DemoListening) -> dict[str, list[dict[str, Any]]]:
    return {listener.email: listening.events(listener.email) for listener in listening.listeners}


def test_the_same_seed_gives_the_same_listeners_plays_and_events() -> None:
    first, again = _generate(), _generate()

    assert [listener.email for listener in first.listeners] == [
        f"listener-{n:04d}@demo.backbeat.dev" for n in range(1, 11)
    ]
    assert _wire(first) == _wire(again)
    assert _wire(_generate(seed=11)) != _wire(first)


def test_event_ids_do_not_depend_on_when_the_replay_runs() -> None:
    """An interrupted replay sent again later is answered `duplicate` for what was accepted."""
    earlier, later = _generate(), _generate(now=NOW + timedelta(hours=5))
    ids = {email: [event["eventId"] for event in events] for email, events in _wire(earlier).items()}

    assert ids == {email: [event["eventId"] for event in events] for email, events in _wire(later).items()}
    every = [event_id for listed in ids.values() for event_id in listed]
    assert len(every) == len(set(every))


def test_every_event_is_a_valid_playback_event_within_the_last_four_weeks() -> None:
    listening = _generate()
    for events in _wire(listening).values():
        for event in events:
            parsed = PlaybackEvent.model_validate(event)
            assert NOW - timedelta(days=WINDOW_DAYS + 1) < parsed.occurredAt < NOW - timedelta(minutes=5)


def test_a_listeners_plays_follow_their_last_fm_play_counts() -> None:
    plays_by_user = {7: {"artist0": 900, "artist1": 90, "artist2": 10, "artist3": 1, "artist4": 1}}
    listening = generate_listening(plays_by_user, SONGS, NOW, listeners=1, plays_per_listener=(600, 600))
    (listener,) = listening.listeners
    plays = listening.plays[listener.email]

    by_artist = Counter(play.song.artist_id for play in plays)
    assert listener.lastfm_user == 7 and len(plays) > 500
    assert 0.83 < by_artist["artist0"] / len(plays) < 0.95
    assert 0.05 < by_artist["artist1"] / len(plays) < 0.15
    assert set(by_artist) <= set(plays_by_user[7])
    # Hits (weight 3) are played more than the artist's other songs (weight 1 each).
    songs = Counter(play.song.id for play in plays if play.song.artist_id == "artist0")
    assert songs[_song(0, 0).id] > max(count for song, count in songs.items() if song != _song(0, 0).id)


def test_users_with_too_few_catalog_artists_are_not_listeners() -> None:
    plays_by_user = {1: {"artist0": 5, "artist1": 5}, 2: {f"artist{n}": 5 for n in range(6)}}
    listening = generate_listening(plays_by_user, SONGS, NOW, listeners=10, min_artists=5)

    assert [listener.lastfm_user for listener in listening.listeners] == [2]


def test_each_play_is_a_consistent_event_sequence() -> None:
    listening = _generate(listeners=20)
    endings: Counter[str] = Counter()
    for plays in listening.plays.values():
        for play in plays:
            events = play.events
            kinds = [event["type"] for event in events]
            times = [datetime.fromisoformat(event["occurredAt"]) for event in events]
            endings[play.ending] += 1
            assert kinds[0] == "start" and events[0]["playedMs"] == events[0]["positionMs"] == 0
            assert kinds[-1] == {"completed": "end", "skipped": "skip", "abandoned": "pause"}[play.ending]
            assert events[-1]["playedMs"] == play.played_ms <= play.song.duration_ms
            assert all(event["playedMs"] == event["positionMs"] for event in events)  # no seeks
            assert times == sorted(times)
            assert len({(event["playId"], event["songId"], event["deviceId"]) for event in events}) == 1
            progress = [event["playedMs"] for event in events if event["type"] == "progress"]
            assert progress == list(range(PROGRESS_EVERY_MS, play.played_ms, PROGRESS_EVERY_MS))
            listened = [(event["playedMs"], time) for event, time in zip(events, times, strict=True)]
            if "resume" not in kinds:  # wall-clock time moves with listened time
                assert all(time - times[0] == timedelta(milliseconds=ms) for ms, time in listened)
            else:
                resume = kinds.index("resume")
                assert events[resume]["positionMs"] == events[resume - 1]["positionMs"]
                assert times[resume] - times[resume - 1] >= timedelta(seconds=5)
            if play.ending == "completed":
                assert play.played_ms == play.song.duration_ms
    plays = [play for listed in listening.plays.values() for play in listed]
    billable = sum(play.billable for play in plays) / len(plays)
    early_skips = [play for play in plays if play.ending == "skipped" and play.played_ms < BILLABLE_MS]
    assert 0.65 < billable < 0.9
    assert endings["completed"] > endings["skipped"] > endings["abandoned"] > 0
    assert 0.1 < len(early_skips) / len(plays) < 0.3


def test_a_listener_plays_one_song_at_a_time_at_realistic_hours() -> None:
    listening = _generate(listeners=20)
    hours: Counter[int] = Counter()
    for plays in listening.plays.values():
        for before, after in pairwise(plays):
            assert after.started_at > before.finished_at
        hours.update(play.started_at.hour for play in plays)
    night = sum(hours[hour] for hour in range(2, 6))
    evening = sum(hours[hour] for hour in range(18, 22))
    assert evening > 3 * night


# ------------------------------------------------------------------------------------ sending
class FakeApi:
    """The API as a client sees it: signup, login and POST /events/playback with its 202 contract
    (a result per event; an event id seen before is a duplicate). It can answer 503 to a request and
    `retry` to the events of another, once each."""

    def __init__(self, fail_request: int | None = None, retry_request: int | None = None) -> None:
        self.users: set[str] = set()
        self.tokens: dict[str, str] = {}
        self.seen: set[str] = set()
        self.received: dict[str, list[dict[str, Any]]] = {}
        self.batches: list[int] = []
        self.requests = 0
        self.fail_request = fail_request
        self.retry_request = retry_request

    def __call__(self, url: str, body: dict[str, Any], token: str | None) -> tuple[int, Any]:
        path = url.removeprefix("http://stack")
        if path == "/auth/signup":
            if body["email"] in self.users:
                return 409, {"error": {"code": "conflict", "message": "exists"}}
            self.users.add(body["email"])
            return 201, {"email": body["email"]}
        if path == "/auth/login":
            self.tokens[token := uuid.uuid4().hex] = body["email"]
            return 200, {"accessToken": token, "idToken": "x", "expiresIn": 3600}
        assert path == "/events/playback"
        if token not in self.tokens:
            return 401, {"message": "Unauthorized"}
        self.requests += 1
        if self.requests == self.fail_request:
            return 503, {"error": {"code": "unavailable", "message": "try again"}}
        assert 1 <= len(body["events"]) <= MAX_BATCH
        self.batches.append(len(body["events"]))
        results = []
        for event in body["events"]:
            if self.requests == self.retry_request:
                results.append({"eventId": event["eventId"], "status": "retry"})
                continue
            duplicate = event["eventId"] in self.seen
            self.seen.add(event["eventId"])
            if not duplicate:
                self.received.setdefault(self.tokens[token], []).append(event)
            results.append({"eventId": event["eventId"], "status": "duplicate" if duplicate else "accepted"})
        return 202, {"results": results}


def _sender(api: FakeApi, **options: Any) -> ListeningSender:
    return ListeningSender("http://stack", "pw", post=api, sleep=lambda seconds: None, **options)


def test_every_event_arrives_once_in_order_as_its_listener_with_their_tier() -> None:
    listening = _generate(listeners=4)
    api = FakeApi(fail_request=2, retry_request=3)
    tiers: dict[str, str] = {}

    report = _sender(api, set_tier=tiers.__setitem__).send(listening)

    assert api.received == _wire(listening)  # each listener's own events, in order, once
    assert report.statuses == Counter({"accepted": listening.event_count})
    assert (report.listeners, report.plays, report.events) == (4, listening.play_count, listening.event_count)
    assert tiers == {listener.email: listener.tier for listener in listening.listeners}
    assert max(api.batches) == MAX_BATCH


def test_sending_again_changes_nothing() -> None:
    listening = _generate(listeners=2)
    api = FakeApi()
    _sender(api).send(listening)

    report = _sender(api).send(listening)

    assert report.statuses == Counter({"duplicate": listening.event_count})
    assert sum(len(events) for events in api.received.values()) == listening.event_count


def test_a_missing_endpoint_stops_the_replay_with_the_reason() -> None:
    def no_route(url: str, body: dict[str, Any], token: str | None) -> tuple[int, Any]:
        if url.endswith("/auth/login"):
            return 200, {"accessToken": "t"}
        return (201, {}) if url.endswith("/auth/signup") else (404, {"message": "Not Found"})

    with pytest.raises(SendFailed, match="404"):
        ListeningSender("http://stack", "pw", post=no_route).send(_generate(listeners=1))


def test_a_stop_request_ends_the_replay_between_batches() -> None:
    listening = _generate(listeners=3)
    api = FakeApi()
    report = _sender(api, stopping=lambda: api.requests >= 2).send(listening)

    assert api.requests == 2 and report.listeners == 0 and report.events == 2 * MAX_BATCH


# ------------------------------------------------------------------------------------ once per data dir
def test_the_replay_runs_once_per_saved_state(tmp_path: Path) -> None:
    from devstack.demo_listening import MARKER, already_sent
    from devstack.persistence import META_FILE

    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    marker, meta = tmp_path / MARKER, snapshot / META_FILE
    assert not already_sent(tmp_path, snapshot, restored=True)  # never sent
    marker.write_text("{}")
    meta.write_text("{}")
    os.utime(marker, (1_000, 1_000))
    os.utime(meta, (2_000, 2_000))
    assert already_sent(tmp_path, snapshot, restored=True)  # saved after the replay
    assert not already_sent(tmp_path, snapshot, restored=False)  # clean state: send again
    os.utime(marker, (3_000, 3_000))
    assert not already_sent(tmp_path, snapshot, restored=True)  # the stop after the replay was not saved


# ------------------------------------------------------------------------------------ the real endpoint
EVENTS_FUNCTION = Path(__file__).resolve().parents[2] / "functions" / "events" / "app.py"


@pytest.mark.skipif(
    not EVENTS_FUNCTION.is_file(), reason="POST /events/playback (functions/events) is not in this tree"
)
def test_the_real_ingest_accepts_every_demo_event_and_streams_it_by_listener(aws, context) -> None:  # type: ignore[no-untyped-def]
    """The generator speaks the endpoint's contract: nothing is rejected (length, time window, shape)
    and every event is on the playback stream once, under its listener, with the song's genres."""
    import json

    import boto3

    from backbeat.catalog.models import bind_catalog_table, new_song
    from backbeat.plays.events import StreamedEvent
    from tests.support import api_event
    from tests.unit.conftest import load_function

    bind_catalog_table(aws.tables["CatalogTable"])
    for song in SONGS:
        genres = ["grunge", "rock"] if song.artist_id == "artist0" else None
        names = {"title": song.id, "artist_name": song.artist_id, "album_title": song.id, "album_type": "single"}
        new_song(
            song.id,
            artist_id=song.artist_id,
            album_id=song.album_id,
            duration_ms=song.duration_ms,
            genres=genres,
            **names,
        ).save()
    listening = generate_listening(PLAYS_BY_USER, SONGS, datetime.now(UTC), listeners=2, plays_per_listener=(15, 15))
    dynamodb = boto3.client("dynamodb")
    for listener in listening.listeners:
        item = {"userId": {"S": listener.email}, "email": {"S": listener.email}, "tier": {"S": listener.tier}}
        dynamodb.put_item(TableName=aws.tables["UsersTable"], Item=item)
    events_function = load_function("events", aws)

    def api(url: str, body: dict[str, Any], token: str | None) -> tuple[int, Any]:
        if url.endswith("/auth/signup"):
            return 201, {}
        if url.endswith("/auth/login"):
            return 200, {"accessToken": body["email"]}
        request = api_event("POST", "/events/playback", body=body, claims={"sub": str(token)})
        response = events_function.lambda_handler(request, context)
        return int(response["statusCode"]), json.loads(response["body"])

    report = ListeningSender("http://stack", "pw", post=api).send(listening)

    assert report.statuses == Counter({"accepted": listening.event_count}), report.rejections
    kinesis = boto3.client("kinesis")
    stream = aws.outputs["PlaybackEventsStreamName"]
    streamed: list[tuple[str, StreamedEvent]] = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )
        answer = kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=10_000)
        streamed += [
            (record["PartitionKey"], StreamedEvent.from_record(record["Data"])) for record in answer["Records"]
        ]
    assert sorted(str(event.eventId) for _, event in streamed) == sorted(
        event["eventId"] for listener in listening.listeners for event in listening.events(listener.email)
    )
    assert all(key == event.userId for key, event in streamed)
    assert {event.genres for _, event in streamed if event.artistId == "artist0"} <= {("grunge", "rock")}


def test_a_session_repeats_a_song_only_when_its_artist_has_no_other() -> None:
    listening = _generate(listeners=20)
    for plays in listening.plays.values():
        session: list[str] = []
        for before, play in zip([None, *plays], plays, strict=False):
            if before is None or play.started_at - before.finished_at > timedelta(minutes=5):
                session = []
            others = {song.id for song in SONGS if song.artist_id == play.song.artist_id} - set(session)
            assert play.song.id not in session or not others
            session.append(play.song.id)
