"""Trending: songs rising over the last day against their usual day, from the counters' hour windows
and the day index, served at GET /charts/trending with the songs' catalog views."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backbeat.catalog.models import bind_catalog_table
from backbeat.plays import counters, trending
from backbeat.plays.counter_store import bind_counters_table
from backbeat_ops.dataset import Catalog, load_catalog
from backbeat_ops.seed import seed_catalog
from tests.support import api_event
from tests.unit.conftest import load_function
from tests.unit.test_catalog import _write_csv


def test_the_score_is_smoothed_so_tiny_counts_do_not_dominate() -> None:
    assert trending.trend_score(3, 0) == pytest.approx(1.3)  # 0 -> 3 a day: barely rising
    assert trending.trend_score(400, 100) == pytest.approx(410 / 110)  # 100 -> 400: clearly rising
    assert trending.trend_score(30, 0) > trending.trend_score(3, 0) < trending.trend_score(400, 100)
    assert trending.trend_score(3, 0) < trending.trend_score(12, 4)  # 3 plays from nothing is not a hit
    assert trending.trend_score(50, 50) == pytest.approx(1.0)  # its usual level: neither up nor down


@pytest.fixture
def catalog(aws: Any, tmp_path: Path) -> Catalog:
    _write_csv(tmp_path, "dataset-of-00s.csv", [(f"Song {i}", f"Artist {i}", f"{i:02d}" + "z" * 20) for i in range(5)])
    loaded = load_catalog(tmp_path)
    bind_catalog_table(aws.tables["CatalogTable"])
    bind_counters_table(aws.tables["CountersTable"])
    seed_catalog(loaded, workers=1, chunk_size=25)
    return loaded


def _play(song_id: str, artist_id: str, started_at: datetime, listener: int) -> None:
    counters.count_billable_play(
        counters.Play(
            play_id=str(uuid.uuid4()),
            user_id=f"listener-{listener}",
            song_id=song_id,
            artist_id=artist_id,
            genres=(),
            started_at=started_at,
            last_event_at=started_at + timedelta(seconds=40),
            billable=True,
            ended="completed",
        )
    )


def _history(catalog: Catalog, now: datetime) -> dict[str, str]:
    """steady: 4 a day for 8 days; rising: 1 a day, then 15; newcomer: 5 today; tiny: 2 today."""
    songs = {name: catalog.songs[i] for i, name in enumerate(("steady", "rising", "newcomer", "tiny"))}
    plan = {"steady": (4, 4), "rising": (1, 15), "newcomer": (0, 5), "tiny": (0, 2)}
    for name, (usual, recent) in plan.items():
        song = songs[name]
        for day in range(7):  # the seven days before the last 24 hours
            for n in range(usual):
                _play(song.id, song.artist_id, now - timedelta(days=1 + day, hours=1, minutes=7 * n), n)
        for n in range(recent):
            _play(song.id, song.artist_id, now - timedelta(hours=1, minutes=11 * n), n)
    return {name: song.id for name, song in songs.items()}


def test_rising_songs_chart_above_steady_ones_and_tiny_counts_stay_off(catalog: Catalog) -> None:
    now = datetime.now(UTC)
    ids = _history(catalog, now)
    chart = trending.trending(10, now)
    assert [trend.song_id for trend in chart] == [ids["rising"], ids["newcomer"], ids["steady"]]
    rising, newcomer, steady = chart
    assert (rising.plays_last_24h, rising.usual_daily_plays) == (15, 1.0)
    assert rising.score == pytest.approx(25 / 11, abs=1e-3)
    assert newcomer.score == pytest.approx(1.5) and steady.score == pytest.approx(1.0)


def test_get_trending_answers_song_views_with_score_and_plays(aws: Any, catalog: Catalog, context: Any) -> None:
    now = datetime.now(UTC)
    ids = _history(catalog, now)
    charts = load_function("charts", aws)
    response = charts.lambda_handler(
        api_event("GET", "/charts/trending", query={"limit": "2"}, claims={"sub": "u"}), context
    )
    body = json.loads(response["body"])
    assert response["statusCode"] == 200, body
    assert body["limit"] == 2 and body["total"] == 2
    first, second = body["items"]
    assert first["rank"] == 1 and first["song"]["id"] == ids["rising"] and second["song"]["id"] == ids["newcomer"]
    song = next(s for s in catalog.songs if s.id == ids["rising"])
    assert first["song"]["title"] == song.title and first["song"]["artist"] == {
        "id": song.artist_id,
        "name": song.artist_name,
    }
    assert first["playsLast24h"] == 15 and first["score"] == pytest.approx(25 / 11, abs=1e-3)
    assert first["listeningNow"] == 0  # counted plays only; nobody's play record is open

    for limit in ("0", "101", "many"):
        event = api_event("GET", "/charts/trending", query={"limit": limit}, claims={"sub": "u"})
        response = charts.lambda_handler(event, context)
        assert response["statusCode"] == 422
        assert json.loads(response["body"])["error"]["field"] == "limit"


def test_an_empty_chart_before_anything_is_played(aws: Any, context: Any) -> None:
    charts = load_function("charts", aws)
    response = charts.lambda_handler(api_event("GET", "/charts/trending", claims={"sub": "u"}), context)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["items"] == []
