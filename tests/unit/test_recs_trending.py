"""The trending generator: the live chart in its order, songs the listener heard left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backbeat.plays.counter_store import bind_counters_table
from backbeat.plays.counters import Play, count_billable_play
from backbeat.plays.trending import Trend
from backbeat.recs.generators import TrendingGenerator
from backbeat.recs.types import ListenerContext
from devstack.stack import Deployment


def chart(limit: int) -> list[Trend]:
    return [Trend(f"s{index}", 5.0 - index * 0.5, 100 - index, 10.0) for index in range(8)][:limit]


def test_the_chart_in_its_order_without_heard_songs() -> None:
    context = ListenerContext(user_id="u", heard_song_ids=frozenset({"s0", "s2"}), seed_song_ids=["s3"])
    found = TrendingGenerator(chart).candidates(context, None, 4)
    assert [c.song_id for c in found] == ["s1", "s4", "s5", "s6"]
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    assert {c.source for c in found} == {"trending"}


def test_a_new_listener_gets_the_chart_even_without_a_model() -> None:
    found = TrendingGenerator(chart).candidates(ListenerContext(user_id=None), None, 3)
    assert [c.song_id for c in found] == ["s0", "s1", "s2"]


def test_reads_the_live_counters(aws: Deployment) -> None:
    """Without an injected chart it reads the counters the listening loop keeps."""
    bind_counters_table(aws.tables["CountersTable"])
    assert TrendingGenerator().candidates(ListenerContext(user_id="u"), None, 5) == []
    now = datetime.now(UTC) - timedelta(minutes=5)
    for song, listeners in (("hot", 9), ("warm", 5), ("heard", 7)):
        for listener in range(listeners):
            play = Play(f"{song}-{listener}", f"l{listener}", song, "a", (), now, now, True, "completed")
            count_billable_play(play)
    context = ListenerContext(user_id="u", heard_song_ids=frozenset({"heard"}))
    assert [c.song_id for c in TrendingGenerator().candidates(context, None, 5)] == ["hot", "warm"]
