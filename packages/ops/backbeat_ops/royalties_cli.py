"""Royalties from the command line (against the devstack, or the stack named by --stack).

    backbeat royalties import-holders FILE.csv      holderId,name,kind (labels, writers, publishers, producers)
    backbeat royalties import-splits FILE.csv       songId,right,holder,role,share - all or nothing
    backbeat royalties revenue set MONTH [--premium AMOUNT | --premium-price PRICE] [--ads AMOUNT]
    backbeat royalties run MONTH [--model pro-rata|user-centric] [--provisional] [--restate] [--json]
    backbeat royalties compare MONTH [--json]       what every holder gets under each model
    backbeat royalties demo-month [MONTH]           devstack only: the stack's plays copied into the
                                                    latest closed month (or MONTH), to show a paying run

`run` starts the royalties state machine (as the schedule does on the 1st) and waits for it; it
prints, per tier, the revenue, the pool, the billable plays, the per-stream rate, the total paid and
the number of statements (--json: one object with a `tiers` list, money as decimal strings).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backbeat.analytics.engines import LakeEngine
from backbeat.catalog.models import META, artist_key, song_key
from backbeat.royalties.compaction import LakeDays
from backbeat.royalties.money import cents_to_str
from backbeat.royalties.monthly import Terms, compute_month
from backbeat.royalties.splits import parse_holders, parse_splits
from backbeat.royalties.store import RoyaltiesStore

COMPARISON_COLUMNS = ["holderId", "role", "proRata", "userCentric", "difference"]
TIER_COLUMNS = ("tier", "revenue", "pool", "billablePlays", "perStreamRate", "totalPaid", "statements")


def register(groups: Any) -> None:
    """Add `royalties ...` to the `backbeat` command's groups."""
    royalties = groups.add_parser("royalties", help="rights holders, splits, revenue and monthly runs")
    commands = royalties.add_subparsers(dest="command", required=True)
    holders = commands.add_parser("import-holders", help="register holders from a holderId,name,kind CSV")
    holders.add_argument("file", type=Path)
    holders.set_defaults(run=_import_holders)
    splits = commands.add_parser("import-splits", help="load splits from a songId,right,holder,role,share CSV")
    splits.add_argument("file", type=Path)
    splits.set_defaults(run=_import_splits)
    revenue = commands.add_parser("revenue", help="the revenue to distribute").add_subparsers(
        dest="revenue_command", required=True
    )
    revenue_set = revenue.add_parser("set", help="set a month's revenue per tier (exact decimals)")
    revenue_set.add_argument("month", help="YYYY-MM")
    revenue_set.add_argument("--premium", help="premium subscription revenue, e.g. 125000.00")
    revenue_set.add_argument("--premium-price", help="or: the price per premium listener of the month")
    revenue_set.add_argument("--ads", help="free-tier ad revenue, e.g. 8000.00")
    revenue_set.set_defaults(run=_revenue_set)
    run = commands.add_parser("run", help="run a month through the royalties state machine and wait")
    run.add_argument("month", help="YYYY-MM")
    run.add_argument("--model", choices=["pro-rata", "user-centric"], default="pro-rata")
    run.add_argument("--provisional", action="store_true", help="a month still open: statements, no payments")
    run.add_argument("--restate", action="store_true", help="change a paid month: adjustments, new statements")
    run.add_argument("--json", action="store_true", help="one JSON object with a `tiers` list")
    run.add_argument("--timeout", type=float, default=900, help="seconds to wait (default 900)")
    run.set_defaults(run=_run)
    compare = commands.add_parser("compare", help="every holder's amount under pro-rata and user-centric")
    compare.add_argument("month", help="YYYY-MM")
    compare.add_argument("--json", action="store_true", help="one JSON object a line")
    compare.set_defaults(run=_compare)
    demo = commands.add_parser("demo-month", help="devstack only: copy its plays into a closed month")
    demo.add_argument("month", nargs="?", help="YYYY-MM (default: the latest month that has closed)")
    demo.set_defaults(run=_demo_month)


def _store(stack: str | None) -> tuple[Any, dict[str, str]]:
    from backbeat.aws import client
    from backbeat.royalties.store import RoyaltiesStore
    from backbeat_ops.cli import stack_outputs

    outputs = stack_outputs(stack)
    store = RoyaltiesStore(
        client("dynamodb"), client("s3"), outputs["RoyaltiesTableName"], outputs["RoyaltiesBucketName"]
    )
    return store, outputs


def _import_holders(args: argparse.Namespace) -> dict[str, Any]:
    store, _outputs = _store(args.stack)
    return import_holders(store, args.file.read_text(encoding="utf-8"))


def _import_splits(args: argparse.Namespace) -> dict[str, Any]:
    store, outputs = _store(args.stack)
    return import_splits(store, outputs["CatalogTableName"], args.file.read_text(encoding="utf-8"))


def _revenue_set(args: argparse.Namespace) -> dict[str, Any]:
    from backbeat.royalties.monthly import Terms
    from backbeat.royalties.revenue import set_revenue

    store, _outputs = _store(args.stack)
    return set_revenue(store, args.month, Terms().currency, args.premium, args.premium_price, args.ads)


def _failure_message(described: dict[str, Any]) -> str:
    """The domain error's message from a failed execution's cause (a Lambda error document)."""
    cause = described.get("cause") or ""
    try:
        document = json.loads(cause)
        return str(document.get("errorMessage") or cause)
    except (TypeError, ValueError):
        return str(cause or described.get("error") or described["status"])


def _run(args: argparse.Namespace) -> str | dict[str, Any]:
    from backbeat.aws import client
    from backbeat.errors import BackbeatError, Conflict
    from backbeat.royalties.monthly import Terms, is_open
    from backbeat.royalties.months import closes_at, iso, parse_month
    from backbeat_ops.cli import stack_outputs

    parse_month(args.month)
    terms = Terms()
    if not args.provisional and is_open(args.month, terms):
        raise Conflict(
            f"{args.month} is still open (it closes at {iso(closes_at(args.month, terms.grace_days))}): "
            "run it with --provisional until then"
        )
    outputs = stack_outputs(args.stack)
    request = {"month": args.month, "model": args.model, "provisional": args.provisional, "restate": args.restate}
    sfn = client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=outputs["RoyaltiesStateMachineArn"], input=json.dumps(request))
    deadline = time.monotonic() + args.timeout
    while True:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] == "SUCCEEDED":
            summary = dict(json.loads(described.get("output") or "{}"))
            return summary if args.json else format_summary(summary)
        if described["status"] != "RUNNING":
            raise BackbeatError(f"the royalties run of {args.month} failed: {_failure_message(described)}")
        if time.monotonic() > deadline:
            raise BackbeatError(f"the royalties run is still running after {args.timeout:g} s")
        time.sleep(0.5)


def format_summary(summary: dict[str, Any]) -> str:
    kind = "provisional" if summary.get("provisional") else "final"
    head = f"{summary['month']} {summary['model']} ({kind}), {summary['currency']}"
    if summary.get("unchanged"):
        head += ": already paid with these figures, nothing written"
    elif summary.get("restatement"):
        head += f": restatement {summary['restatement']}, {summary.get('adjustments', 0)} adjustments"
    elif not summary.get("provisional"):
        head += f": {summary.get('payments', 0)} payments written"
    rows = [[str(tier[column]) for column in TIER_COLUMNS] for tier in summary["tiers"]]
    widths = [max(len(column), *(len(row[index]) for row in rows)) for index, column in enumerate(TIER_COLUMNS)]
    lines = [head, "  ".join(column.rjust(width) for column, width in zip(TIER_COLUMNS, widths, strict=True))]
    lines += ["  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def _compare(args: argparse.Namespace) -> str:
    from backbeat.aws import client
    from backbeat_ops.analytics_cli import lake_engine

    store, outputs = _store(args.stack)
    engine = lake_engine(args.stack)
    try:
        report = compare_models(engine, store, args.month, Terms(), LakeDays(client("s3"), outputs["LakeBucketName"]))
    finally:
        engine.close()
    if args.json:
        return "\n".join(json.dumps(row) for row in report.rows)
    return report.csv.decode("utf-8").rstrip("\n") + f"\n(written to s3://{store.bucket}/{report.key})"


def _demo_month(args: argparse.Namespace) -> dict[str, Any]:
    from datetime import UTC, datetime

    from backbeat.aws import client
    from backbeat.errors import InvalidInput
    from backbeat_ops.cli import stack_outputs
    from backbeat_ops.demo_month import land_demo_month, latest_closed_month

    if args.stack:
        raise InvalidInput("demo-month writes synthetic plays into the lake: it runs on the devstack only")
    outputs = stack_outputs(None)
    month = args.month or latest_closed_month(datetime.now(UTC), Terms().grace_days)
    landed = land_demo_month(
        client("dynamodb"), client("firehose"), outputs["PlaysTableName"], outputs["PlaysDeliveryStreamName"], month
    )
    return {"month": month, "plays": landed}


# ------------------------------------------------------------ importing holders and splits
# A whole file is checked against the catalog and the registered holders before anything is written,
# and then written at once (the splits register is one object): one bad row changes nothing.


def import_holders(store: RoyaltiesStore, text: str) -> dict[str, Any]:
    """Register the holders of a `holderId,name,kind` file (labels, songwriters, publishers, producers)."""
    holders = parse_holders(text)
    store.put_holders(holders)
    return {"holders": len(holders)}


def import_splits(store: RoyaltiesStore, catalog_table: str, text: str) -> dict[str, Any]:
    """Replace the splits of every song of a `songId,right,holder,role,share` file, all or nothing."""

    def unknown_songs(songs: set[str]) -> set[str]:
        keys = [(song_key(song), META) for song in sorted(songs)]
        found = store.existing_catalog_items(catalog_table, keys)
        return {song for song in songs if song_key(song) not in found}

    def unknown_holders(holders: set[str]) -> set[str]:
        artists = store.existing_catalog_items(catalog_table, [(artist_key(h), META) for h in sorted(holders)])
        rest = {holder for holder in holders if artist_key(holder) not in artists}
        return rest - store.known_holders(rest) if rest else set()

    splits = parse_splits(text, unknown_songs, unknown_holders)
    register = store.load_register().merged(splits)
    store.save_register(register)
    return {"songs": len(splits), "rows": sum(len(rows) for rows in splits.values()), "registered": len(register.songs)}


# ------------------------------------------------ pro-rata against user-centric, per holder


@dataclass
class Comparison:
    key: str
    csv: bytes
    rows: list[dict[str, Any]]


def compare_models(engine: LakeEngine, store: RoyaltiesStore, month: str, terms: Terms, lake: LakeDays) -> Comparison:
    pro_rata = compute_month(engine, store, month, "pro-rata", terms, lake).allocation
    user_centric = compute_month(engine, store, month, "user-centric", terms, lake).allocation
    rows: list[dict[str, Any]] = []
    for holder in sorted(set(pro_rata.holders) | set(user_centric.holders)):
        lines = pro_rata.holders.get(holder) or user_centric.holders[holder]
        roles = sorted({line.role for line in lines.values()})
        a = pro_rata.total(holder) if holder in pro_rata.holders else 0
        b = user_centric.total(holder) if holder in user_centric.holders else 0
        rows.append(
            {
                "holderId": holder,
                "role": "+".join(roles),
                "proRata": cents_to_str(a),
                "userCentric": cents_to_str(b),
                "difference": cents_to_str(b - a),
            }
        )
    out = io.StringIO()
    writer = csv.DictWriter(out, COMPARISON_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    body = out.getvalue().encode("utf-8")
    key = f"reports/{month}/models.csv"
    store.put_object(key, body)
    return Comparison(key, body, rows)
