"""Catalog reads: the domain functions behind GET /songs, /albums and /artists."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist

from backbeat.aws import client
from backbeat.catalog.models import (
    META,
    AlbumItem,
    ArtistItem,
    SongItem,
    album_key,
    artist_key,
    song_key,
)
from backbeat.catalog.views import song_view as song_item_view
from backbeat.errors import NotFound
from backbeat.ids import is_valid_id
from backbeat.plain import item_of
from backbeat.plays.counters import artist_figures


def song_view(song: SongItem) -> dict[str, Any]:
    return song_item_view(item_of(song))


def _get(model: type[Any], key: str, kind: str, item_id: str) -> Any:
    if not is_valid_id(item_id):
        raise NotFound(f"{kind} {item_id!r} not found")
    try:
        return model.get(key, META)
    except DoesNotExist:
        raise NotFound(f"{kind} {item_id!r} not found") from None


def get_song(song_id: str) -> dict[str, Any]:
    return song_view(_get(SongItem, song_key(song_id), "song", song_id))


def get_album(album_id: str) -> dict[str, Any]:
    album: AlbumItem = _get(AlbumItem, album_key(album_id), "album", album_id)
    tracks = [song_view(song) for song in SongItem.by_album.query(album_key(album_id))]
    return {
        "id": album.id,
        "title": album.title,
        "type": album.album_type,
        "artist": {"id": album.artist_id, "name": album.artist_name},
        "tracks": {"items": tracks, "total": len(tracks)},
    }


def get_artist(artist_id: str, limit: int, offset: int) -> dict[str, Any]:
    artist: ArtistItem = _get(ArtistItem, artist_key(artist_id), "artist", artist_id)
    # Songs sort by title within an artist; an offset page reads offset+limit keys at most.
    query = SongItem.by_artist.query(artist_key(artist_id), limit=offset + limit, page_size=offset + limit)
    songs = [song_view(song) for song in query][offset : offset + limit]
    return {
        "id": artist.id,
        "name": artist.name,
        **artist_figures(artist.id),  # monthlyListeners, playsLastHour: the listening loop's counters
        "genres": list(artist.genres or []),
        "songs": {"items": songs, "total": int(artist.song_count), "limit": limit, "offset": offset},
    }


@dataclass(frozen=True)
class SongFacts:
    """What other contexts need to know of a song without reading the catalog themselves.

    `playable_ms` is the longest a listener can hear it: a song linked to another song's media
    (`mediaId`, the demo catalog) plays that media, which may be longer than its own length."""

    song_id: str
    artist_id: str
    duration_ms: int
    genres: tuple[str, ...]
    playable_ms: int


_BATCH_GET_KEYS = 100  # DynamoDB BatchGetItem's limit per request
_FACT_ATTRIBUTES = "id, artistId, durationMs, genres, mediaId"


def _batch_get(table: str, keys: list[str]) -> list[dict[str, Any]]:
    """The song items for `keys` (catalog pks), projected to the facts; missing songs are absent.
    Unprocessed keys (throttling) are asked again until none is left."""
    dynamodb = client("dynamodb")
    items: list[dict[str, Any]] = []
    for start in range(0, len(keys), _BATCH_GET_KEYS):
        request: dict[str, Any] = {
            table: {
                "Keys": [{"pk": {"S": key}, "sk": {"S": META}} for key in keys[start : start + _BATCH_GET_KEYS]],
                "ProjectionExpression": _FACT_ATTRIBUTES,
            }
        }
        while request:
            answer = dynamodb.batch_get_item(RequestItems=request)
            items.extend(answer.get("Responses", {}).get(table, []))
            request = answer.get("UnprocessedKeys") or {}
    return items


def _genres(attribute: dict[str, Any]) -> tuple[str, ...]:
    """A song's genres as stored: a list of strings or a string set (absent: none yet)."""
    if "SS" in attribute:
        return tuple(sorted(attribute["SS"]))
    return tuple(value["S"] for value in attribute.get("L", []) if "S" in value)


def song_facts(song_ids: Iterable[str]) -> dict[str, SongFacts]:
    """Artist, length and genres of each known song in `song_ids` (unknown ids are left out), in one
    BatchGetItem per hundred songs (plus one for the media that linked songs play)."""
    table = SongItem.Meta.table_name
    wanted = sorted({song_id for song_id in song_ids if is_valid_id(song_id)})
    items = {item["id"]["S"]: item for item in _batch_get(table, [song_key(song_id) for song_id in wanted])}
    linked = sorted({item["mediaId"]["S"] for item in items.values() if "mediaId" in item} - set(items))
    media_ms = {
        item["id"]["S"]: int(item["durationMs"]["N"]) for item in _batch_get(table, [song_key(m) for m in linked])
    }
    media_ms.update({song_id: int(item["durationMs"]["N"]) for song_id, item in items.items()})
    facts: dict[str, SongFacts] = {}
    for song_id, item in items.items():
        duration = int(item["durationMs"]["N"])
        media = item.get("mediaId", {}).get("S")
        facts[song_id] = SongFacts(
            song_id=song_id,
            artist_id=item["artistId"]["S"],
            duration_ms=duration,
            genres=_genres(item.get("genres", {})),
            playable_ms=max(duration, media_ms.get(media, 0) if media else 0),
        )
    return facts


def song_views(song_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The views of the songs that exist among `song_ids`, by id, in batch reads (100 keys each)."""
    keys = sorted({song_key(song_id) for song_id in song_ids if is_valid_id(song_id)})
    return {song.id: song_view(song) for song in SongItem.batch_get([(key, META) for key in keys])} if keys else {}
