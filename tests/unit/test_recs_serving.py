"""Serving: sources called under a deadline behind breakers, blended and re-ranked; never empty
(trending fallback, marked), seeds parsed and expanded to their neighbourhood. Fakes stand for the
model, the generators and the stack (`RecsBackend`)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backbeat.errors import InvalidInput, NotFound
from backbeat.recs.breaker import Breakers
from backbeat.recs.serving import (
    ListenerHistory,
    Recommender,
    RecsRequest,
    Seeds,
    SongTraits,
    answer_view,
    is_stale,
    local_hour_of,
    parse_seeds,
)
from backbeat.recs.types import Candidate, ListenerContext
from backbeat.recs.variants import Split

ID = "0123456789abcdefABCDEF"


def song_id(n: int) -> str:
    return f"s{n:021d}"


@dataclass
class FakeModel:
    """Songs s0..s99: artist n // 4 (four songs each), energy rising with n."""

    version: str = "v1"
    similar: dict[str, list[str]] = field(default_factory=dict)

    def song_artist(self, song: str) -> str | None:
        return f"artist{int(song[1:]) // 4}" if song.startswith("s") else None

    def song_features(self, song: str) -> dict[str, float]:
        return {"energy": int(song[1:]) / 100}

    def song_genres(self, song: str) -> list[str]:
        return ["rock"]

    def artist_songs(self, artist: str, limit: int) -> list[str]:
        n = int(artist.removeprefix("artist"))
        return [song_id(4 * n + i) for i in range(4)][:limit]

    def genre_songs(self, genre: str, limit: int) -> list[str]:
        return [song_id(i) for i in range(limit)] if genre == "rock" else []

    def similar_artists(self, artists: Sequence[str], k: int) -> list[str]:
        return [n for artist in artists for n in self.similar.get(artist, [])][:k]


@dataclass
class FakeGenerator:
    source: str
    songs: list[int]
    fail: bool = False
    block: threading.Event | None = None
    calls: int = 0

    def candidates(self, context: ListenerContext, model: object | None, limit: int) -> list[Candidate]:
        self.calls += 1
        if self.block is not None:
            self.block.wait(5)
        if self.fail:
            raise RuntimeError("index unavailable")
        return [Candidate(song_id(n), 1.0 - i / 100, self.source) for i, n in enumerate(self.songs)][:limit]  # type: ignore[arg-type]


@dataclass
class FakeBackend:
    model: Any | None = field(default_factory=FakeModel)
    gens: dict[str, FakeGenerator] = field(default_factory=dict)
    history: ListenerHistory = field(default_factory=lambda: ListenerHistory(recent_song_ids=(song_id(99),)))
    chart: list[str] = field(default_factory=lambda: [song_id(n) for n in range(60, 90)])
    stale: bool = False

    def split(self) -> Split:
        return Split(self.model)

    def model_is_stale(self, model: Any) -> bool:
        return self.stale

    def generators(self) -> Mapping[str, FakeGenerator]:  # type: ignore[override]
        return self.gens

    def listener(self, user_id: str) -> ListenerHistory:
        return self.history

    def trending(self, limit: int) -> list[str]:
        return self.chart[:limit]

    def traits(self, song_ids: Sequence[str], model: Any | None) -> dict[str, SongTraits]:
        fake = FakeModel()
        return {s: SongTraits(fake.song_artist(s), fake.song_features(s)) for s in song_ids}

    def check_seeds(self, seeds: Seeds, model: Any | None) -> None:
        for artist in seeds.artist_ids:
            if not artist.startswith("artist"):
                raise NotFound(f"seed artist:{artist} not found")


def _all_sources(**overrides: FakeGenerator) -> dict[str, FakeGenerator]:
    gens = {
        "collaborative": FakeGenerator("collaborative", list(range(0, 40))),
        "content": FakeGenerator("content", list(range(20, 50))),
        "tags": FakeGenerator("tags", list(range(40, 60))),
        "trending": FakeGenerator("trending", list(range(60, 80))),
        "exploration": FakeGenerator("exploration", [95, 96]),
    }
    return {**gens, **overrides}


def _recommender(backend: FakeBackend, timeout: float = 2.0) -> Recommender:
    return Recommender(backend, source_timeout_seconds=timeout, breakers=Breakers())  # type: ignore[arg-type]


def test_a_listener_gets_a_blend_of_every_source_without_heard_songs() -> None:
    heard = frozenset({song_id(0), song_id(20)})
    backend = FakeBackend(gens=_all_sources(), history=ListenerHistory((song_id(0),), heard))
    answer = _recommender(backend).recommend(RecsRequest("u1", limit=20))
    ids = [entry.song_id for entry in answer.ranked]
    assert len(ids) == 20 and not heard & set(ids) and not answer.fallback
    assert {source for entry in answer.ranked for source in entry.sources} >= {"collaborative", "content"}
    assert answer.sources == dict.fromkeys(_all_sources(), "ok")
    artists = [entry.artist_id for entry in answer.ranked]
    assert all(artists.count(artist) <= 2 for artist in set(artists))


def test_a_new_listener_is_asked_of_content_and_trending_only_and_told_it_is_a_fallback() -> None:
    gens = _all_sources(content=FakeGenerator("content", []))
    backend = FakeBackend(gens=gens, history=ListenerHistory())
    answer = _recommender(backend).recommend(RecsRequest("new", limit=10))
    assert gens["collaborative"].calls == 0 and gens["tags"].calls == 0 and gens["content"].calls == 1
    assert answer.fallback and answer.fallback_reason == "no-personal-candidates"
    assert [entry.song_id for entry in answer.ranked][:2] == [song_id(60), song_id(61)]


def test_no_model_or_a_stale_one_answers_trending_marked_as_fallback() -> None:
    answer = _recommender(FakeBackend(model=None, gens=_all_sources())).recommend(RecsRequest("u1", limit=5))
    assert answer.fallback and answer.fallback_reason == "no-model" and len(answer.ranked) == 5
    stale = FakeBackend(gens=_all_sources(), stale=True)
    answer = _recommender(stale).recommend(RecsRequest("u1", limit=5))
    assert answer.fallback_reason == "stale-model" and stale.gens["collaborative"].calls == 0


def test_the_fallback_still_honours_freshness_unless_that_would_leave_it_empty() -> None:
    chart = [song_id(n) for n in range(60, 64)]
    backend = FakeBackend(model=None, chart=chart, history=ListenerHistory((chart[0],), frozenset({chart[0]})))
    assert chart[0] not in [e.song_id for e in _recommender(backend).recommend(RecsRequest("u1", limit=5)).ranked]
    backend.history = ListenerHistory(tuple(chart), frozenset(chart))
    assert _recommender(backend).recommend(RecsRequest("u1", limit=5)).ranked  # never empty


def test_a_failing_source_is_left_out_and_after_three_failures_not_called_at_all() -> None:
    failing = FakeGenerator("collaborative", [1, 2, 3], fail=True)
    backend = FakeBackend(gens=_all_sources(collaborative=failing))
    recommender = _recommender(backend)
    for _ in range(3):
        answer = recommender.recommend(RecsRequest("u1", limit=10))
        assert answer.sources["collaborative"] == "RuntimeError" and not answer.fallback
    answer = recommender.recommend(RecsRequest("u1", limit=10))
    assert answer.sources["collaborative"] == "open" and failing.calls == 3 and answer.ranked


def test_a_source_that_does_not_answer_in_time_is_a_timeout_and_every_personal_one_failing_is_a_fallback() -> None:
    gate = threading.Event()
    slow = {name: FakeGenerator(name, [1], block=gate) for name in ("collaborative", "content", "tags", "exploration")}
    backend = FakeBackend(gens=_all_sources(**slow))
    try:
        answer = _recommender(backend, timeout=0.05).recommend(RecsRequest("u1", limit=10))
    finally:
        gate.set()
    assert answer.sources["collaborative"] == "timeout" and answer.sources["trending"] == "ok"
    assert answer.fallback and answer.fallback_reason == "sources-failed" and answer.ranked


def test_an_artist_seed_brings_its_neighbours() -> None:
    backend = FakeBackend(model=FakeModel(similar={"artist3": ["artist7", "artist9"]}), gens={})
    answer = _recommender(backend).recommend(RecsRequest("u1", limit=10, seeds=Seeds(artist_ids=("artist3",))))
    artists = {entry.artist_id for entry in answer.ranked}
    assert {"artist7", "artist9"} <= artists and not answer.fallback
    with pytest.raises(NotFound):
        _recommender(backend).recommend(RecsRequest("u1", seeds=Seeds(artist_ids=("nobody",))))


@pytest.mark.parametrize(
    "text",
    ["", "track", "song:" + ID, "track:short", "artist:" + ID + ",", ",".join(["genre:rock"] * 6), "genre:<b>"],
)
def test_malformed_seeds_are_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_seeds(text)
    assert refused.value.field == "seed"


def test_seeds_are_read_by_kind() -> None:
    seeds = parse_seeds(f"track:{ID}, artist:{ID},genre:Indie Rock")
    assert seeds == Seeds((ID,), (ID,), ("indie rock",))
    assert seeds.view()[2] == {"type": "genre", "id": "indie rock"}


def test_the_local_hour_comes_from_local_time_or_the_time_zone() -> None:
    assert local_hour_of("2026-12-03T07:45:00+01:00", None) == 7
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert local_hour_of(None, "Asia/Tokyo", now) == 21
    assert local_hour_of(None, None) is None
    for bad in (("yesterday", None), (None, "Mars/Olympus")):
        with pytest.raises(InvalidInput):
            local_hour_of(*bad)


def test_staleness_is_the_training_time_against_the_max_age() -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    assert is_stale("2026-11-01T00:00:00Z", timedelta(days=14), now)
    assert not is_stale("2026-11-30T00:00:00Z", timedelta(days=14), now)
    assert not is_stale(None, timedelta(days=14), now)


def test_the_answer_shows_songs_as_the_catalog_does_with_fallback_and_variant() -> None:
    backend = FakeBackend(model=None)
    answer = _recommender(backend).recommend(RecsRequest("u1", limit=3))
    views = {entry.song_id: {"id": entry.song_id} for entry in answer.ranked}
    body = answer_view(answer, views, 3)
    assert body["fallback"] is True and body["fallbackReason"] == "no-model" and body["total"] == 3
    assert body["items"][0]["rank"] == 1 and body["items"][0]["song"] == {"id": song_id(60)}
    assert body["variant"]["inert"] is True and body["model"] == {"version": None}


def test_the_devstack_fault_switch_fails_the_named_source_only() -> None:
    from backbeat.recs import breaker
    from devstack.faults import FaultPlan, Faults, fail_recs_sources

    saved = breaker.source_fault
    faults = Faults()
    try:
        fail_recs_sources(faults)
        faults.use(FaultPlan(recsSourceFailure={"collaborative": 1.0}))
        answer = _recommender(FakeBackend(gens=_all_sources())).recommend(RecsRequest("u1", limit=10))
    finally:
        breaker.source_fault = saved
    assert answer.sources["collaborative"] == "InjectedSourceFailure" and answer.sources["content"] == "ok"
    assert faults.status()["injected"] == {"recsSourceFailure:collaborative": 1} and not answer.fallback


def test_the_popular_songs_sample_reads_past_pages_without_a_song(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Scan's Limit counts items before its filter: the first pages of a big catalog may hold only
    artists and albums, and the fallback must still find songs (it did not on the full catalog)."""
    import boto3
    from moto import mock_aws

    from backbeat.aws import client
    from backbeat.catalog.models import SongItem
    from backbeat.recs.backend import POPULAR_SCAN_PAGE, popular_songs

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    client.cache_clear()  # a client another test made may point at another endpoint
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="catalog",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk")],
            BillingMode="PAY_PER_REQUEST",
        )
        table = boto3.resource("dynamodb", region_name="us-east-1").Table("catalog")
        with table.batch_writer() as batch:
            for n in range(POPULAR_SCAN_PAGE + 500):  # sorted before every SONG# key
                batch.put_item(Item={"pk": f"ARTIST#{n:05}", "sk": "META", "id": f"a{n}"})
            for n, popularity in enumerate((10, 90, 50, 70)):
                batch.put_item(Item={"pk": f"SONG#s{n}", "sk": "META", "id": f"s{n}", "popularity": popularity})
        previous = SongItem.Meta.table_name
        SongItem.Meta.table_name = "catalog"
        try:
            assert popular_songs(3) == ["s1", "s3", "s2"]
        finally:
            SongItem.Meta.table_name = previous
            client.cache_clear()


def _live_backend(monkeypatch: pytest.MonkeyPatch, chart: list[Any]) -> tuple[Any, list[int]]:
    """A LiveBackend reading no table: the chart, views, popular sample and models faked."""
    from backbeat.plays import trending as trends
    from backbeat.recs import backend as live

    computed: list[int] = []

    def compute(limit: int, now: object = None) -> list[Any]:
        computed.append(limit)
        return chart[:limit]

    monkeypatch.setattr(trends, "trending", compute)
    monkeypatch.setattr(live.LiveBackend, "views", lambda self, song_ids: {})
    monkeypatch.setattr(live, "popular_songs", lambda limit: [])
    monkeypatch.setattr(live, "_load_model", lambda loader: None)
    return live.LiveBackend("plays"), computed


def test_the_trending_source_and_the_fallback_share_one_chart_computed_per_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The chart costs a counters query per charted song: a request must never compute it."""
    from backbeat.plays.trending import Trend
    from backbeat.recs.types import ListenerContext

    chart = [Trend(f"s{n}", 10.0 - n, 5, 1.0) for n in range(6)]
    backend, computed = _live_backend(monkeypatch, chart)
    source = backend.generators()["trending"]
    context = ListenerContext(user_id="u1", heard_song_ids=frozenset({"s0"}))
    for _ in range(3):
        assert [candidate.song_id for candidate in source.candidates(context, None, 3)] == ["s1", "s2", "s3"]
        assert backend.trending(2) == ["s0", "s1"]
    assert len(computed) == 1


def test_an_artist_seed_the_model_knows_is_not_looked_up_in_the_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    from backbeat.catalog.models import ArtistItem

    backend, _ = _live_backend(monkeypatch, [])
    looked_up: list[list[Any]] = []

    def batch_get(keys: list[Any]) -> list[Any]:
        looked_up.append(list(keys))
        return []

    monkeypatch.setattr(ArtistItem, "batch_get", batch_get)
    model = FakeModel()
    backend.check_seeds(Seeds(artist_ids=("artist3",)), model)  # the model has artist3's songs
    assert looked_up == []
    with pytest.raises(NotFound, match="artist:artist99x"):
        backend.check_seeds(Seeds(artist_ids=("artist99x",)), _UnknownArtists())
    assert len(looked_up) == 1


class _UnknownArtists(FakeModel):
    def artist_songs(self, artist: str, limit: int) -> list[str]:
        return []
