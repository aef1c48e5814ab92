"""Discover Weekly: 30 songs never played, at most 2 per artist, at least 5 genres when the pool
allows, none from last week's list; a real playlist made and renewed through the playlists service."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from backbeat.catalog.models import bind_catalog_table, new_song
from backbeat.errors import InvalidInput, NotFound
from backbeat.ids import base62_id
from backbeat.playlists import service as playlists
from backbeat.playlists.models import bind_playlists_table
from backbeat.recs.discover import bind_discover_weekly_table, generate_weekly, monday_of, pick_weekly
from backbeat.recs.rerank import Ranked
from backbeat.recs.serving import RecsAnswer, RecsRequest, Seeds, SongTraits
from backbeat.recs.variants import Split
from tests.support import api_event
from tests.unit.conftest import load_function
from tests.unit.test_lake_firehose import play
from tests.unit.test_lake_sql import deliver, hub  # noqa: F401 (a fixture)

GENRES = ["rock", "jazz", "pop", "folk", "soul", "metal", "blues"]
SONGS = [base62_id("discover", str(n)) for n in range(120)]
LISTENER = "listener-sub"


def artist_of(n: int) -> str:
    return base62_id("artist", str(n // 4))  # four songs per artist


def genre_of(n: int) -> str:
    return "rock" if n < 60 else GENRES[n % len(GENRES)]  # the best 60 are all rock


TRAITS = {song: SongTraits(artist_of(n), None, (genre_of(n),)) for n, song in enumerate(SONGS)}


def test_the_week_is_thirty_unheard_songs_two_per_artist_five_genres() -> None:
    played = set(SONGS[:10])
    last_week = set(SONGS[10:20])
    week = pick_weekly(SONGS, TRAITS, played | last_week)
    assert len(week) == 30 and not set(week) & (played | last_week)
    artists = [TRAITS[song].artist_id for song in week]
    assert max(artists.count(artist) for artist in artists) <= 2
    assert len({genre for song in week for genre in TRAITS[song].genres}) >= 5
    assert week == [song for song in SONGS if song in week]  # the recommender's order is kept


def test_a_pool_of_one_genre_still_gives_thirty_songs() -> None:
    traits = {song: SongTraits(artist_of(n), None, ("rock",)) for n, song in enumerate(SONGS)}
    assert len(pick_weekly(SONGS, traits, set())) == 30


class FakeRecommender:
    """The recommender's longest answer: the catalog in order (as the trending fallback would be)."""

    def __init__(self) -> None:
        self.calls = 0

    def recommend(self, request: RecsRequest) -> RecsAnswer:
        self.calls += 1
        ranked = [Ranked(song, 1.0 - n / 1000, ("trending",), artist_of(n)) for n, song in enumerate(SONGS)]
        return RecsAnswer(ranked[: request.limit], True, "no-model", Split(None).assign(request.user_id), {}, Seeds())


@pytest.fixture
def stack(aws) -> Any:  # type: ignore[no-untyped-def]
    bind_catalog_table(aws.tables["CatalogTable"])
    bind_playlists_table(aws.tables["PlaylistsTable"])
    bind_discover_weekly_table(aws.tables["DiscoverWeeklyTable"])
    for n, song_id in enumerate(SONGS):
        new_song(
            song_id,
            title=f"Song {n}",
            artist_id=artist_of(n),
            artist_name=f"Artist {n // 4}",
            album_id=base62_id("album", str(n // 4)),
            album_title="Album",
            album_type="album",
            duration_ms=200_000,
            popularity=1000 - n,
            genres=[genre_of(n)],
        ).save()
    return aws


def _generate(recommender: FakeRecommender, now: datetime, played: set[str] | None = None) -> Any:
    return generate_weekly(
        LISTENER, recommender.recommend, lambda ids, model: TRAITS, lambda user: set(played or ()), now=now
    )


def test_the_playlist_is_made_once_a_week_and_renewed_without_repeats(stack) -> None:  # type: ignore[no-untyped-def]
    monday = datetime(2026, 11, 30, 4, tzinfo=UTC)
    recommender = FakeRecommender()
    first = _generate(recommender, monday, played=set(SONGS[:5]))
    playlist = playlists.get_playlist(first.playlist_id, LISTENER, limit=100, offset=0)
    assert [item["songId"] for item in playlist["tracks"]["items"]] == first.song_ids and len(first.song_ids) == 30
    assert not set(first.song_ids) & set(SONGS[:5]) and playlist["name"] == "Discover Weekly"
    assert playlist["ownerId"] == LISTENER and not playlist["isPublic"]
    mine = playlists.my_playlists(LISTENER, limit=20, offset=0)["items"]
    assert [p["id"] for p in mine] == [first.playlist_id]

    again = _generate(recommender, monday + timedelta(days=2))  # same week: nothing redone
    assert again == first and recommender.calls == 1
    version = playlist["version"]

    next_week = _generate(recommender, monday + timedelta(days=7))
    assert next_week.playlist_id == first.playlist_id and next_week.week == "2026-12-07"
    assert len(next_week.song_ids) == 30 and not set(next_week.song_ids) & set(first.song_ids)
    renewed = playlists.get_playlist(first.playlist_id, LISTENER, limit=100, offset=0)
    assert [item["songId"] for item in renewed["tracks"]["items"]] == next_week.song_ids
    assert version < renewed["version"] <= version + 2  # one edit removes last week's, one adds
    changes = playlists.changes(first.playlist_id, version + 1, 10)
    assert [change["op"]["type"] for change in changes] == ["tracks.removed", "tracks.added"]
    assert len(changes[0]["op"]["itemIds"]) == 30  # subscribers and offline copies see the renewal

    item = renewed["tracks"]["items"][0]["itemId"]
    with pytest.raises(InvalidInput):
        playlists.remove_tracks(first.playlist_id, LISTENER, [item, item], None)
    with pytest.raises(NotFound):  # one unknown item: nothing is removed
        playlists.remove_tracks(first.playlist_id, LISTENER, [item, base62_id("no", "item")], None)
    assert playlists.get_playlist(first.playlist_id, LISTENER, limit=1, offset=0)["tracks"]["total"] == 30

    playlists.delete_playlist(first.playlist_id, LISTENER, None)  # the listener deleted it: made again
    remade = _generate(recommender, monday + timedelta(days=8))
    assert remade.playlist_id != first.playlist_id and len(remade.song_ids) == 30


def _play(table: str, user: str, song_id: str, n: int) -> None:
    started = (datetime.now(UTC) - timedelta(days=2, minutes=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    boto3.client("dynamodb").put_item(
        TableName=table,
        Item={
            "userId": {"S": user},
            "sk": {"S": f"PLAY#p{n}"},
            "playId": {"S": f"p{n}"},
            "songId": {"S": song_id},
            "startedAt": {"S": started},
        },
    )


def test_the_api_answers_the_home_feed_as_fallback_and_discover_weekly_without_played_songs(stack, context) -> None:  # type: ignore[no-untyped-def]
    """No model in this stack: the home feed is the fallback (popular songs, without the ones the
    listener played), and Discover Weekly is made from it on first ask, readable as a playlist."""
    for n in range(3):
        _play(stack.tables["PlaysTable"], LISTENER, SONGS[n], n)
    recs = load_function("recommendations", stack)

    def get(path: str, user: str = LISTENER, **query: str) -> tuple[int, Any]:
        event = api_event("GET", path, query=query or None, claims={"sub": user})
        answer = recs.lambda_handler(event, context)
        return answer["statusCode"], json.loads(answer["body"])

    status, feed = get("/me/recommendations", limit="10", localTime="2026-12-03T07:45:00+01:00")
    assert status == 200 and feed["fallback"] is True and feed["fallbackReason"] == "no-model"
    ids = [item["song"]["id"] for item in feed["items"]]
    assert len(ids) == 10 and not set(ids) & set(SONGS[:3]) and feed["items"][0]["song"]["title"].startswith("Song")
    assert feed["variant"]["inert"] is True

    status, weekly = get("/me/discover-weekly")
    assert status == 200 and len(weekly["songs"]) == 30 and weekly["playlist"]["tracks"]["total"] == 30
    assert not {song["id"] for song in weekly["songs"]} & set(SONGS[:3])

    assert get("/recommendations", seed="track:nope")[0] == 422
    assert get("/recommendations", seed=f"artist:{base62_id('nobody', 'x')}")[0] == 404
    status, seeded = get("/recommendations", seed=f"track:{SONGS[7]}", limit="5")
    assert status == 200 and SONGS[7] not in [item["song"]["id"] for item in seeded["items"]]
    assert get("/me/recommendations", tz="Mars/Olympus")[0] == 422


def test_the_monday_job_lists_active_listeners_in_batches_and_makes_their_playlists(stack, hub, context) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The state machine's two tasks as the map chains them: the listeners with a play in the lake
    since the active window, written to S3 in batches; one batch item -> each listener's playlist."""
    now = datetime.now(UTC)
    recent = (now - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    old = (now - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    users = [f"user-{n}" for n in range(3)]
    plays = [play(f"p{n}", 1, recent, userId=user, songId=SONGS[n]) for n, user in enumerate(users)]
    plays.append(play("p-old", 1, old, userId="gone-quiet"))
    deliver(hub, stack, "PlaysDelivery", plays)

    listing = load_function("discover_weekly_listeners", stack)
    answer = listing.lambda_handler({"startedAt": now.isoformat(), "execution": "run-1"}, context)
    assert answer["listeners"] == 3 and answer["batches"] == 1 and answer["week"] == monday_of(now).isoformat()
    manifest = boto3.client("s3").get_object(Bucket=answer["bucket"], Key=answer["key"])["Body"].read()
    (batch,) = json.loads(manifest)
    assert batch == {"userIds": users}

    making = load_function("discover_weekly", stack)
    assert making.lambda_handler(batch, context) == {"made": 3, "fallbacks": 3}
    for user in users:
        made = playlists.my_playlists(user, limit=5, offset=0)["items"]
        assert [p["name"] for p in made] == ["Discover Weekly"] and made[0]["tracks"]["total"] == 30
    assert making.lambda_handler(batch, context) == {"made": 3, "fallbacks": 3}  # a retry: nothing new
    assert len(playlists.my_playlists(users[0], limit=5, offset=0)["items"]) == 1
