"""Catalog: the dataset loader, seeding and the catalog API handler (moto in memory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backbeat.catalog.models import bind_catalog_table
from backbeat.ids import base62_id, is_valid_id
from backbeat_ops.dataset import Catalog, load_catalog, song_id_from_uri
from backbeat_ops.seed import seed_catalog
from tests.support import api_event
from tests.unit.conftest import load_function

CLAIMS = {"sub": "user-1"}


def test_ids_are_stable_22_character_base62() -> None:
    first = base62_id("artist", "abba")
    assert first == base62_id("artist", "abba")
    assert first != base62_id("artist", "abbA")
    assert is_valid_id(first)
    assert not is_valid_id("short") and not is_valid_id("x" * 21 + "!")


def test_song_id_is_the_id_of_its_uri() -> None:
    assert song_id_from_uri("spotify:track:4GiXBCUF7H6YfNQsnBRIzl") == "4GiXBCUF7H6YfNQsnBRIzl"
    with pytest.raises(ValueError):
        song_id_from_uri("spotify:track:nope")


def _write_csv(directory: Path, name: str, rows: list[tuple[str, str, str]]) -> None:
    header = "track,artist,uri,danceability,energy,key,loudness,mode,speechiness,acousticness,"
    header += "instrumentalness,liveness,valence,tempo,duration_ms,time_signature,chorus_hit,sections,target\n"
    lines = [
        f"{t},{a},spotify:track:{u},0.5,0.6,4,-7.2,1,0.03,0.3,0,0.1,0.5,120.5,200000,4,30,10,1" for t, a, u in rows
    ]
    (directory / name).write_text(header + "\n".join(lines) + "\n", encoding="utf-8")


def test_loader_deduplicates_by_uri_and_releases_singles(tmp_path: Path) -> None:
    _write_csv(tmp_path, "dataset-of-60s.csv", [("Song A", "Beyoncé", "A" * 22), ("Song B", "beyoncé ", "B" * 22)])
    _write_csv(tmp_path, "dataset-of-70s.csv", [("Song A again", "Other", "A" * 22)])
    catalog = load_catalog(tmp_path)
    assert [song.title for song in catalog.songs] == ["Song A", "Song B"]
    assert len(catalog.artists) == 1 and catalog.artists[0].song_ids == ["A" * 22, "B" * 22]
    assert {album.album_type for album in catalog.albums} == {"single"}
    assert catalog.songs[0].audio_features["timeSignature"] == 4
    assert catalog.songs[0].audio_features["tempo"] == 120.5


def test_loader_reads_the_whole_demo_catalog(catalog_dir: Path) -> None:
    catalog = load_catalog(catalog_dir)
    assert len(catalog.songs) > 40_000
    assert len({song.id for song in catalog.songs}) == len(catalog.songs)
    assert len(catalog.albums) == len(catalog.songs)
    assert sum(len(artist.song_ids) for artist in catalog.artists) == len(catalog.songs)


@pytest.fixture
def seeded(aws, tmp_path: Path) -> Catalog:
    rows = [(f"Track {i:02d}", "The Band" if i < 25 else f"Solo {i}", f"{i:02d}" + "x" * 20) for i in range(30)]
    _write_csv(tmp_path, "dataset-of-80s.csv", rows)
    catalog = load_catalog(tmp_path)
    bind_catalog_table(aws.tables["CatalogTable"])
    report = seed_catalog(catalog, workers=2, chunk_size=25)
    assert report.songs == 30
    return catalog


def _call(module, event, context):  # type: ignore[no-untyped-def]
    response = module.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_get_song_has_the_documented_shape(aws, seeded: Catalog, context) -> None:
    catalog_fn = load_function("catalog", aws)
    song = seeded.songs[3]
    status, body = _call(catalog_fn, api_event("GET", f"/songs/{song.id}", claims=CLAIMS), context)
    assert status == 200
    assert body["id"] == song.id and body["title"] == "Track 03"
    assert body["artist"] == {"id": song.artist_id, "name": "The Band"}
    assert body["album"] == {"id": song.album_id, "title": "Track 03", "type": "single"}
    assert body["durationMs"] == 200000
    assert body["audioFeatures"]["danceability"] == 0.5


def test_unknown_and_malformed_ids_are_json_404s(aws, seeded: Catalog, context) -> None:
    catalog_fn = load_function("catalog", aws)
    for path in ("/songs/" + "z" * 22, "/songs/not-an-id", "/albums/" + "q" * 22, "/artists/x"):
        status, body = _call(catalog_fn, api_event("GET", path, claims=CLAIMS), context)
        assert status == 404, path
        assert body["error"]["code"] == "NotFound"


def test_album_lists_its_tracks(aws, seeded: Catalog, context) -> None:
    catalog_fn = load_function("catalog", aws)
    song = seeded.songs[0]
    status, body = _call(catalog_fn, api_event("GET", f"/albums/{song.album_id}", claims=CLAIMS), context)
    assert status == 200
    assert body["type"] == "single"
    assert [track["id"] for track in body["tracks"]["items"]] == [song.id]


def test_artist_songs_are_paginated(aws, seeded: Catalog, context) -> None:
    catalog_fn = load_function("catalog", aws)
    band = next(artist for artist in seeded.artists if artist.name == "The Band")
    pages = []
    for offset in (0, 10, 20):
        event = api_event("GET", f"/artists/{band.id}", query={"limit": "10", "offset": str(offset)}, claims=CLAIMS)
        status, body = _call(catalog_fn, event, context)
        assert status == 200
        assert body["songs"]["total"] == 25
        pages.append([item["title"] for item in body["songs"]["items"]])
    assert [len(page) for page in pages] == [10, 10, 5]
    titles = [title for page in pages for title in page]
    assert titles == sorted(titles) and len(set(titles)) == 25


@pytest.mark.parametrize(
    ("query", "field"),
    [({"limit": "0"}, "limit"), ({"limit": "51"}, "limit"), ({"offset": "-1"}, "offset"), ({"limit": "ten"}, "limit")],
)
def test_bad_pagination_is_a_422_naming_the_field(aws, seeded: Catalog, context, query, field) -> None:
    catalog_fn = load_function("catalog", aws)
    band = seeded.artists[0]
    status, body = _call(catalog_fn, api_event("GET", f"/artists/{band.id}", query=query, claims=CLAIMS), context)
    assert status == 422
    assert body["error"]["field"] == field
