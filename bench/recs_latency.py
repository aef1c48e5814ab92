"""Recommendation serving latency through the local gateway, with and without a failing source.

    .venv/bin/python bench/recs_latency.py [--requests 300] [--catalog-limit N] [--no-demo-audio]

Starts a devstack (`python -m devstack`, as `make dev` runs it, without demo listening), then times
GET /me/recommendations (the home feed) and GET /recommendations (one artist seed, a different
artist each request) from a client on loopback, as the demo premium account: first with every
candidate source healthy, then with the devstack's fault switch failing the collaborative source on
every call (`recsSourceFailure`), which its circuit breaker opens on after three failures. Each row
says the share of answers that were the trending fallback and the model version served (`none`: no
promoted model, so every answer is the fallback and the sources are never called: the figure is the
fallback's own cost)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.foundation import add_catalog_limit, devstack_args, percentile, sample, seeded_songs  # noqa: E402
from tests.conftest import start_devstack, stop_devstack  # noqa: E402
from tests.support import http  # noqa: E402

PREMIUM = {"email": "premium@demo.backbeat.dev", "password": "listen-to-the-music"}


def measure(url: str, token: str, paths: list[str]) -> dict[str, Any]:
    latencies: list[float] = []
    fallbacks = 0
    versions: set[str] = set()
    for path in paths:
        started = time.perf_counter()
        status, body, _ = http("GET", f"{url}{path}", token=token)
        latencies.append((time.perf_counter() - started) * 1000)
        assert status == 200 and body["items"], (path, status, body)
        fallbacks += bool(body["fallback"])
        versions.add(str(body["model"]["version"] or "none"))
    return {"latencies": latencies, "fallback_share": fallbacks / len(paths), "versions": sorted(versions)}


def set_faults(url: str, plan: dict[str, Any] | None) -> None:
    if plan is None:
        status, body, _ = http("DELETE", f"{url}/_devstack/faults")
    else:
        status, body, _ = http("POST", f"{url}/_devstack/faults", plan)
    assert status == 200, body


def wait_for_model(url: str, token: str, timeout: float = 1200) -> None:
    """Until the stack serves a promoted model (the demo listening's replay, then the training run)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        status, body, _ = http("GET", f"{url}/me/recommendations?limit=5", token=token)
        if status == 200 and (body.get("model") or {}).get("version"):
            print(f"model {body['model']['version']} served {time.monotonic() - started:.0f} s after the ready line")
            return
        time.sleep(10)
    raise SystemExit(f"no promoted model after {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--no-demo-audio", action="store_true", help="start the stack without encoding demo audio")
    parser.add_argument(
        "--with-model",
        action="store_true",
        help="replay the demo listening and wait for the model it trains before measuring (the blended path)",
    )
    add_catalog_limit(parser)
    args = parser.parse_args()
    songs = sample(seeded_songs(args), args.requests, seed=12)
    feed = ["/me/recommendations?limit=20&deviceType=mobile&tz=Europe/Paris"] * args.requests
    seeded = [f"/recommendations?seed=artist:{song.artist_id}&limit=20" for song in songs]
    listening = "--demo-listening" if args.with_model else "--no-demo-listening"
    flags = [*devstack_args(args), listening, *(["--no-demo-audio"] if args.no_demo_audio else [])]
    stack = start_devstack(Path(tempfile.mkdtemp()) / "state.json", *flags)
    results: list[tuple[str, str, dict[str, Any]]] = []
    try:
        url = stack.url
        token = http("POST", f"{url}/auth/login", PREMIUM)[1]["accessToken"]
        if args.with_model:
            wait_for_model(url, token)
        measure(url, token, feed[:5] + seeded[:5])  # warm: cold starts, the model, the trending cache
        for condition, plan in (
            ("all sources healthy", None),
            ("collaborative failing", {"recsSourceFailure": {"collaborative": 1.0}}),
        ):
            set_faults(url, plan)
            results.append(("GET /me/recommendations", condition, measure(url, token, feed)))
            results.append(("GET /recommendations (artist seed)", condition, measure(url, token, seeded)))
        faults = http("GET", f"{url}/_devstack/faults")[1]
        set_faults(url, None)
    finally:
        stop_devstack(stack.process)

    print(f"{args.requests} requests per row, catalog: {len(seeded_songs(args))} songs")
    print()
    print("| route | condition | p50 | p99 | fallback answers | model |")
    print("|---|---|---|---|---|---|")
    for route, condition, measured in results:
        latencies = measured["latencies"]
        print(
            f"| {route} | {condition} | {percentile(latencies, 50):.1f} ms | {percentile(latencies, 99):.1f} ms "
            f"| {measured['fallback_share']:.0%} | {', '.join(measured['versions'])} |"
        )
    print()
    print(f"faults injected: {json.dumps(faults.get('injected', {}))}")


if __name__ == "__main__":
    main()
