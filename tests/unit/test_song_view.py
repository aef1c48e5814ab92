"""One owner per fact: a song found by search has exactly the shape (and the number types) of
GET /songs/{id}, because the search document carries the catalog's own view of the song."""

from __future__ import annotations

import json
from typing import Any

from opensearchpy import OpenSearch

from backbeat.catalog.models import (
    SongItem,
    artist_id_for,
    bind_catalog_table,
    new_song,
    single_album_id_for,
)
from backbeat.ids import base62_id
from backbeat.search.engine import ensure_indices
from backbeat.search.indexer import index_stream_records
from tests.support import api_event
from tests.unit.conftest import load_function

CLAIMS = {"sub": "listener"}


def _saved_song() -> SongItem:
    song_id = base62_id("song", "shape")
    artist_id = artist_id_for("Shape Shifters")
    song = new_song(
        song_id,
        title="Quadrilateral Love",
        artist_id=artist_id,
        artist_name="Shape Shifters",
        album_id=single_album_id_for(song_id),
        album_title="Quadrilateral Love",
        album_type="single",
        track_number=1,
        duration_ms=201_500,
        popularity=42,
        # Whole-valued floats, fractions and integers: each must keep its JSON type on both paths.
        audio_features={"loudness": -5.0, "tempo": 120.5, "key": 3, "danceability": 0.0},
    )
    song.save()
    return song


def _answer(module: Any, context: Any, path: str, **query: str) -> tuple[int, Any]:
    response = module.lambda_handler(api_event("GET", path, query=query or None, claims=CLAIMS), context)
    return response["statusCode"], json.loads(response["body"])


def test_a_song_found_by_search_is_exactly_get_song(aws, context, search_url: str) -> None:
    bind_catalog_table(aws.tables["CatalogTable"])
    song = _saved_song()
    engine = OpenSearch(hosts=[search_url])
    ensure_indices(engine, "")
    record = {
        "eventName": "INSERT",
        "dynamodb": {"Keys": {"pk": {"S": song.pk}, "sk": {"S": "META"}}, "NewImage": song.serialize()},
    }
    record["dynamodb"]["SequenceNumber"] = "1"
    assert index_stream_records(engine, "", [record]) == []
    engine.indices.refresh(index="songs")

    status, by_id = _answer(load_function("catalog", aws), context, f"/songs/{song.id}")
    assert status == 200
    status, found = _answer(load_function("search", aws), context, "/search", q="quadrilateral", type="song")
    assert status == 200
    [from_search] = [item for item in found["songs"]["items"] if item["id"] == song.id]

    assert from_search == by_id
    # Equal values can still differ in JSON (-5.0 vs -5): compare what a client receives.
    assert json.dumps(from_search, sort_keys=True) == json.dumps(by_id, sort_keys=True)
    assert by_id["audioFeatures"] == {"loudness": -5.0, "tempo": 120.5, "key": 3, "danceability": 0.0}
    assert isinstance(by_id["audioFeatures"]["key"], int) and isinstance(by_id["audioFeatures"]["loudness"], float)
