"""Trending candidates: the live trending chart (`backbeat.plays.trending`: songs rising over the
last day against their usual level), heard songs left out. Needs no model: it is what a listener
with no history, or a request with no model, still gets."""

from __future__ import annotations

from collections.abc import Callable

from backbeat.plays.trending import MAX_CHART, Trend, trending
from backbeat.recs.generators.common import excluded
from backbeat.recs.types import Candidate, ListenerContext, Source


class TrendingGenerator:
    source: Source = "trending"

    def __init__(self, chart: Callable[[int], list[Trend]] | None = None) -> None:
        self.chart = chart or (lambda limit: trending(limit))

    def candidates(self, context: ListenerContext, model: object | None, limit: int) -> list[Candidate]:
        if limit <= 0:
            return []
        skip = excluded(context)
        trends = self.chart(min(MAX_CHART, limit + len(skip)))
        fresh = [trend for trend in trends if trend.song_id not in skip]
        return [Candidate(trend.song_id, trend.score, self.source) for trend in fresh[:limit]]
