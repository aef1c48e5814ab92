"""What an idle devstack costs: the CPU its process and its search engine use while nothing happens.

    .venv/bin/python bench/devstack_idle.py [--seconds 30] [--catalog-limit 2000] [--baseline DIR]

Starts a devstack (`python -m devstack`, demo listening and demo audio off, the first `--catalog-limit`
songs), lets it settle, then reads the CPU time (user + system) its Python process and the search
engine's process use over `--seconds` with no request made: what the pollers, the delivery loops and
the servers spend on their own. With `--baseline DIR` (another tree, e.g. `git archive main | tar -x
-C DIR`), DIR's code is measured first, then this tree's, one after the other.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.foundation import compared_trees, cpu_seconds, stop_make_dev  # noqa: E402
from bench.search_latency import start_devstack  # noqa: E402

SETTLE_SECONDS = 15.0  # after "ready": the first polls, the engine's start-up work


def measure(tree: Path, seconds: float, catalog_limit: int) -> tuple[float, float]:
    """Cores busy on average over `seconds` of an idle stack: its Python process, its search engine."""
    process, _, _, _ = start_devstack(tree, "--catalog-limit", str(catalog_limit))
    try:
        time.sleep(SETTLE_SECONDS)
        children = psutil.Process(process.pid).children(recursive=True)
        engines = [child.pid for child in children if "osmem" in child.name()]
        before = cpu_seconds(process.pid), sum(cpu_seconds(engine) for engine in engines)
        time.sleep(seconds)
        after = cpu_seconds(process.pid), sum(cpu_seconds(engine) for engine in engines)
    finally:
        stop_make_dev(process)
    return (after[0] - before[0]) / seconds, (after[1] - before[1]) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--catalog-limit", type=int, default=2000)
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to measure first")
    args = parser.parse_args()
    trees = compared_trees(args.baseline)
    print(f"idle for {args.seconds:.0f} s after {SETTLE_SECONDS:.0f} s to settle; {args.catalog_limit} songs")
    print()
    print("| code | devstack process (cores busy) | search engine (cores busy) |")
    print("|---|---|---|")
    for name, tree in trees:
        stack, engine = measure(tree, args.seconds, args.catalog_limit)
        print(f"| {name} | {stack:.3f} | {engine:.3f} |", flush=True)


if __name__ == "__main__":
    main()
