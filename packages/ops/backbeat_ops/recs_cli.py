"""`backbeat recs evaluate --interactions FILE.csv [--seed N] [--json]`: MostPop, EASE, plain ALS and
ours on a held-out split of any `user,item,weight` CSV (`backbeat_recs.evaluation`).

`backbeat [--stack NAME] recs train`: run the weekly training workflow now against the devstack (or a
deployed stack) and wait for it: export the lake's plays, train, compare with the promoted model,
publish and promote if not worse (`RecommendationsStateMachine`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(groups: Any) -> None:
    recs = groups.add_parser("recs", help="recommendation models").add_subparsers(dest="command", required=True)
    evaluate = recs.add_parser("evaluate", help="offline evaluation of the recommenders on a user,item,weight CSV")
    evaluate.add_argument(
        "--interactions", required=True, type=Path, metavar="FILE.csv", help="header user,item,weight"
    )
    evaluate.add_argument("--seed", type=int, default=0, help="the split's seed (default 0)")
    evaluate.add_argument("--json", action="store_true", help="one JSON object per model")
    evaluate.set_defaults(run=_evaluate)
    train = recs.add_parser("train", help="run the weekly training workflow now and wait for it")
    train.add_argument("--timeout", type=float, default=3600, help="seconds to wait (default 3600)")
    train.set_defaults(run=_train)


def _evaluate(args: argparse.Namespace) -> None:
    try:
        from backbeat_recs.data import InteractionsError, read_csv
        from backbeat_recs.evaluation import evaluate
    except ImportError:
        raise SystemExit("backbeat recs needs the training package: pip install -e packages/recs") from None
    try:
        interactions = read_csv(args.interactions)
    except (OSError, InteractionsError) as error:
        raise SystemExit(f"backbeat recs evaluate: {error}") from None
    evaluation = evaluate(interactions, seed=args.seed, log=lambda line: print(line, file=sys.stderr))
    if args.json:
        for result in evaluation.results:
            print(json.dumps(result.as_dict()))
    else:
        print(
            f"{evaluation.users:,} users x {evaluation.items:,} items, {evaluation.interactions:,} interactions; "
            f"seed {evaluation.seed}; test {evaluation.test_interactions:,} held out"
        )
        print(evaluation.table())


def _train(args: argparse.Namespace) -> dict[str, Any]:
    """The execution's output: the export, the training's metrics and what was promoted."""
    import time

    from backbeat.aws import client
    from backbeat_ops.cli import stack_outputs

    outputs = stack_outputs(args.stack)
    functions = client("stepfunctions")
    started = functions.start_execution(
        stateMachineArn=outputs["RecommendationsStateMachineArn"], name=f"cli-{int(time.time())}", input="{}"
    )
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        described = functions.describe_execution(executionArn=started["executionArn"])
        if described["status"] != "RUNNING":
            break
        time.sleep(2)
    else:
        raise SystemExit(f"backbeat recs train: still running after {args.timeout:.0f} s: {started['executionArn']}")
    if described["status"] != "SUCCEEDED":
        raise SystemExit(
            f"backbeat recs train: the workflow {described['status'].lower()}: {described.get('cause', '')}"
        )
    return dict(json.loads(described.get("output") or "{}"))
