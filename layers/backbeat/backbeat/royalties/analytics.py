"""Artist analytics and statements: what GET /artists/{id}/analytics and /artists/{id}/statements
answer (docs/decisions.md, 35).

The figures come from the lake's daily aggregates (`daily_artist`, `daily_song`; one small query each,
pruned to the artist and the days asked for), the estimated revenue from the per-stream rates of the
last royalty run (the royalties table's run summaries), the statements from the royalties table's
statement index, and the playlist additions from the playlists table's change log.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import cache
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config

from backbeat.analytics.engines import DuckDBEngine, LakeEngine, engine_for
from backbeat.analytics.layout import AGGREGATE_TABLES
from backbeat.aws import client
from backbeat.catalog.models import SongItem, artist_key
from backbeat.catalog.service import song_views
from backbeat.errors import InvalidInput
from backbeat.ids import is_valid_id

MAX_RANGE_DAYS = 366
TOP_SONGS = 10
RATE_MODEL = "pro-rata"  # the estimate prices plays at the pro-rata per-stream rate of the last run
RUN_LOOKBACK_MONTHS = 12  # how far back the last run is looked for
ALL = "all"  # the aggregates' total row: country, deviceType and tier are 'all'
CENT = Decimal("0.01")


# ------------------------------------------------------------------------------------ the range
@dataclass(frozen=True)
class DayRange:
    start: date
    end: date  # inclusive

    def days(self) -> list[date]:
        return [self.start + timedelta(days=offset) for offset in range((self.end - self.start).days + 1)]


def _day(value: str, field: str) -> date:
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be a date YYYY-MM-DD, got {value!r}", field) from None
    if day.isoformat() != value:
        raise InvalidInput(f"{field} must be a date YYYY-MM-DD, got {value!r}", field)
    return day


def day_range(start: str | None, end: str | None, today: date) -> DayRange:
    """`from`..`to` inclusive; by default the 30 days up to yesterday (today's aggregates do not exist
    yet). At most MAX_RANGE_DAYS days, so a request reads a bounded number of partitions."""
    last = _day(end, "to") if end else today - timedelta(days=1)
    first = _day(start, "from") if start else last - timedelta(days=29)
    if first > last:
        raise InvalidInput(f"from ({first}) is after to ({last})", "from")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput(f"the range spans {(last - first).days + 1} days; at most {MAX_RANGE_DAYS}", "to")
    return DayRange(first, last)


# ------------------------------------------------------------------------------------ the lake
class AggregatesDuckDB(DuckDBEngine):
    """DuckDB over the daily aggregates only: the raw events and plays are never copied locally."""

    def _tables(self) -> list[dict[str, Any]]:
        return [table for table in super()._tables() if table["Name"] in AGGREGATE_TABLES]


def aggregates_engine(kind: str, database: str, workgroup: str) -> LakeEngine:
    if kind == "duckdb":
        return AggregatesDuckDB(client("s3"), client("glue"), database)
    return engine_for(kind, database, workgroup)


def _artist_rows_sql(artist_id: str, days: DayRange) -> str:
    # artist_id is a checked base62 id and the days are dates: nothing a caller wrote reaches the SQL
    return (
        "SELECT dt AS day, country, devicetype, tier, plays, billableplays, listeners "  # noqa: S608
        f"FROM daily_artist WHERE artistid = '{artist_id}' "
        f"AND dt BETWEEN '{days.start.isoformat()}' AND '{days.end.isoformat()}'"
    )


def _top_songs_sql(artist_id: str, days: DayRange, limit: int) -> str:
    return (
        "SELECT songid, sum(plays) AS plays, sum(billableplays) AS billableplays "  # noqa: S608
        f"FROM daily_song WHERE artistid = '{artist_id}' "
        f"AND dt BETWEEN '{days.start.isoformat()}' AND '{days.end.isoformat()}' "
        f"AND country = '{ALL}' AND devicetype = '{ALL}' AND tier = '{ALL}' "
        f"GROUP BY songid ORDER BY plays DESC, songid LIMIT {int(limit)}"
    )


def _records(engine: LakeEngine, sql: str) -> list[dict[str, Any]]:
    """Rows by lower-case column name: Athena (Trino) answers every name lower-cased, DuckDB as written."""
    result = engine.query(sql)
    columns = [column.lower() for column in result.columns]
    return [dict(zip(columns, row, strict=True)) for row in result.rows]


def _ranked(counts: dict[str, Counter[str]], key: str) -> list[dict[str, Any]]:
    return [
        {key: name, "plays": counter["plays"], "billablePlays": counter["billablePlays"]}
        for name, counter in sorted(counts.items(), key=lambda entry: (-entry[1]["plays"], entry[0]))
    ]


def lake_figures(engine: LakeEngine, artist_id: str, days: DayRange) -> dict[str, Any]:
    """Daily plays, billable plays and listeners; plays by country, device type and tier; the top
    songs. Listeners are distinct within a day (the aggregates' grain): a range's distinct listeners
    would need the plays themselves, so the range reports the busiest day's."""
    daily = {day.isoformat(): {"plays": 0, "billablePlays": 0, "listeners": 0} for day in days.days()}
    breakdowns: dict[str, dict[str, Counter[str]]] = {
        dimension: defaultdict(Counter) for dimension in ("country", "devicetype", "tier")
    }
    for row in _records(engine, _artist_rows_sql(artist_id, days)):
        plays, billable = int(row["plays"] or 0), int(row["billableplays"] or 0)
        if (row["country"], row["devicetype"], row["tier"]) == (ALL, ALL, ALL):
            listeners = int(row["listeners"] or 0)
            daily[str(row["day"])] = {"plays": plays, "billablePlays": billable, "listeners": listeners}
            continue
        for dimension in breakdowns:
            breakdowns[dimension][str(row[dimension] or "unknown")].update(plays=plays, billablePlays=billable)
    songs = _records(engine, _top_songs_sql(artist_id, days, TOP_SONGS))
    views = song_views([str(song["songid"]) for song in songs])
    return {
        "daily": daily,
        "countries": _ranked(breakdowns["country"], "country"),
        "deviceTypes": _ranked(breakdowns["devicetype"], "deviceType"),
        "tiers": _ranked(breakdowns["tier"], "tier"),
        "topSongs": [
            {
                "songId": song["songid"],
                "title": (views.get(str(song["songid"])) or {}).get("title"),
                "plays": int(song["plays"] or 0),
                "billablePlays": int(song["billableplays"] or 0),
            }
            for song in songs
        ],
    }


# ------------------------------------------------------------------------------------ playlists
def artist_song_ids(artist_id: str) -> set[str]:
    return {str(song.id) for song in SongItem.by_artist.query(artist_key(artist_id), attributes_to_get=["id"])}


def playlist_additions(playlists_table: str, song_ids: set[str], days: DayRange) -> dict[str, int]:
    """Additions of `song_ids` to playlists per day, from the change log (`tracks.added` entries).
    The log is kept per playlist, so this is a filtered scan of the whole table: its cost grows with
    the table, not with the artist (docs/decisions.md, 35)."""
    added: Counter[str] = Counter()
    if not song_ids:
        return {}
    paginator = client("dynamodb").get_paginator("scan")
    pages = paginator.paginate(
        TableName=playlists_table,
        FilterExpression="begins_with(sk, :log) AND #at BETWEEN :first AND :last",
        ProjectionExpression="#op, #at",
        ExpressionAttributeNames={"#op": "op", "#at": "at"},
        ExpressionAttributeValues={
            ":log": {"S": "LOG#"},
            ":first": {"S": days.start.isoformat()},
            ":last": {"S": f"{days.end.isoformat()}T99"},  # every instant of the last day sorts below
        },
    )
    for page in pages:
        for item in page.get("Items", []):
            op = json.loads(item["op"]["S"])
            if op.get("type") != "tracks.added":
                continue
            day = item["at"]["S"][:10]
            added[day] += sum(1 for track in op.get("items", []) if track.get("songId") in song_ids)
    return {day: count for day, count in added.items() if count}


# ------------------------------------------------------------------------------------ royalties
def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _month_back(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def last_run_rates(royalties_table: str, before: date) -> dict[str, Any] | None:
    """The per-stream rates (by tier) of the latest pro-rata run for a month up to `before`'s, or
    None when there has been none in RUN_LOOKBACK_MONTHS: one Query per month looked at."""
    dynamodb = client("dynamodb")
    for back in range(RUN_LOOKBACK_MONTHS + 1):
        month = _month_back(before.replace(day=1), back).strftime("%Y-%m")
        answer = dynamodb.query(
            TableName=royalties_table,
            KeyConditionExpression="pk = :run AND begins_with(sk, :tier)",
            ExpressionAttributeValues={":run": {"S": f"RUN#{month}#{RATE_MODEL}"}, ":tier": {"S": "TIER#"}},
        )
        tiers = [_item(item) for item in answer.get("Items", [])]
        rates = {
            str(tier["sk"]).removeprefix("TIER#"): rate
            for tier in tiers
            if (rate := _decimal(tier.get("perStreamRate"))) is not None
        }
        if rates:
            provisional = any(bool(tier.get("provisional")) for tier in tiers)
            return {"month": month, "model": RATE_MODEL, "provisional": provisional, "rates": rates}
    return None


def estimated_revenue(tiers: list[dict[str, Any]], run: dict[str, Any] | None, currency: str) -> dict[str, Any]:
    """The range's billable plays by tier priced at the last run's per-stream rates, before splits
    (the artist's own share depends on each song's splits: the statements say what was paid)."""
    if run is None:
        return {"amount": None, "currency": currency, "basis": None, "byTier": []}
    by_tier = []
    total = Decimal(0)
    for tier in tiers:
        rate = run["rates"].get(tier["tier"])
        if rate is None:
            continue
        amount = rate * tier["billablePlays"]
        total += amount
        by_tier.append(
            {
                "tier": tier["tier"],
                "billablePlays": tier["billablePlays"],
                "perStreamRate": str(rate),
                "amount": str(amount.quantize(CENT, ROUND_HALF_EVEN)),
            }
        )
    basis = {"month": run["month"], "model": run["model"], "provisional": run["provisional"]}
    rounded = str(total.quantize(CENT, ROUND_HALF_EVEN))
    return {"amount": rounded, "currency": currency, "basis": basis, "byTier": by_tier}


_DESERIALIZER = TypeDeserializer()


def _item(item: dict[str, Any]) -> dict[str, Any]:
    """A low-level item as Python values; numbers stay Decimal, so money keeps every digit."""
    return {key: _DESERIALIZER.deserialize(value) for key, value in item.items()}


@cache
def _signing_s3() -> Any:
    """An S3 client that presigns with Signature Version 4 (what every region accepts; the shared
    client's default may sign version 2 URLs)."""
    return boto3.session.Session().client("s3", config=Config(signature_version="s3v4"))  # type: ignore[call-overload]


def statements(
    royalties_table: str, royalties_bucket: str, holder_id: str, link_seconds: int, limit: int | None = None
) -> list[dict[str, Any]]:
    """The holder's statements, newest month first, each with a presigned link to its CSV. Only the
    royalties bucket is signed for: an index item naming another bucket gets no link."""
    s3 = _signing_s3()
    request: dict[str, Any] = {
        "TableName": royalties_table,
        "KeyConditionExpression": "pk = :holder AND begins_with(sk, :statement)",
        "ExpressionAttributeValues": {":holder": {"S": f"HOLDER#{holder_id}"}, ":statement": {"S": "STATEMENT#"}},
        "ScanIndexForward": False,
    }
    found: list[dict[str, Any]] = []
    for page in client("dynamodb").get_paginator("query").paginate(**request):
        for raw in page.get("Items", []):
            item = _item(raw)
            found.append(
                {
                    "month": item.get("month"),
                    "model": item.get("model"),
                    "provisional": bool(item.get("provisional", False)),
                    "amount": str(item.get("amount")),
                    "currency": item.get("currency"),
                    "lines": int(item["lines"]) if item.get("lines") is not None else None,
                    "createdAt": item.get("createdAt"),
                    "downloadUrl": s3.generate_presigned_url(
                        "get_object",
                        Params={"Bucket": royalties_bucket, "Key": item["key"]},
                        ExpiresIn=link_seconds,
                    )
                    if item.get("bucket", royalties_bucket) == royalties_bucket and item.get("key")
                    else None,
                    "expiresIn": link_seconds,
                }
            )
            if limit is not None and len(found) >= limit:
                return found
    return found


# ------------------------------------------------------------------------------------ the answer
@dataclass(frozen=True)
class Sources:
    """Where an artist's figures are read from (the function's settings)."""

    engine: LakeEngine
    playlists_table: str
    royalties_table: str
    royalties_bucket: str
    currency: str
    link_seconds: int


def artist_analytics(sources: Sources, artist_id: str, name: str, days: DayRange) -> dict[str, Any]:
    if not is_valid_id(artist_id):
        raise InvalidInput(f"artist {artist_id!r} is not an artist id", "id")
    lake = lake_figures(sources.engine, artist_id, days)
    additions = playlist_additions(sources.playlists_table, artist_song_ids(artist_id), days)
    daily = [
        {"day": day, **figures, "playlistAdditions": additions.get(day, 0)} for day, figures in lake["daily"].items()
    ]
    totals = {
        "plays": sum(day["plays"] for day in daily),
        "billablePlays": sum(day["billablePlays"] for day in daily),
        "peakDailyListeners": max((day["listeners"] for day in daily), default=0),
        "playlistAdditions": sum(additions.values()),
    }
    run = last_run_rates(sources.royalties_table, days.end)
    latest = statements(sources.royalties_table, sources.royalties_bucket, artist_id, sources.link_seconds, limit=1)
    return {
        "artistId": artist_id,
        "name": name,
        "from": days.start.isoformat(),
        "to": days.end.isoformat(),
        "totals": totals,
        "daily": daily,
        "countries": lake["countries"],
        "deviceTypes": lake["deviceTypes"],
        "tiers": lake["tiers"],
        "topSongs": lake["topSongs"],
        "estimatedRevenue": estimated_revenue(lake["tiers"], run, sources.currency),
        "lastStatement": latest[0] if latest else None,
    }
