"""Offline recommendation quality on HetRec 2011 Last.fm 2K (user-artist play counts).

    .venv/bin/python bench/recs_offline.py [--seed 0] [--json] [--users N]

One random per-user 80/20 split of the play counts; MostPop, EASE (closed form), plain ALS and ours
(weighted ALS blended with the pruned item model the artefacts store), each tuned on a validation
split cut from the training part, all measured once on the same test part, through the same entry
point `backbeat recs evaluate` uses (`backbeat_recs.evaluation.evaluate`). `--users N` keeps the
first N listeners (a quick check, not a figure). Set BACKBEAT_RECS_THREADS to bound ALS's threads.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "packages" / "recs"), str(ROOT / "packages" / "ops")]

from backbeat_ops.lastfm import DEFAULT_LASTFM_DIR  # noqa: E402
from backbeat_recs.data import Interactions  # noqa: E402
from backbeat_recs.evaluation import evaluate  # noqa: E402


def lastfm_plays(directory: Path, users: int | None) -> Interactions:
    rows = []
    kept: set[str] = set()
    with (directory / "user_artists.dat").open(encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            user, artist, plays = line.split("\t")
            if users is not None and user not in kept:
                if len(kept) >= users:
                    continue
                kept.add(user)
            rows.append((user, artist, float(plays)))
    return Interactions.from_rows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="one JSON object per model")
    parser.add_argument("--users", type=int, default=None, help="only the first N listeners (quick check)")
    parser.add_argument("--lastfm", type=Path, default=DEFAULT_LASTFM_DIR)
    args = parser.parse_args()
    interactions = lastfm_plays(args.lastfm, args.users)
    started = time.perf_counter()
    evaluation = evaluate(interactions, seed=args.seed, log=lambda line: print(line, file=sys.stderr, flush=True))
    if args.json:
        for result in evaluation.results:
            print(json.dumps(result.as_dict()))
        return
    print(
        f"HetRec Last.fm 2K: {evaluation.users:,} listeners x {evaluation.items:,} artists, "
        f"{evaluation.interactions:,} play counts; seed {evaluation.seed}; per-user 80/20 split "
        f"({evaluation.train_interactions:,} train / {evaluation.test_interactions:,} test); "
        f"tuned on validation: {json.dumps(evaluation.tuning, sort_keys=True)}"
    )
    print(evaluation.table())
    print(f"best: {evaluation.best().model}; whole run {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
