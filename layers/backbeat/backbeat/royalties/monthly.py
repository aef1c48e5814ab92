"""The monthly run: count the month's billable plays, price them, split them, pay and state them.

`prepare` is the state machine's first step (which month, and when it closes: the Wait state sleeps
until then); `run_month` is the rest. A provisional run writes statements (marked provisional) and
no payments. A final run writes each holder's payment once (conditional writes) and the month's
payment record last; running it again finds the same figures (the same digest) and changes nothing;
different figures (late plays, new splits, new revenue) are refused unless the run is an explicit
restatement, which writes each holder's difference as an adjustment beside the payment and states
the month again under restatement-<n>/, keeping what was stated before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from backbeat.analytics.engines import LakeEngine
from backbeat.errors import Conflict, InvalidInput
from backbeat.royalties import counting
from backbeat.royalties.allocation import (
    Allocation,
    SongTally,
    allocate,
    pro_rata_weights,
    user_centric_weights,
)
from backbeat.royalties.compaction import LakeDays, ensure_month
from backbeat.royalties.money import cents_to_str, parse_signed_cents, percent_of, ratio_str
from backbeat.royalties.months import closes_at, iso, month_before, parse_month
from backbeat.royalties.revenue import month_revenue
from backbeat.royalties.statements import run_digest, statements_of
from backbeat.royalties.store import RoyaltiesStore, plain_item, statement_key

MODELS = ("pro-rata", "user-centric")
USER_CENTRIC_TIER = "premium"  # the free tier has no subscription to follow: it stays pro-rata
SUMMARY_IF_FINAL = "attribute_not_exists(pk) OR digest <> :digest"
SUMMARY_IF_PROVISIONAL = "attribute_not_exists(pk) OR (digest <> :digest AND provisional = :yes)"


@dataclass(frozen=True)
class Terms:
    """The settings a run applies (backbeat.config.RoyaltiesSettings)."""

    pool_percent: Decimal = Decimal(70)
    publishing_percent: int = 20
    grace_days: int = 3
    currency: str = "USD"


def prepare(request: dict[str, Any], started_at: str | None, terms: Terms) -> dict[str, Any]:
    """The run's parameters: the month asked for (or, from the schedule, the month before the run
    started), the model, and when the month closes (a provisional run does not wait for that)."""
    start = datetime.fromisoformat(started_at) if started_at else datetime.now(UTC)
    month = request.get("month") or month_before(start if start.tzinfo else start.replace(tzinfo=UTC))
    parse_month(month)
    model = request.get("model") or "pro-rata"
    if model not in MODELS:
        raise InvalidInput(f"model must be pro-rata or user-centric, got {model!r}")
    return {
        "month": month,
        "model": model,
        "provisional": bool(request.get("provisional")),
        "restate": bool(request.get("restate")),
        "closesAt": iso(closes_at(month, terms.grace_days)),
    }


def is_open(month: str, terms: Terms, now: datetime | None = None) -> bool:
    return (now or datetime.now(UTC)) < closes_at(month, terms.grace_days)


@dataclass
class Computation:
    month: str
    model: str
    allocation: Allocation
    statements: dict[str, bytes]
    summary: dict[str, Any]
    digest: str
    compacted_days: list[str]  # the days that were not current and were compacted for this run


def compute_month(
    engine: LakeEngine, store: RoyaltiesStore, month: str, model: str, terms: Terms, lake: LakeDays
) -> Computation:
    """The month's figures and statements under `model`, written nowhere yet. Every day of the month
    is made current first (compacted again if its plays changed since), so the counts are exactly-once
    over every play that has landed."""
    compacted = ensure_month(engine, lake, month)
    revenue_terms = month_revenue(store, month)
    listener_rows = (
        counting.billable_by_listener(engine, month)
        if model == "user-centric" or any(r.amount is None for r in revenue_terms.values())
        else None
    )
    if listener_rows is not None:
        song_rows: dict[tuple[str, str, str], int] = {}
        for tier, _user, song, artist, plays in listener_rows:
            song_rows[(tier, song, artist)] = song_rows.get((tier, song, artist), 0) + plays
        counts = [(tier, song, artist, plays) for (tier, song, artist), plays in sorted(song_rows.items())]
    else:
        counts = counting.billable_by_song(engine, month)
    listeners = {tier: len({row[1] for row in listener_rows or [] if row[0] == tier}) for tier in revenue_terms}
    revenue = {tier: terms_.resolve(listeners.get(tier, 0)) for tier, terms_ in revenue_terms.items()}
    pools = {tier: percent_of(amount, terms.pool_percent) for tier, amount in revenue.items()}
    tallies: dict[str, dict[tuple[str, str], SongTally]] = {
        tier: songs for tier, songs in pro_rata_weights(counts).items() if tier in pools
    }
    if model == "user-centric" and USER_CENTRIC_TIER in pools and listener_rows is not None:
        premium = [(u, s, a, p) for t, u, s, a, p in listener_rows if t == USER_CENTRIC_TIER]
        tallies[USER_CENTRIC_TIER] = user_centric_weights(pools[USER_CENTRIC_TIER], premium)
    allocation = allocate(revenue, pools, tallies, store.load_register(), terms.publishing_percent)
    statements = statements_of(allocation)
    summary = {
        "month": month,
        "model": model,
        "currency": terms.currency,
        "tiers": [
            {
                "tier": tier.tier,
                "revenue": cents_to_str(tier.revenue),
                "pool": cents_to_str(tier.pool),
                "billablePlays": tier.billable_plays,
                "perStreamRate": ratio_str(tier.pool, tier.billable_plays * 100),
                "totalPaid": cents_to_str(tier.total_paid),
                "statements": tier.statements,
            }
            for tier in allocation.tiers.values()
        ],
    }
    return Computation(month, model, allocation, statements, summary, run_digest(summary, statements), compacted)


def run_month(
    engine: LakeEngine,
    store: RoyaltiesStore,
    month: str,
    model: str,
    terms: Terms,
    lake: LakeDays,
    provisional: bool = False,
    restate: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Compute the month and write it (see the module); returns the summary with what was done."""
    moment = now or datetime.now(UTC)
    if not provisional and is_open(month, terms, moment):
        raise Conflict(
            f"{month} is still open (it closes at {iso(closes_at(month, terms.grace_days))}, after the "
            f"grace period for late events): run it with --provisional until then"
        )
    computation = compute_month(engine, store, month, model, terms, lake)
    if provisional:
        written = _write_provisional(store, computation, moment)
    else:
        written = _write_final(store, computation, restate, moment)
    return {**written, "daysCompacted": computation.compacted_days}


def _index_item(computation: Computation, holder: str, key: str, provisional: bool, now: datetime) -> dict[str, Any]:
    return {
        "pk": f"HOLDER#{holder}",
        "sk": f"STATEMENT#{computation.month}#{computation.model}",
        "holderId": holder,
        "month": computation.month,
        "model": computation.model,
        "provisional": provisional,
        "amount": cents_to_str(computation.allocation.total(holder)),
        "currency": computation.summary["currency"],
        "bucket": "",  # filled by _state
        "key": key,
        "lines": len(computation.allocation.holders[holder]),
        "createdAt": iso(now),
    }


def _state(store: RoyaltiesStore, computation: Computation, provisional: bool, restatement: int, now: datetime) -> int:
    """Write the statements and their index items; an index item that already says the same (same
    key and amount) is left as it is, and a final statement is never replaced by a provisional one."""
    written = 0
    for holder, body in computation.statements.items():
        key = statement_key(computation.month, computation.model, holder, provisional, restatement)
        store.put_object(key, body)
        item = _index_item(computation, holder, key, provisional, now)
        item["bucket"] = store.bucket
        condition = "attribute_not_exists(pk) OR (#key <> :key OR amount <> :amount)"
        if provisional:
            condition = "attribute_not_exists(pk) OR (provisional = :yes AND (#key <> :key OR amount <> :amount))"
        written += _put_index(store, item, condition, provisional)
    return written


def _put_index(store: RoyaltiesStore, item: dict[str, Any], condition: str, provisional: bool) -> int:
    values: dict[str, Any] = {":key": item["key"], ":amount": item["amount"], **({":yes": True} if provisional else {})}
    return int(store.put(item, condition, values, names={"#key": "key"}))


def _write_summary(store: RoyaltiesStore, computation: Computation, provisional: bool, now: datetime) -> None:
    for tier in computation.summary["tiers"]:
        store.put(
            {
                "pk": f"RUN#{computation.month}#{computation.model}",
                "sk": f"TIER#{tier['tier']}",
                **tier,
                "currency": computation.summary["currency"],
                "provisional": provisional,
                "digest": computation.digest,
                "createdAt": iso(now),
            },
            # the same figures keep their first write; a provisional run never replaces a final summary
            condition="attribute_not_exists(pk) OR (digest <> :digest"
            + (" AND provisional = :yes)" if provisional else ")"),
            values={":digest": computation.digest, **({":yes": True} if provisional else {})},
        )


def _write_provisional(store: RoyaltiesStore, computation: Computation, now: datetime) -> dict[str, Any]:
    _state(store, computation, provisional=True, restatement=0, now=now)
    _write_summary(store, computation, provisional=True, now=now)
    return {**computation.summary, "provisional": True, "digest": computation.digest, "payments": 0}


def _paid_so_far(store: RoyaltiesStore, month: str, holder: str) -> int:
    return sum(parse_signed_cents(str(item["amount"])) for item in store.query(f"HOLDER#{holder}", f"PAYMENT#{month}"))


def _write_final(store: RoyaltiesStore, computation: Computation, restate: bool, now: datetime) -> dict[str, Any]:
    month, model = computation.month, computation.model
    paid = store.get(f"MONTH#{month}", "PAYMENTS")
    result = {**computation.summary, "provisional": False, "digest": computation.digest}
    if paid is not None:
        if paid["model"] != model:
            raise Conflict(f"{month} was paid under the {paid['model']} model; a {model} run can only be --provisional")
        if paid["digest"] == computation.digest:
            return {**result, "payments": 0, "unchanged": True}
        if not restate:
            raise Conflict(
                f"{month} has been paid and its figures have changed since (late plays, splits or revenue): "
                f"only an explicit restatement (--restate) changes a paid month, with adjustments"
            )
        return _restate(store, computation, paid, now)
    payments = 0
    for holder in computation.statements:
        amount = computation.allocation.total(holder)
        by_tier = {tier: cents_to_str(cents) for tier, cents in computation.allocation.payment(holder).items()}
        written = store.put(
            {
                "pk": f"HOLDER#{holder}",
                "sk": f"PAYMENT#{month}",
                "holderId": holder,
                "month": month,
                "model": model,
                "amount": cents_to_str(amount),
                "byTier": by_tier,
                "currency": computation.summary["currency"],
                "digest": computation.digest,
                "createdAt": iso(now),
            },
            condition="attribute_not_exists(pk)",
        )
        if written:
            payments += 1
        else:  # a run that stopped half-way wrote this one: it must say the same
            existing = store.get(f"HOLDER#{holder}", f"PAYMENT#{month}")
            if existing is None or existing.get("digest") != computation.digest:
                raise Conflict(f"a payment of {month} to {holder} exists with other figures: restate the month")
    _state(store, computation, provisional=False, restatement=0, now=now)
    _write_summary(store, computation, provisional=False, now=now)
    store.put(
        {
            "pk": f"MONTH#{month}",
            "sk": "PAYMENTS",
            "month": month,
            "model": model,
            "digest": computation.digest,
            "holders": len(computation.statements),
            "restatements": 0,
            "paidAt": iso(now),
        },
        condition="attribute_not_exists(pk)",
    )
    return {**result, "payments": payments}


def _restate(store: RoyaltiesStore, computation: Computation, paid: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Adjustments for every holder whose amount changed (including holders no longer paid), new
    statements under restatement-<n>/; the original payments and statements stay as they were."""
    month = computation.month
    restatement = int(paid.get("restatements", 0)) + 1
    holders = set(computation.statements)
    holders |= {item["holderId"] for item in _payments_of_month(store, month)}
    adjustments = 0
    for holder in sorted(holders):
        new_total = computation.allocation.total(holder) if holder in computation.allocation.holders else 0
        difference = new_total - _paid_so_far(store, month, holder)
        if difference == 0:
            continue
        store.put(
            {
                "pk": f"HOLDER#{holder}",
                "sk": f"PAYMENT#{month}#ADJUSTMENT#{restatement:03d}",
                "holderId": holder,
                "month": month,
                "model": computation.model,
                "amount": cents_to_str(difference),
                "currency": computation.summary["currency"],
                "restatement": restatement,
                "digest": computation.digest,
                "createdAt": iso(now),
            },
            condition="attribute_not_exists(pk)",
        )
        adjustments += 1
    _state(store, computation, provisional=False, restatement=restatement, now=now)
    _write_summary(store, computation, provisional=False, now=now)
    if not store.put(
        {**paid, "digest": computation.digest, "restatements": restatement, "restatedAt": iso(now)},
        condition="digest = :previous",
        values={":previous": paid["digest"]},
    ):
        raise Conflict(f"{month} was restated by another run at the same time")
    return {
        **computation.summary,
        "provisional": False,
        "digest": computation.digest,
        "payments": 0,
        "restatement": restatement,
        "adjustments": adjustments,
    }


def _payments_of_month(store: RoyaltiesStore, month: str) -> list[dict[str, Any]]:
    """The holders paid for the month (a scan of the index would do at this scale; see decisions 34)."""
    items = store.dynamodb.get_paginator("scan").paginate(
        TableName=store.table,
        FilterExpression="begins_with(sk, :payment)",
        ExpressionAttributeValues={":payment": {"S": f"PAYMENT#{month}"}},
    )
    return [plain_item(item) for page in items for item in page["Items"]]
