"""Playback reporting on the session devstack: a listener's client reports a play through the local
gateway (JWT authorizer, real token) and its events land on the playback events stream keyed by that
listener, with their tier and country; the same outbox sent again is all duplicates; no token is 401."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from backbeat.plays.events import StreamedEvent
from backbeat_client.reporting import ApiSender, Outbox, PlaybackReporter, PlayTracker
from backbeat_ops.dataset import Catalog
from tests.conftest import RunningStack
from tests.support import http

pytestmark = pytest.mark.integration


class StepClock:
    def __init__(self) -> None:
        self.time = 0.0

    def now(self) -> float:
        return self.time


def streamed(stack: RunningStack, event_ids: set[str]) -> list[tuple[str, StreamedEvent]]:
    """The records on the devstack's playback events stream with these eventIds: (partition key, event)."""
    kinesis = stack.client("kinesis")
    name = stack.stack_output("PlaybackEventsStreamName")
    found = []
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=1000)
            for record in page["Records"]:
                event = StreamedEvent.from_record(record["Data"])
                if str(event.eventId) in event_ids:
                    found.append((record["PartitionKey"], event))
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return found


def test_a_reported_play_reaches_the_stream_once(devstack: RunningStack, catalog: Catalog, tmp_path: Path) -> None:
    email = f"listener-{uuid.uuid4().hex[:10]}@example.com"
    status, user, _ = http("POST", f"{devstack.url}/auth/signup", {"email": email, "password": "a-long-password"})
    assert status == 201, user
    token = devstack.login(email, "a-long-password")
    song = catalog.songs[0]

    clock = StepClock()
    sender = ApiSender(devstack.url, lambda: token)
    # Sent in one flush at the end (not as the interval passes), so the test knows what went.
    reporter = PlaybackReporter(Outbox(tmp_path / "outbox"), sender, clock=clock, flush_interval_seconds=3600)
    play = PlayTracker(
        reporter,
        song.id,
        device_id="it-laptop",
        device_type="desktop",
        context={"type": "search"},
        clock=clock,
        duration_ms=song.duration_ms,
        started_at=datetime.now(UTC),
    )
    play.start(bitrate_kbps=128)
    for second in range(1, 46):
        clock.time = second
        play.advance(played_ms=second * 1000, position_ms=second * 1000, bitrate_kbps=128)
    play.skip()
    sent = [event["eventId"] for event in reporter.outbox.pending()]
    result = reporter.flush()
    assert (result.settled, result.rejected, result.failed) == (5, 0, False)

    records = streamed(devstack, set(sent))
    assert sorted(str(event.eventId) for _, event in records) == sorted(sent)
    assert {key for key, _ in records} == {user["userId"]}
    assert {(event.userId, event.tier, event.country) for _, event in records} == {(user["userId"], "free", "unknown")}
    assert {event.artistId for _, event in records} == {song.artist_id}

    events: list[dict[str, Any]] = [
        {key: value for key, value in event.model_dump(mode="json").items() if key in play_fields()}
        for _, event in records
    ]
    status, again, _ = http(
        "POST",
        f"{devstack.url}/events/playback",
        {"events": events},
        token=token,
        headers={"CloudFront-Viewer-Country": "no"},
    )
    assert status == 202 and again["duplicates"] == 5, again
    assert len(streamed(devstack, set(sent))) == 5

    status, refused, _ = http("POST", f"{devstack.url}/events/playback", {"events": events})
    assert status == 401, refused


def play_fields() -> set[str]:
    from backbeat.plays.events import PlaybackEvent

    return set(PlaybackEvent.model_fields)
