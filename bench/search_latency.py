"""Search latency through the local gateway, and index throughput; optionally against a baseline tree.

    .venv/bin/python bench/search_latency.py [--requests 300] [--catalog-limit N] [--baseline DIR]

Starts a devstack (`python -m devstack`, what `make dev` runs; full catalog, or its first N songs with
`--catalog-limit N`), then times GET /search (`title artist` of sampled songs, then the same with one
typo) and GET /search/suggest from a client on loopback. Each
response's `Server-Timing` header tells the engine's own time (`engine`, the searches' `took` summed) and the
round trip to it (`engine_round_trip`, every request to the engine summed); the rest of the
client-side latency is ours: the gateway, JWT verification, the handler, the taste-profile read and
the re-ranking.

With `--baseline DIR` (another tree, e.g. `git archive main | tar -x -C DIR`), the same queries run
first against a stack running DIR's code, then against one running this tree's, one after the other,
so that a change is compared with what it replaced on the same machine and the same load.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.foundation import (  # noqa: E402
    add_catalog_limit,
    compared_trees,
    devstack_args,
    percentile,
    sample,
    seeded_songs,
    stop_make_dev,
)
from bench.search_relevance import typo  # noqa: E402
from devstack.stack import free_port  # noqa: E402
from tests.support import CATALOG_DIR, http, spawn  # noqa: E402

CODE_PATHS = ("layers/backbeat", ".", "packages/client", "packages/ops", "packages/recs")


def timing(header: str, name: str) -> float:
    match = re.search(rf"{name};dur=([\d.]+)", header)
    return float(match.group(1)) if match else 0.0


def measure(url: str, token: str, queries: list[tuple[str, str]]) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"latency": [], "engine": [], "engine_round_trip": [], "failed": []}
    from urllib.parse import urlencode

    for path, text in queries:
        started = time.perf_counter()
        status, _, headers = http("GET", f"{url}{path}?{urlencode({'q': text})}", token=token)
        samples["latency"].append((time.perf_counter() - started) * 1000)
        if status != 200:  # a 503 when the engine does not answer in time: counted, its latency kept
            assert status == 503, (path, text, status)
            samples["failed"].append(1.0)
        samples["engine"].append(timing(headers.get("Server-Timing", ""), "engine"))
        samples["engine_round_trip"].append(timing(headers.get("Server-Timing", ""), "engine_round_trip"))
    return samples


def start_devstack(tree: Path, *flags: str) -> tuple[Any, int, float, list[str]]:
    """`python -m devstack` running `tree`'s code (its layer, functions and devstack) on a free port."""
    port = free_port()
    data = Path(tempfile.mkdtemp())
    env_path = os.pathsep.join(str(tree / part) for part in CODE_PATHS)
    started = time.perf_counter()
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = env_path
    try:
        spawned = spawn(
            [
                *(sys.executable, "-m", "devstack", "--port", str(port), "--state-file", str(data / "state.json")),
                *("--data-dir", str(data / "data"), "--no-demo-listening", "--no-demo-audio", "--reset"),
                *("--catalog-dir", str(CATALOG_DIR), *flags),  # the same catalog wherever the tree is
            ],
            marker="Backbeat devstack ready",
            cwd=tree,
        )
    finally:
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous
    if not spawned.wait(900) or spawned.process.poll() is not None:
        raise SystemExit(f"the devstack of {tree} did not become ready:\n" + spawned.tail(30))
    return spawned.process, port, time.perf_counter() - started, spawned.lines


def run(tree: Path, songs: list[Any], flags: list[str]) -> tuple[str, dict[str, dict[str, list[float]]]]:
    process, port, ready_seconds, lines = start_devstack(tree, *flags)
    try:
        url = f"http://127.0.0.1:{port}"
        reindex_line = next(line for line in lines if "search index:" in line)
        token = http(
            "POST", f"{url}/auth/login", {"email": "free@demo.backbeat.dev", "password": "listen-to-the-music"}
        )[1]["accessToken"]
        search = measure(url, token, [("/search", f"{s.title} {s.artist_name}") for s in songs])
        # The same queries with one typo in a 5+ letter word (those that have one): the words as typed are
        # not in the catalog, so search forgives typos (a second request to the engine since decision 50).
        rng = random.Random(5)
        typed = [typo(f"{s.title} {s.artist_name}", rng) for s in songs]
        misspelled = measure(url, token, [("/search", text) for text in typed if text is not None])
        # Distinct prefixes, so the suggest cache does not answer: the figure is the uncached cost.
        prefixes = list(dict.fromkeys(s.title[: max(2, math.ceil(len(s.title) * 0.6))] for s in songs))
        suggest = measure(url, token, [("/search/suggest", prefix) for prefix in prefixes])
        cached = measure(url, token, [("/search/suggest", prefix) for prefix in prefixes[:100]])
    finally:
        stop_make_dev(process)
    summary = f"{tree}: ready in {ready_seconds:.0f} s; {reindex_line.strip().removeprefix('devstack: ')}"
    return summary, {
        "GET /search (all types)": search,
        "GET /search (all types, one typo)": misspelled,
        "GET /search/suggest (uncached)": suggest,
        "GET /search/suggest (cached)": cached,
    }


def both(values: list[float]) -> str:
    return f"{percentile(values, 50):.1f} / {percentile(values, 95):.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to measure first")
    add_catalog_limit(parser)
    args = parser.parse_args()
    songs = sample(seeded_songs(args), args.requests, seed=11)
    trees = compared_trees(args.baseline)
    results = [(name, *run(tree, songs, devstack_args(args))) for name, tree in trees]

    for name, summary, _ in results:
        print(f"{name}: {summary}")
    print()
    print(
        "| code | route | requests | p50 | p95 | engine (`took`) p50 / p95 | round trip to engine p50 / p95 "
        "| outside the engine p50 / p95 | 503s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for route in results[0][2]:
        for name, _, measured in results:
            samples = measured[route]
            latency = samples["latency"]
            outside = [lat - trip for lat, trip in zip(latency, samples["engine_round_trip"], strict=True)]
            print(
                f"| {name} | {route} | {len(latency)} | {percentile(latency, 50):.1f} ms "
                f"| {percentile(latency, 95):.1f} ms | {both(samples['engine'])} "
                f"| {both(samples['engine_round_trip'])} | {both(outside)} | {len(samples['failed'])} |"
            )


if __name__ == "__main__":
    main()
