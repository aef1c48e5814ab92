"""Search latency through the local gateway on the full demo catalog, and index throughput.

    .venv/bin/python bench/search_latency.py [--requests 300] [--catalog-limit N]

Starts `make dev` (full catalog; `--catalog-limit N` seeds the first N songs only, a quick check that
the script runs, not a figure), then times GET /search and GET /search/suggest from a client on
loopback. Each response's `Server-Timing` header tells the engine's own time (`engine`, OpenSearch's
`took`) and the round trip to it (`engine_round_trip`); the rest of the client-side latency is ours:
the gateway, JWT verification, the handler, the taste-profile read and the re-ranking.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.foundation import (  # noqa: E402
    add_catalog_limit,
    devstack_args,
    percentile,
    sample,
    seeded_songs,
    start_make_dev,
)
from tests.support import http  # noqa: E402


def timing(header: str, name: str) -> float:
    match = re.search(rf"{name};dur=([\d.]+)", header)
    return float(match.group(1)) if match else 0.0


def measure(url: str, token: str, queries: list[tuple[str, str]]) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"latency": [], "engine": [], "engine_round_trip": []}
    from urllib.parse import urlencode

    for path, text in queries:
        started = time.perf_counter()
        status, _, headers = http("GET", f"{url}{path}?{urlencode({'q': text})}", token=token)
        samples["latency"].append((time.perf_counter() - started) * 1000)
        assert status == 200, (path, text, status)
        samples["engine"].append(timing(headers.get("Server-Timing", ""), "engine"))
        samples["engine_round_trip"].append(timing(headers.get("Server-Timing", ""), "engine_round_trip"))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    add_catalog_limit(parser)
    args = parser.parse_args()
    songs = sample(seeded_songs(args), args.requests, seed=11)
    state = Path(tempfile.mkdtemp()) / "state.json"
    process, port, ready_seconds, lines = start_make_dev(state, *devstack_args(args))
    try:
        url = f"http://127.0.0.1:{port}"
        reindex_line = next(line for line in lines if "search index:" in line)
        token = http(
            "POST", f"{url}/auth/login", {"email": "free@demo.backbeat.dev", "password": "listen-to-the-music"}
        )[1]["accessToken"]
        search = measure(url, token, [("/search", f"{s.title} {s.artist_name}") for s in songs])
        # Distinct prefixes, so the suggest cache does not answer: the figure is the uncached cost.
        prefixes = list(dict.fromkeys(s.title[: max(2, math.ceil(len(s.title) * 0.6))] for s in songs))
        suggest = measure(url, token, [("/search/suggest", prefix) for prefix in prefixes])
        cached = measure(url, token, [("/search/suggest", prefix) for prefix in prefixes[:100]])
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)

    print(f"`make dev` ready in {ready_seconds:.0f} s; {reindex_line.strip().removeprefix('devstack: ')}")
    print()
    print("| route | requests | p50 | p95 | engine p50 (`took`) | round trip to engine p50 | outside the engine p50 |")
    print("|---|---|---|---|---|---|---|")
    for name, samples in (
        ("GET /search (all types)", search),
        ("GET /search/suggest (uncached)", suggest),
        ("GET /search/suggest (cached)", cached),
    ):
        latency = samples["latency"]
        outside = [lat - trip for lat, trip in zip(latency, samples["engine_round_trip"], strict=True)]
        print(
            f"| {name} | {len(latency)} | {percentile(latency, 50):.1f} ms | {percentile(latency, 95):.1f} ms "
            f"| {percentile(samples['engine'], 50):.1f} ms | {percentile(samples['engine_round_trip'], 50):.1f} ms "
            f"| {percentile(outside, 50):.1f} ms |"
        )


if __name__ == "__main__":
    main()
