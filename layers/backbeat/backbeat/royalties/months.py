"""Royalty months: ``YYYY-MM`` strings, their days in the lake and when each one closes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from backbeat.errors import InvalidInput


def parse_month(value: str) -> date:
    """``2026-11`` -> the month's first day; anything else is refused (months go into SQL and keys)."""
    try:
        first = date.fromisoformat(f"{value}-01")
    except (TypeError, ValueError):
        raise InvalidInput(f"month must be YYYY-MM, got {value!r}") from None
    if first.strftime("%Y-%m") != value:
        raise InvalidInput(f"month must be YYYY-MM, got {value!r}")
    return first


def next_month(first: date) -> date:
    return date(first.year + (first.month == 12), first.month % 12 + 1, 1)


def month_before(moment: datetime) -> str:
    """The month a scheduled run on the 1st closes: the one before `moment`'s month."""
    first = moment.astimezone(UTC).date().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def closes_at(month: str, grace_days: int) -> datetime:
    """When the month closes: its last moment plus the grace period for late events."""
    return datetime.combine(next_month(parse_month(month)), datetime.min.time(), UTC) + timedelta(days=grace_days)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
