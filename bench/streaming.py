"""Press play: StreamManifest latency (in-process and through the gateway) and time to first audio.

    .venv/bin/python bench/streaming.py [--requests 300] [--state .devstack/state.json] [--catalog-limit N]

Starts `make dev` (full catalog, every song linked to an encoded demo track; `--catalog-limit N` seeds
the first N songs only, a quick check that the script runs, not a figure), or uses a running
devstack given its state file (and then `--catalog-limit` says how many songs it was started with).
For random catalog songs, from a client on loopback:

- POST /stream/{songId} through the gateway (JWT check, handler, two DynamoDB reads, signing);
- the same handler called in-process (no HTTP, no JWT), for the gateway's share;
- time to first audio = the manifest, then the start rung's init segment and first media segment,
  each a fresh plain GET of a signed URL (what a player does before it can decode a sample; the
  decoder's own start-up is not included). Measured sequentially (one connection at a time) and
  with the two media GETs in parallel, as a player that reads `prebuffer` can.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.foundation import (  # noqa: E402
    Context,
    add_catalog_limit,
    devstack_args,
    load_handler,
    percentile,
    sample,
    seeded_songs,
    start_make_dev,
    stop_make_dev,
)
from tests.support import api_event, http  # noqa: E402

DEMO_PASSWORD = "listen-to-the-music"


def fetch(url: str) -> int:
    with urllib.request.urlopen(url, timeout=30) as response:
        return len(response.read())


def figures(samples: list[float]) -> str:
    return f"{percentile(samples, 50) * 1000:.1f} / {percentile(samples, 99) * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--state", type=Path, default=None, help="a running devstack's state file")
    add_catalog_limit(parser)
    args = parser.parse_args()

    process = None
    state_file = args.state
    if state_file is None:
        state_file = Path(tempfile.mkdtemp()) / "state.json"
        print("starting make dev ...", file=sys.stderr)
        process, _, ready, _ = start_make_dev(state_file, *devstack_args(args))
        print(f"ready in {ready:.1f} s", file=sys.stderr)
    try:
        state = json.loads(state_file.read_text())
        url = str(state["url"])
        tokens = {
            tier: http("POST", f"{url}/auth/login", {"email": f"{tier}@demo.backbeat.dev", "password": DEMO_PASSWORD})[
                1
            ]["accessToken"]
            for tier in ("free", "premium")
        }
        songs = [song.id for song in sample(seeded_songs(args), args.requests, seed=7)]

        results: dict[str, dict[str, list[float]]] = {}
        for tier, token in tokens.items():
            samples: dict[str, list[float]] = {"manifest": [], "sequential": [], "parallel": [], "first_bytes": []}
            for index, song_id in enumerate(songs):
                started = time.perf_counter()
                status, manifest, _ = http("POST", f"{url}/stream/{song_id}", {"quality": "very_high"}, token=token)
                got_manifest = time.perf_counter()
                assert status == 200, manifest
                init, first = manifest["prebuffer"][0], manifest["prebuffer"][1]
                if index % 2 == 0:
                    size = fetch(init) + fetch(first)
                    samples["sequential"].append(time.perf_counter() - started)
                else:
                    with ThreadPoolExecutor(2) as pool:
                        size = sum(pool.map(fetch, (init, first)))
                    samples["parallel"].append(time.perf_counter() - started)
                samples["manifest"].append(got_manifest - started)
                samples["first_bytes"].append(size)
            results[tier] = samples

        environment = {
            **state["environment"],
            **state["functions"]["stream"],
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        handler = load_handler("stream", environment)
        in_process: list[float] = []
        user_id = http("GET", f"{url}/me", token=tokens["free"])[1]["userId"]
        for song_id in songs:
            event: dict[str, Any] = api_event(
                "POST",
                f"/stream/{song_id}",
                claims={"sub": user_id},
                route_key="POST /stream/{songId}",
                body={"quality": "very_high"},
            )
            event["pathParameters"] = {"songId": song_id}
            started = time.perf_counter()
            response = handler(event, Context())
            in_process.append(time.perf_counter() - started)
            assert response["statusCode"] == 200, response
    finally:
        if process is not None:
            stop_make_dev(process)

    free = results["free"]
    gateway = free["manifest"]
    print(f"| measure ({len(songs)} random catalog songs, loopback) | p50 / p99 |")
    print("|---|---|")
    print(f"| POST /stream/{{id}} handler in-process | {figures(in_process)} |")
    print(f"| POST /stream/{{id}} through the gateway (free) | {figures(gateway)} |")
    print(f"| POST /stream/{{id}} through the gateway (premium) | {figures(results['premium']['manifest'])} |")
    ratio = percentile(gateway, 50) / percentile(in_process, 50)
    print(f"| gateway overhead, p50 ratio | {ratio:.2f}x |")
    for tier, samples in results.items():
        kilobytes = sum(samples["first_bytes"]) / len(samples["first_bytes"]) / 1000
        print(f"| time to first audio, {tier}, sequential GETs | {figures(samples['sequential'])} |")
        print(f"| time to first audio, {tier}, init + segment in parallel | {figures(samples['parallel'])} |")
        print(f"| first audio bytes, {tier} (init + 10 s segment of the start rung) | {kilobytes:.0f} kB |")


if __name__ == "__main__":
    main()
