"""Search: the CDC indexer, reindexing, the query API, suggestions and personalised ranking, against
the in-memory engine (osmem-server on loopback) and moto."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from backbeat.plays.taste import TasteProfile, bind_taste_table, save_profile
from backbeat.search.engine import ensure_indices, index_name
from backbeat.search.indexer import index_stream_records
from backbeat.search.text import fold
from backbeat_ops.dataset import Catalog, load_catalog
from backbeat_ops.reindex import reindex
from backbeat_ops.seed import catalog_items
from tests.support import ROOT, api_event
from tests.unit.conftest import load_function

STREAM_EVENT = ROOT / "events" / "streams" / "search_indexer_catalog_changes.json"


def _records() -> list[dict[str, Any]]:
    return list(json.loads(STREAM_EVENT.read_text())["Records"])


def test_stream_records_index_update_and_delete_idempotently(search_url: str) -> None:
    client = OpenSearch(hosts=[search_url])
    ensure_indices(client, "")
    insert, modify, remove = _records()
    for _ in range(2):  # a redelivered batch changes nothing
        assert index_stream_records(client, "", [insert]) == []
        song = client.get(index="songs", id="4GiXBCUF7H6YfNQsnBRIzl")["_source"]
        assert song["title"] == "Lucky Man" and song["artist"] == "Montgomery Gentry" and song["popularity"] == 100
    assert index_stream_records(client, "", [modify]) == []
    assert client.get(index="songs", id="4GiXBCUF7H6YfNQsnBRIzl")["_source"]["popularity"] == 90
    for _ in range(2):  # deleting twice is fine too
        assert index_stream_records(client, "", [remove]) == []
        assert not client.exists(index="songs", id="4GiXBCUF7H6YfNQsnBRIzl")


def test_songs_being_encoded_or_failed_are_not_searchable(search_url: str) -> None:
    client = OpenSearch(hosts=[search_url])
    ensure_indices(client, "")
    insert = _records()[0]
    image = insert["dynamodb"]["NewImage"]
    for status, searchable in (("processing", False), ("failed", False), ("ready", True)):
        record = json.loads(json.dumps(insert))
        record["dynamodb"]["NewImage"] = {**image, "status": {"S": status}}
        assert index_stream_records(client, "", [record]) == []
        assert client.exists(index="songs", id="4GiXBCUF7H6YfNQsnBRIzl") is searchable, status


class _FlakyEngine:
    """Answers a bulk request with a 429 for the second action and success for the others."""

    def bulk(self, body: list[dict[str, Any]]) -> dict[str, Any]:
        actions = [line for line in body if set(line) & {"index", "delete"}]
        items = []
        for position, action in enumerate(actions):
            op = next(iter(action))
            items.append({op: {"status": 429 if position == 1 else 200}})
        return {"errors": True, "items": items}


def test_failed_bulk_items_are_reported_by_sequence_number() -> None:
    records = _records()
    failed = index_stream_records(_FlakyEngine(), "", records)  # type: ignore[arg-type]
    assert failed == [records[1]["dynamodb"]["SequenceNumber"]]


def test_indexer_reports_the_whole_batch_when_the_engine_is_down(aws, context) -> None:
    indexer = load_function("search_indexer", aws)
    indexer.client = OpenSearch(hosts=["http://127.0.0.1:9"], max_retries=0, timeout=1)  # nothing listens there
    records = _records()
    response = indexer.lambda_handler({"Records": records}, context)
    assert response == {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in records]}


def test_indexer_handler_applies_a_stream_batch(aws, context, search_url: str) -> None:
    indexer = load_function("search_indexer", aws)
    response = indexer.lambda_handler({"Records": _records()[:1]}, context)
    assert response == {"batchItemFailures": []}
    assert OpenSearch(hosts=[search_url]).exists(index="songs", id="4GiXBCUF7H6YfNQsnBRIzl")


@pytest.fixture(scope="module")
def small_catalog() -> Catalog:
    directory = ROOT.parent / "shared" / "datasets" / "catalog"
    if not directory.is_dir():
        pytest.skip(f"the demo catalog is not at {directory}")
    catalog = load_catalog(directory)
    keep = [s for s in catalog.songs if "love" in fold(s.title)][:400] + catalog.songs[:600]
    ids = {song.id for song in keep}
    artists = {song.artist_id for song in keep}
    album_ids = {song.album_id for song in keep}
    return Catalog(
        songs=[s for s in catalog.songs if s.id in ids],
        albums=[a for a in catalog.albums if a.id in album_ids],
        artists=[a for a in catalog.artists if a.id in artists],
    )


@pytest.fixture
def indexed(aws, search_url: str, small_catalog: Catalog) -> Catalog:
    report = reindex(OpenSearch(hosts=[search_url]), "", catalog_items(small_catalog))
    assert report.documents == len(small_catalog.songs) + len(small_catalog.albums) + len(small_catalog.artists)
    return small_catalog


def test_reindex_swaps_aliases_and_drops_old_generations(indexed: Catalog, search_url: str) -> None:
    client = OpenSearch(hosts=[search_url])
    first = set(client.indices.get_alias(name="songs"))
    reindex(client, "", catalog_items(indexed))
    second = set(client.indices.get_alias(name="songs"))
    assert first != second and len(second) == 1
    assert set(client.indices.get(index="songs-*")) == second
    assert client.count(index="songs")["count"] == len(indexed.songs)


def _call(module, event, context):  # type: ignore[no-untyped-def]
    response = module.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"]), response.get("headers", {})


def _search(module, context, user: str = "u1", **query: str):  # type: ignore[no-untyped-def]
    return _call(module, api_event("GET", "/search", query=query, claims={"sub": user}), context)


def test_search_answers_with_the_requested_types_only(aws, indexed: Catalog, context) -> None:
    search = load_function("search", aws)
    status, body, _ = _search(search, context, q="love", type="song,artist", limit="5")
    assert status == 200
    assert set(body) == {"songs", "artists"}
    assert len(body["songs"]["items"]) == 5 and body["songs"]["total"] >= 5
    song = body["songs"]["items"][0]
    assert set(song) >= {"id", "title", "artist", "album", "durationMs", "audioFeatures"}
    assert set(song["artist"]) == {"id", "name"}
    status, body, _ = _search(search, context, q="love")
    assert set(body) == {"songs", "albums", "artists", "playlists"}


def test_exact_title_artist_is_first_and_typos_are_forgiven(aws, indexed: Catalog, context) -> None:
    search = load_function("search", aws)
    target = next(s for s in indexed.songs if len(s.title) > 8 and s.title.isascii())
    for query in (
        f"{target.title} {target.artist_name}",
        f"{target.title} {target.artist_name}".replace(target.title[3:5], target.title[4] + target.title[3]),
    ):
        status, body, _ = _search(search, context, q=query, type="song")
        assert status == 200
        titles = [(fold(i["title"]), fold(i["artist"]["name"])) for i in body["songs"]["items"][:3]]
        assert (fold(target.title), fold(target.artist_name)) in titles, query


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "love", "limit": "0"}, "limit"),
        ({"q": "love", "limit": "51"}, "limit"),
        ({"q": "love", "offset": "-1"}, "offset"),
        ({"q": "love", "type": "song,podcast"}, "type"),
        ({}, "q"),
    ],
)
def test_bad_search_input_is_a_422_naming_the_parameter(aws, context, query, parameter) -> None:
    search = load_function("search", aws)
    status, body, _ = _search(search, context, **query)
    assert status == 422, body
    assert body["error"]["field"] == parameter


@pytest.mark.parametrize(
    "text",
    [
        '"unbalanced',
        "back\\slash\\",
        "love OR (",
        '{"query": {"match_all": {}}}',
        "🎵 love 🎶",
        "<b>love</b>",
        "title:love AND artist:*",
        "love~2 ^3 [a TO z]",
        "/.*/",
        "*",
        "-",
        "&&||!",
    ],
)
def test_any_other_text_is_searched_as_text(aws, indexed: Catalog, context, text: str) -> None:
    search = load_function("search", aws)
    status, body, _ = _search(search, context, q=text)
    assert status == 200, body
    assert set(body) == {"songs", "albums", "artists", "playlists"}


def test_two_listeners_get_different_orders_but_exact_matches_stay_on_top(aws, indexed: Catalog, context) -> None:
    search = load_function("search", aws)
    bind_taste_table(aws.tables["TasteTable"])
    _, neutral, _ = _search(search, context, user="neutral", q="love", type="song", limit="50")
    items = neutral["songs"]["items"]
    exact = [i for i in items if fold(i["title"]) == "love"]
    others = [i for i in items if fold(i["title"]) != "love"]
    assert exact and len(others) >= 10
    fan_of_a, fan_of_b = others[8]["artist"]["id"], others[9]["artist"]["id"]
    save_profile("fan-a", TasteProfile(artists={fan_of_a: 1.0}))
    save_profile("fan-b", TasteProfile(artists={fan_of_b: 1.0}, playlist_songs=frozenset({others[9]["id"]})))

    orders = {}
    for user in ("fan-a", "fan-b"):
        _, body, _ = _search(search, context, user=user, q="love", type="song", limit="50")
        titles = [fold(i["title"]) for i in body["songs"]["items"]]
        # every exact title match ranks above every other result, whatever the taste
        assert titles[: len(exact)] == ["love"] * len(exact)
        orders[user] = [i["id"] for i in body["songs"]["items"]]
    assert orders["fan-a"] != orders["fan-b"]
    assert orders["fan-a"].index(others[8]["id"]) < orders["fan-b"].index(others[8]["id"])
    assert orders["fan-b"].index(others[9]["id"]) < orders["fan-a"].index(others[9]["id"])


def test_suggestions_complete_prefixes_and_are_cacheable(aws, indexed: Catalog, context) -> None:
    search = load_function("search", aws)
    event = api_event("GET", "/search/suggest", query={"q": "lov", "limit": "8"}, claims={"sub": "u1"})
    status, body, headers = _call(search, event, context)
    assert status == 200
    assert "max-age=60" in headers["Cache-Control"]
    suggestions = body["suggestions"]
    assert 0 < len(suggestions) <= 8
    assert all(set(s) == {"type", "id", "text"} and s["type"] in ("song", "artist", "album") for s in suggestions)
    assert all(any(word.startswith("lov") for word in fold(s["text"]).split()) for s in suggestions)
    for query in ({"q": ""}, {"q": "lov", "limit": "21"}):
        status, body, _ = _call(search, api_event("GET", "/search/suggest", query=query, claims={"sub": "u1"}), context)
        assert status == 422


def test_search_before_anything_is_indexed_is_empty_not_an_error(aws, context, search_url: str) -> None:
    search = load_function("search", aws)
    status, body, _ = _search(search, context, q="anything")
    assert status == 200
    assert all(section["items"] == [] and section["total"] == 0 for section in body.values())
    assert index_name("", "song") == "songs"


def test_stream_event_sample_is_a_catalog_change() -> None:
    assert Path(STREAM_EVENT).is_file()
    assert [r["eventName"] for r in _records()] == ["INSERT", "MODIFY", "REMOVE"]


def _playlist_record(
    name: str, sequence: int, new: dict[str, Any] | None, old: dict[str, Any] | None
) -> dict[str, Any]:
    def image(values: dict[str, Any]) -> dict[str, Any]:
        typed = {"pk": {"S": "PL#" + "p" * 22}, "sk": {"S": "META"}}
        for key, value in values.items():
            typed[key] = (
                {"BOOL": value}
                if isinstance(value, bool)
                else ({"N": str(value)} if isinstance(value, int) else {"S": value})
            )
        return typed

    change: dict[str, Any] = {
        "Keys": {"pk": {"S": "PL#" + "p" * 22}, "sk": {"S": "META"}},
        "SequenceNumber": str(sequence),
    }
    if new is not None:
        change["NewImage"] = image(new)
    if old is not None:
        change["OldImage"] = image(old)
    return {"eventName": name, "dynamodb": change}


def test_public_playlists_are_searchable_and_private_ones_are_not(aws, context, search_url: str) -> None:
    client = OpenSearch(hosts=[search_url])
    ensure_indices(client, "")
    search = load_function("search", aws)
    public = {"name": "Sunday Jazz Brunch", "ownerId": "u9", "isPublic": True, "trackCount": 12, "deleted": False}

    def found() -> list[str]:
        _, body, _ = _search(search, context, q="jazz brunch", type="playlist")
        return [item["name"] for item in body["playlists"]["items"]]

    assert index_stream_records(client, "", [_playlist_record("INSERT", 1, public, None)]) == []
    assert found() == ["Sunday Jazz Brunch"]
    private = {**public, "isPublic": False}
    assert index_stream_records(client, "", [_playlist_record("MODIFY", 2, private, public)]) == []
    assert found() == []
    assert index_stream_records(client, "", [_playlist_record("MODIFY", 3, public, private)]) == []
    assert found() == ["Sunday Jazz Brunch"]
    assert index_stream_records(client, "", [_playlist_record("REMOVE", 4, None, public)]) == []
    assert found() == []
    track = _playlist_record("INSERT", 5, {"itemId": "x"}, None)
    track["dynamodb"]["Keys"]["sk"] = {"S": "ITEM#x"}
    track["dynamodb"]["NewImage"]["sk"] = {"S": "ITEM#x"}
    assert index_stream_records(client, "", [track]) == []  # only the playlist item itself is indexed
