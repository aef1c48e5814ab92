"""The daily aggregates job: one day's per-song and per-artist figures, from the plays in the lake,
written under aggregates/<name>/dt=<day>/ as Parquet. Re-running a day replaces that day's files
(the prefix is emptied first), so the job is idempotent and a late correction is a re-run."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from backbeat.analytics import queries
from backbeat.analytics.engines import LakeEngine
from backbeat.analytics.layout import AGGREGATE_TABLES, day_prefix, parse_day


def day_to_aggregate(requested: str | None, started_at: str | None) -> date:
    """The day a run covers: the one it was asked for, else the day before the run started (UTC);
    the schedule runs after midnight, once the day's plays have landed."""
    if requested:
        return parse_day(requested)
    start = datetime.fromisoformat(started_at) if started_at else datetime.now(UTC)
    if start.tzinfo is not None:
        start = start.astimezone(UTC)
    return start.date() - timedelta(days=1)


def empty_prefix(s3: Any, bucket: str, prefix: str) -> int:
    removed = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            removed += len(keys)
    return removed


def write_daily_aggregates(engine: LakeEngine, s3: Any, bucket: str, day: date) -> dict[str, str]:
    """Each aggregate of `day` written under its prefix (returned, aggregate name -> S3 prefix)."""
    written: dict[str, str] = {}
    for name, sql in queries.daily_aggregates(day).items():
        prefix = day_prefix(AGGREGATE_TABLES[name], day)
        empty_prefix(s3, bucket, prefix)
        engine.unload(sql, bucket, prefix)
        written[name] = f"s3://{bucket}/{prefix}"
    return written
