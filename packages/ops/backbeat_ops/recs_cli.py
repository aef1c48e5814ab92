"""`backbeat recs evaluate --interactions FILE.csv [--seed N] [--json]`: MostPop, EASE, plain ALS and
ours on a held-out split of any `user,item,weight` CSV (`backbeat_recs.evaluation`).

`backbeat recs train [--stack NAME]`: run the weekly training now against the devstack (or a
deployed stack): export the lake's plays, train, evaluate against the promoted model, publish and
promote if not worse (`backbeat_recs.pipeline`)."""

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
    train = recs.add_parser("train", help="train, evaluate and publish a model now (the weekly workflow's work)")
    train.add_argument("--no-promote", action="store_true", help="publish and register, but do not promote")
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


def _train(args: argparse.Namespace) -> None:
    from backbeat_recs.pipeline import run_training_from_environment

    outcome = run_training_from_environment(promote=not args.no_promote)
    print(json.dumps(outcome, indent=2, sort_keys=True))
