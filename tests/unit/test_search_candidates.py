"""Search fetches lean candidates and the full documents of the final page only, with the same
results as re-ranking full documents; genre taste reaches songs and artists."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from backbeat.plays.taste import TasteProfile
from backbeat.search import service
from backbeat.search.ranking import CANDIDATE_FIELDS, rerank, search_query
from backbeat.search.text import fold
from backbeat_ops.dataset import Catalog, load_catalog
from backbeat_ops.reindex import reindex
from backbeat_ops.seed import catalog_items


class _Recording:
    """The engine client, recording each `_msearch` body and answer."""

    def __init__(self, client: OpenSearch) -> None:
        self.client = client
        self.calls: list[tuple[list[dict[str, Any]], dict[str, Any]]] = []

    def msearch(self, body: list[dict[str, Any]]) -> dict[str, Any]:
        answer = self.client.msearch(body=body)
        self.calls.append((body, answer))
        return answer


@pytest.fixture
def catalog(search_url: str, catalog_dir: Path) -> Catalog:
    small = load_catalog(catalog_dir).first(400)
    reindex(OpenSearch(hosts=[search_url]), "", catalog_items(small))
    return small


def test_candidates_carry_ranking_fields_and_only_the_page_is_fetched_whole(catalog: Catalog, search_url: str) -> None:
    client = OpenSearch(hosts=[search_url])
    recording = _Recording(client)
    index = service.SearchIndex(recording, "")  # type: ignore[arg-type]
    words = Counter(word for song in catalog.songs for word in set(fold(song.title).split()) if len(word) >= 4)
    text = words.most_common(1)[0][0]
    body = service.search(index, text, ["song", "album", "artist", "playlist"], 5, 0)

    (candidates_body, candidates), (page_body, _) = recording.calls
    queries = candidates_body[1::2]
    assert [query["_source"] for query in queries] == [
        CANDIDATE_FIELDS[e] for e in ("song", "album", "artist", "playlist")
    ]
    song_hits = candidates["responses"][0]["hits"]["hits"]
    assert len(song_hits) > 5 and all(set(hit["_source"].get("view", {})) <= {"genres"} for hit in song_hits)
    items = body["songs"]["items"]
    assert page_body[1]["query"] == {"ids": {"values": [item["id"] for item in items]}} and len(items) == 5

    # the page is what re-ranking the full documents gives, and each song is its catalog view
    full = client.search(
        index="songs", body={k: v for k, v in search_query("song", text, 100).items() if k != "_source"}
    )
    expected = rerank("song", text, full["hits"]["hits"])[:5]
    assert items == [document["view"] for document in expected]
    assert body["songs"]["total"] == full["hits"]["total"]["value"]


def test_fewer_candidates_keep_an_exact_match_on_top(catalog: Catalog, search_url: str) -> None:
    index = service.SearchIndex(OpenSearch(hosts=[search_url]), "")
    for song in catalog.songs[:20]:
        items = service.search(index, f"{song.title} {song.artist_name}", ["song"], 10, 0)["songs"]["items"]
        assert (fold(items[0]["title"]), fold(items[0]["artist"]["name"])) == (fold(song.title), fold(song.artist_name))


def _hit(doc_id: str, score: float, **fields: Any) -> dict[str, Any]:
    return {"_score": score, "_source": {"id": doc_id, "title": f"Song {doc_id}", "popularity": 0, **fields}}


@pytest.mark.parametrize("where", ["top", "view"])  # documents indexed before genres were copied up
def test_a_listeners_genres_lift_songs_of_those_genres(where: str) -> None:
    def genres(values: list[str]) -> dict[str, Any]:
        return {"genres": values} if where == "top" else {"view": {"genres": values}}

    hits = [_hit("a", 1.0, **genres(["pop"])), _hit("b", 0.98, **genres(["jazz", "blues"]))]
    assert [d["id"] for d in rerank("song", "something", hits)] == ["a", "b"]
    jazz_fan = TasteProfile(genres={"jazz": 1.0})
    assert [d["id"] for d in rerank("song", "something", hits, jazz_fan)] == ["b", "a"]


def test_a_listeners_genres_lift_artists_of_those_genres() -> None:
    hits = [
        {"_score": 1.0, "_source": {"id": "x", "name": "Xavier", "popularity": 0, "genres": ["metal"]}},
        {"_score": 0.95, "_source": {"id": "y", "name": "Yvonne", "popularity": 0, "genres": ["folk"]}},
    ]
    assert [d["id"] for d in rerank("artist", "v", hits, TasteProfile(genres={"folk": 0.9}))] == ["y", "x"]
