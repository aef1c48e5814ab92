"""A closed month of demo plays, so that a demo stack can show the paying run (not only the
provisional one): the play records the stack holds now (judged by the real pipeline: billable or
not, tier, listener, song) are copied into the latest month that has closed, each shifted by whole
months to the same day and time there (the last day when the month is shorter), under a new playId
derived from the original and the month, and landed in the lake the way the lake-plays consumer
lands a play: on the plays delivery stream.

The events API only accepts events within its retention (30 days), which in the first days of a
month does not reach back to a closed month; hence this seeding path for the devstack (the ops CLI
refuses it for a deployed stack). Landing the same month again puts the same records again: the
day compaction counts each playId once, so the month's figures do not change.
"""

from __future__ import annotations

import calendar
import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from backbeat.analytics.plays_export import PLAY_PREFIX, _plain, deliver
from backbeat.royalties.months import closes_at, month_before, parse_month

SHIFTED = ("startedAt", "lastEventAt", "receivedAt")
_NOT_IN_LAKE = frozenset({"sk", "expiresAt"})
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://demo.backbeat.dev/royalties/closed-month")


def latest_closed_month(now: datetime, grace_days: int) -> str:
    """The last month whose end plus the grace period has passed at `now`."""
    month = month_before(now)
    while closes_at(month, grace_days) > now:
        month = month_before(datetime.combine(parse_month(month), datetime.min.time(), UTC))
    return month


def _shift(moment: str, month: str) -> str:
    """An ISO timestamp moved into `month` (same day and time; the month's last day at most)."""
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    first = parse_month(month)
    day = min(parsed.day, calendar.monthrange(first.year, first.month)[1])
    moved = parsed.replace(year=first.year, month=first.month, day=day)
    return moved.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def backdated(plays: Iterable[dict[str, Any]], month: str) -> Iterator[dict[str, Any]]:
    """Each play record (the plays table's item, plain values) as the same play in `month`."""
    for play in plays:
        if not str(play.get("sk", "")).startswith(PLAY_PREFIX) or not play.get("startedAt"):
            continue
        copy = {key: value for key, value in play.items() if key not in _NOT_IN_LAKE}
        copy["playId"] = str(uuid.uuid5(_NAMESPACE, f"{play['playId']}/{month}"))
        for field in SHIFTED:
            if copy.get(field):
                copy[field] = _shift(str(copy[field]), month)
        yield copy


def play_records(dynamodb: Any, plays_table: str) -> Iterator[dict[str, Any]]:
    """Every play record of the plays table (not its per-listener state items)."""
    deserializer = TypeDeserializer()
    for page in dynamodb.get_paginator("scan").paginate(TableName=plays_table):
        for item in page["Items"]:
            if item.get("sk", {}).get("S", "").startswith(PLAY_PREFIX):
                yield {key: _plain(deserializer.deserialize(value)) for key, value in item.items()}


def land_demo_month(dynamodb: Any, firehose: Any, plays_table: str, stream: str, month: str) -> int:
    """Copy the stack's play records into `month` and put them on the plays delivery stream; the
    number landed. Raises when the stream refuses some (the caller may run it again)."""
    parse_month(month)
    lines = [
        (record["playId"], json.dumps(record, separators=(",", ":")).encode("utf-8") + b"\n")
        for record in backdated(play_records(dynamodb, plays_table), month)
    ]
    failed = deliver(firehose, stream, lines)
    if failed:
        raise RuntimeError(f"the plays delivery stream refused {len(failed)} of {len(lines)} demo plays")
    return len(lines)
