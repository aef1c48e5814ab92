"""What the catalog answers about its items: one view per entity, built from the plain item
(`backbeat.plain`), so every reader of the catalog table (GET /songs, the search documents) answers
the same shape."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def song_view(item: Mapping[str, Any]) -> dict[str, Any]:
    """A plain song item -> the shape of GET /songs/{id}."""
    return {
        "id": item["id"],
        "title": item["title"],
        "artist": {"id": item["artistId"], "name": item["artistName"]},
        "album": {"id": item["albumId"], "title": item["albumTitle"], "type": item["albumType"]},
        "trackNumber": int(item.get("trackNumber", 1)),
        "durationMs": int(item["durationMs"]),
        "popularity": int(item.get("popularity", 0)),
        "audioFeatures": dict(item.get("audioFeatures") or {}),
        "genres": list(item.get("genres") or []),
    }
