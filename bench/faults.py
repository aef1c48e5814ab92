"""Faults with nothing lost: each benchmark's no-loss check, run on a fresh small devstack per fault.

    .venv/bin/python bench/faults.py [--only throttle,search-slow] [--events 5000] [--edits 10]

For each fault (devstack/faults.py) the fault plan is set on a fresh devstack and the benchmarks the
fault concerns run their own checks, unchanged:

- **playlists**: `bench/playlists.py` by its command line, on the devstack it starts itself, under
  the plan given in `BACKBEAT_DEVSTACK_FAULTS` (applied once that devstack is ready): gapless
  versions 1..N, every subscriber saw 1..N in order, the final GET equals replaying the change log
  (its exit status says all three held in every scenario).
- **listening**: `bench/listening.py --faults-only` with the plan: every play record with exactly its
  events, every billable play once in the hour counters, every event once in the lake.
- **encode**: `backbeat ingest --wait` of a short generated master on a devstack of our own: the song
  becomes ready (the pipeline retried through the fault) or the caller is told it failed and why;
  never a silent hang.
- **search**: `GET /search` on a devstack of our own while the engine is slow or failing: a 200, or
  a 503 with `Retry-After`, each within `SEARCH_BOUND_SECONDS`; never a hang or another 5xx.

Prints one Markdown table: fault, benchmark, check, result, counts (what was injected and what the
check counted). A 2-core machine runs this in about half an hour; `--only` picks faults by name,
`--benchmarks` the benchmarks run under them (e.g. `--only throttle --benchmarks playlists`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack.faults import PLAN_VARIABLE, REPORT_VARIABLE  # noqa: E402
from tests.conftest import RunningStack, start_devstack, stop_devstack  # noqa: E402
from tests.support import http  # noqa: E402

SMALL_STACK = ("--catalog-limit", "300", "--no-demo-audio")
SEARCH_BOUND_SECONDS = 12.0  # the search function's 10 s timeout and a margin: longer is a hang
CONSUMERS = ("FanoutFunction", "SearchIndexerFunction", "PlaysFunction", "CountersFunction", "LakePlaysFunction")


@dataclass(frozen=True)
class Fault:
    name: str
    title: str
    plan: dict[str, Any]
    benchmarks: tuple[str, ...]


FAULTS = (
    Fault(
        "throttle", "DynamoDB writes throttled (5%)", {"dynamodbThrottle": 0.05}, ("playlists", "listening", "encode")
    ),
    Fault(
        "conflict",
        "DynamoDB transactions cancelled by a conflict (20%)",
        {"dynamodbConflict": 0.2},
        ("playlists", "listening"),
    ),
    Fault("s3", "S3 answers 503 SlowDown (20%)", {"s3Errors": 0.2}, ("encode", "listening")),
    Fault("kinesis", "Kinesis PutRecords entries refused (10%)", {"kinesisPutFailures": 0.1}, ("listening",)),
    Fault(
        "consumers",
        "stream consumers: 5% of records failed after being applied, one crash mid-batch each",
        {"recordFailures": dict.fromkeys(CONSUMERS, 0.05), "crashes": dict.fromkeys(CONSUMERS, 1)},
        ("playlists", "listening"),
    ),
    Fault(
        "encode-crash",
        "encode function crashes once (Step Functions Task)",
        {"crashes": {"EncodeFunction": 1}},
        ("encode",),
    ),
    Fault(
        "transcode-crash",
        "transcode function crashes once (Step Functions Task)",
        {"crashes": {"TranscodeFunction": 1}},
        ("encode",),
    ),
    Fault("search-slow", "search engine slow (15 s per request)", {"searchDelayMs": 15_000}, ("search",)),
    Fault("search-errors", "search engine answers 503 (every request)", {"searchErrors": 1.0}, ("search",)),
    Fault("search-flaky", "search engine answers 503 (30% of requests)", {"searchErrors": 0.3}, ("search",)),
)


@dataclass
class Row:
    fault: str
    benchmark: str
    check: str
    ok: bool
    counts: str


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def with_seed(plan: dict[str, Any]) -> dict[str, Any]:
    return {"seed": 15, **plan}


def injected_text(injected: dict[str, int]) -> str:
    return ", ".join(f"{kind} {count}" for kind, count in sorted(injected.items())) or "nothing injected"


# ------------------------------------------------------------------ benchmarks run by their CLI


def run_cli(command: list[str], environment: dict[str, str] | None = None, timeout: float = 3600) -> Any:
    """Run a benchmark; if this script is stopped meanwhile, interrupt it as Ctrl-C would, so that
    it stops the devstack it started (its own `finally`) instead of leaving it running."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        out, err = process.communicate(timeout=timeout)
    except BaseException:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        raise
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def playlists(fault: Fault, args: argparse.Namespace) -> list[Row]:
    with tempfile.TemporaryDirectory() as directory:
        report = Path(directory) / "faults.json"
        environment = os.environ | {PLAN_VARIABLE: json.dumps(with_seed(fault.plan)), REPORT_VARIABLE: str(report)}
        command = [sys.executable, str(ROOT / "bench" / "playlists.py"), "--edits", str(args.edits)]
        command += ["--subscribers", str(args.subscribers)]
        done = run_cli(command, environment, timeout=1800)
        injected = json.loads(report.read_text())["injected"] if report.is_file() else {}
    runs = re.findall(
        r"^\| (\d+) x \d+ \| (\d+) of (\d+) (\{[^}]*\}) \| 1\.\.(\d+) \| (\w+) \| (\w+) \| (\w+) \| (\w+) \|",
        done.stdout,
        re.M,
    )
    counts = "; ".join(
        f"{n} editors: {accepted}/{attempted} accepted {statuses}, versions 1..{last} "
        f"(gapless {gapless}, in order {in_order}, replay {replay}, no lost edit {kept})"
        for n, accepted, attempted, statuses, last, gapless, in_order, replay, kept in runs
    )
    fan_out = re.search(
        r"^\| messages received / expected \| (\d+ / \d+) \|\n.*in order \| (\w+) \|", done.stdout, re.M
    )
    dropped = re.search(r"^\| redelivered messages dropped \| (\d+) \|", done.stdout, re.M)
    if fan_out:
        counts += f"; fan-out: {fan_out[1]} messages, in order {fan_out[2]}"
        counts += f", {dropped[1]} redelivered dropped" if dropped else ""
    clients = re.findall(r"^client \((\d+) collaborators\): (.*)$", done.stdout, re.M)
    counts += "".join(f"; {n} editors' client: {text}" for n, text in clients)
    errors = re.findall(r"^errors \((\d+) collaborators\): (.*)$", done.stdout, re.M)
    counts += "".join(f"; {n} editors' sockets: {text[:160]}" for n, text in errors)
    if not runs:
        counts = f"no report (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-300:]}"
    check = "gapless versions, every subscriber saw 1..N in order, final GET = log replay"
    return [
        Row(
            fault.title,
            "playlists",
            check,
            done.returncode == 0 and bool(runs),
            f"{counts}; injected: {injected_text(injected)}",
        )
    ]


def listening(fault: Fault, args: argparse.Namespace) -> list[Row]:
    command = [sys.executable, str(ROOT / "bench" / "listening.py"), "--events", str(args.events)]
    command += ["--listeners", str(args.listeners), "--faults-only", "--fault-plan", json.dumps(with_seed(fault.plan))]
    done = run_cli(command)
    found = re.search(r"injected: `(\{.*?\})`", done.stdout)
    injected = json.loads(found[1]) if found else {}
    row = r"^\|\s*([^|]+?)\s*\|\s*([^|]*?)\s*\|\s*([^|]*?)\s*\|\s*(True|False)[^|]*\|$"
    checks = re.findall(row, done.stdout, re.M)  # every check row, the found column empty or not
    if not checks:
        tail = (done.stderr or done.stdout).strip()[-300:]
        return [
            Row(fault.title, "listening", "exactly-once counts", False, f"no report (exit {done.returncode}): {tail}")
        ]
    rows = []
    if len(checks) < 3:  # play records, counters, lake: a check missing from the report is a failure
        rows.append(Row(fault.title, "listening", "all three checks reported", False, f"{len(checks)} of 3 found"))
    for check, expected, seen, exact in checks:
        expected_short = expected.split(":")[0]
        seen_short = seen.split(":")[0] or expected_short
        rows.append(
            Row(
                fault.title,
                "listening",
                check,
                exact == "True",
                f"expected {expected_short}, found {seen_short}; injected: {injected_text(injected)}",
            )
        )
    return rows


# ------------------------------------------------------------------ benchmarks on a devstack of our own


def generated_master(directory: Path) -> Path:
    """Eight seconds of a chord no other run generates (the song id follows from the bytes)."""
    from backbeat.media import ffmpeg

    rng = random.Random()
    tones = "+".join(f"sin({rng.uniform(200, 900):.3f}*2*PI*t)" for _ in range(3))
    path = directory / f"master-{rng.randrange(10**9)}.wav"
    command = [ffmpeg.ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"aevalsrc=0.2*({tones}):d=8:s=48000"]
    subprocess.run([*command, "-ac", "2", str(path)], check=True)
    return path


def encode(stack: RunningStack, fault: Fault, directory: Path) -> list[Row]:
    master = generated_master(directory)
    set_plan(stack, fault.plan)
    started = time.monotonic()
    done = stack.cli(
        "ingest", str(master), "--title", "Fault run", "--artist", "Bench", "--wait", "--timeout", "300", timeout=420
    )
    seconds = time.monotonic() - started
    injected = clear_plan(stack)
    said = (done.stderr.strip().splitlines() or [""])[-1]
    if done.returncode == 0:
        outcome, ok = f"ready in {seconds:.0f} s", True
    else:
        # failing is allowed when the caller is told why; a timeout or a bare error is not
        ok = "failed" in said and "timed out" not in said and len(said) > len("failed") + 10
        outcome = f"not ready after {seconds:.0f} s: {said[:160]}"
    check = "retries to ready, or fails with a reason the caller sees"
    return [Row(fault.title, "encode", check, ok, f"{outcome}; injected: {injected_text(injected)}")]


def search(stack: RunningStack, fault: Fault, directory: Path, tries: int = 5) -> list[Row]:
    from devstack.seed import DEMO_PASSWORD

    _, login, _ = http(
        "POST", f"{stack.url}/auth/login", {"email": "free@demo.backbeat.dev", "password": DEMO_PASSWORD}
    )
    token = login["accessToken"]
    set_plan(stack, fault.plan)
    answers: list[tuple[int, float, str | None]] = []
    for query in ("love", "night", "blue", "song", "dream")[:tries]:
        started = time.monotonic()
        try:
            status, _, headers = http("GET", f"{stack.url}/search?q={query}", token=token)
        except OSError:  # the client's own 30 s timeout: a hang
            status, headers = 0, {}
        answers.append((status, time.monotonic() - started, headers.get("Retry-After")))
    injected = clear_plan(stack)
    ok = all(
        seconds <= SEARCH_BOUND_SECONDS and (status == 200 or (status == 503 and retry is not None))
        for status, seconds, retry in answers
    )
    seen: dict[str, int] = {}
    for status, _, retry in answers:
        key = f"{status}" + (f" Retry-After {retry}" if retry else "")
        seen[key] = seen.get(key, 0) + 1
    slowest = max(seconds for _, seconds, _ in answers)
    counts = f"{tries} searches: {seen}, slowest {slowest:.1f} s; injected: {injected_text(injected)}"
    check = f"200, or 503 with Retry-After, within {SEARCH_BOUND_SECONDS:.0f} s"
    return [Row(fault.title, "search", check, ok, counts)]


def set_plan(stack: RunningStack, plan: dict[str, Any]) -> None:
    status, body, _ = http("POST", f"{stack.url}/_devstack/faults", with_seed(plan))
    assert status == 200, body


def clear_plan(stack: RunningStack) -> dict[str, int]:
    _, body, _ = http("GET", f"{stack.url}/_devstack/faults")
    http("DELETE", f"{stack.url}/_devstack/faults")
    return dict(body["injected"])


OWN_STACK: dict[str, Callable[[RunningStack, Fault, Path], list[Row]]] = {"encode": encode, "search": search}
BY_CLI: dict[str, Callable[[Fault, argparse.Namespace], list[Row]]] = {"playlists": playlists, "listening": listening}
BENCHMARKS = ("playlists", "listening", "encode", "search")


def fresh_devstack(directory: Path, attempts: int = 2) -> RunningStack:
    """A small devstack; a start that fails (its health check can time out on a loaded machine)
    is tried again in a new folder, since a start is not what is measured here."""
    for attempt in range(1, attempts + 1):
        try:
            folder = directory / f"start-{attempt}"
            folder.mkdir(exist_ok=True)
            return start_devstack(folder / "state.json", *SMALL_STACK)
        except RuntimeError as error:
            if attempt == attempts:
                raise
            log(f"the devstack did not start ({str(error).splitlines()[-1][:120]}); trying again")
    raise AssertionError("unreachable")


def run_fault(fault: Fault, args: argparse.Namespace) -> list[Row]:
    rows: list[Row] = []
    benchmarks = [name for name in fault.benchmarks if not args.benchmarks or name in args.benchmarks]
    own = [name for name in benchmarks if name in OWN_STACK]
    if own:
        with tempfile.TemporaryDirectory() as directory:
            log(f"{fault.name}: a devstack of our own for {', '.join(own)}")
            stack = fresh_devstack(Path(directory))
            try:
                for name in own:
                    rows += OWN_STACK[name](stack, fault, Path(directory))
            finally:
                stop_devstack(stack.process)
    for name in benchmarks:
        if name in BY_CLI:
            log(f"{fault.name}: bench/{name}.py under {json.dumps(fault.plan)}")
            found = BY_CLI[name](fault, args)
            if any(row.counts.startswith("no report") for row in found):  # it did not get to its checks
                log(f"{fault.name}: bench/{name}.py gave no report ({found[0].counts[:160]}); once more")
                found = BY_CLI[name](fault, args)
            rows += found
    for row in rows:
        log(f"{fault.name}: {row.benchmark} {'ok' if row.ok else 'FAILED'}: {row.counts[:200]}")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help=f"comma-separated faults: {', '.join(f.name for f in FAULTS)}")
    parser.add_argument("--events", type=int, default=5000, help="playback events per listening run")
    parser.add_argument("--listeners", type=int, default=10)
    parser.add_argument("--edits", type=int, default=10, help="edits per collaborator in the playlists runs")
    parser.add_argument("--subscribers", type=int, default=5)
    parser.add_argument(
        "--benchmarks", default="", help=f"comma-separated benchmarks to run under each fault: {', '.join(BENCHMARKS)}"
    )
    args = parser.parse_args()
    args.benchmarks = {name.strip() for name in args.benchmarks.split(",") if name.strip()}
    if args.benchmarks - set(BENCHMARKS):
        parser.error(f"unknown benchmarks: {', '.join(sorted(args.benchmarks - set(BENCHMARKS)))}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop the devstacks under way
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - {fault.name for fault in FAULTS}
    if unknown:
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
    flags = f" --only {args.only}" if args.only else ""
    flags += f" --benchmarks {','.join(sorted(args.benchmarks))}" if args.benchmarks else ""
    print(
        f"`.venv/bin/python bench/faults.py{flags} --events {args.events} --listeners {args.listeners} "
        f"--edits {args.edits} --subscribers {args.subscribers}`:\n"
    )
    print("| fault | benchmark | check | result | counts |")
    print("|---|---|---|---|---|", flush=True)
    rows: list[Row] = []
    by_name = {fault.name: fault for fault in FAULTS}
    for fault in [by_name[name] for name in chosen] if chosen else FAULTS:  # in the order asked for
        for row in run_fault(fault, args):  # each row as soon as its fault is done
            rows.append(row)
            result = "pass" if row.ok else "FAIL"
            print(f"| {row.fault} | {row.benchmark} | {row.check} | {result} | {row.counts} |", flush=True)
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
