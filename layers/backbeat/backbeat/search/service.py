"""GET /search and GET /search/suggest: the domain behind them."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as EngineConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError

from backbeat.errors import ServiceUnavailable
from backbeat.observability import logger
from backbeat.plays.taste import TasteProfile
from backbeat.search.documents import album_view, artist_view, playlist_view, song_view
from backbeat.search.engine import index_name
from backbeat.search.ranking import (
    CANDIDATES,
    holds_the_typed_words,
    rerank,
    search_query,
    suggest_query,
    suggestion_order,
)

_VIEWS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "song": song_view,
    "album": album_view,
    "artist": artist_view,
    "playlist": playlist_view,
}
_TEXT = {"song": "title", "album": "title", "artist": "name", "playlist": "name"}
RETRY_AFTER_SECONDS = 5  # what a 503 tells the client to wait when the engine is slow or down
_OVERLOADED = {429, 500, 502, 503, 504}  # engine answers that mean "not now" rather than "wrong query"
TypoPass = Literal["when-not-found", "always"]  # when search forgives typos (see `search`)


def _unavailable(detail: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"search is unavailable: the search engine {detail}; try again", RETRY_AFTER_SECONDS)


@dataclass(frozen=True)
class SearchIndex:
    """The engine's indices. `wait_seconds`: the whole wait for the engine per search or suggestion,
    however many requests it takes (a search whose words are not found makes a second one), so a slow
    engine is a 503 after that long, not after that long per request; None leaves each request to the
    client's own timeout."""

    client: OpenSearch
    prefix: str
    wait_seconds: float | None = None

    def alias(self, entity: str) -> str:
        return index_name(self.prefix, entity)

    def deadline(self) -> float | None:
        """When the wait that starts now ends (monotonic), or None."""
        return None if self.wait_seconds is None else time.monotonic() + self.wait_seconds

    def msearch(
        self,
        requests: list[tuple[str, dict[str, Any]]],
        timings: dict[str, float] | None = None,
        deadline: float | None = None,
    ) -> list[dict[str, Any]]:
        body: list[dict[str, Any]] = []
        for entity, query in requests:
            body += [{"index": self.alias(entity)}, query]
        options: dict[str, Any] = {}
        if deadline is not None:  # what is left of the search's wait
            left = deadline - time.monotonic()
            if left <= 0:
                raise _unavailable("did not answer in time")
            options["request_timeout"] = left
        started = time.perf_counter()
        try:
            answer = self.client.msearch(body=body, **options)
        except ConnectionTimeout as error:  # no answer within the client's timeout
            raise _unavailable("did not answer in time") from error
        except EngineConnectionError as error:  # refused or reset
            raise _unavailable("is unreachable") from error
        except TransportError as error:
            if error.status_code in _OVERLOADED:
                raise _unavailable(f"answered {error.status_code}") from error
            raise
        if timings is not None:  # the engine's own time, and the round trip to it (summed over calls)
            # Each search's own `took`, summed: the engine may run them one after another, and osmem-server's
            # top-level `took` is a constant.
            tooks = [float(r["took"]) for r in answer["responses"] if "took" in r]
            took = sum(tooks) if tooks else float(answer.get("took", 0))
            timings["engine"] = timings.get("engine", 0.0) + took
            timings["engine_round_trip"] = (
                timings.get("engine_round_trip", 0.0) + (time.perf_counter() - started) * 1000
            )
        responses = list(answer["responses"])
        for position, ((entity, _), response) in enumerate(zip(requests, responses, strict=True)):
            if "error" not in response:
                continue
            if "index_not_found" in str(response["error"]):  # nothing indexed yet: no results
                responses[position] = {"hits": {"hits": [], "total": {"value": 0}}}
                continue
            if response.get("status") in _OVERLOADED:
                raise _unavailable(f"answered {response['status']} for {entity}s")
            raise RuntimeError(f"search on {entity} failed: {response['error']}")
        return responses


def search(
    index: SearchIndex,
    text: str,
    types: Sequence[str],
    limit: int,
    offset: int,
    profile: TasteProfile | Callable[[], TasteProfile | None] | None = None,
    timings: dict[str, float] | None = None,
    candidates: int = CANDIDATES,
    typos: TypoPass = "when-not-found",
) -> dict[str, Any]:
    """One `_msearch` of `candidates` per type (whole search documents, which hold what ranking and
    the views read), re-ranked here.

    The words are matched as typed; when no document of any type holds them all (a typo, most likely),
    a second `_msearch` forgives typos (`typos="when-not-found"`). When that second request finds the
    engine slow or overloaded, or no time left of the search's wait, the page is the first request's.
    `typos="always"` makes one typo-tolerant request whatever the query (what search did before;
    benchmarks compare the two).

    `profile` may be a callable (the result of a read started before the call): it is asked only once
    the engine has answered, since only the re-ranking needs it."""
    size = max(candidates, offset + limit)
    fuzzy = typos == "always"
    deadline = index.deadline()
    requests = [(entity, search_query(entity, text, size, fuzzy=fuzzy)) for entity in types]
    responses = index.msearch(requests, timings, deadline)
    held = (holds_the_typed_words(entity, text, r["hits"]["hits"]) for entity, r in zip(types, responses, strict=True))
    if not fuzzy and not any(held):
        requests = [(entity, search_query(entity, text, size, fuzzy=True)) for entity in types]
        try:
            responses = index.msearch(requests, timings, deadline)
        except ServiceUnavailable as error:  # the words as typed were searched: answer with those
            logger.warning("search answered without its typo pass", extra={"reason": error.message})
    taste = profile() if callable(profile) else profile
    result: dict[str, Any] = {}
    for entity, response in zip(types, responses, strict=True):
        ranked = rerank(entity, text, response["hits"]["hits"], taste)
        total = response["hits"]["total"]
        result[f"{entity}s"] = {
            "items": [_VIEWS[entity](document) for document in ranked[offset : offset + limit]],
            "total": int(total["value"] if isinstance(total, dict) else total),
            "limit": limit,
            "offset": offset,
        }
    return result


def suggest(index: SearchIndex, text: str, limit: int, timings: dict[str, float] | None = None) -> dict[str, Any]:
    entities = ("song", "artist", "album")
    requests = [(entity, suggest_query(entity, text, max(limit * 3, 20))) for entity in entities]
    responses = index.msearch(requests, timings, index.deadline())
    candidates: list[tuple[tuple[int, float, float], dict[str, Any]]] = []
    seen: set[tuple[str, str]] = set()
    for entity, response in zip(entities, responses, strict=True):
        for hit in response["hits"]["hits"]:
            document = hit["_source"]
            if entity == "album" and document.get("type") == "single":
                continue  # a single is its song, which is suggested already
            text_value = str(document.get(_TEXT[entity], ""))
            key = (entity, text_value.casefold())
            if key in seen:  # one suggestion per distinct text and type
                continue
            seen.add(key)
            candidates.append(
                (suggestion_order(entity, text, hit), {"type": entity, "id": document["id"], "text": text_value})
            )
    candidates.sort(key=lambda entry: entry[0], reverse=True)
    return {"suggestions": [suggestion for _, suggestion in candidates[:limit]]}


class TtlCache:
    """A small per-execution-environment cache (LRU, time-bounded); thread-safe."""

    def __init__(self, ttl_seconds: float, max_entries: int = 1024) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Any, compute: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry and entry[0] > now:
                self._entries.move_to_end(key)
                return entry[1]
        value = compute()
        with self._lock:
            self._entries[key] = (now + self.ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
