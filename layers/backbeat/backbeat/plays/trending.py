"""Trending: songs rising over the last day against their usual level.

For each song with billable plays in the last 24 hours (the counters' hour windows):

    recent   = billable plays in the last 24 hour windows
    usual    = billable plays in the 7 x 24 hour windows before those, / 7   (an average day)
    score    = (recent + PRIOR) / (usual + PRIOR)

PRIOR (PRIOR_DAILY_PLAYS plays a day, added to both sides) smooths tiny counts: a song going from 0
to 3 plays scores 1.3, not infinity, while one going from 100 to 400 a day scores 3.7. A song needs
MIN_RECENT_PLAYS plays in the last day to chart at all, and ties break on recent plays.

Candidates come from the day index (every song with a billable play on a UTC day: today's and
yesterday's cover the last 24 hours), never from a scan; each candidate then costs one Query of its
8 x 24 hour windows. That grows with the number of distinct songs played in a day, which is why the
chart is computed at most once a minute per execution environment and cut to the MAX_CANDIDATES
most played songs of those two days (docs/decisions.md, 31).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from backbeat.catalog.models import META, SongItem, song_key
from backbeat.catalog.service import song_view
from backbeat.plays.counters import HOUR, hour_windows, listening_now, songs_played_on

PRIOR_DAILY_PLAYS = 10.0
MIN_RECENT_PLAYS = 3
USUAL_DAYS = 7
MAX_CANDIDATES = 1000
MAX_CHART = 100
_READERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="trending")


@dataclass(frozen=True)
class Trend:
    song_id: str
    score: float
    plays_last_24h: int
    usual_daily_plays: float


def trend_score(recent: int, usual_daily: float) -> float:
    return (recent + PRIOR_DAILY_PLAYS) / (usual_daily + PRIOR_DAILY_PLAYS)


def song_trend(song_id: str, now: datetime) -> Trend:
    """The song's plays in the last 24 hour windows (the current one included) against its average
    day over the seven days before them."""
    current = now.replace(minute=0, second=0, microsecond=0)
    recent_from = current - timedelta(hours=23)
    usual_from = recent_from - timedelta(days=USUAL_DAYS)
    recent_first = recent_from.strftime(HOUR)
    recent = usual = 0
    for window in hour_windows("SONG", song_id, usual_from, current):
        if window.hour >= recent_first:
            recent += window.plays
        else:
            usual += window.plays
    usual_daily = usual / USUAL_DAYS
    return Trend(song_id, round(trend_score(recent, usual_daily), 4), recent, round(usual_daily, 2))


def candidates(now: datetime) -> list[str]:
    """Songs with billable plays started today or yesterday (UTC), most played first."""
    plays: dict[str, int] = {}
    for day in (now - timedelta(days=1), now):
        for song_id, count in songs_played_on(day).items():
            plays[song_id] = plays.get(song_id, 0) + count
    ranked = sorted(plays, key=lambda song_id: (-plays[song_id], song_id))
    return ranked[:MAX_CANDIDATES]


def trending(limit: int = MAX_CHART, now: datetime | None = None) -> list[Trend]:
    """The chart: the `limit` songs with the highest score, among those with enough recent plays."""
    now = now or datetime.now(UTC)
    trends = list(_READERS.map(lambda song_id: song_trend(song_id, now), candidates(now)))
    charted = [trend for trend in trends if trend.plays_last_24h >= MIN_RECENT_PLAYS]
    charted.sort(key=lambda trend: (-trend.score, -trend.plays_last_24h, trend.song_id))
    return charted[:limit]


def listening_now_of(song_ids: list[str], now: datetime | None = None) -> dict[str, int]:
    now = now or datetime.now(UTC)
    return dict(zip(song_ids, _READERS.map(lambda song_id: listening_now(song_id, now), song_ids), strict=True))


def trending_chart(limit: int, now: datetime | None = None) -> dict[str, Any]:
    """GET /charts/trending: the chart with each song's view (as GET /songs/{id} answers it), its
    score, its plays in the last 24 hours, its usual day and how many are listening now. A charted
    song no longer in the catalog is left out."""
    now = now or datetime.now(UTC)
    trends = trending(limit, now)
    songs = {
        song.id: song_view(song) for song in SongItem.batch_get([(song_key(trend.song_id), META) for trend in trends])
    }
    trends = [trend for trend in trends if trend.song_id in songs]
    now_playing = listening_now_of([trend.song_id for trend in trends], now)
    items = [
        {
            "rank": rank,
            "song": songs[trend.song_id],
            "score": trend.score,
            "playsLast24h": trend.plays_last_24h,
            "usualDailyPlays": trend.usual_daily_plays,
            "listeningNow": now_playing[trend.song_id],
        }
        for rank, trend in enumerate(trends, start=1)
    ]
    return {
        "items": items,
        "total": len(items),
        "limit": limit,
        "generatedAt": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
