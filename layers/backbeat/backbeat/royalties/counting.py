"""Billable plays of a month, counted over the event lake by the one SQL file `royalties.sql`
(Athena in AWS, DuckDB locally, through `backbeat.analytics.engines`): a plain sum over the month's
compacted days, which `backbeat.royalties.compaction.ensure_month` makes current first."""

from __future__ import annotations

from backbeat.analytics import queries
from backbeat.analytics.engines import LakeEngine
from backbeat.royalties.months import next_month, parse_month

SQL_FILE = "royalties.sql"


def royalty_sql(name: str, month: str) -> str:
    """The block `name` of royalties.sql for `month` (validated). It reads the compacted days
    (see the file for why their sum counts what the `plays` view would)."""
    first = parse_month(month)
    body = queries.blocks(SQL_FILE)[name]
    return body.replace("{first_day}", first.isoformat()).replace("{next_month}", next_month(first).isoformat())


def billable_by_song(engine: LakeEngine, month: str) -> list[tuple[str, str, str, int]]:
    """(tier, songId, artistId, plays) for every song with billable plays in the month."""
    rows = engine.query(royalty_sql("billable_by_song", month)).rows
    return [(str(tier), str(song), str(artist), int(plays)) for tier, song, artist, plays in rows]


def billable_by_listener(engine: LakeEngine, month: str) -> list[tuple[str, str, str, str, int]]:
    """(tier, userId, songId, artistId, plays) for every listener and song with billable plays."""
    rows = engine.query(royalty_sql("billable_by_listener", month)).rows
    return [(str(t), str(u), str(s), str(a), int(p)) for t, u, s, a, p in rows]
