"""Catalog and playlist items (plain items, `backbeat.plain`) -> search documents.

A song's document carries the catalog's own view of the song (`view`, not indexed), so a song found
by search has exactly the shape of GET /songs/{id}; its other fields are what the engine matches and
ranks on.
"""

from __future__ import annotations

from typing import Any

from backbeat.catalog.models import META as CATALOG_META
from backbeat.catalog.views import song_view as catalog_song_view
from backbeat.playlists.models import playlist_id_of
from backbeat.search.engine import CATALOG_ENTITIES


def entity_of(item: dict[str, Any]) -> str | None:
    if playlist_id_of(item) is not None:
        return "playlist"
    entity = item.get("entity")
    return entity if entity in CATALOG_ENTITIES and item.get("sk", CATALOG_META) == CATALOG_META else None


def is_searchable(item: dict[str, Any]) -> bool:
    """Only public, live playlists are searchable, and only songs that are not being encoded or
    failed to encode (a catalog song with no encode status is a listing, searchable as such)."""
    entity = entity_of(item)
    if entity == "playlist":
        return bool(item.get("isPublic")) and not item.get("deleted")
    if entity == "song":
        return item.get("status") in (None, "ready")
    return True


def document_for(item: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """(entity, id, document) for an indexable catalog item, else None."""
    entity = entity_of(item)
    if entity is None:
        return None
    if entity == "playlist":
        playlist_id = str(playlist_id_of(item))
        return (
            "playlist",
            playlist_id,
            {
                "id": playlist_id,
                "name": item.get("name", ""),
                "description": item.get("description", ""),
                "ownerId": item.get("ownerId", ""),
                "trackCount": item.get("trackCount", 0),
                "popularity": min(100, int(item.get("trackCount", 0))),
            },
        )
    if entity == "song":
        view = catalog_song_view(item)
        return (
            "song",
            view["id"],
            {
                "id": view["id"],
                "title": view["title"],
                "artist": view["artist"]["name"],
                "artistId": view["artist"]["id"],
                "album": view["album"]["title"],
                "albumId": view["album"]["id"],
                "popularity": view["popularity"],
                "genres": view["genres"],
                "view": view,
            },
        )
    if entity == "album":
        return (
            "album",
            item["id"],
            {
                "id": item["id"],
                "title": item["title"],
                "type": item.get("albumType", "album"),
                "artist": item["artistName"],
                "artistId": item["artistId"],
                "trackCount": item.get("trackCount", 0),
                "popularity": item.get("popularity", 0),
            },
        )
    return (
        "artist",
        item["id"],
        {
            "id": item["id"],
            "name": item["name"],
            "songCount": item.get("songCount", 0),
            "popularity": item.get("popularity", 0),
            "genres": list(item.get("genres") or []),
        },
    )


def song_view(document: dict[str, Any]) -> dict[str, Any]:
    """A song document -> the catalog's view it was built with (the shape of GET /songs/{id})."""
    return dict(document["view"])


def album_view(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": document["id"],
        "title": document["title"],
        "type": document.get("type", "album"),
        "artist": {"id": document["artistId"], "name": document["artist"]},
        "trackCount": document.get("trackCount", 0),
        "popularity": document.get("popularity", 0),
    }


def artist_view(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": document["id"],
        "name": document["name"],
        "songCount": document.get("songCount", 0),
        "popularity": document.get("popularity", 0),
    }


def playlist_view(document: dict[str, Any]) -> dict[str, Any]:
    return {key: document[key] for key in ("id", "name", "description", "ownerId", "trackCount") if key in document}
