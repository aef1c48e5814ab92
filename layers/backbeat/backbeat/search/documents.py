"""Catalog items (DynamoDB images or pynamodb models) -> search documents."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

_DESERIALIZER = TypeDeserializer()


def plain(value: Any) -> Any:
    """Decimals from DynamoDB -> int/float, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [plain(item) for item in value]
    return value


def from_stream_image(image: dict[str, Any]) -> dict[str, Any]:
    """A stream record's NewImage/OldImage (DynamoDB JSON) -> a plain item."""
    return {key: plain(_DESERIALIZER.deserialize(value)) for key, value in image.items()}


def entity_of(item: dict[str, Any]) -> str | None:
    if str(item.get("pk", "")).startswith("PL#"):  # the playlists table: its META item is the playlist
        return "playlist" if item.get("sk") == "META" else None
    entity = item.get("entity")
    return entity if entity in ("song", "album", "artist") and item.get("sk", "META") == "META" else None


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
        playlist_id = str(item["pk"]).removeprefix("PL#")
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
        return (
            "song",
            item["id"],
            {
                "id": item["id"],
                "title": item["title"],
                "artist": item["artistName"],
                "artistId": item["artistId"],
                "album": item["albumTitle"],
                "albumId": item["albumId"],
                "albumType": item.get("albumType", "single"),
                "trackNumber": item.get("trackNumber", 1),
                "durationMs": item.get("durationMs", 0),
                "popularity": item.get("popularity", 0),
                "audioFeatures": item.get("audioFeatures", {}),
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
        },
    )


def song_view(document: dict[str, Any]) -> dict[str, Any]:
    """A song document -> the shape of GET /songs/{id}."""
    return {
        "id": document["id"],
        "title": document["title"],
        "artist": {"id": document["artistId"], "name": document["artist"]},
        "album": {"id": document["albumId"], "title": document["album"], "type": document.get("albumType", "single")},
        "trackNumber": document.get("trackNumber", 1),
        "durationMs": document.get("durationMs", 0),
        "popularity": document.get("popularity", 0),
        "audioFeatures": document.get("audioFeatures", {}),
    }


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
