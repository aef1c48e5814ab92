"""Where the lake keeps what: one prefix per dataset, Hive-style day partitions under it.

    events/dt=YYYY-MM-DD/*.parquet                   every accepted event (the day it was received)
    plays/dt=YYYY-MM-DD/*.parquet                    every change of a play record (the day it started)
    aggregates/daily_song/dt=YYYY-MM-DD/*.parquet    the daily job's per-song figures
    aggregates/daily_artist/dt=YYYY-MM-DD/*.parquet  the daily job's per-artist figures
    royalties/billable_listener/dt=YYYY-MM-DD/       a day's billable plays, exactly once, per listener and song
    royalties/billable_song/dt=YYYY-MM-DD/           the same per song
    royalties/compacted/dt=YYYY-MM-DD.json           which plays/ files the day's two datasets were made from

The Glue tables (template.yaml) point at the same prefixes; Firehose writes the first two, the daily
aggregates job the next two, the royalties' day compaction (backbeat.royalties.compaction) the rest.
"""

from __future__ import annotations

from datetime import date

from backbeat.errors import InvalidInput

EVENTS_PREFIX = "events/"
PLAYS_PREFIX = "plays/"
DAILY_SONG_PREFIX = "aggregates/daily_song/"
DAILY_ARTIST_PREFIX = "aggregates/daily_artist/"

# The Glue table behind each dataset (the raw tables; `events` and `plays` are deduplicating views).
RAW_TABLES = {"events_raw": EVENTS_PREFIX, "plays_raw": PLAYS_PREFIX}
AGGREGATE_TABLES = {"daily_song": DAILY_SONG_PREFIX, "daily_artist": DAILY_ARTIST_PREFIX}
BILLABLE_LISTENER_PREFIX = "royalties/billable_listener/"
BILLABLE_SONG_PREFIX = "royalties/billable_song/"
COMPACTED_PREFIX = "royalties/compacted/"
# The royalties' exactly-once days: Glue table -> prefix (the tables royalties.sql's monthly counts read).
BILLABLE_TABLES = {"billable_listener_daily": BILLABLE_LISTENER_PREFIX, "billable_song_daily": BILLABLE_SONG_PREFIX}


def parse_day(value: str) -> date:
    """A day as the lake names it (YYYY-MM-DD); anything else is refused (days go into SQL and keys)."""
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"day must be YYYY-MM-DD, got {value!r}") from None
    if day.isoformat() != value:
        raise InvalidInput(f"day must be YYYY-MM-DD, got {value!r}")
    return day


def day_prefix(dataset_prefix: str, day: date) -> str:
    """The partition of one day under a dataset: ``plays/dt=2026-12-03/``."""
    return f"{dataset_prefix}dt={day.isoformat()}/"
