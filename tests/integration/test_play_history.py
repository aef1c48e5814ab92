"""Play records on the devstack: playback events on the stream (what POST /events/playback puts
there) become play records through the Kinesis event source mapping, and the listener sees them in
GET /me/recently-played, the operator with `backbeat plays list`."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from backbeat.plays.events import StreamedEvent
from tests.support import http


def _events(user_id: str, song: dict[str, Any], seconds: int, at: datetime, ending: str) -> list[StreamedEvent]:
    play_id = str(uuid.uuid4())
    marks = [
        ("start", 0),
        *[("progress", ms) for ms in range(15_000, seconds * 1000, 15_000)],
        (ending, seconds * 1000),
    ]
    return [
        StreamedEvent.model_validate(
            {
                "eventId": str(uuid.uuid4()),
                "playId": play_id,
                "type": kind,
                "songId": song["id"],
                "positionMs": ms,
                "playedMs": ms,
                "bitrateKbps": 160,
                "deviceId": "it-phone",
                "deviceType": "mobile",
                "context": {"type": "album", "id": song["album"]["id"]},
                "occurredAt": at + timedelta(milliseconds=ms),
                "userId": user_id,
                "tier": "free",
                "country": "unknown",
                "receivedAt": at + timedelta(milliseconds=ms),
                "artistId": song["artist"]["id"],
                "durationMs": song["durationMs"],
            }
        )
        for kind, ms in marks
    ]


def test_a_45_s_and_a_10_s_listen_show_in_history_with_their_verdicts(devstack, catalog) -> None:  # type: ignore[no-untyped-def]
    email = f"listener-{uuid.uuid4().hex[:8]}@example.com"
    assert http("POST", f"{devstack.url}/auth/signup", {"email": email, "password": "a-long-password"})[0] == 201
    token = devstack.login(email, "a-long-password")
    user_id = http("GET", f"{devstack.url}/me", token=token)[1]["userId"]
    songs = [http("GET", f"{devstack.url}/songs/{entry.id}", token=token)[1] for entry in catalog.songs[:2]]
    at = datetime.now(UTC) - timedelta(minutes=5)
    long, short = (
        _events(user_id, songs[0], 45, at, "end"),
        _events(user_id, songs[1], 10, at + timedelta(minutes=1), "skip"),
    )
    kinesis = devstack.client("kinesis")
    stream = next(name for name in kinesis.list_streams()["StreamNames"] if "PlaybackEventsStream" in name)
    records = [{"Data": e.to_record(), "PartitionKey": e.partition_key()} for e in long + short]
    assert kinesis.put_records(StreamName=stream, Records=records)["FailedRecordCount"] == 0

    deadline = time.monotonic() + 30
    while True:
        status, body, _ = http("GET", f"{devstack.url}/me/recently-played?limit=2", token=token)
        assert status == 200, body
        if len(body["items"]) == 2 and body["items"][0]["ended"] == "skipped":
            break
        assert time.monotonic() < deadline, f"the plays did not reach the history: {body}"
        time.sleep(0.2)
    newest, oldest = body["items"]
    assert (newest["track"]["id"], newest["playedMs"], newest["billable"], newest["reason"]) == (
        songs[1]["id"],
        10_000,
        False,
        "short",
    )
    assert (oldest["track"]["id"], oldest["playedMs"], oldest["billable"], oldest["reason"]) == (
        songs[0]["id"],
        45_000,
        True,
        "billable",
    )
    assert oldest["context"] == {"type": "album", "id": songs[0]["album"]["id"]}

    listed = devstack.cli("plays", "list", "--user", email, "--json", "--limit", "2")
    assert listed.returncode == 0, listed.stderr
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(line["playId"], line["billable"], line["reason"]) for line in lines] == [
        (str(short[0].playId), False, "short"),
        (str(long[0].playId), True, "billable"),
    ]
