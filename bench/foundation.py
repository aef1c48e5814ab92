"""Foundation benchmarks: `make dev` to ready, catalog seed rate, GET /songs/{id} through the local
gateway against the same handler called in-process, and each function's cold-start import time.

    .venv/bin/python bench/foundation.py [--requests 500]

Prints a Markdown report (paste it into docs/performance.md). Figures on a shared 2-core machine
are noisy: compare the ratios measured in one run rather than absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack.stack import free_port  # noqa: E402
from tests.support import CATALOG_DIR, api_event, http, spawn  # noqa: E402


def percentile(samples: list[float], q: float) -> float:
    """The nearest-rank percentile (`q` in 0..100); NaN for no samples."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def start_make_dev(state: Path) -> tuple[subprocess.Popen[str], int, float, list[str]]:
    port = free_port()
    started = time.perf_counter()
    spawned = spawn(
        ["make", "--no-print-directory", "dev", f"PORT={port}", f"DEVSTACK_ARGS=--state-file {state}"],
        marker="Backbeat devstack ready",
    )
    if not spawned.wait(600) or spawned.process.poll() is not None:
        raise SystemExit("make dev did not become ready:\n" + spawned.tail(30))
    return spawned.process, port, time.perf_counter() - started, spawned.lines


def load_handler(function: str, environment: dict[str, str]) -> Any:
    os.environ.update(environment)
    spec = importlib.util.spec_from_file_location(f"_bench_{function}", ROOT / "functions" / function / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


class Context:
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def cold_start_seconds(function: str, environment: dict[str, str]) -> float:
    """Import time of a function's module in a fresh interpreter (what a Lambda cold start pays)."""
    code = (
        "import importlib.util,time,sys;t=time.perf_counter();"
        f"s=importlib.util.spec_from_file_location('app','{ROOT / 'functions' / function / 'app.py'}');"
        "m=importlib.util.module_from_spec(s);s.loader.exec_module(m);print(time.perf_counter()-t)"
    )
    runs = []
    for _ in range(3):
        env = {**os.environ, **environment}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        runs.append(float(out.stdout.strip()))
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()

    from backbeat_ops.dataset import load_catalog
    from devstack.template import Resolver, load_template, merged_function_properties

    state_file = Path(tempfile.mkdtemp()) / "state.json"
    process, port, ready_seconds, lines = start_make_dev(state_file)
    try:
        url = f"http://127.0.0.1:{port}"
        seed_line = next(line for line in lines if "catalog:" in line and "songs/s" in line)
        seed_rate = float(re.search(r"\(([\d,]+) songs/s\)", seed_line).group(1).replace(",", ""))  # type: ignore[union-attr]
        state = json.loads(state_file.read_text())
        status, tokens, _ = http(
            "POST", f"{url}/auth/login", {"email": "free@demo.backbeat.dev", "password": "listen-to-the-music"}
        )
        token = tokens["accessToken"]
        songs = [song.id for song in random.Random(1).sample(load_catalog(CATALOG_DIR).songs, args.requests)]

        gateway: list[float] = []
        for song_id in songs:
            t = time.perf_counter()
            status, _, _ = http("GET", f"{url}/songs/{song_id}", token=token)
            gateway.append(time.perf_counter() - t)
            assert status == 200

        environment = {**state["environment"], "CATALOG_TABLE": state["outputs"]["CatalogTableName"]}
        environment |= {"POWERTOOLS_LOG_LEVEL": "WARNING"}
        handler = load_handler("catalog", environment)
        in_process: list[float] = []
        for song_id in songs:
            event = api_event("GET", f"/songs/{song_id}", claims={"sub": "bench"}, route_key="GET /songs/{songId}")
            t = time.perf_counter()
            response = handler(event, Context())
            in_process.append(time.perf_counter() - t)
            assert response["statusCode"] == 200

        template = load_template(ROOT / "template.yaml")
        cold: dict[str, float] = {}
        # Parameters take their defaults, resources a placeholder name: imports need only the shape.
        resolver = Resolver(region="us-east-1", account_id="123456789012", stack_name="bench")
        resolver.refs |= {name: spec.get("Default") for name, spec in template["Parameters"].items()}
        resolver.refs |= {name: f"bench-{name}" for name in template["Resources"]}
        for body in template["Resources"].values():
            if body["Type"] != "AWS::Serverless::Function":
                continue
            props = merged_function_properties(template, body["Properties"])
            function = Path(props["CodeUri"]).name
            variables = resolver.resolve((props.get("Environment") or {}).get("Variables", {}))
            env = {key: str(value) for key, value in variables.items()}
            env |= {"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true"}
            cold[function] = cold_start_seconds(function, env)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)

    g50, g99 = percentile(gateway, 50) * 1000, percentile(gateway, 99) * 1000
    i50, i99 = percentile(in_process, 50) * 1000, percentile(in_process, 99) * 1000
    print("| measure | figure |")
    print("|---|---|")
    print(f"| `make dev` to ready (venv built, full catalog seeded) | {ready_seconds:.1f} s |")
    print(f"| catalog seed rate (batch writes, 8 threads) | {seed_rate:,.0f} songs/s |")
    print(f"| GET /songs/{{id}} through the gateway, p50 / p99 ({len(gateway)} requests) | {g50:.1f} / {g99:.1f} ms |")
    print(f"| same handler in-process, p50 / p99 | {i50:.1f} / {i99:.1f} ms |")
    print(f"| gateway overhead (p50 ratio gateway / in-process) | {g50 / i50:.2f}x (+{g50 - i50:.1f} ms) |")
    for function, seconds in sorted(cold.items()):
        print(f"| cold-start import of functions/{function} | {seconds * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
