"""Exactly-once paid once per day (docs/decisions.md 48): each day of plays compacted into counts
that the monthly run sums. A day is compacted once and then left alone; a redelivered batch or a
late play makes that day (only) compacted again, the redelivered copy counted once and the late
play counted; compacted files that changed or went missing are never read as they are. And the
demo's closed month: the stack's plays copied into the latest month that has closed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import boto3
import pytest

from backbeat.analytics.engines import DuckDBEngine
from backbeat.analytics.layout import BILLABLE_SONG_PREFIX, day_prefix
from backbeat.royalties.compaction import LakeDays, catch_up, compaction_record, ensure_month
from backbeat.royalties.counting import billable_by_listener, billable_by_song
from backbeat_ops.demo_month import backdated, latest_closed_month
from devstack.resources import Deployment
from tests.unit.test_lake_firehose import play
from tests.unit.test_royalties_run import MONTH, SONG_A, SONG_B, deliver, hub, october

__all__ = ["hub"]


@pytest.fixture
def lake(aws: Deployment) -> Iterator[tuple[DuckDBEngine, LakeDays]]:
    s3 = boto3.client("s3", region_name="us-east-1")
    engine = DuckDBEngine(s3, boto3.client("glue", region_name="us-east-1"), aws.outputs["LakeDatabaseName"])
    yield engine, LakeDays(s3, aws.outputs["LakeBucketName"])
    engine.close()


def totals(engine: DuckDBEngine) -> dict[tuple[str, str], int]:
    return {(tier, song): plays for tier, song, _artist, plays in billable_by_song(engine, MONTH)}


def test_each_day_is_compacted_once_and_again_only_when_its_plays_change(
    aws: Deployment, hub: Any, lake: tuple[DuckDBEngine, LakeDays]
) -> None:
    engine, days = lake
    october(hub, aws)  # seven October days with plays, p1 (Oct 11) delivered twice
    assert len(ensure_month(engine, days, MONTH)) == 31
    counted = totals(engine)
    assert counted == {("premium", SONG_A): 3, ("premium", SONG_B): 1, ("free", SONG_A): 2}
    assert ensure_month(engine, days, MONTH) == []  # nothing changed: nothing compacted, nothing read twice

    # Firehose delivers Oct 11's batch once more, and a late play of Oct 30 lands
    p1 = play("p1", 2, "2026-10-11T10:00:00.000Z", userId="u1", songId=SONG_A, artistId="art-a", tier="premium")
    deliver(hub, aws, [p1])
    late = play("late", 2, "2026-10-30T23:59:00.000Z", userId="u2", songId=SONG_B, artistId="art-b")
    deliver(hub, aws, [late])
    assert ensure_month(engine, days, MONTH) == ["2026-10-11", "2026-10-30"]
    assert totals(engine) == {**counted, ("premium", SONG_B): 2}  # p1 still once, the late play counted
    listeners = {(t, u, s): p for t, u, s, _a, p in billable_by_listener(engine, MONTH)}
    assert listeners[("premium", "u1", SONG_A)] == 3 and listeners[("premium", "u2", SONG_B)] == 2

    # a compacted file that went missing is not read as it is: the day is compacted again
    record = compaction_record(days, date(2026, 10, 30))
    assert record is not None and record["files"] == 1
    prefix = day_prefix(BILLABLE_SONG_PREFIX, date(2026, 10, 30))
    for item in days.s3.list_objects_v2(Bucket=days.bucket, Prefix=prefix)["Contents"]:
        days.s3.delete_object(Bucket=days.bucket, Key=item["Key"])
    assert ensure_month(engine, days, MONTH) == ["2026-10-30"]
    assert totals(engine) == {**counted, ("premium", SONG_B): 2}


def test_the_daily_job_compacts_the_days_up_to_yesterday(
    aws: Deployment, hub: Any, lake: tuple[DuckDBEngine, LakeDays]
) -> None:
    engine, days = lake
    october(hub, aws)
    compacted = catch_up(engine, days, date(2026, 11, 3))
    assert compacted[0] == "2026-09-24" and compacted[-1] == "2026-11-02" and "2026-11-03" not in compacted
    assert ensure_month(engine, days, MONTH) == []  # the month's run finds every day current


def test_the_demo_month_is_the_latest_closed_one_and_keeps_each_play_once() -> None:
    assert latest_closed_month(datetime(2026, 12, 3, 12, tzinfo=UTC), grace_days=3) == "2026-10"
    assert latest_closed_month(datetime(2026, 12, 4, 0, tzinfo=UTC), grace_days=3) == "2026-11"
    assert latest_closed_month(datetime(2026, 3, 1, tzinfo=UTC), grace_days=3) == "2026-01"
    records = [
        play("a", 3, "2026-12-31T23:10:00.000Z"),
        play("b", 1, "2026-12-02T08:00:00.000Z", billable=False),
        {"userId": "user-1", "sk": "TASTE#state"},  # not a play
    ]
    moved = list(backdated(records, "2026-11"))
    assert [(m["startedAt"], m["billable"], m["version"]) for m in moved] == [
        ("2026-11-30T23:10:00.000Z", True, 3),
        ("2026-11-02T08:00:00.000Z", False, 1),
    ]
    assert len({m["playId"] for m in moved}) == 2 and not {"a", "b"} & {m["playId"] for m in moved}
    assert [m["playId"] for m in backdated(records, "2026-11")] == [m["playId"] for m in moved]  # deterministic
    assert all("sk" not in m and "expiresAt" not in m for m in moved)
