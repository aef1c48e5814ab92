"""Discover Weekly from the command line.

`backbeat discover-weekly run`: start the Discover Weekly state machine as Monday's schedule does
(every active listener's playlist made or renewed; a listener already done this week is skipped)
and wait for it; prints how many listeners and batches the run covered.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any


def register(groups: Any) -> None:
    weekly = groups.add_parser("discover-weekly", help="Discover Weekly playlists").add_subparsers(
        dest="command", required=True
    )
    run = weekly.add_parser("run", help="run the Monday job now and wait for it")
    run.add_argument("--timeout", type=float, default=1800, help="seconds to wait (default 1800)")
    run.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> dict[str, Any]:
    from backbeat.aws import client
    from backbeat.errors import BackbeatError
    from backbeat_ops.cli import stack_outputs

    outputs = stack_outputs(args.stack)
    sfn = client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=outputs["DiscoverWeeklyStateMachineArn"], input="{}")
    arn = execution["executionArn"]
    deadline = time.monotonic() + args.timeout
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] == "SUCCEEDED":
            return {"execution": arn, "status": "SUCCEEDED", **json.loads(described.get("output") or "{}")}
        if described["status"] != "RUNNING":
            cause = described.get("cause") or described.get("error") or described["status"]
            raise BackbeatError(f"the Discover Weekly run {described['status'].lower()}: {cause}")
        if time.monotonic() > deadline:
            raise BackbeatError(f"the Discover Weekly run is still running after {args.timeout:g} s: {arn}")
        time.sleep(1.0)
