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
    reasons: dict[str, int] = {}
    versions: set[str] = set()
    for path in paths:
        started = time.perf_counter()
        status, body, _ = http("GET", f"{url}{path}", token=token)
        latencies.append((time.perf_counter() - started) * 1000)
        assert status == 200 and body["items"], (path, status, body)
        fallbacks += bool(body["fallback"])
        if body["fallback"]:
            reason = str(body.get("fallbackReason"))
            reasons[reason] = reasons.get(reason, 0) + 1
        versions.add(str(body["model"]["version"] or "none"))
    return {
        "latencies": latencies,
        "fallback_share": fallbacks / len(paths),
        "reasons": reasons,
        "versions": sorted(versions),
    }


def reasons(measured: dict[str, Any]) -> str:
    counts = measured["reasons"]
    return f" ({', '.join(f'{reason}: {count}' for reason, count in sorted(counts.items()))})" if counts else ""


def set_faults(url: str, plan: dict[str, Any] | None) -> None:
    if plan is None:
        status, body, _ = http("DELETE", f"{url}/_devstack/faults")
    else:
        status, body, _ = http("POST", f"{url}/_devstack/faults", plan)
    assert status == 200, body


PROGRESS = ("demo listening:", "demo recommendations:")


def wait_for_model(url: str, token: str, output: list[str], bound: float) -> str:
    """Until the stack serves a promoted model (the demo listening's replay, then the training run),
    at most `bound` seconds; the stack's progress lines are echoed while it waits."""
    started = time.monotonic()
    print(f"waiting at most {bound:.0f} s for the demo listening and the first trained model", flush=True)
    shown = 0
    while True:
        for line in output[shown:]:
            if any(marker in line for marker in PROGRESS):
                print(f"  [{time.monotonic() - started:4.0f} s] {line.strip()}", flush=True)
            if "demo recommendations: failed" in line or "training workflow failed" in line:
                raise SystemExit(f"the stack's training failed: {line.strip()}")
        shown = len(output)
        status, body, _ = http("GET", f"{url}/me/recommendations?limit=5", token=token)
        version = (body.get("model") or {}).get("version") if status == 200 else None
        if version:
            print(f"model {version} served {time.monotonic() - started:.0f} s after the ready line", flush=True)
            return str(version)
        if time.monotonic() - started > bound:
            raise SystemExit(
                f"no promoted model after {bound:.0f} s (the bound, --model-timeout): the demo listening or the "
                "training is still running; try a smaller --catalog-limit or a longer bound"
            )
        time.sleep(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--no-demo-audio", action="store_true", help="start the stack without encoding demo audio")
    parser.add_argument(
        "--with-model",
        action="store_true",
        help="replay the demo listening and wait for the model it trains before measuring (the blended path)",
    )
    parser.add_argument(
        "--model-timeout",
        type=float,
        default=600,
        help="with --with-model: the bound on the wait for the first trained model, in seconds (default 600)",
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
            wait_for_model(url, token, stack.output, args.model_timeout)
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
    print("| route | condition | p50 | p99 | fallback answers (reason) | model |")
    print("|---|---|---|---|---|---|")
    for route, condition, measured in results:
        latencies = measured["latencies"]
        print(
            f"| {route} | {condition} | {percentile(latencies, 50):.1f} ms | {percentile(latencies, 99):.1f} ms "
            f"| {measured['fallback_share']:.0%}{reasons(measured)} | {', '.join(measured['versions'])} |"
        )
    print()
    if args.with_model:
        healthy = [measured for _, condition, measured in results if condition == "all sources healthy"]
        served = all(m["fallback_share"] == 0 and "none" not in m["versions"] for m in healthy)
        print(
            "with every source healthy, every answer came from the promoted model (no fallback)"
            if served
            else "WARNING: some answers with every source healthy were fallbacks: not the model's path"
        )
    print(f"faults injected: {json.dumps(faults.get('injected', {}))}")


if __name__ == "__main__":
    main()
