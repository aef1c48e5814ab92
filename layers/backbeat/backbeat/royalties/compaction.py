"""Exactly-once, paid once per day: each day's billable plays compacted into per-listener and
per-song counts (royalties.sql's `compact_*` blocks) under royalties/ in the lake, so that the
monthly run's SQL is a plain sum over days that are already deduplicated (docs/decisions.md 48).

A day's compaction records which files of plays/dt=<day>/ it was made from and which files it
wrote (their keys and ETags, as digests) in royalties/compacted/dt=<day>.json. A day is compacted
again whenever that record is missing or either set of files differs: a late play, a redelivered
batch, a day still open. The daily schedule keeps the days compacted as they land; the monthly run
checks every day of its month the same way before it counts (`ensure_month`), so it never reads a
day that is not exactly-once over the files the day holds now, and no play that has landed is left
out.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from backbeat.analytics import queries
from backbeat.analytics.aggregates import empty_prefix
from backbeat.analytics.engines import LakeEngine
from backbeat.analytics.layout import (
    BILLABLE_LISTENER_PREFIX,
    BILLABLE_SONG_PREFIX,
    COMPACTED_PREFIX,
    PLAYS_PREFIX,
    day_prefix,
)
from backbeat.royalties.months import iso, next_month, parse_month

SQL_FILE = "royalties.sql"
# What one day writes, in order: the song counts are summed from the listener counts just written.
DAY_STEPS = (("compact_listener_day", BILLABLE_LISTENER_PREFIX), ("compact_song_day", BILLABLE_SONG_PREFIX))
CATCH_UP_DAYS = 40  # the daily job looks this far back (the month before, and late plays in it)


@dataclass(frozen=True)
class LakeDays:
    """Where the days are: the lake bucket (its plays/ and royalties/ prefixes), through `s3`."""

    s3: Any
    bucket: str


def day_sql(name: str, day: date) -> str:
    return queries.blocks(SQL_FILE)[name].replace("{day}", day.isoformat())


def _files(lake: LakeDays, prefixes: list[str]) -> tuple[str, int]:
    """A digest of the objects under `prefixes` (keys and ETags) and how many there are."""
    lines: list[str] = []
    for prefix in prefixes:
        for page in lake.s3.get_paginator("list_objects_v2").paginate(Bucket=lake.bucket, Prefix=prefix):
            lines.extend(f"{item['Key']} {item['ETag']}" for item in page.get("Contents", []))
    return hashlib.sha256("\n".join(sorted(lines)).encode("utf-8")).hexdigest(), len(lines)


def sources(lake: LakeDays, day: date) -> tuple[str, int]:
    """The digest of the day's play files (plays/dt=<day>/) and how many there are."""
    return _files(lake, [day_prefix(PLAYS_PREFIX, day)])


def outputs(lake: LakeDays, day: date) -> str:
    """The digest of what the day's compaction wrote (both datasets' files)."""
    return _files(lake, [day_prefix(prefix, day) for _name, prefix in DAY_STEPS])[0]


def record_key(day: date) -> str:
    return f"{COMPACTED_PREFIX}dt={day.isoformat()}.json"


def compaction_record(lake: LakeDays, day: date) -> dict[str, Any] | None:
    try:
        body = lake.s3.get_object(Bucket=lake.bucket, Key=record_key(day))["Body"].read()
    except lake.s3.exceptions.NoSuchKey:
        return None
    return dict(json.loads(body))


def compact_day(engine: LakeEngine, lake: LakeDays, day: date, now: datetime | None = None) -> dict[str, Any]:
    """Write `day`'s two datasets again from the files it holds now, then the record of them. The
    digest is taken first: a file landing meanwhile makes the next check compact the day again. A
    day without play files has nothing to count: its datasets are left empty, no query runs."""
    digest, files = sources(lake, day)
    for name, prefix in DAY_STEPS:
        target = day_prefix(prefix, day)
        empty_prefix(lake.s3, lake.bucket, target)
        if files:
            engine.unload(day_sql(name, day), lake.bucket, target)
    record = {
        "day": day.isoformat(),
        "sources": digest,
        "files": files,
        "outputs": outputs(lake, day),
        "compactedAt": iso(now or datetime.now(UTC)),
    }
    lake.s3.put_object(
        Bucket=lake.bucket, Key=record_key(day), Body=json.dumps(record).encode(), ContentType="application/json"
    )
    return record


def is_current(lake: LakeDays, day: date) -> bool:
    """Whether `day`'s compaction was made from exactly the play files it holds now, and what it
    wrote is still there unchanged."""
    record = compaction_record(lake, day)
    return (
        record is not None
        and record.get("sources") == sources(lake, day)[0]
        and record.get("outputs") == outputs(lake, day)
    )


def ensure_days(engine: LakeEngine, lake: LakeDays, days: list[date]) -> list[str]:
    """Compact every day of `days` that is not current; the days compacted (YYYY-MM-DD)."""
    compacted = []
    for day in days:
        if not is_current(lake, day):
            compact_day(engine, lake, day)
            compacted.append(day.isoformat())
    return compacted


def month_days(month: str) -> list[date]:
    first = parse_month(month)
    return [first + timedelta(days=offset) for offset in range((next_month(first) - first).days)]


def ensure_month(engine: LakeEngine, lake: LakeDays, month: str) -> list[str]:
    """Every day of `month` current before the month is counted; the days that had to be compacted."""
    return ensure_days(engine, lake, month_days(month))


def catch_up(engine: LakeEngine, lake: LakeDays, today: date) -> list[str]:
    """The daily job: the last `CATCH_UP_DAYS` days up to yesterday, each compacted unless current."""
    return ensure_days(engine, lake, [today - timedelta(days=back) for back in range(CATCH_UP_DAYS, 0, -1)])
