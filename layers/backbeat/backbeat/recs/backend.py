"""What serving reads, wired to the deployed stack: the promoted (and challenger) model, the candidate
generators, the listener's plays and taste, the trending chart, the catalog.

The model and the generators come from the training side (`backbeat.recs.artefacts`,
`backbeat.recs.generators.*`). They are imported when first needed and any failure to load them
reads as "no model" — which serving answers with the trending fallback — so a missing or broken
artefact can slow nothing and break nothing. Everything is cached per execution environment: the
model for `model_refresh_seconds`, the trending chart for a minute (refreshed in the background),
the catalog's popular songs for ten minutes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from backbeat.aws import client
from backbeat.catalog.models import META, SONG_PREFIX, ArtistItem, SongItem, artist_key, bind_catalog_table
from backbeat.catalog.service import song_facts, song_views
from backbeat.config import RecsServingSettings
from backbeat.errors import NotFound
from backbeat.observability import logger
from backbeat.plain import from_image
from backbeat.playlists.models import bind_playlists_table
from backbeat.plays import trending as trends
from backbeat.plays.counter_store import bind_counters_table
from backbeat.plays.history import BY_STARTED_AT
from backbeat.plays.records import PLAY_PREFIX, iso_ms
from backbeat.plays.taste import bind_taste_table, load_profile
from backbeat.plays.trending import MAX_CHART, Trend
from backbeat.recs.blend import parse_weights
from backbeat.recs.serving import ListenerHistory, Recommender, Seeds, SongTraits, is_stale
from backbeat.recs.types import Generator, Source
from backbeat.recs.variants import Split

FRESHNESS_DAYS = 30
MAX_HISTORY = 1000  # plays read per request at most (newest first)
RECENT = 50
TRENDING_SECONDS = 60.0
POPULAR_SECONDS = 600.0
POPULAR_SAMPLE = 200  # songs one popularity sample holds (the fallback asks for 200)
POPULAR_SCAN_PAGE = 1000  # items a Scan page reads
POPULAR_SCAN_BUDGET = 20_000  # items one sample may read at most (cached ten minutes per environment)
POPULAR_SEGMENTS = 64  # a segment of a 100,000-item catalog is ~1,500 items: two Scan pages
FIRST_SAMPLE_WAIT_SECONDS = 15.0  # within the function timeout (29 s) with a cold start before it
VIEW_SECONDS = 300.0  # a song's catalog view is reused this long (titles and features rarely change)
MAX_VIEWS = 50_000


class _Timed:
    """A value computed at most once per `seconds`; a stale value is served while a fresh one is
    computed in the background, so only the very first reader of an environment waits."""

    def __init__(self, compute: Callable[[], Any], seconds: float, pool: ThreadPoolExecutor) -> None:
        self._compute, self._seconds, self._pool = compute, seconds, pool
        self._value: Any = None
        self._expires = 0.0
        self._refresh: Future[Any] | None = None
        self._lock = threading.Lock()

    def get(self, wait_seconds: float) -> Any:
        with self._lock:
            if time.monotonic() < self._expires:
                return self._value
            if self._refresh is None or self._refresh.done():
                self._refresh = self._pool.submit(self._update)
            refresh, value, known = self._refresh, self._value, self._expires > 0
        if known:
            return value
        try:
            refresh.result(timeout=wait_seconds)
        except TimeoutError:
            return None  # the caller falls back; the refresh carries on in the background
        except Exception:
            logger.exception("a recommendation cache could not be refreshed")
            return None
        return self._value

    def prefetch(self) -> None:
        """Start computing now (at cold start), so the first request finds the value ready."""
        with self._lock:
            if self._refresh is None:
                self._refresh = self._pool.submit(self._update)

    def _update(self) -> None:
        value = self._compute()
        with self._lock:
            self._value, self._expires = value, time.monotonic() + self._seconds


def plays_since(table: str, user_id: str, since: datetime, limit: int = MAX_HISTORY) -> list[dict[str, Any]]:
    """The listener's play records started at or after `since`, newest first (the byStartedAt index)."""
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": BY_STARTED_AT,
        "KeyConditionExpression": "userId = :user AND startedAt >= :since",
        "ExpressionAttributeValues": {":user": {"S": user_id}, ":since": {"S": iso_ms(since)}},
        "ProjectionExpression": "songId, startedAt",
        "ScanIndexForward": False,
    }
    records: list[dict[str, Any]] = []
    while len(records) < limit:
        answer = client("dynamodb").query(**request, Limit=limit - len(records))
        records += [from_image(item) for item in answer.get("Items", [])]
        if "LastEvaluatedKey" not in answer:
            break
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
    return records


def popular_songs(limit: int) -> list[str]:
    """The most popular songs of a sample of the catalog: what the fallback answers while nothing is
    trending yet (a new stack). The sample is read segment by segment of a parallel Scan (a segment is
    a slice of the table by partition-key hash, so songs, artists and albums are mixed in each) until
    it holds POPULAR_SAMPLE songs or POPULAR_SCAN_BUDGET items were read; a small catalog is read
    whole. Reading the table from its start instead may meet only artists and albums for a long while."""
    items: list[dict[str, Any]] = []
    scanned = 0
    for segment in range(POPULAR_SEGMENTS):
        request: dict[str, Any] = {
            "TableName": SongItem.Meta.table_name,
            "FilterExpression": "begins_with(pk, :song) AND sk = :meta",
            "ExpressionAttributeValues": {":song": {"S": SONG_PREFIX}, ":meta": {"S": META}},
            "ProjectionExpression": "id, popularity",
            "Limit": POPULAR_SCAN_PAGE,
            "Segment": segment,
            "TotalSegments": POPULAR_SEGMENTS,
        }
        while True:
            answer = client("dynamodb").scan(**request)
            scanned += int(answer.get("ScannedCount", 0))
            items += [from_image(item) for item in answer.get("Items", [])]
            if "LastEvaluatedKey" not in answer or scanned >= POPULAR_SCAN_BUDGET:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        if len(items) >= POPULAR_SAMPLE or scanned >= POPULAR_SCAN_BUDGET:
            break
    items.sort(key=lambda item: (-float(item.get("popularity") or 0), item["id"]))
    return [item["id"] for item in items[:limit]]


def load_generators(chart: Callable[[int], list[Trend]] | None = None) -> dict[Source, Generator]:
    """The five candidate generators (`backbeat.recs.generators`), by source; `chart` is where the
    trending source reads the chart (the serving environment's cached one), rather than computing it
    from the counters on each request."""
    from backbeat.recs.generators.collaborative import CollaborativeGenerator
    from backbeat.recs.generators.content import ContentGenerator
    from backbeat.recs.generators.exploration import ExplorationGenerator
    from backbeat.recs.generators.tags import TagsGenerator
    from backbeat.recs.generators.trending import TrendingGenerator

    generators: list[Generator] = [
        CollaborativeGenerator(),
        ContentGenerator(),
        TagsGenerator(),
        TrendingGenerator(chart),
        ExplorationGenerator(),
    ]
    return {generator.source: generator for generator in generators}


def _load_model(loader: str) -> Any | None:
    """`backbeat.recs.artefacts.<loader>()`, or None when there is no such model (or it cannot load)."""
    from backbeat.recs import artefacts

    try:
        load = getattr(artefacts, loader, None)  # no `load_challenger` while the registry holds no challenger
        return load() if callable(load) else None
    except Exception:  # a broken artefact must read as "no model": the fallback answers
        logger.exception("recommendation model could not be loaded", extra={"loader": loader})
        return None


def trained_at(model: Any) -> Any:
    """When the model was trained (its metadata's `trainedAt`), or None when it does not say."""
    metadata = getattr(model, "metadata", None)
    if isinstance(metadata, Mapping) and metadata.get("trainedAt"):
        return metadata["trainedAt"]
    for name in ("trained_at", "created_at", "published_at"):
        value = getattr(model, name, None)
        if value:
            return value
    return None


class LiveBackend:
    def __init__(
        self,
        plays_table: str,
        model_max_age: timedelta = timedelta(days=14),
        model_refresh_seconds: float = 300.0,
        challenger_share: float = 0.5,
        fallback_wait_seconds: float = 5.0,
    ) -> None:
        self.plays_table = plays_table
        self.model_max_age = model_max_age
        self.challenger_share = challenger_share
        self.fallback_wait_seconds = fallback_wait_seconds
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="recs-cache")
        self._reads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="recs-read")  # a request's parallel reads
        self._split = _Timed(self._load_split, model_refresh_seconds, self._pool)
        self._generators = _Timed(lambda: load_generators(self.chart), model_refresh_seconds, self._pool)
        self._views: dict[str, tuple[float, dict[str, Any]]] = {}
        self._views_lock = threading.Lock()
        # The chart is computed from the counters (a query per charted song) once a minute per
        # environment, for the fallback and the trending source alike, never on a request's path.
        self._trending = _Timed(self._chart_with_views, TRENDING_SECONDS, self._pool)
        self._popular = _Timed(lambda: self._with_views(popular_songs(200)), POPULAR_SECONDS, self._pool)
        for cache in (self._split, self._generators, self._trending, self._popular):
            cache.prefetch()

    def _chart_with_views(self) -> list[Trend]:
        chart = trends.trending(MAX_CHART)
        self.views([trend.song_id for trend in chart])
        return chart

    def _with_views(self, song_ids: list[str]) -> list[str]:
        """The fallback's songs, their views fetched with them: the fallback then reads no catalog."""
        self.views(song_ids)
        return song_ids

    def chart(self, limit: int) -> list[Trend]:
        """The cached trending chart's first `limit` songs (empty while the first computation runs
        longer than the fallback may wait)."""
        chart: list[Trend] = self._trending.get(self.fallback_wait_seconds) or []
        return chart[:limit]

    def views(self, song_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Songs' views as GET /songs/{id} answers them, from this environment's cache when fresh."""
        now = time.monotonic()
        found: dict[str, dict[str, Any]] = {}
        missing: list[str] = []
        with self._views_lock:
            for song_id in dict.fromkeys(song_ids):
                cached = self._views.get(song_id)
                if cached is not None and cached[0] > now:
                    found[song_id] = cached[1]
                else:
                    missing.append(song_id)
        if missing:
            fetched = song_views(missing)
            with self._views_lock:
                if len(self._views) + len(fetched) > MAX_VIEWS:
                    self._views.clear()
                self._views.update({song_id: (now + VIEW_SECONDS, view) for song_id, view in fetched.items()})
            found.update(fetched)
        return found

    def _load_split(self) -> Split:
        return Split(_load_model("load_promoted"), _load_model("load_challenger"), self.challenger_share)

    def split(self) -> Split:
        split: Split | None = self._split.get(wait_seconds=20.0)
        return split or Split(None)

    def close(self) -> None:
        """Let the background reads started so far (the cold start's prefetches among them) finish,
        and start no more: for a process that ends this environment (a test), never a request."""
        self._pool.shutdown(wait=True)
        self._reads.shutdown(wait=True)

    def model_is_stale(self, model: Any) -> bool:
        return is_stale(trained_at(model), self.model_max_age)

    def generators(self) -> Mapping[Source, Generator]:
        generators: dict[Source, Generator] | None = self._generators.get(wait_seconds=20.0)
        return generators or {}

    def listener(self, user_id: str) -> ListenerHistory:
        since = datetime.now(UTC) - timedelta(days=FRESHNESS_DAYS)
        taste = self._reads.submit(load_profile, user_id)  # read while the plays are queried
        plays = plays_since(self.plays_table, user_id, since)
        recent = tuple(dict.fromkeys(str(play["songId"]) for play in plays))[:RECENT]
        profile = taste.result()
        return ListenerHistory(
            recent_song_ids=recent,
            heard_song_ids=frozenset(str(play["songId"]) for play in plays),
            artist_weights=profile.artists,
            genre_weights=profile.genres,
        )

    def trending(self, limit: int) -> list[str]:
        chart = [trend.song_id for trend in self.chart(MAX_CHART)]
        if len(chart) < limit:
            # The sample is taken once per environment (prefetched at cold start) and kept ten
            # minutes; only the first request of a fresh environment may wait for it, so that even
            # that answer is never empty (a long wait only on a new stack with a big catalog).
            popular: list[str] = self._popular.get(FIRST_SAMPLE_WAIT_SECONDS) or []
            chart = list(dict.fromkeys([*chart, *popular]))
        return chart[:limit]

    def traits(self, song_ids: Sequence[str], model: Any | None) -> dict[str, SongTraits]:
        traits: dict[str, SongTraits] = {}
        if model is not None:
            for song_id in song_ids:
                artist = model.song_artist(song_id)
                if artist:
                    genres = tuple(model.song_genres(song_id))
                    traits[song_id] = SongTraits(artist, model.song_features(song_id), genres)
        missing = [song_id for song_id in song_ids if song_id not in traits]
        for song_id, view in self.views(missing).items():
            traits[song_id] = SongTraits(view["artist"]["id"], view["audioFeatures"], tuple(view["genres"]))
        return traits

    def check_seeds(self, seeds: Seeds, model: Any | None) -> None:
        """Unknown seeds are 404s: tracks and artists must be in the catalog, genres in the model."""
        known_songs = song_facts(seeds.song_ids) if seeds.song_ids else {}
        for song_id in seeds.song_ids:
            if song_id not in known_songs:
                raise NotFound(f"seed track:{song_id} not found")
        # An artist the served model has songs of is in the catalog (the model is built from it);
        # only the others are looked up.
        unknown = [artist_id for artist_id in seeds.artist_ids if model is None or not model.artist_songs(artist_id, 1)]
        if unknown:
            keys = [(artist_key(artist_id), META) for artist_id in unknown]
            known_artists = {artist.id for artist in ArtistItem.batch_get(keys)}
            for artist_id in unknown:
                if artist_id not in known_artists:
                    raise NotFound(f"seed artist:{artist_id} not found")
        if model is not None:
            for genre in seeds.genres:
                if not list(model.genre_songs(genre, 1)):
                    raise NotFound(f"seed genre:{genre} not found")


def songs_played(table: str, user_id: str) -> set[str]:
    """Every song the plays table holds a play of for the listener (its whole retention)."""
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "userId = :user AND begins_with(sk, :play)",
        "ExpressionAttributeValues": {":user": {"S": user_id}, ":play": {"S": PLAY_PREFIX}},
        "ProjectionExpression": "songId",
    }
    songs: set[str] = set()
    while True:
        answer = client("dynamodb").query(**request)
        songs.update(item["songId"]["S"] for item in answer.get("Items", []) if "songId" in item)
        if "LastEvaluatedKey" not in answer:
            return songs
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _bind_models() -> None:
    """The promoted model's bucket and registry, read now (the function's environment is set while
    it starts; the model is loaded later on the cache's threads). A function without them serves
    the fallback, as before."""
    from pydantic import ValidationError

    from backbeat.config import RecsModelSettings
    from backbeat.recs import artefacts

    try:
        models = RecsModelSettings()  # type: ignore[call-arg]
    except ValidationError:
        logger.warning("no recommendation model settings: answers fall back to trending")
        return
    artefacts.bind_models(models.recs_models_bucket, models.recs_registry_table)


def recommender_for(settings: RecsServingSettings) -> tuple[Recommender, LiveBackend]:
    """The recommender a function serves with, its tables bound (called once at cold start)."""
    bind_catalog_table(settings.catalog_table)
    bind_counters_table(settings.counters_table)
    bind_taste_table(settings.taste_table)
    bind_playlists_table(settings.playlists_table)
    _bind_models()
    backend = LiveBackend(
        settings.plays_table,
        model_max_age=timedelta(days=settings.recs_model_max_age_days),
        challenger_share=settings.recs_challenger_share,
    )
    recommender = Recommender(
        backend, parse_weights(settings.recs_weights), source_timeout_seconds=settings.recs_source_timeout_ms / 1000
    )
    return recommender, backend
