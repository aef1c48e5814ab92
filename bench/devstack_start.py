"""`make dev` to ready on this machine: first starts and warm starts, each the median of `--runs`.

    .venv/bin/python bench/devstack_start.py [--runs 3]

A first start is a fresh checkout's: an empty data dir and an empty demo-audio cache, so the stack
creates its resources, seeds the demo users and the full demo catalog, indexes it for search and
encodes the ten demo tracks. A warm start is `make dev` again on the state the previous run kept
(Ctrl-C saves it): the emulators' state is restored, and the search engine that `make dev` keeps
warm after a stop is adopted. A late warm start is the same after the keep-warm window has passed
(the kept engine is stopped first, as its idle timeout would): the search indices are loaded again
from the snapshot. Each run is timed from spawning `make dev` (with `.venv` present) to its ready
line, and stopped with SIGTERM to its process group, as Ctrl-C would. Prints each run, the medians
and the phases the last runs reported.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.foundation import start_make_dev, stop_make_dev  # noqa: E402
from devstack import warm_engine  # noqa: E402

KEEP_SEARCH_WARM = 1800  # make dev's default


def one_start(work: Path, label: str) -> tuple[float, list[str]]:
    state = work / "state.json"
    flags = ("--data-dir", str(work / "data"), "--audio-cache", str(work / "demo-media"))
    flags += ("--keep-search-warm", str(KEEP_SEARCH_WARM))
    process, _port, seconds, lines = start_make_dev(state, *flags)
    stop_make_dev(process)
    print(f"{label}: ready in {seconds:.1f} s", flush=True)
    return seconds, lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    first: list[float] = []
    warm: list[float] = []
    late: list[float] = []
    phases: dict[str, list[str]] = {}
    for run in range(1, args.runs + 1):
        work = Path(tempfile.mkdtemp(prefix="devstack-start-"))
        try:
            seconds, lines = one_start(work, f"first start {run}")
            first.append(seconds)
            phases["first"] = lines
            seconds, lines = one_start(work, f"warm start {run}")
            warm.append(seconds)
            phases["warm"] = lines
            warm_engine.stop(work / "data")  # the keep-warm window has passed
            seconds, lines = one_start(work, f"late warm start {run}")
            late.append(seconds)
            phases["late warm"] = lines
        finally:
            warm_engine.stop(work / "data")

    print()
    print("| `make dev` to ready (2 cores, `.venv` present) | runs (s) | median (s) |")
    print("|---|---|---|")
    print(
        f"| first start: empty state, no demo-audio cache | {', '.join(f'{s:.1f}' for s in first)} | "
        f"{statistics.median(first):.1f} |"
    )
    print(
        f"| warm start: the state the first start kept, the search engine kept warm | "
        f"{', '.join(f'{s:.1f}' for s in warm)} | {statistics.median(warm):.1f} |"
    )
    print(
        f"| late warm start: the same after the {KEEP_SEARCH_WARM // 60}-minute keep-warm window (search reloaded) | "
        f"{', '.join(f'{s:.1f}' for s in late)} | {statistics.median(late):.1f} |"
    )
    for name, lines in phases.items():
        print(f"\nwhat the last {name} start reported:")
        for line in lines:
            if line.startswith("devstack:") or "ready at" in line:
                print("    " + line.rstrip())


if __name__ == "__main__":
    main()
