"""Serving recommendations: the candidate sources called under a deadline, blended, re-ranked.

`Recommender.recommend` answers `GET /recommendations` (seeded) and `GET /me/recommendations` (the
home feed). It never answers empty and never waits on a broken part:

- the listener's model arm comes from the A/B split (`backbeat.recs.variants`);
- every candidate source runs at once behind its circuit breaker (`backbeat.recs.breaker`), all
  bounded by one deadline (`source_timeout_seconds`);
- a listener with no history (and no seeds) is asked of content and trending only;
- when there is no model, the model is stale, or no personal source answered, the answer is the
  trending chart (then the catalog's most popular songs, when nothing is trending yet), with the
  same freshness and diversity rules, marked ``"fallback": true`` with the reason.

The parts it calls are injected (`RecsBackend`), so that unit tests give it fakes and the function
gives it the plays and taste tables, the counters, the catalog and the promoted model
(`backbeat.recs.backend`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from backbeat.errors import InvalidInput
from backbeat.ids import is_valid_id
from backbeat.recs.blend import DEFAULT_WEIGHTS, Blended, blend
from backbeat.recs.breaker import Breakers, Outcome
from backbeat.recs.rerank import Ranked, rerank
from backbeat.recs.types import Candidate, Generator, ListenerContext, Source
from backbeat.recs.variants import Assignment, Split

MAX_SEEDS = 5
MAX_LIMIT = 100
PERSONAL: frozenset[Source] = frozenset({"collaborative", "content", "tags", "exploration"})
NEW_LISTENER_SOURCES: tuple[Source, ...] = ("content", "trending")
POOL_FACTOR = 3  # each source is asked for limit x this, so that freshness and diversity leave enough
SEED_NEIGHBOURS = 10

SeedKind = Literal["track", "artist", "genre"]
_SEED = re.compile(r"^(track|artist|genre):(.+)$")
_GENRE = re.compile(r"^[\w &'./+-]{1,64}$")


@dataclass(frozen=True)
class Seeds:
    song_ids: tuple[str, ...] = ()
    artist_ids: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.song_ids or self.artist_ids or self.genres)

    def view(self) -> list[dict[str, str]]:
        return [
            *({"type": "track", "id": song_id} for song_id in self.song_ids),
            *({"type": "artist", "id": artist_id} for artist_id in self.artist_ids),
            *({"type": "genre", "id": genre} for genre in self.genres),
        ]


def parse_seeds(text: str | None) -> Seeds:
    """``track:ID,artist:ID,genre:NAME`` (1 to 5 seeds); anything else is a 422 naming `seed`."""
    parts = [part.strip() for part in (text or "").split(",")]
    if not text or not all(parts):
        raise InvalidInput("seed: give 1 to 5 seeds as track:ID, artist:ID or genre:NAME, comma-separated", "seed")
    if len(parts) > MAX_SEEDS:
        raise InvalidInput(f"seed: at most {MAX_SEEDS} seeds (got {len(parts)})", "seed")
    found: dict[SeedKind, list[str]] = {"track": [], "artist": [], "genre": []}
    for part in parts:
        match = _SEED.match(part)
        if not match:
            raise InvalidInput(f"seed: {part!r} is not track:ID, artist:ID or genre:NAME", "seed")
        kind, value = match.group(1), match.group(2).strip()
        if kind in ("track", "artist") and not is_valid_id(value):
            raise InvalidInput(f"seed: {part!r}: {kind} ids are 22 letters and digits", "seed")
        if kind == "genre" and not _GENRE.match(value):
            raise InvalidInput(f"seed: {part!r}: not a genre name", "seed")
        values = found[kind]  # type: ignore[index]
        if value not in values:
            values.append(value.lower() if kind == "genre" else value)
    return Seeds(tuple(found["track"]), tuple(found["artist"]), tuple(found["genre"]))


@dataclass(frozen=True)
class RecsRequest:
    user_id: str | None
    limit: int = 20
    seeds: Seeds = field(default_factory=Seeds)
    local_hour: int | None = None
    device_type: str | None = None


@dataclass(frozen=True)
class ListenerHistory:
    """What the plays and the taste profile say of a listener (newest plays first)."""

    recent_song_ids: tuple[str, ...] = ()
    heard_song_ids: frozenset[str] = frozenset()
    artist_weights: Mapping[str, float] = field(default_factory=dict)
    genre_weights: Mapping[str, float] = field(default_factory=dict)

    @property
    def is_new(self) -> bool:
        return not (self.recent_song_ids or self.artist_weights or self.genre_weights)


@dataclass(frozen=True)
class SongTraits:
    artist_id: str | None
    features: Mapping[str, float] | None = None
    genres: tuple[str, ...] = ()


class RecsBackend(Protocol):
    """The parts serving reads: models, generators, the listener, trending, the catalog."""

    def split(self) -> Split: ...

    def model_is_stale(self, model: Any) -> bool: ...

    def generators(self) -> Mapping[Source, Generator]: ...

    def listener(self, user_id: str) -> ListenerHistory: ...

    def trending(self, limit: int) -> list[str]: ...

    def traits(self, song_ids: Sequence[str], model: Any | None) -> dict[str, SongTraits]: ...

    def check_seeds(self, seeds: Seeds, model: Any | None) -> None: ...


@dataclass(frozen=True)
class RecsAnswer:
    ranked: list[Ranked]
    fallback: bool
    fallback_reason: str | None
    assignment: Assignment
    sources: dict[str, str]  # source -> "ok" | "empty" | "open" | "timeout" | error type | "skipped"
    seeds: Seeds


def seed_neighbours(model: Any, seeds: Seeds, limit: int) -> list[Candidate]:
    """Songs of the seeds' neighbourhood, from the model: the seed artists' (and seed tracks'
    artists') most similar artists and their songs, and the seed genres' songs. They count as the
    tags source (artist similarity), in neighbour order."""
    artists = list(seeds.artist_ids)
    for song_id in seeds.song_ids:
        artist = model.song_artist(song_id)
        if artist and artist not in artists:
            artists.append(artist)
    songs: list[str] = []
    if artists:
        neighbours = [a for a in model.similar_artists(artists, SEED_NEIGHBOURS) if a not in artists]
        per_artist = max(2, limit // max(1, len(neighbours) + len(artists)))
        for artist in [*artists, *neighbours]:
            songs += list(model.artist_songs(artist, per_artist))
    for genre in seeds.genres:
        songs += list(model.genre_songs(genre, limit))
    unique = list(dict.fromkeys(song for song in songs if song not in seeds.song_ids))
    return [Candidate(song_id, float(len(unique) - rank), "tags") for rank, song_id in enumerate(unique)]


class Recommender:
    def __init__(
        self,
        backend: RecsBackend,
        weights: Mapping[Source, float] = DEFAULT_WEIGHTS,
        source_timeout_seconds: float = 0.15,
        breakers: Breakers | None = None,
    ) -> None:
        self.backend = backend
        self.weights = dict(weights)
        self.source_timeout_seconds = source_timeout_seconds
        self.breakers = breakers or Breakers()

    def recommend(self, request: RecsRequest) -> RecsAnswer:
        assignment = self.backend.split().assign(request.user_id)
        model = assignment.model
        if request.seeds:
            self.backend.check_seeds(request.seeds, model)
        history = self.backend.listener(request.user_id) if request.user_id else ListenerHistory()
        heard = history.heard_song_ids | frozenset(request.seeds.song_ids)
        reason: str | None = None
        statuses: dict[str, str] = {}
        blended: list[Blended] = []
        if model is None:
            reason = "no-model"
        elif self.backend.model_is_stale(model):
            reason = "stale-model"
        else:
            by_source, statuses = self._candidates(request, history, model)
            if not any(by_source.get(source) for source in PERSONAL):
                failed = any(status not in ("ok", "empty") for status in statuses.values())
                reason = "sources-failed" if failed else "no-personal-candidates"
            blended = blend(by_source, self.weights)
        ranked = self._rank(blended, heard, request, model) if reason is None else []
        if reason is None and not ranked:
            reason = "no-candidates"
        if reason is not None:
            ranked = self._fallback(heard, request, model)
        return RecsAnswer(ranked, reason is not None, reason, assignment, statuses, request.seeds)

    def _candidates(
        self, request: RecsRequest, history: ListenerHistory, model: Any
    ) -> tuple[dict[Source, list[Candidate]], dict[str, str]]:
        context = ListenerContext(
            user_id=request.user_id,
            recent_song_ids=history.recent_song_ids,
            heard_song_ids=history.heard_song_ids,
            artist_weights=dict(history.artist_weights),
            genre_weights=dict(history.genre_weights),
            seed_song_ids=request.seeds.song_ids,
            seed_artist_ids=request.seeds.artist_ids,
            seed_genres=request.seeds.genres,
            local_hour=request.local_hour,
            device_type=request.device_type,
        )
        generators = dict(self.backend.generators())
        if history.is_new and not request.seeds:
            generators = {source: gen for source, gen in generators.items() if source in NEW_LISTENER_SOURCES}
        pool = request.limit * POOL_FACTOR

        def ask(generator: Generator) -> Callable[[], list[Candidate]]:
            return lambda: list(generator.candidates(context, model, pool))

        calls: dict[str, Callable[[], list[Candidate]]] = {source: ask(gen) for source, gen in generators.items()}
        if request.seeds:
            calls["seeds"] = lambda: seed_neighbours(model, request.seeds, pool)
        outcomes = self.breakers.call_all(calls, self.source_timeout_seconds)
        by_source: dict[Source, list[Candidate]] = {}
        for outcome in outcomes.values():
            for candidate in _candidates_of(outcome):
                by_source.setdefault(candidate.source, []).append(candidate)
        statuses = {name: _status(outcome) for name, outcome in outcomes.items()}
        return by_source, statuses

    def _rank(self, blended: list[Blended], heard: frozenset[str], request: RecsRequest, model: Any) -> list[Ranked]:
        traits = self.backend.traits([entry.song_id for entry in blended], model)
        return rerank(
            blended,
            artist_of=lambda song_id: traits[song_id].artist_id if song_id in traits else None,
            features_of=lambda song_id: traits[song_id].features if song_id in traits else None,
            heard=heard,
            local_hour=request.local_hour,
            device_type=request.device_type,
            limit=request.limit,
        )

    def _fallback(self, heard: frozenset[str], request: RecsRequest, model: Any | None) -> list[Ranked]:
        """Trending (then popular) songs, best first, under the same freshness, context and
        diversity rules; the heard rule gives way only when it would leave the answer empty."""
        chart = self.backend.trending(request.limit * POOL_FACTOR + len(heard))
        count = len(chart)
        as_blended = [Blended(song_id, (count - rank) / count, ("trending",)) for rank, song_id in enumerate(chart)]
        ranked = self._rank(as_blended, heard, request, model)
        return ranked or self._rank(as_blended, frozenset(), request, model)


def _candidates_of(outcome: Outcome) -> list[Candidate]:
    return [c for c in (outcome.value or []) if isinstance(c, Candidate)] if outcome.ok else []


def _status(outcome: Outcome) -> str:
    if not outcome.ok:
        return str(outcome.error)
    return "ok" if outcome.value else "empty"


def local_hour_of(local_time: str | None, tz: str | None, now: datetime | None = None) -> int | None:
    """The client's local hour: from `localTime` (ISO 8601, e.g. 2026-12-03T07:45:00+01:00: its
    hour as written) or from `tz` (an IANA zone: the hour there now); None when neither is given."""
    if local_time:
        try:
            return datetime.fromisoformat(local_time.replace("Z", "+00:00")).hour
        except ValueError:
            raise InvalidInput("localTime: not an ISO 8601 date-time", "localTime") from None
    if tz:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"tz: {tz!r} is not an IANA time zone", "tz") from None
        return (now or datetime.now(UTC)).astimezone(zone).hour
    return None


def is_stale(trained_at: Any, max_age: timedelta, now: datetime | None = None) -> bool:
    """A model trained longer than `max_age` ago (an unknown training time is not stale)."""
    if not trained_at:
        return False
    moment = trained_at if isinstance(trained_at, datetime) else None
    if moment is None:
        try:
            moment = datetime.fromisoformat(str(trained_at).replace("Z", "+00:00"))
        except ValueError:
            return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (now or datetime.now(UTC)) - moment > max_age


def answer_view(answer: RecsAnswer, songs: Mapping[str, dict[str, Any]], limit: int) -> dict[str, Any]:
    """The JSON answer: each song as GET /songs/{id} shows it, with its rank, score and sources."""
    items = [
        {"rank": rank, "song": songs[entry.song_id], "score": round(entry.score, 4), "sources": list(entry.sources)}
        for rank, entry in enumerate((e for e in answer.ranked if e.song_id in songs), start=1)
    ]
    return {
        "items": items,
        "total": len(items),
        "limit": limit,
        "seeds": answer.seeds.view(),
        "fallback": answer.fallback,
        "fallbackReason": answer.fallback_reason,
        "model": {"version": getattr(answer.assignment.model, "version", None)},
        "variant": answer.assignment.view(),
        "sources": answer.sources,
    }
