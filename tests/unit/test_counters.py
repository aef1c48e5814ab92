"""Live counters: play records written to the plays table, their stream records handed to the
counters consumer as the devstack delivers them, and the counters read back the way the API reads
them (hour windows, listening now, monthly listeners, GET /artists/{id})."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backbeat.catalog.models import bind_catalog_table
from backbeat.plays import counters
from backbeat_ops.dataset import Catalog, load_catalog
from backbeat_ops.seed import seed_catalog
from tests.support import ROOT, api_event
from tests.unit.conftest import load_function
from tests.unit.counters_stream import PlaysStream
from tests.unit.test_catalog import _write_csv

SONG, OTHER_SONG, ARTIST = "4GiXBCUF7H6YfNQsnBRIzl", "5kQ2mB7xYz1LpR9tVw3sNc", "0OdUWJ0sBjDrqHygGUXeCF"


@pytest.fixture
def seeded(aws: Any, tmp_path: Path) -> Catalog:
    """A small catalog: one band with five songs."""
    _write_csv(tmp_path, "dataset-of-90s.csv", [(f"Track {i}", "The Band", f"{i:02d}" + "y" * 20) for i in range(5)])
    catalog = load_catalog(tmp_path)
    bind_catalog_table(aws.tables["CatalogTable"])
    seed_catalog(catalog, workers=1, chunk_size=25)
    return catalog


@pytest.fixture
def consumer(aws: Any) -> Any:
    return load_function("counters", aws)


@pytest.fixture
def plays(aws: Any) -> PlaysStream:
    return PlaysStream(aws)


def _deliver(consumer: Any, context: Any, event: dict[str, Any]) -> list[str]:
    response = consumer.lambda_handler(event, context)
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def _hour(kind: str, entity_id: str, at: datetime) -> tuple[int, int]:
    windows = counters.hour_windows(kind, entity_id, at, at)
    return (windows[0].plays, windows[0].listeners) if windows else (0, 0)


def test_a_play_is_counted_once_when_it_turns_billable(consumer, plays: PlaysStream, context) -> None:  # type: ignore[no-untyped-def]
    started = datetime.now(UTC) - timedelta(seconds=40)
    record = plays.play("alice", SONG, ARTIST, played_ms=15_000)
    assert _deliver(consumer, context, plays.event()) == []
    assert _hour("SONG", SONG, started) == (0, 0), "an open play under 30 s is not counted"

    record = plays.advance(record, playedMs=30_000)
    billable = plays.event()
    assert _deliver(consumer, context, billable) == []
    assert _hour("SONG", SONG, started) == (1, 1)
    assert _hour("ARTIST", ARTIST, started) == (1, 1)

    # the stream delivers the same records again (a retried batch), and the play goes on: no change
    assert _deliver(consumer, context, billable) == []
    plays.advance(record, playedMs=45_000, ended="completed")
    assert _deliver(consumer, context, plays.event()) == []
    assert _hour("SONG", SONG, started) == (1, 1)

    short = plays.play("alice", OTHER_SONG, ARTIST, played_ms=10_000, ended="skipped")
    assert _deliver(consumer, context, plays.event()) == []
    assert not short["billable"] and _hour("SONG", OTHER_SONG, started) == (0, 0)


def test_listeners_are_distinct_per_hour_window(consumer, plays: PlaysStream, context) -> None:  # type: ignore[no-untyped-def]
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    for user, minute in (("alice", 1), ("alice", 20), ("bob", 40)):
        plays.play(user, SONG, ARTIST, played_ms=60_000, started_at=hour + timedelta(minutes=minute), ended="completed")
    plays.play("carol", SONG, ARTIST, played_ms=60_000, started_at=hour + timedelta(hours=1), ended="completed")
    assert _deliver(consumer, context, plays.event()) == []
    assert _hour("SONG", SONG, hour) == (3, 2), "alice played twice in the window: two plays, one listener"
    assert _hour("SONG", SONG, hour + timedelta(hours=1)) == (1, 1), "windows tumble on the start hour"


def test_listening_now_counts_open_recent_plays_once(consumer, plays: PlaysStream, context) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    first = plays.play("alice", SONG, ARTIST, played_ms=5_000, started_at=now - timedelta(minutes=3))
    second = plays.play("bob", SONG, ARTIST, played_ms=5_000, started_at=now - timedelta(seconds=20))
    plays.play("carol", SONG, ARTIST, played_ms=5_000, started_at=now - timedelta(minutes=12))  # went quiet
    assert _deliver(consumer, context, plays.event()) == []
    assert counters.listening_now(SONG) == 2

    first = plays.advance(first, playedMs=100_000, lastEventAt=now.isoformat())  # progress, a later minute
    assert _deliver(consumer, context, plays.event()) == []
    assert counters.listening_now(SONG) == 2, "one play is one listener however many events it sends"

    plays.advance(second, playedMs=19_000, ended="skipped", lastEventAt=now.isoformat())
    assert _deliver(consumer, context, plays.event()) == []
    assert counters.listening_now(SONG) == 1, "an ended play stops counting at once"
    assert counters.listening_now(SONG, now + timedelta(minutes=6)) == 0, "a silent play drops out after 5 minutes"


def test_monthly_listeners_are_distinct_over_28_days(consumer, plays: PlaysStream, context) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    for user, days_ago in (("alice", 20), ("alice", 3), ("alice", 0), ("bob", 10), ("carol", 40)):
        plays.play(user, SONG, ARTIST, played_ms=60_000, started_at=now - timedelta(days=days_ago), ended="completed")
    assert _deliver(consumer, context, plays.event()) == []
    assert counters.monthly_listeners(ARTIST, now) == 2, "alice (three days) once, bob; carol is 40 days ago"
    assert counters.monthly_listeners(ARTIST, now + timedelta(days=19)) == 1, "bob's play has left the 28 days"

    # a late record of an older play changes nothing: alice is already counted on a later day
    plays.play("alice", SONG, ARTIST, played_ms=60_000, started_at=now - timedelta(days=5), ended="completed")
    assert _deliver(consumer, context, plays.event()) == []
    assert counters.monthly_listeners(ARTIST, now) == 2


def test_the_artist_page_shows_monthly_listeners_and_plays_last_hour(  # type: ignore[no-untyped-def]
    aws, seeded: Catalog, consumer, plays: PlaysStream, context
) -> None:
    artist = next(a for a in seeded.artists if len(a.song_ids) > 1)
    now = datetime.now(UTC)
    for user in ("alice", "bob"):
        plays.play(user, artist.song_ids[0], artist.id, played_ms=45_000, started_at=now - timedelta(minutes=1))
    plays.play("alice", artist.song_ids[1], artist.id, played_ms=45_000, started_at=now - timedelta(days=2))
    assert _deliver(consumer, context, plays.event()) == []

    catalog = load_function("catalog", aws)
    response = catalog.lambda_handler(api_event("GET", f"/artists/{artist.id}", claims={"sub": "u"}), context)
    body = json.loads(response["body"])
    assert response["statusCode"] == 200, body
    assert body["monthlyListeners"] == 2
    assert body["playsLastHour"] == 2
    assert body["songs"]["total"] == len(artist.song_ids)


def test_other_items_of_the_plays_table_are_ignored(consumer, plays: PlaysStream, context) -> None:  # type: ignore[no-untyped-def]
    plays.put_state("alice", "DEDUPE#" + SONG)
    event = plays.event()
    assert len(event["Records"]) == 1
    assert _deliver(consumer, context, event) == []
    assert counters.songs_played_on(datetime.now(UTC)) == {}


def test_a_failing_record_is_reported_and_its_neighbours_are_counted(  # type: ignore[no-untyped-def]
    consumer, plays: PlaysStream, context, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = datetime.now(UTC)
    plays.play("alice", SONG, ARTIST, played_ms=40_000, started_at=started)
    plays.play("bob", OTHER_SONG, ARTIST, played_ms=40_000, started_at=started)
    event = plays.event()
    real = counters.count_billable_play

    def flaky(play: counters.Play) -> bool:
        if play.user_id == "alice":
            raise ConnectionError("DynamoDB did not answer")
        return real(play)

    monkeypatch.setattr(counters, "count_billable_play", flaky)
    assert _deliver(consumer, context, event) == [event["Records"][0]["dynamodb"]["SequenceNumber"]]
    assert _hour("SONG", OTHER_SONG, started) == (1, 1) and _hour("SONG", SONG, started) == (0, 0)

    monkeypatch.setattr(counters, "count_billable_play", real)
    assert _deliver(consumer, context, event) == []  # the stream's retry: the whole batch again
    assert _hour("SONG", SONG, started) == (1, 1) and _hour("SONG", OTHER_SONG, started) == (1, 1)


def test_the_sample_event_is_a_play_turning_billable(consumer, context) -> None:  # type: ignore[no-untyped-def]
    event = json.loads((ROOT / "events" / "streams" / "counters_play_records.json").read_text())
    (record,) = event["Records"]
    change = counters.play_change(record)
    assert change is not None and change.turned_billable
    started = change.play.started_at
    for _ in range(2):
        assert _deliver(consumer, context, event) == []
        assert _hour("SONG", change.play.song_id, started) == (1, 1)
    assert counters.songs_played_on(started) == {change.play.song_id: 1}
