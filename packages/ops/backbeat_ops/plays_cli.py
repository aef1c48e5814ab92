"""`backbeat plays list --user EMAIL [--limit N] [--json]`: a listener's plays with their verdicts,
newest first, one line each (with --json, one JSON object a line), read from the plays table of the
devstack or of the stack named by --stack."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

from backbeat.errors import NotFound

# What each line shows: enough to see why a play was or was not paid for.
FIELDS = (
    "playId",
    "songId",
    "startedAt",
    "playedMs",
    "ended",
    "billable",
    "reason",
    "deviceId",
    "contextType",
    "tier",
    "country",
    "events",
)


def register(groups: Any) -> None:
    """Add `plays list` to the CLI's command groups (argparse subparsers)."""
    plays = groups.add_parser("plays", help="inspect play records").add_subparsers(dest="command", required=True)
    listing = plays.add_parser("list", help="a listener's plays with their verdicts, newest first")
    listing.add_argument("--user", required=True, metavar="EMAIL", help="the listener's email")
    listing.add_argument("--limit", type=int, default=50, help="how many plays (default 50)")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    listing.set_defaults(run=_list)


def user_id_for(email: str) -> str:
    from backbeat.identity.models import UserItem

    users = list(UserItem.by_email.query(email.strip().lower(), limit=1))
    if not users:
        raise NotFound(f"no user with email {email}")
    return str(users[0].user_id)


def play_lines(plays_table: str, user_id: str, limit: int) -> Iterator[dict[str, Any]]:
    """The listener's plays newest first, as the fields above, reading page after page."""
    from backbeat.plays.history import play_records

    cursor: str | None = None
    remaining = limit
    while remaining > 0:
        records, cursor = play_records(plays_table, user_id, min(remaining, 100), cursor)
        for record in records:
            yield {field: record.get(field) for field in FIELDS}
        remaining -= len(records)
        if cursor is None:
            return


def _list(args: argparse.Namespace) -> None:
    from backbeat.identity.models import bind_users_table
    from backbeat_ops.cli import stack_outputs

    if args.limit < 1:
        raise SystemExit("backbeat: --limit must be at least 1")
    outputs = stack_outputs(args.stack)
    bind_users_table(outputs["UsersTableName"])
    for line in play_lines(outputs["PlaysTableName"], user_id_for(args.user), args.limit):
        if args.json:
            print(json.dumps(line))
        else:
            verdict = "billable" if line["billable"] else "not billable"
            print(
                f"{line['startedAt']}  {line['playId']}  song {line['songId']}  {line['playedMs'] / 1000:.1f} s"
                f"  {line['ended'] or 'open'}  {verdict} ({line['reason']})"
            )
    sys.stdout.flush()
