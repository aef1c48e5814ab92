"""Taste profiles learnt from plays: decayed artist and genre weights, folded in once per play and
never lost to a concurrent update, and search personalised by them: a listener who plays one artist
sees that artist's songs rise in an ambiguous search, and nobody else's results move."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backbeat.aws import client
from backbeat.plays import counters, taste
from backbeat.plays.counter_store import bind_counters_table
from backbeat.plays.taste import Listening, load_profile
from backbeat.search.text import fold
from backbeat_ops.dataset import Catalog
from tests.support import api_event
from tests.unit import test_search
from tests.unit.conftest import load_function
from tests.unit.counters_stream import PlaysStream

small_catalog = test_search.small_catalog  # the search tests' catalog and index, as fixtures here
indexed = test_search.indexed

HALF_LIFE = timedelta(days=30)
NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)


def _play(artist: str, started_at: datetime, user: str = "alice", genres: tuple[str, ...] = ()) -> counters.Play:
    return counters.Play(
        play_id=str(uuid.uuid4()),
        user_id=user,
        song_id="4GiXBCUF7H6YfNQsnBRIzl",
        artist_id=artist,
        genres=genres,
        started_at=started_at,
        last_event_at=started_at + timedelta(seconds=45),
        billable=True,
        ended="completed",
    )


def _empty() -> Listening:
    return Listening({}, {}, None, ())


def test_plays_decay_with_the_half_life_whatever_order_they_arrive_in() -> None:
    old, new = _play("a1", NOW - HALF_LIFE, genres=("jazz",)), _play("a2", NOW, genres=("jazz", "soul"))
    in_order = _empty().folded(old, HALF_LIFE).folded(new, HALF_LIFE)
    reversed_ = _empty().folded(new, HALF_LIFE).folded(old, HALF_LIFE)
    for listening in (in_order, reversed_):
        assert listening.artist_scores == pytest.approx({"a1": 0.5, "a2": 1.0})  # a month old: half a play
        assert listening.genre_scores == pytest.approx({"jazz": 1.5, "soul": 1.0})
        assert listening.decayed_at == NOW
        assert [entry["playId"] for entry in listening.recent_plays] == [new.play_id, old.play_id]
    artists, genres = in_order.weights()
    assert artists == pytest.approx({"a1": 0.5 / 2.5, "a2": 1 / 3})  # score / (score + 2)
    assert all(0 < weight < 1 for weight in [*artists.values(), *genres.values()])


def test_recent_plays_keep_the_latest_fifty_newest_first() -> None:
    listening = _empty()
    for minute in range(60):
        listening = listening.folded(_play("a1", NOW + timedelta(minutes=minute)), HALF_LIFE)
    assert len(listening.recent_plays) == 50
    assert listening.recent_plays[0]["startedAt"] == "2026-12-03T06:59:00.000Z"


@pytest.fixture
def tables(aws: Any) -> Any:
    bind_counters_table(aws.tables["CountersTable"])
    taste.bind_taste_table(aws.tables["TasteTable"])
    return aws


def test_a_play_is_folded_once_and_a_concurrent_update_is_not_lost(
    tables: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _play("a1", NOW), _play("a2", NOW + timedelta(minutes=4))
    assert taste.fold_billable_play(first, HALF_LIFE) is True
    assert taste.fold_billable_play(first, HALF_LIFE) is False  # the same play again: no change
    assert load_profile("alice").artists == pytest.approx({"a1": 1 / 3})

    # Another update lands between this update's read and its write: the write is refused on the
    # version, read again and applied on top, so both plays are in the profile.
    dynamodb = client("dynamodb")
    real_write = dynamodb.transact_write_items
    raced: list[bool] = []

    def racing_write(**request: Any) -> Any:
        if not raced:
            raced.append(True)
            monkeypatch.setattr(dynamodb, "transact_write_items", real_write)
            taste.fold_billable_play(second, HALF_LIFE)
            monkeypatch.setattr(dynamodb, "transact_write_items", racing_write)
        return real_write(**request)

    third = _play("a3", NOW + timedelta(minutes=8))
    monkeypatch.setattr(dynamodb, "transact_write_items", racing_write)
    assert taste.fold_billable_play(third, HALF_LIFE) is True
    profile = load_profile("alice")
    assert set(profile.artists) == {"a1", "a2", "a3"}
    item = dynamodb.get_item(TableName=tables.tables["TasteTable"], Key={"userId": {"S": "alice"}})["Item"]
    assert item["version"] == {"N": "3"}
    assert [entry["M"]["artistId"]["S"] for entry in item["recentPlays"]["L"]] == ["a3", "a2", "a1"]


def _song_ids(search: Any, context: Any, user: str) -> list[str]:
    event = api_event("GET", "/search", query={"q": "love", "type": "song", "limit": "50"}, claims={"sub": user})
    response = search.lambda_handler(event, context)
    assert response["statusCode"] == 200
    return [item["id"] for item in json.loads(response["body"])["songs"]["items"]]


def test_playing_one_artist_moves_that_listeners_search_results_and_nobody_elses(
    aws: Any, indexed: Catalog, context: Any
) -> None:
    search = load_function("search", aws)
    consumer = load_function("counters", aws)
    plays = PlaysStream(aws)
    before = {user: _song_ids(search, context, user) for user in ("listener-a", "listener-b")}
    assert before["listener-a"] == before["listener-b"], "nobody has listened to anything yet"

    songs = {song.id: song for song in indexed.songs}
    ranked = [songs[song_id] for song_id in before["listener-a"]]
    exact = [song for song in ranked if fold(song.title) == "love"]
    target = next(song for song in ranked[len(exact) + 8 :] if fold(song.title) != "love")
    artist_songs = [song for song in indexed.songs if song.artist_id == target.artist_id][:3]
    now = datetime.now(UTC)
    for minutes, song in enumerate(artist_songs):
        plays.play(
            "listener-a",
            song.id,
            song.artist_id,
            played_ms=60_000,
            started_at=now - timedelta(minutes=10 - minutes),
            ended="completed",
        )
    response = consumer.lambda_handler(plays.event(), context)
    assert response["batchItemFailures"] == []
    assert target.artist_id in load_profile("listener-a").artists

    search.tastes.clear()  # as 30 s later: a listener's searches in a row read the profile once
    after = {user: _song_ids(search, context, user) for user in ("listener-a", "listener-b")}
    assert after["listener-b"] == before["listener-b"], "B has not listened: B's results do not move"
    assert after["listener-a"] != before["listener-a"]
    assert after["listener-a"].index(target.id) < before["listener-a"].index(target.id)
    on_top = [fold(songs[song_id].title) for song_id in after["listener-a"][: len(exact)]]
    assert on_top == ["love"] * len(exact), "exact title matches stay on top whatever the taste"
