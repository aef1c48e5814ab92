"""Recommendation serving latency through the local gateway, with and without a failing source.

    .venv/bin/python bench/recs_latency.py [--requests 300] [--catalog-limit N] [--no-demo-audio]
        [--with-model [--model-timeout 600] [--state-dir DIR]]

Starts a devstack (`python -m devstack`, as `make dev` runs it, without demo listening), then times
GET /me/recommendations (the home feed) and GET /recommendations (one artist seed, a different
artist each request) from a client on loopback, as the demo premium account (with --with-model, as
the demo listener listener-0001, whose plays the model trained on): first with every
candidate source healthy, then with the devstack's fault switch failing the collaborative source on
every call (`recsSourceFailure`), which its circuit breaker opens on after three failures. Each row
says the share of answers that were the trending fallback (with the reason the answers give) and
the model version served (`none`: no promoted model, so every answer is the fallback and the
sources are never called: the figure is the fallback's own cost).

--with-model: the model's path. A first stack replays the demo listening over the (limited)
catalog and runs the training workflow, as `make dev` does, echoing its progress; it must promote
a model within --model-timeout seconds or the run stops saying so. That stack is stopped cleanly
(its state, the registry and the models bucket included, is saved) and a second one started on the
same state restores the promoted model, as a `make dev` restart does: the measured stack serves it
from its first request, without the listening replay loading the machine. --state-dir keeps that
state: a later run with the same flags skips the training. With a model, the run says whether every
answer with all sources healthy came from it (no fallback).
"""

from __future__ import annotations

import argparse
import json
import re
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
# with a model, a demo listener whose plays the model trained on: the premium account has no
# listening history, so its home feed is a new listener's (content + trending, else the fallback)
LISTENER = {"email": "listener-0001@demo.backbeat.dev", "password": "listen-to-the-music"}


def measure(url: str, token: str, paths: list[str]) -> dict[str, Any]:
    latencies: list[float] = []
    fallbacks = 0
    reasons: dict[str, int] = {}
    throttled = 0
    versions: set[str] = set()
    for path in paths:
        while True:
            started = time.perf_counter()
            status, body, _ = http("GET", f"{url}{path}", token=token)
            elapsed = (time.perf_counter() - started) * 1000
            if status != 429:
                break
            # the per-user rate limit (600 default requests a minute): wait as told, not timed
            throttled += 1
            time.sleep(float(body["error"].get("retryAfter", 1)))
        latencies.append(elapsed)
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
        "throttled": throttled,
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
TRAINED = re.compile(r"demo recommendations: model (\S+) (?:trained and promoted|restored)")
MARKER = "trained-model.json"


def follow(output: list[str], shown: int, started: float) -> tuple[int, str | None]:
    """Echo the stack's new progress lines; answers where it stopped and the model version a line
    says was trained or restored. A failed training ends the benchmark with the stack's reason."""
    version = None
    for line in output[shown:]:
        if any(marker in line for marker in PROGRESS):
            print(f"  [{time.monotonic() - started:4.0f} s] {line.strip()}", flush=True)
        if "demo recommendations: failed" in line or "training workflow failed" in line:
            raise SystemExit(f"the stack's training failed: {line.strip()}")
        if found := TRAINED.search(line):
            version = found.group(1)
    return len(output), version


def train_model(state_file: Path, flags: list[str], bound: float) -> str:
    """A stack that replays the demo listening and runs the training workflow, stopped cleanly once
    the model is promoted so that its state (the registry and the models bucket with it) is saved."""
    print(f"training: demo listening + training workflow, at most {bound:.0f} s", flush=True)
    stack = start_devstack(state_file, *flags, "--demo-listening")
    started, shown, version = time.monotonic(), 0, None
    try:
        while version is None:
            shown, version = follow(stack.output, shown, started)
            if version is None and time.monotonic() - started > bound:
                raise SystemExit(
                    f"no model trained after {bound:.0f} s (the bound, --model-timeout): the demo listening or the "
                    "training is still running; try a smaller --catalog-limit or a longer bound"
                )
            time.sleep(2)
    finally:
        stop_devstack(stack.process, timeout=180)  # a clean stop saves the state
    print(f"training: model {version} promoted {time.monotonic() - started:.0f} s after the ready line", flush=True)
    return version


def wait_for_model(url: str, token: str, version: str, bound: float = 120) -> None:
    """Until the restarted stack serves the restored model (its first request loads it)."""
    started = time.monotonic()
    while time.monotonic() - started < bound:
        status, body, _ = http("GET", f"{url}/me/recommendations?limit=5", token=token)
        if status == 200 and (body.get("model") or {}).get("version") == version:
            print(f"model {version} restored and served {time.monotonic() - started:.0f} s after the ready line")
            return
        time.sleep(2)
    raise SystemExit(f"the restarted stack did not serve model {version} within {bound:.0f} s")


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
        help="with --with-model: the bound on the demo listening + training, in seconds (default 600)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="keep the stacks' state here; a later run with the same flags reuses the model trained in it",
    )
    add_catalog_limit(parser)
    args = parser.parse_args()
    songs = sample(seeded_songs(args), args.requests, seed=12)
    feed = ["/me/recommendations?limit=20&deviceType=mobile&tz=Europe/Paris"] * args.requests
    seeded = [f"/recommendations?seed=artist:{song.artist_id}&limit=20" for song in songs]
    flags = [*devstack_args(args), *(["--no-demo-audio"] if args.no_demo_audio else [])]
    state_dir = args.state_dir or Path(tempfile.mkdtemp())
    state_dir.mkdir(parents=True, exist_ok=True)
    state_file = state_dir / "state.json"
    version: str | None = None
    if args.with_model:
        marker = state_dir / MARKER
        saved = json.loads(marker.read_text()) if marker.is_file() else {}
        if saved.get("flags") == flags:
            version = str(saved["version"])
            print(f"training: model {version} already in {state_dir} (trained by an earlier run)")
        else:
            version = train_model(state_file, flags, args.model_timeout)
            marker.write_text(json.dumps({"version": version, "flags": flags}))
    # the measured stack: a fresh start on the saved state restores the promoted model
    stack = start_devstack(state_file, *flags, "--no-demo-listening")
    results: list[tuple[str, str, dict[str, Any]]] = []
    try:
        url = stack.url
        account = LISTENER if version is not None else PREMIUM
        status, body = http("POST", f"{url}/auth/login", account)[:2]
        if status != 200:
            raise SystemExit(
                f"cannot log in as {account['email']} ({status} {body}): the state in {state_dir} was not restored "
                "(a snapshot from another template or resource creator is discarded); pass a new --state-dir"
            )
        token = body["accessToken"]
        print(f"as {account['email']}", flush=True)
        if version is not None:
            wait_for_model(url, token, version)
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
    waits = sum(measured["throttled"] for _, _, measured in results)
    print(f"requests answered 429 by the per-user rate limit and retried after its Retry-After (not timed): {waits}")
    print(f"faults injected: {json.dumps(faults.get('injected', {}))}")


if __name__ == "__main__":
    main()
