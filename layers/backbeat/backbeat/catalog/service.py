"""Catalog reads: the domain functions behind GET /songs, /albums and /artists."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

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
        "genres": list(artist.genres or []),
        "songs": {"items": songs, "total": int(artist.song_count), "limit": limit, "offset": offset},
    }
