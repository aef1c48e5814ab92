"""The event lake from the command line.

`backbeat analytics sql "SELECT ..."`: a query over the lake, printed as a table (or one JSON object
a line with --json). Against the local devstack DuckDB runs it over the lake's Parquet; with
--stack, Athena runs it in the stack's lake workgroup. Either way the query reads the deduplicated
views `events` and `plays` (and the raw tables `events_raw`, `plays_raw`, the daily aggregates
`daily_song`, `daily_artist`): see backbeat/analytics/sql/views.sql.

`backbeat analytics variants [--days N]`: the recommendation A/B report, per variant (the model arm
the playback events' context carried): plays, listeners, listening minutes, skip rate.

`backbeat analytics aggregate [--day YYYY-MM-DD]`: run the daily aggregates state machine for a day
(yesterday by default, as the schedule does) and wait for it.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from backbeat.analytics.engines import LakeEngine, QueryResult

MAX_CELL = 60  # wider values are cut in the table (--json prints them whole)


def register(groups: Any) -> None:
    """Add `analytics sql` to the `backbeat` command's groups."""
    analytics = groups.add_parser("analytics", help="query the event lake").add_subparsers(
        dest="command", required=True
    )
    sql = analytics.add_parser("sql", help="run SQL over the lake and print the rows")
    sql.add_argument("query", help='e.g. "SELECT songId, count(*) AS plays FROM plays GROUP BY songId"')
    sql.add_argument("--json", action="store_true", help="one JSON object a line instead of a table")
    sql.set_defaults(run=_sql)
    aggregate = analytics.add_parser("aggregate", help="run the daily aggregates for a day and wait")
    aggregate.add_argument("--day", help="YYYY-MM-DD (default: yesterday, UTC, as the schedule does)")
    aggregate.add_argument("--timeout", type=float, default=900, help="seconds to wait (default 900)")
    aggregate.set_defaults(run=_aggregate)
    variants = analytics.add_parser("variants", help="plays, listening time and skip rate per recommendation variant")
    variants.add_argument("--days", type=int, default=28, help="how many days back (default 28)")
    variants.add_argument("--json", action="store_true", help="one JSON object a line instead of a table")
    variants.set_defaults(run=_variants)


def lake_engine(stack: str | None) -> LakeEngine:
    """Athena for a deployed stack, DuckDB over the devstack's lake."""
    from backbeat.analytics.engines import AthenaEngine, DuckDBEngine
    from backbeat.aws import client
    from backbeat_ops.cli import stack_outputs

    outputs = stack_outputs(stack)
    if stack:
        return AthenaEngine(client("athena"), outputs["LakeDatabaseName"], outputs["LakeWorkGroupName"])
    return DuckDBEngine(client("s3"), client("glue"), outputs["LakeDatabaseName"])


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=str)
    return str(value)


def format_table(result: QueryResult) -> str:
    """A header, a rule and the rows, columns padded to their widest cell; numbers right-aligned."""
    cells = [[_cell(value)[:MAX_CELL] for value in row] for row in result.rows]
    widths = [max([len(name), *(len(row[index]) for row in cells)]) for index, name in enumerate(result.columns)]
    numeric = [
        bool(result.rows)
        and all(isinstance(row[index], int | float | Decimal) or row[index] is None for row in result.rows)
        for index in range(len(result.columns))
    ]

    def line(values: list[str]) -> str:
        return "  ".join(
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ).rstrip()

    rows = [line(list(result.columns)), "  ".join("-" * width for width in widths)]
    rows += [line(row) for row in cells]
    count = len(result.rows)
    rows.append(f"({count} row{'s' if count != 1 else ''})")
    return "\n".join(rows)


def format_json_lines(result: QueryResult) -> str:
    return "\n".join(json.dumps(dict(zip(result.columns, row, strict=True)), default=_cell) for row in result.rows)


def _sql(args: argparse.Namespace) -> str:
    from backbeat.analytics.queries import with_views

    engine = lake_engine(args.stack)
    try:
        result = engine.query(with_views(args.query))
    finally:
        engine.close()
    return format_json_lines(result) if args.json else format_table(result)


def _variants(args: argparse.Namespace) -> str:
    """The A/B report: each recommendation variant's plays, listeners, listening time, skip rate."""
    from datetime import UTC, timedelta

    from backbeat.analytics.queries import with_views
    from backbeat.recs.variants import variant_report_sql

    since = (datetime.now(UTC) - timedelta(days=args.days)).date().isoformat()
    engine = lake_engine(args.stack)
    try:
        result = engine.query(with_views(variant_report_sql(since)))
    finally:
        engine.close()
    if not result.rows:
        return f"no plays carry a recommendation variant since {since} (no challenger, or none played yet)"
    return format_json_lines(result) if args.json else format_table(result)


def _aggregate(args: argparse.Namespace) -> dict[str, Any]:
    """Start the daily aggregates state machine (the schedule's input, or the day asked for) and
    wait for its end; a failed execution is an error naming its cause."""
    from backbeat.analytics.layout import parse_day
    from backbeat.aws import client
    from backbeat.errors import BackbeatError
    from backbeat_ops.cli import stack_outputs

    outputs = stack_outputs(args.stack)
    request = {"day": parse_day(args.day).isoformat()} if args.day else {}
    sfn = client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=outputs["DailyAggregatesStateMachineArn"], input=json.dumps(request)
    )["executionArn"]
    deadline = time.monotonic() + args.timeout
    while True:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] == "SUCCEEDED":
            return dict(json.loads(described.get("output") or "{}"))
        if described["status"] != "RUNNING":
            cause = described.get("cause") or described.get("error") or described["status"]
            raise BackbeatError(f"the daily aggregates run {described['status'].lower()}: {cause}")
        if time.monotonic() > deadline:
            raise BackbeatError(f"the daily aggregates run is still running after {args.timeout:g} s: {execution}")
        time.sleep(0.5)
