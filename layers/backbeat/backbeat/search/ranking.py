"""Queries and re-ranking.

The engine fetches 50 candidates per type (whole search documents: what ranking and the views read) with a
multi_match over the words (title^3, artist^2, album^1) plus exact-phrase, all-terms and prefix boosts.
The word clauses leave out the most common English words (`FUNCTION_WORDS` in the words-as-typed pass,
the shorter `COMMON_WORDS` in the typo pass), which cost the engine most and tell documents apart least;
the phrase, whole-name and prefix clauses keep the text as typed (docs/decisions.md, 54 and 59).
The words are matched as typed first; only when no document of any type holds every word of the query
(a typo, most likely) is the query run again with the words typo-tolerant (fuzziness AUTO): fuzzy
matching is most of the engine's time, and a query typed as the catalog spells it does not need it
(docs/decisions.md, 50). Python then re-ranks the candidates:

    score = engine score / best engine score            (0..1, relevance)
          + EXACT   when the query is the title (or "title artist") exactly, folded
          + 0.30 x the listener's affinity to the artist  (0..1)
          + 0.20    when the song is in one of their playlists
          + 0.10 x overlap with the genres they play      (0..1)
          + 0.02 x popularity / 100                       (tiebreaker)

EXACT (2.0) is larger than everything personalisation can add (0.6 + 0.02), so an exact match
stays on top whatever the listener's taste. Query text only ever reaches the engine as the
`query` of match-family queries: it is searched as text, never parsed as query syntax.
"""

from __future__ import annotations

import re
import string
from typing import Any

from backbeat.plays.taste import TasteProfile
from backbeat.search.text import fold

# 100 -> 50: the same relevance on the tuning half of bench/search_relevance.py (exact top-1 1.000, typo
# MRR@10 0.985 at both sizes), half the documents to move and re-rank.
CANDIDATES = 50
EXACT = 2.0
ARTIST_AFFINITY = 0.30
IN_PLAYLIST = 0.20
GENRE_AFFINITY = 0.10
POPULARITY = 0.02

_FIELDS = {
    "song": ["title^3", "artist^2", "album"],
    "album": ["title^3", "artist^2"],
    "artist": ["name^3"],
    "playlist": ["name^3"],
}
_TITLE = {"song": "title", "album": "title", "artist": "name", "playlist": "name"}

# A candidate carries back its whole document: the search documents (`backbeat.search.documents`) hold
# only the fields re-ranking reads and those the views are built from (a song's is its catalog view,
# stored whole), plus a song's album name and id. Fetching the page's song views in a second request
# moved fewer bytes but cost a second round trip, which measured slower (docs/decisions.md, 43); naming
# the fields to return made the engine rebuild each hit's document instead of sending it as stored,
# which cost more than the few bytes it saved (docs/decisions.md, 55).


_TYPO_TOLERANCE = {"fuzziness": "AUTO", "prefix_length": 1, "max_expansions": 50}

# The most common English words (Lucene's English stop words). Nearly every other title holds one, so
# the engine would score tens of thousands of documents for each of them in the word clauses, most of
# a query's cost, while they tell documents apart least. The word clauses leave them out; the phrase,
# whole-name and prefix clauses keep the text whole, so `The The` or `Let It Be` still match as typed
# (docs/decisions.md, 54).
COMMON_WORDS = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not"}
    | {"of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was"}
    | {"will", "with"}
)
# The words as typed (the first pass) leave out more: the Snowball project's English stop words as well
# (pronouns, forms of "be", "have" and "do", prepositions, contractions). "I", "You", "Me" and "My" are the
# commonest words of this catalog's titles after "the", and that pass asks for every word anyway, as a
# phrase and as the whole name too. The typo pass keeps them: with a word misspelled, the pronouns around it
# are what tells `I See You` from the other songs of its artist (docs/decisions.md, 59).
_SNOWBALL_STOP_WORDS = """
    i me my myself we us our ours ourselves you your yours yourself yourselves he him his himself she her hers
    herself it its itself they them their theirs themselves what which who whom this that these those am is
    are was were be been being have has had having do does did doing would should could ought i'm you're
    he's she's it's we're they're i've you've we've they've i'd you'd he'd she'd we'd they'd i'll you'll
    he'll she'll we'll they'll isn't aren't wasn't weren't hasn't haven't hadn't doesn't don't didn't won't
    wouldn't shan't shouldn't can't cannot couldn't mustn't let's that's who's what's here's there's when's
    where's why's how's a an the and but if or because as until while of at by for with about against
    between into through during before after above below to from up down in out on off over under again
    further then once here there when where why how all any both each few more most other some such no nor
    not only own same so than too very
"""
FUNCTION_WORDS = COMMON_WORDS | frozenset(_SNOWBALL_STOP_WORDS.split())
# How the engine's `folding` analyzer splits and folds a text, closely enough to tell whether a document
# holds a query's words: the standard tokenizer keeps `Don't`, `J.D.` and `1.5` whole and makes each
# ideograph a word of its own, and asciifolding spells out the letters Unicode does not decompose.
_IDEOGRAPHS = "\u3040-\u309f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_LETTERS = rf"(?:(?![{_IDEOGRAPHS}])\w)+"
_WORD = re.compile(rf"[{_IDEOGRAPHS}]|{_LETTERS}(?:['.]{_LETTERS})*")
_SPELLED_OUT = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "\u2019": "'"})
_PUNCTUATION = string.punctuation + "\u2018\u2019\u201c\u201d"  # and the curly quotes


def significant_words(text: str, common: frozenset[str] = COMMON_WORDS) -> str:
    """The text without its `common` words, for the word clauses: a word is dropped when, folded, without
    the punctuation around it (`(A`) and with a curly apostrophe read as a straight one (U+2019), it is
    one of them; every other word stays as typed, so the engine's tokenizer splits it as it split the
    titles (`D's`, `J.D.`). The text itself when it is all common words (they are then all there is to
    match)."""
    kept = [word for word in text.split() if fold(word).strip(_PUNCTUATION).replace("\u2019", "'") not in common]
    return " ".join(kept) if kept else text


def search_query(entity: str, text: str, size: int, *, fuzzy: bool = False) -> dict[str, Any]:
    """The candidates query; `fuzzy` forgives typos in the words (the second pass, see `service.search`)."""
    fields = _FIELDS[entity]
    title = _TITLE[entity]
    folded = fold(text)
    significant = significant_words(text, COMMON_WORDS if fuzzy else FUNCTION_WORDS)
    words = {"query": significant, "fields": fields, "type": "most_fields", **(_TYPO_TOLERANCE if fuzzy else {})}
    every_word = {"query": significant, "fields": fields, "type": "cross_fields", "operator": "and", "boost": 2}
    should: list[dict[str, Any]] = [
        {"multi_match": words},
        {"multi_match": every_word},
        {"match_phrase": {title: {"query": text, "boost": 3}}},
        {"term": {f"{title}.keyword": {"value": folded, "boost": 10}}},
        {"match": {f"{title}.prefix": {"query": text, "operator": "and", "boost": 0.5}}},
    ]
    return {
        "query": {"bool": {"should": should, "minimum_should_match": 1}},
        "size": size,
        "track_total_hits": True,
    }


# Whether a candidate holds every word of the query as typed (what decides the typo pass) is read from the
# candidate itself, here, rather than from the engine: naming the all-words clause (`_name`) made the engine
# run that clause a second time over the whole index to report which hits it matched, after the search and
# outside its `took`, about a fifth of the time of a long query (docs/decisions.md, 59).
def words_of(text: str) -> set[str]:
    """The words of a text, folded and split as the engine's analyzer does (`Bjørk` is `bjork`, `Don't` one
    word, `東京` two), for telling whether a document holds a query's words."""
    return set(_WORD.findall(fold(text).translate(_SPELLED_OUT)))


def holds_the_typed_words(entity: str, text: str, hits: list[dict[str, Any]]) -> bool:
    """Whether a hit of the first pass holds every word of the query as typed, each in some field the words
    are matched in (what its all-words clause asks of the engine, with the same words left out)."""
    wanted = words_of(significant_words(text, FUNCTION_WORDS))
    if not wanted:  # nothing but punctuation: no word to hold
        return False
    fields = [field.split("^")[0] for field in _FIELDS[entity]]
    for hit in hits:
        document = hit["_source"]
        held: set[str] = set()
        for field in fields:
            held |= words_of(str(document.get(field) or ""))
        if wanted <= held:
            return True
    return False


def genres_of(document: dict[str, Any]) -> list[str]:
    """A document's genres; a song indexed before they were copied to the top carries them in its view."""
    genres = document.get("genres") or (document.get("view") or {}).get("genres") or []
    return [str(genre) for genre in genres]


def _is_exact(entity: str, folded_query: str, document: dict[str, Any]) -> bool:
    title = fold(str(document.get(_TITLE[entity], "")))
    if folded_query == title:
        return True
    if entity in ("song", "album"):
        artist = fold(str(document.get("artist", "")))
        return folded_query in (f"{title} {artist}", f"{artist} {title}")
    return False


def rerank(
    entity: str,
    text: str,
    hits: list[dict[str, Any]],
    profile: TasteProfile | None = None,
) -> list[dict[str, Any]]:
    """Hits (engine order) -> source documents in final order."""
    if not hits:
        return []
    folded = fold(text)
    best = max(float(hit.get("_score") or 0.0) for hit in hits) or 1.0
    scored: list[tuple[float, int, dict[str, Any]]] = []
    for position, hit in enumerate(hits):
        document = hit["_source"]
        score = float(hit.get("_score") or 0.0) / best
        if _is_exact(entity, folded, document):
            score += EXACT
        score += POPULARITY * float(document.get("popularity", 0)) / 100
        if profile and not profile.is_empty:
            artist_id = document.get("artistId") if entity != "artist" else document.get("id")
            score += ARTIST_AFFINITY * profile.artists.get(str(artist_id), 0.0)
            if entity == "song" and document.get("id") in profile.playlist_songs:
                score += IN_PLAYLIST
            genres = genres_of(document)
            if genres and profile.genres:
                score += GENRE_AFFINITY * max(profile.genres.get(genre, 0.0) for genre in genres)
        scored.append((score, -position, document))
    scored.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
    return [document for _, _, document in scored]


def suggest_query(entity: str, text: str, size: int) -> dict[str, Any]:
    title = _TITLE[entity]
    folded = fold(text)
    return {
        "query": {
            "bool": {
                "must": [{"match": {f"{title}.prefix": {"query": text, "operator": "and"}}}],
                "should": [
                    {"prefix": {f"{title}.keyword": {"value": folded, "boost": 5}}},
                    {"match_phrase_prefix": {title: {"query": text, "boost": 2}}},
                ],
            }
        },
        "size": size,
    }


def suggestion_order(entity: str, text: str, hit: dict[str, Any]) -> tuple[int, float, float]:
    """Whole-text prefix matches first, then popularity, then the engine's score."""
    document = hit["_source"]
    title = fold(str(document.get(_TITLE[entity], "")))
    return (
        1 if title.startswith(fold(text)) else 0,
        float(document.get("popularity", 0)),
        float(hit.get("_score") or 0.0),
    )
