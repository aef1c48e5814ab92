"""Search fetches lean candidates in one request, with the same results as re-ranking full
documents; typos are forgiven in a second request only when the words as typed are nowhere in the
catalog; genre taste reaches songs and artists."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from backbeat.plays.taste import TasteProfile
from backbeat.search import service
from backbeat.search.ranking import CANDIDATES, rerank, search_query
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


def test_candidates_carry_what_ranking_and_views_need_in_one_request(catalog: Catalog, search_url: str) -> None:
    client = OpenSearch(hosts=[search_url])
    recording = _Recording(client)
    index = service.SearchIndex(recording, "")  # type: ignore[arg-type]
    words = Counter(word for song in catalog.songs for word in set(fold(song.title).split()) if len(word) >= 4)
    text = words.most_common(1)[0][0]
    body = service.search(index, text, ["song", "album", "artist", "playlist"], 5, 0)

    ((candidates_body, _),) = recording.calls  # one round trip for every type
    queries = candidates_body[1::2]
    assert not any("_source" in query for query in queries)  # each candidate comes back as stored
    assert {query["size"] for query in queries} == {CANDIDATES}
    # no clause is named: the engine runs a named clause again over the whole index to report its name
    assert "_name" not in str(queries)

    # the page is what re-ranking the full documents gives, and each song is its catalog view
    full_query = search_query("song", text, CANDIDATES)
    assert "fuzziness" not in str(queries)  # the word is in the catalog as typed: no typo pass
    full = client.search(index="songs", body=full_query)
    expected = rerank("song", text, full["hits"]["hits"])[:5]
    assert body["songs"]["items"] == [document["view"] for document in expected]
    assert len(expected) == 5 and body["songs"]["total"] == full["hits"]["total"]["value"]


def test_fewer_candidates_keep_an_exact_match_on_top(catalog: Catalog, search_url: str) -> None:
    index = service.SearchIndex(OpenSearch(hosts=[search_url]), "")
    for song in catalog.songs[:20]:
        items = service.search(index, f"{song.title} {song.artist_name}", ["song"], 10, 0)["songs"]["items"]
        assert (fold(items[0]["title"]), fold(items[0]["artist"]["name"])) == (fold(song.title), fold(song.artist_name))


def _misspelled(text: str) -> str:
    """`text` with two different letters of its longest word swapped past the middle (a typo)."""
    words = text.split(" ")
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[longest]
    at = next(i for i in range(len(word) // 2, len(word) - 1) if word[i].lower() != word[i + 1].lower())
    words[longest] = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    return " ".join(words)


def test_a_typo_is_forgiven_in_a_second_request_only_when_the_words_are_not_found(
    catalog: Catalog, search_url: str
) -> None:
    client = OpenSearch(hosts=[search_url])
    recording = _Recording(client)
    index = service.SearchIndex(recording, "")  # type: ignore[arg-type]
    types = ["song", "album", "artist", "playlist"]
    checked = 0
    for song in catalog.songs[:40]:
        typed = f"{song.title} {song.artist_name}"
        if max(len(word) for word in typed.split(" ")) < 6:
            continue  # too short to misspell with a typo AUTO fuzziness forgives
        recording.calls.clear()
        service.search(index, typed, types, 10, 0)
        assert len(recording.calls) == 1 and "fuzziness" not in str(recording.calls[0][0]), typed

        misspelled = _misspelled(typed)
        recording.calls.clear()
        body = service.search(index, misspelled, types, 10, 0)
        assert len(recording.calls) == 2, misspelled  # nothing holds the misspelled word: typos forgiven
        assert "fuzziness" not in str(recording.calls[0][0]) and "fuzziness" in str(recording.calls[1][0])
        assert "_name" not in str(recording.calls[1][0])  # no one reads the typo pass's names
        titles = [(fold(i["title"]), fold(i["artist"]["name"])) for i in body["songs"]["items"]]
        assert (fold(song.title), fold(song.artist_name)) in titles, misspelled
        # the same page as the single typo-tolerant request search made before
        assert body == service.search(index, misspelled, types, 10, 0, typos="always")
        checked += 1
    assert checked >= 10


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


def test_common_words_are_left_to_the_phrase_and_name_clauses(catalog: Catalog, search_url: str) -> None:
    """`the`, `of`, `to`... cost the engine a score in most documents for nothing: the word clauses
    leave them out, the phrase and whole-name clauses keep the text as typed, and a title made of
    common words alone is still found first."""
    query = search_query("song", "The Sound Of Silence (A Live Take)", CANDIDATES)
    words, all_words, phrase, name, _prefix = query["query"]["bool"]["should"]
    assert words["multi_match"]["query"] == all_words["multi_match"]["query"] == "Sound Silence Live Take)"
    assert phrase["match_phrase"]["title"]["query"] == "The Sound Of Silence (A Live Take)"
    assert name["term"]["title.keyword"]["value"] == "the sound of silence (a live take)"

    only_common = search_query("song", "To Be Or Not", CANDIDATES)["query"]["bool"]["should"][0]
    assert only_common["multi_match"]["query"] == "To Be Or Not"  # nothing else to match

    index = service.SearchIndex(OpenSearch(hosts=[search_url]), "")
    common = [
        song for song in catalog.songs if any(word in {"the", "of", "to", "in"} for word in fold(song.title).split())
    ]
    assert common
    for song in common[:10]:
        items = service.search(index, f"{song.title} {song.artist_name}", ["song"], 10, 0)["songs"]["items"]
        assert items[0]["id"] == song.id


def test_the_words_as_typed_leave_out_pronouns_and_the_typo_pass_keeps_them() -> None:
    """The commonest words of the catalog's titles ("I", "You", "Me") cost the engine most in the word
    clauses of the first pass, which also asks for the whole phrase; with a word misspelled they are what
    tells a song from its artist's others, so the typo pass keeps them."""

    def word_clauses(query: dict[str, Any]) -> list[str]:
        return [
            clause["multi_match"]["query"] for clause in query["query"]["bool"]["should"] if "multi_match" in clause
        ]

    assert word_clauses(search_query("song", "I See You Luke Bryan", 50)) == ["See Luke Bryan"] * 2
    assert word_clauses(search_query("song", "I See You Luke Brayn", 50, fuzzy=True)) == ["I See You Luke Brayn"] * 2
    # a curly apostrophe is read as a straight one; a text of nothing but such words is kept whole
    assert word_clauses(search_query("song", "Don\u2019t Stop Me Now", 50)) == ["Stop Now"] * 2
    assert word_clauses(search_query("artist", "You Me At", 50)) == ["You Me At"] * 2


def test_a_candidate_holds_the_words_as_the_engine_splits_and_folds_them() -> None:
    """Whether a hit holds every word decides the typo pass: a word is matched as the engine's analyzer
    reads it (letters Unicode does not decompose spelled out, `Don't` and `J.D.` whole, each ideograph
    on its own)."""
    from backbeat.search.ranking import holds_the_typed_words

    def holds(entity: str, text: str, **document: str) -> bool:
        return holds_the_typed_words(entity, text, [{"_source": document}])

    assert holds("artist", "Bjork", name="Bjørk") and holds("artist", "aeon", name="Æon")
    assert holds("song", "Don\u2019t Stop Queen", title="Don't Stop Me Now", artist="Queen", album="Jazz")
    assert not holds("song", "D Souther", title="Faithless Love", artist="J.D. Souther", album="x")
    assert holds("artist", "東京", name="東京事変") and not holds("artist", "東京", name="東事変")
