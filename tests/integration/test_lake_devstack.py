"""The event lake in a running devstack: an event on the playback events stream and a play record
written to the plays table reach the lake as Parquet (through the devstack's Firehose and the plays
export function), `backbeat analytics sql` finds them, and `backbeat analytics aggregate` runs the daily
aggregates state machine, whose figures the same `sql` command then reads."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from tests.conftest import RunningStack

pytestmark = pytest.mark.integration

T = TypeVar("T")


def eventually(check: Callable[[], T | None], timeout: float = 60, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.5)


def sql_json(devstack: RunningStack, query: str) -> list[dict[str, Any]]:
    run = devstack.cli("analytics", "sql", query, "--json")
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines() if line]


def test_plays_and_events_reach_the_lake_and_the_daily_aggregates(devstack: RunningStack) -> None:
    user = f"lake-{uuid.uuid4().hex[:8]}"
    play_id = str(uuid.uuid4())
    day = "2025-06-01"  # a day no other test plays on
    play = {
        "userId": user,
        "sk": f"PLAY#{play_id}",
        "playId": play_id,
        "songId": "L" * 22,
        "artistId": "lake-artist",
        "genres": ["jazz"],
        "tier": "premium",
        "country": "SE",
        "deviceId": "phone-1",
        "deviceType": "mobile",
        "contextType": "album",
        "contextId": "album-1",
        "startedAt": f"{day}T10:00:00.000Z",
        "lastEventAt": f"{day}T10:00:45.000Z",
        "receivedAt": f"{day}T10:00:45.200Z",
        "playedMs": 45_000,
        "durationMs": 180_000,
        "bitrateKbps": 160,
        "ended": "completed",
        "billable": True,
        "reason": "billable",
        "events": 4,
        "version": 4,
    }
    tables = devstack.client("dynamodb").list_tables()["TableNames"]
    (plays_table,) = [name for name in tables if name.endswith("-PlaysTable")]
    devstack.resource("dynamodb").Table(plays_table).put_item(Item=play)
    event_id = str(uuid.uuid4())
    event = {
        "eventId": event_id,
        "playId": play_id,
        "type": "end",
        "songId": "L" * 22,
        "positionMs": 45_000,
        "playedMs": 45_000,
        "bitrateKbps": 160,
        "deviceId": "phone-1",
        "deviceType": "mobile",
        "context": {"type": "album", "id": "album-1"},
        "occurredAt": f"{day}T10:00:45.000Z",
        "userId": user,
        "tier": "premium",
        "country": "SE",
        "receivedAt": f"{day}T10:00:45.200Z",
        "artistId": "lake-artist",
        "durationMs": 180_000,
        "genres": ["jazz"],
    }
    kinesis = devstack.client("kinesis")
    (stream,) = [name for name in kinesis.list_streams()["StreamNames"] if name.endswith("-PlaybackEventsStream")]
    kinesis.put_record(StreamName=stream, Data=json.dumps(event).encode(), PartitionKey=user)

    plays = eventually(
        lambda: sql_json(devstack, f"SELECT playId, billable, reason FROM plays WHERE userId = '{user}'"),
        what="the play in the lake",
    )
    assert plays == [{"playId": play_id, "billable": True, "reason": "billable"}]
    events = eventually(
        lambda: sql_json(devstack, f"SELECT eventId, contextType, dt FROM events WHERE userId = '{user}'"),
        what="the event in the lake",
    )
    assert events == [{"eventId": event_id, "contextType": "album", "dt": day}]

    run = devstack.cli("analytics", "aggregate", "--day", day)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1])["day"] == day
    totals = sql_json(
        devstack,
        f"SELECT plays, billableplays, listeners FROM daily_artist WHERE dt = '{day}' "
        "AND artistid = 'lake-artist' AND country = 'all'",
    )
    assert totals == [{"plays": 1, "billableplays": 1, "listeners": 1}]
