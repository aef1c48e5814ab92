"""Discover Weekly: every active listener's playlist of 30 songs they have never played, renewed
each Monday.

The list comes from the same recommender as the home feed, asked for its longest answer, then cut
by the weekly rules (`pick_weekly`): songs the listener has never played (everything the plays
table still holds), none from last week's list, at most 2 per artist, and at least 5 genres when
the pool allows it.

The playlist is a real playlist of the playlists context, owned by the listener (so it is in
`GET /me/playlists`, readable with `GET /playlists/{id}`, and theirs to make public and share). It
is created and renewed only through that context's service (`backbeat.playlists.service`), never by
writing its table. This context keeps its own small record per listener (the discover weekly table):
the playlist's id, the week it holds, its songs and last week's (for the no-repeat rule).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pynamodb.attributes import ListAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.models import Model

from backbeat.analytics.engines import LakeEngine
from backbeat.analytics.queries import with_views
from backbeat.errors import NotFound
from backbeat.playlists import service as playlists
from backbeat.recs.serving import RecsAnswer, RecsRequest, SongTraits
from backbeat.tables import bind_models

WEEKLY_SIZE = 30
PER_ARTIST = 2
MIN_GENRES = 5
PLAYLIST_NAME = "Discover Weekly"
PLAYLIST_DESCRIPTION = "Your weekly mixtape of fresh music: 30 songs you have not played yet. New every Monday."


class DiscoverWeeklyItem(Model):
    class Meta:
        table_name = "unbound"  # set by bind_discover_weekly_table() at cold start

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    playlist_id = UnicodeAttribute(attr_name="playlistId")
    week = UnicodeAttribute()  # the Monday (YYYY-MM-DD) the list is for
    song_ids = ListAttribute(of=UnicodeAttribute, attr_name="songIds", default=list)  # type: ignore[var-annotated]
    previous_song_ids = ListAttribute(of=UnicodeAttribute, attr_name="previousSongIds", default=list)  # type: ignore[var-annotated]
    generated_at = UnicodeAttribute(attr_name="generatedAt")
    variant = UnicodeAttribute(null=True)
    fallback = UnicodeAttribute(null=True)  # why the list came from the fallback, when it did


def bind_discover_weekly_table(table_name: str) -> None:
    bind_models(table_name, DiscoverWeeklyItem)


def monday_of(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def pick_weekly(
    ranked: Sequence[str],
    traits: Mapping[str, SongTraits],
    never: Iterable[str],
    size: int = WEEKLY_SIZE,
    per_artist: int = PER_ARTIST,
    min_genres: int = MIN_GENRES,
) -> list[str]:
    """The week's songs, in the recommender's order, from `ranked` minus `never` (songs played,
    last week's list): first the best songs that each bring a genre not yet covered, until
    `min_genres` are, then the best of the rest; never more than `per_artist` per artist."""
    excluded = set(never)
    pool = [song for song in dict.fromkeys(ranked) if song not in excluded and song in traits]
    chosen: set[str] = set()
    per: dict[str | None, int] = {}
    genres: set[str] = set()

    def take(song: str) -> None:
        chosen.add(song)
        artist = traits[song].artist_id
        per[artist] = per.get(artist, 0) + 1
        genres.update(traits[song].genres)

    def fits(song: str) -> bool:
        artist = traits[song].artist_id
        return song not in chosen and (artist is None or per.get(artist, 0) < per_artist)

    for song in pool:
        if len(genres) >= min_genres or len(chosen) >= size:
            break
        if fits(song) and set(traits[song].genres) - genres:
            take(song)
    for song in pool:
        if len(chosen) >= size:
            break
        if fits(song):
            take(song)
    return [song for song in pool if song in chosen]


@dataclass(frozen=True)
class Weekly:
    playlist_id: str
    week: str
    song_ids: list[str]
    generated_at: str
    variant: str | None
    fallback: str | None


def _weekly(item: DiscoverWeeklyItem) -> Weekly:
    songs = [str(song) for song in item.song_ids or []]
    return Weekly(item.playlist_id, item.week, songs, item.generated_at, item.variant, item.fallback)


def current_record(user_id: str) -> DiscoverWeeklyItem | None:
    try:
        return DiscoverWeeklyItem.get(user_id, consistent_read=True)
    except DoesNotExist:
        return None


def _playlist_exists(playlist_id: str, user_id: str) -> bool:
    try:
        playlists.get_playlist(playlist_id, user_id, limit=1, offset=0)
        return True
    except NotFound:
        return False


def _fill(playlist_id: str, user_id: str, song_ids: list[str]) -> None:
    """The playlist's tracks become `song_ids`: the old ones removed, the new ones added, a few
    edits of the playlists service (versioned, in its change log, seen by subscribers)."""
    while True:
        items = playlists.get_playlist(playlist_id, user_id, limit=100, offset=0)["tracks"]["items"]
        if not items:
            break
        for start in range(0, len(items), playlists.MAX_SONGS_PER_ADD):
            chunk = items[start : start + playlists.MAX_SONGS_PER_ADD]
            playlists.remove_tracks(playlist_id, user_id, [item["itemId"] for item in chunk], None)
    for start in range(0, len(song_ids), playlists.MAX_SONGS_PER_ADD):
        playlists.add_tracks(playlist_id, user_id, song_ids[start : start + playlists.MAX_SONGS_PER_ADD], None, None)


def generate_weekly(
    user_id: str,
    recommend: Callable[[RecsRequest], RecsAnswer],
    traits: Callable[[Sequence[str], Any], Mapping[str, SongTraits]],
    played_ever: Callable[[str], set[str]],
    now: datetime | None = None,
    force: bool = False,
) -> Weekly:
    """This week's Discover Weekly of `user_id`, made (or renewed) unless it already is this week's."""
    now = now or datetime.now(UTC)
    week = monday_of(now).isoformat()
    record = current_record(user_id)
    alive = record is not None and _playlist_exists(record.playlist_id, user_id)
    if record is not None and alive and record.week == week and not force:
        return _weekly(record)
    last_week: set[str] = set()
    if record is not None:  # renewing this week's list keeps excluding last week's
        last_week = {str(s) for s in (record.previous_song_ids if record.week == week else record.song_ids) or []}
    answer = recommend(RecsRequest(user_id, limit=100))
    ranked = [entry.song_id for entry in answer.ranked]
    song_traits = traits(ranked, answer.assignment.model)
    songs = pick_weekly(ranked, song_traits, played_ever(user_id) | last_week)
    if record is not None and alive:
        playlist_id = record.playlist_id
    else:
        playlist_id = playlists.create_playlist(user_id, PLAYLIST_NAME, PLAYLIST_DESCRIPTION, False, False)["id"]
    _fill(playlist_id, user_id, songs)
    item = DiscoverWeeklyItem(
        user_id=user_id,
        playlist_id=playlist_id,
        week=week,
        song_ids=songs,
        previous_song_ids=sorted(last_week),
        generated_at=now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        variant=answer.assignment.name,
        fallback=answer.fallback_reason,
    )
    try:
        if record is None:  # a concurrent first request may have made one: keep theirs
            item.save(condition=DiscoverWeeklyItem.user_id.does_not_exist())
        else:
            item.save()
    except PutError:
        playlists.delete_playlist(playlist_id, user_id, None)
        theirs = current_record(user_id)
        if theirs is None:
            raise
        return _weekly(theirs)
    return _weekly(item)


def discover_weekly_view(
    weekly: Weekly, user_id: str, song_views: Callable[[list[str]], dict[str, dict[str, Any]]]
) -> dict[str, Any]:
    """GET /me/discover-weekly: the playlist as GET /playlists/{id} shows it, the week it is for, and
    its songs as GET /songs/{id} shows them, in order."""
    playlist = playlists.get_playlist(weekly.playlist_id, user_id, limit=100, offset=0)
    views = song_views(weekly.song_ids)
    return {
        "week": weekly.week,
        "generatedAt": weekly.generated_at,
        "playlist": playlist,
        "songs": [views[song_id] for song_id in weekly.song_ids if song_id in views],
        "variant": weekly.variant,
        "fallback": weekly.fallback is not None,
        "fallbackReason": weekly.fallback,
    }


# ---------------------------------------------------------------- the Monday job


def active_listeners(engine: LakeEngine, since: date) -> list[str]:
    """Listeners with a play started on or after `since` (the lake's plays, pruned by day)."""
    query = f"SELECT DISTINCT userId FROM plays WHERE dt >= '{since.isoformat()}' ORDER BY userId"  # noqa: S608 (a date)
    sql = with_views(query)
    return [str(row[0]) for row in engine.query(sql).rows if row[0]]


def listener_batches(user_ids: Sequence[str], batch_size: int) -> list[dict[str, list[str]]]:
    """The map's items: one batch of listeners each (the distributed map reads them from S3, so a
    million listeners are 40,000 items, far from any state payload limit)."""
    return [{"userIds": list(user_ids[start : start + batch_size])} for start in range(0, len(user_ids), batch_size)]


def write_manifest(s3: Any, bucket: str, week: date, execution: str, batches: list[dict[str, list[str]]]) -> str:
    key = f"discover-weekly/{week.isoformat()}/{execution}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(batches).encode(), ContentType="application/json")
    return key
