"""Foundation benchmarks: `make dev` to ready, catalog seed rate, GET /songs/{id} through the local
gateway against the same handler called in-process, and each function's cold-start import time.

    .venv/bin/python bench/foundation.py [--requests 500] [--catalog-limit N]

Prints a Markdown report (paste it into docs/performance.md). Figures on a shared 2-core machine
are noisy: compare the ratios measured in one run rather than absolute numbers across runs.
`--catalog-limit` seeds only the first N songs: a quick check that the script runs, not a figure
(the published ones use the full catalog, as `make bench` runs it).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
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


def add_catalog_limit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalog-limit", type=int, default=None, help="seed only the first N songs (a quick run, not a figure)"
    )


def devstack_args(args: argparse.Namespace) -> list[str]:
    """The `python -m devstack` flags a script's arguments ask for."""
    return ["--catalog-limit", str(args.catalog_limit)] if args.catalog_limit else []


def seeded_songs(args: argparse.Namespace) -> list[Any]:
    """The catalog songs a devstack started with `devstack_args(args)` holds."""
    from backbeat_ops.dataset import load_catalog

    catalog = load_catalog(CATALOG_DIR)
    return (catalog.first(args.catalog_limit) if args.catalog_limit else catalog).songs


def sample(songs: list[Any], count: int, seed: int) -> list[Any]:
    """`count` songs drawn at random (with repeats only when the catalog has fewer)."""
    rng = random.Random(seed)
    return rng.sample(songs, count) if count <= len(songs) else rng.choices(songs, k=count)


def start_make_dev(state: Path, *devstack: str) -> tuple[subprocess.Popen[str], int, float, list[str]]:
    """`make dev` on a free port, telling tools where it is through `state`; `devstack` are extra
    `python -m devstack` flags (DEVSTACK_ARGS). The stack keeps its state beside `state` unless
    `devstack` names a `--data-dir`: a benchmark never touches a developer's own state. Demo listening
    stays off: its background replay would load the machine while the benchmark measures, and so does
    the search engine kept warm after the stop, unless `devstack` asks for it (`--keep-search-warm`)."""
    port = free_port()
    started = time.perf_counter()
    data_dir = [] if "--data-dir" in devstack else ["--data-dir", str(state.parent / "data")]
    quiet = ["--no-demo-listening", "--keep-search-warm", "0"]
    flags = " ".join(["--state-file", str(state), *data_dir, *quiet, *devstack])
    spawned = spawn(
        ["make", "--no-print-directory", "dev", f"PORT={port}", f"DEVSTACK_ARGS={flags}"],
        marker="Backbeat devstack ready",
    )
    if not spawned.wait(600) or spawned.process.poll() is not None:
        raise SystemExit("make dev did not become ready:\n" + spawned.tail(30))
    return spawned.process, port, time.perf_counter() - started, spawned.lines


def stop_make_dev(process: subprocess.Popen[str]) -> None:
    """Stop a stack `start_make_dev` started, as Ctrl-C would (its whole process group)."""
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(120)  # the stack saves its state on the way out: allow for a loaded machine


def cpu_seconds(pid: int | None) -> float:
    """The CPU time (user + system) process `pid` has used so far; 0 without a pid."""
    if pid is None:
        return 0.0
    import psutil

    return float(sum(psutil.Process(pid).cpu_times()[:2]))


def compared_trees(baseline: Path | None) -> list[tuple[str, Path]]:
    """The trees a `--baseline DIR` benchmark measures, in order: DIR's code first, then this tree's."""
    return [*([("baseline", baseline.resolve())] if baseline else []), ("this tree", ROOT)]


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


def cold_starts() -> dict[str, float]:
    """Each function's cold-start import time, with the environment the template gives it. Some
    functions reach AWS while they import (the stream function reads its signing secret, the
    indexer checks its indices), so the template's resources are created in a moto server and an
    in-memory search engine of this script's own, as the devstack creates them."""
    from moto.server import ThreadedMotoServer
    from osmem_server import OsmemServer

    from devstack.resources import create_dev_resources

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    aws = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    saved = dict(os.environ)
    os.environ.update(aws)
    try:
        with OsmemServer.start(japanese=False) as engine:
            deployment = create_dev_resources(ROOT, "bench", search_endpoint=lambda: str(engine.url))
            environment = aws | {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
            return {
                spec.code_dir.name: cold_start_seconds(spec.code_dir.name, spec.environment | environment)
                for spec in deployment.functions
            }
    finally:
        os.environ.clear()
        os.environ.update(saved)
        moto.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    add_catalog_limit(parser)
    args = parser.parse_args()

    state_file = Path(tempfile.mkdtemp()) / "state.json"
    process, port, ready_seconds, lines = start_make_dev(state_file, *devstack_args(args))
    try:
        url = f"http://127.0.0.1:{port}"
        seed_line = next(line for line in lines if "catalog:" in line and "songs/s" in line)
        seed_rate = float(re.search(r"\(([\d,]+) songs/s\)", seed_line).group(1).replace(",", ""))  # type: ignore[union-attr]
        state = json.loads(state_file.read_text())
        status, tokens, _ = http(
            "POST", f"{url}/auth/login", {"email": "free@demo.backbeat.dev", "password": "listen-to-the-music"}
        )
        token = tokens["accessToken"]
        songs = [song.id for song in sample(seeded_songs(args), args.requests, seed=1)]

        gateway: list[float] = []
        for song_id in songs:
            t = time.perf_counter()
            status, _, _ = http("GET", f"{url}/songs/{song_id}", token=token)
            gateway.append(time.perf_counter() - t)
            assert status == 200

        environment = {**state["environment"], **state["functions"]["catalog"]}
        environment |= {"POWERTOOLS_LOG_LEVEL": "WARNING"}
        handler = load_handler("catalog", environment)
        in_process: list[float] = []
        for song_id in songs:
            event = api_event("GET", f"/songs/{song_id}", claims={"sub": "bench"}, route_key="GET /songs/{songId}")
            t = time.perf_counter()
            response = handler(event, Context())
            in_process.append(time.perf_counter() - t)
            assert response["statusCode"] == 200

    finally:
        stop_make_dev(process)

    # The import times need no running stack: measured once it is stopped, on a quieter machine.
    cold = cold_starts()
    g50, g99 = percentile(gateway, 50) * 1000, percentile(gateway, 99) * 1000
    i50, i99 = percentile(in_process, 50) * 1000, percentile(in_process, 99) * 1000
    print("| measure | figure |")
    print("|---|---|")
    seeded = f"first {args.catalog_limit:,} catalog songs" if args.catalog_limit else "full catalog"
    print(f"| `make dev` to ready (venv built, {seeded} seeded) | {ready_seconds:.1f} s |")
    seed = "catalog seed rate (written into moto in-process, beside the demo-audio encodes)"
    print(f"| {seed} | {seed_rate:,.0f} songs/s |")
    print(f"| GET /songs/{{id}} through the gateway, p50 / p99 ({len(gateway)} requests) | {g50:.1f} / {g99:.1f} ms |")
    print(f"| same handler in-process, p50 / p99 | {i50:.1f} / {i99:.1f} ms |")
    print(f"| gateway overhead (p50 ratio gateway / in-process) | {g50 / i50:.2f}x (+{g50 - i50:.1f} ms) |")
    for function, seconds in sorted(cold.items()):
        print(f"| cold-start import of functions/{function} | {seconds * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
