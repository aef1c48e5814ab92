"""Load: the highest rate the 2-core devstack sustains with p99 under 500 ms, on a realistic mix.

    .venv/bin/python bench/load.py [--steps 2,3,4,6,9,13,19,28,42,63] [--step-seconds 40] [--catalog-limit N]
    .venv/bin/python bench/load.py --state .devstack/state.json     # attach to a running devstack

Starts a devstack of its own (full demo catalog, every song linked to an encoded demo track from
`--audio-cache`, `.devstack/demo-media` by default) wrapped in `bench/load/metered_devstack.py`, which
times every Lambda invocation by route. Then:

1. signs up `--accounts` fresh listeners (one account per locust user: per-user rate limits see
   ordinary listeners; the stack's own limit settings are left as they are), makes collaborative
   playlists shared by `--editors` of them, and subscribes `--sockets-per-playlist` WebSocket listeners
   (the `websockets` package, in this process) to each playlist;
2. runs locust headless (`bench/load/locustfile.py`, one process: locust shares the 2 cores with the
   stack, and its CPU share is printed beside the stack's) at each step's user count, each user one
   task a second, and keeps the highest step whose p99 over all requests is under 500 ms with under 1%
   failures;
3. prints per-route p50/p99 at that step, the fan-out lag the live listeners saw, the CPU each process
   used, and a profile of where the stack's time goes at that rate: the meter's CPU milliseconds by
   route, and py-spy's sampling of the stack process by function.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.foundation import percentile  # noqa: E402
from devstack.stack import free_port  # noqa: E402
from tests.support import CATALOG_DIR, http, spawn  # noqa: E402

LOCUSTFILE = ROOT / "bench" / "load" / "locustfile.py"
METERED = ROOT / "bench" / "load" / "metered_devstack.py"
PASSWORD = "load-test-password-1"
P99_LIMIT_MS = 500.0
FAILURE_LIMIT = 0.01


@dataclass
class Stack:
    url: str
    pid: int
    meter_url: str | None
    process: subprocess.Popen[str] | None = None
    startup: list[str] = field(default_factory=list)
    state_file: Path | None = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def meter(self, reset: bool = False) -> dict[str, Any]:
        if self.meter_url is None:
            return {}
        request = urllib.request.Request(f"{self.meter_url}/stats", method="POST" if reset else "GET")
        with urllib.request.urlopen(request, timeout=60) as answer:  # loopback only
            return dict(json.load(answer))


def start_stack(args: argparse.Namespace, *, units: bool = False) -> Stack:
    """The metered devstack on free ports, its state in a temporary folder (or `--data-dir`)."""
    if args.state:
        state = json.loads(Path(args.state).read_text())
        return Stack(url=state["url"], pid=int(state["pid"]), meter_url=None, state_file=Path(args.state))
    work = Path(tempfile.mkdtemp(prefix="load-"))
    port, meter_port = free_port(), free_port()
    data_dir = args.data_dir or work / "data"
    flags = ["--port", str(port), "--state-file", str(work / "state.json"), "--data-dir", str(data_dir)]
    flags += ["--audio-cache", str(args.audio_cache)]
    flags += ["--catalog-limit", str(args.catalog_limit)] if args.catalog_limit else []
    command = [sys.executable, str(METERED), "--meter-port", str(meter_port)]
    command += ["--meter-units", "--aws-over-http"] if units else []  # the capacity model: a handler's own CPU
    spawned = spawn([*command, "--", *flags], marker="Backbeat devstack ready at")
    if not spawned.wait(900) or spawned.process.poll() is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(spawned.process.pid, signal.SIGKILL)
        raise SystemExit("the devstack did not become ready:\n" + spawned.tail(30))
    return Stack(
        url=f"http://127.0.0.1:{port}",
        pid=spawned.process.pid,
        meter_url=f"http://127.0.0.1:{meter_port}",
        process=spawned.process,
        startup=spawned.lines,
        state_file=work / "state.json",
    )


# ---------------------------------------------------------------- accounts, playlists, queries


def sign_up(url: str) -> dict[str, str]:
    email = f"load-{uuid.uuid4().hex[:12]}@example.com"
    status, body, _ = http("POST", f"{url}/auth/signup", {"email": email, "password": PASSWORD})
    if status != 201:
        raise SystemExit(f"signup answered {status}: {body}")
    status, tokens, _ = http("POST", f"{url}/auth/login", {"email": email, "password": PASSWORD})
    if status != 200:
        raise SystemExit(f"login answered {status}: {tokens}")
    return {"email": email, "token": tokens["accessToken"]}


def shared_playlist(url: str, editors: list[dict[str, str]], index: int) -> str:
    """A public collaborative playlist owned by the first editor, the others added as collaborators.
    Should adding a collaborator be refused (an invitation flow), each editor edits one of their own."""
    owner = editors[0]["token"]
    body = {"name": f"load {index}", "isPublic": True, "isCollaborative": True}
    status, playlist, _ = http("POST", f"{url}/playlists", body, token=owner)
    if status != 201:
        raise SystemExit(f"POST /playlists answered {status}: {playlist}")
    for editor in editors:
        editor["playlist"] = playlist["id"]
    for editor in editors[1:]:
        status = http(
            "POST", f"{url}/playlists/{playlist['id']}/collaborators", {"email": editor["email"]}, token=owner
        )[0]
        if status != 201:
            own = http("POST", f"{url}/playlists", {**body, "name": f"load {index} own"}, token=editor["token"])
            editor["playlist"] = own[1]["id"]
    return str(playlist["id"])


def prepare(url: str, args: argparse.Namespace, work: Path) -> tuple[Path, list[dict[str, str]], list[str]]:
    """The locust fixture: accounts, songs, queries; with the accounts and shared playlists."""
    from backbeat_ops.dataset import load_catalog

    catalog = load_catalog(CATALOG_DIR)
    if args.catalog_limit:
        catalog = catalog.first(args.catalog_limit)
    rng = random.Random(47)
    songs = rng.sample(catalog.songs, min(2000, len(catalog.songs)))
    tags = sorted({tag for genres in catalog.genres.values() for tag in genres})
    # Queries as listeners type them: a title, an artist, a title with its artist, a Last.fm tag.
    queries = [s.title for s in songs[:300]] + [s.artist_name for s in songs[300:500]]
    queries += [f"{s.title} {s.artist_name}" for s in songs[500:600]] + tags[:200]
    with ThreadPoolExecutor(4) as pool:
        accounts = list(pool.map(lambda _: sign_up(url), range(args.accounts)))
    playlists = [
        shared_playlist(url, accounts[first : first + args.editors], first // args.editors)
        for first in range(0, len(accounts), args.editors)
    ]
    fixture = {
        "accounts": accounts,
        "songs": [{"id": s.id, "durationMs": s.duration_ms} for s in songs],
        "queries": [q[:200] for q in queries if q.strip()],
        "titles": [s.title for s in songs if len(s.title) >= 2],
    }
    path = work / "fixture.json"
    path.write_text(json.dumps(fixture))
    return path, accounts, playlists


# ---------------------------------------------------------------- live listeners (WebSocket)


@dataclass
class LiveListeners:
    """Sockets subscribed to the shared playlists, on one asyncio loop in a background thread."""

    ws_url: str
    messages: int = 0
    lags_ms: list[float] = field(default_factory=list)
    problems: Counter[str] = field(default_factory=Counter)
    subscribed: int = 0

    def __post_init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.tasks: list[Any] = []

    def start(self, tokens: list[str], playlist_id: str) -> None:
        for token in tokens:
            self.tasks.append(asyncio.run_coroutine_threadsafe(self._listen(token, playlist_id), self.loop))

    async def _listen(self, token: str, playlist_id: str) -> None:
        import websockets

        try:
            async with websockets.connect(f"{self.ws_url}?token={token}", max_size=2**22) as socket:
                await socket.send(json.dumps({"action": "subscribe", "playlistId": playlist_id}))
                async for raw in socket:
                    received = time.time()
                    message = json.loads(raw)
                    if message.get("type") == "subscribed":
                        self.subscribed += 1
                    elif message.get("type") in ("playlist.changed", "playlist.changes"):
                        for change in message.get("changes") or [message]:
                            self.messages += 1
                            at = datetime.fromisoformat(change["at"].replace("Z", "+00:00")).timestamp()
                            self.lags_ms.append((received - at) * 1000)
                    else:
                        self.problems[str(message.get("type"))] += 1
        except Exception as error:  # a socket the stack closed under load: counted and reported
            self.problems[type(error).__name__] += 1

    def take(self) -> tuple[int, list[float]]:
        messages, lags = self.messages, self.lags_ms
        self.messages, self.lags_ms = 0, []
        return messages, lags

    def stop(self) -> None:
        """Cancel every socket's task (closing it) and wait for them, then stop the loop."""

        async def cancel_all() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


# ---------------------------------------------------------------- locust steps


@dataclass
class Step:
    users: int
    rows: dict[str, dict[str, str]]
    cpu: dict[str, float]
    meter: dict[str, Any]
    messages: int
    lags_ms: list[float]
    seconds: float

    @property
    def total(self) -> dict[str, str]:
        return self.rows["Aggregated"]

    @property
    def rate(self) -> float:
        return float(self.total["Requests/s"])

    @property
    def p99(self) -> float:
        return float(self.total["99%"])

    @property
    def failure_share(self) -> float:
        return int(self.total["Failure Count"]) / max(1, int(self.total["Request Count"]))

    @property
    def sustained(self) -> bool:
        return self.p99 < P99_LIMIT_MS and self.failure_share < FAILURE_LIMIT


def processes(stack_pid: int) -> dict[str, Any]:
    """The stack's processes by role (the Python devstack, the search engine)."""
    import psutil

    root = psutil.Process(stack_pid)
    found = {"devstack (python)": root}
    for child in root.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            found["search engine (osmem-server)" if "osmem" in child.name() else f"child {child.name()}"] = child
    return found


def run_locust(
    url: str, fixture: Path, users: int, seconds: int, work: Path, stack_pid: int
) -> tuple[dict[str, dict[str, str]], dict[str, float], float]:
    """One headless locust run at `users` listeners; its stats rows and each process's CPU share."""
    import psutil

    prefix = work / f"step-{users}"
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url]
    command += ["-u", str(users), "-r", str(users), "--run-time", f"{seconds}s", "--reset-stats"]
    command += ["--csv", str(prefix), "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5"]
    env = {**os.environ, "BACKBEAT_LOAD_FIXTURE": str(fixture)}
    watched = processes(stack_pid)
    started = time.perf_counter()
    before = {name: sum(p.cpu_times()[:2]) for name, p in watched.items()}
    locust = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, errors = locust.communicate()
    elapsed = time.perf_counter() - started
    cpu: dict[str, float] = {}
    for name, process in watched.items():
        with contextlib.suppress(psutil.Error):
            cpu[name] = (sum(process.cpu_times()[:2]) - before[name]) / elapsed
    with open(f"{prefix}_stats.csv") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    if "Aggregated" not in rows or not int(rows["Aggregated"]["Request Count"]):
        raise SystemExit(f"locust made no requests:\n{errors[-3000:]}")
    return rows, cpu, elapsed


def step(stack: Stack, fixture: Path, users: int, seconds: int, work: Path, live: LiveListeners) -> Step:
    stack.meter(reset=True)
    live.take()
    children_before = os.times()
    rows, cpu, elapsed = run_locust(stack.url, fixture, users, seconds, work, stack.pid)
    children_after = os.times()
    spent = (children_after.children_user + children_after.children_system) - (
        children_before.children_user + children_before.children_system
    )
    cpu["locust (load generator)"] = spent / elapsed
    messages, lags = live.take()
    return Step(users, rows, cpu, stack.meter(), messages, lags, elapsed)


# ---------------------------------------------------------------- the profile


def py_spy_profile(
    pid: int, seconds: int, output: Path, rate: int = 50, nonblocking: bool = True
) -> subprocess.Popen[str] | None:
    """py-spy sampling the thread of `pid` that holds the interpreter lock `rate` times a second for
    `seconds`, its collapsed stacks written to `output`; None when py-spy is not installed. With
    `nonblocking` the process is not paused per sample: cheaper for it, but a sample may catch a stack
    mid-change (a blocking profile attributes the devstack's samples more exactly)."""
    binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(binary).exists():
        return None
    command = [binary, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", str(rate)]
    command += ["--format", "raw", "--output", str(output), "--gil", *(["--nonblocking"] if nonblocking else [])]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def samples(path: Path) -> Iterator[tuple[str, int]]:
    """(stack, count) of each line of py-spy's collapsed stacks (`--format raw`)."""
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            yield stack, int(count)


def summarise_profile(path: Path, top: int = 15) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(functions by self share, functions by inclusive share) of py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for stack, count in samples(path):
        frames = [frame.rsplit(":", 1)[0] + ")" if ":" in frame else frame for frame in stack.split(";")]
        frames = [shorten(frame) for frame in frames]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    share = 100 / max(1, total)
    return (
        [(name, n * share) for name, n in own.most_common(top)],
        [(name, n * share) for name, n in inclusive.most_common(top * 3)],
    )


# Where a sample's time goes: the innermost frame that belongs to one of these (path fragment -> area).
AREAS = (
    ("/functions/", "handlers (functions/)"),
    ("layers/backbeat/", "domain (the backbeat layer)"),
    ("aws_lambda_powertools/", "Powertools"),
    ("pydantic", "pydantic"),
    ("pynamodb/", "pynamodb"),
    ("opensearchpy/", "search client (opensearch-py)"),
    ("moto/", "AWS emulation (moto)"),
    ("werkzeug/", "AWS emulation (moto's werkzeug server)"),
    ("devstack/pollers/", "devstack: stream and queue pollers"),
    ("devstack/gateway", "devstack: API gateway"),
    ("devstack/", "devstack: other"),
    ("botocore/", "AWS SDK (botocore, urllib3)"),
    ("boto3/", "AWS SDK (botocore, urllib3)"),
    ("urllib3/", "AWS SDK (botocore, urllib3)"),
    ("jwt/", "JWT checks"),
    ("cryptography/", "JWT checks"),
)


def area_of(stack: list[str]) -> str:
    for frame in reversed(stack):
        for fragment, area in AREAS:
            if fragment in frame:
                return area
    return "other (standard library, threads)"


def profile_areas(path: Path) -> list[tuple[str, float]]:
    """Share of py-spy's samples by area of the code, innermost known frame first."""
    areas: Counter[str] = Counter()
    for stack, count in samples(path):
        areas[area_of(stack.split(";"))] += count
    total = sum(areas.values()) or 1
    return [(area, 100 * n / total) for area, n in areas.most_common()]


def shorten(frame: str) -> str:
    """`handler (/work/.../functions/search/app.py)` -> `handler (functions/search/app.py)`."""
    for marker in ("site-packages/", "python3.11/", str(ROOT) + "/"):
        if marker in frame:
            name, _, path = frame.partition(" (")
            return f"{name} ({path.split(marker, 1)[1]}"
    return frame


def route_profile(meter: dict[str, Any]) -> list[tuple[str, int, float, float, float]]:
    """(route, invocations, CPU ms p50, CPU ms total, share of all handler CPU) by total CPU."""
    rows = []
    for key, route in meter.get("routes", {}).items():
        if route["cpuMs"]:
            rows.append((key, route["invocations"], percentile(route["cpuMs"], 50), sum(route["cpuMs"])))
    total = sum(row[3] for row in rows) or 1.0
    return [(*row, 100 * row[3] / total) for row in sorted(rows, key=lambda row: -row[3])]


# ---------------------------------------------------------------- report


def stack_cpu_ms(s: Step) -> float:
    """The stack process's CPU milliseconds per request served in a step."""
    return 1000 * s.cpu.get("devstack (python)", 0.0) / s.rate if s.rate else 0.0


def print_report(steps: list[Step], best: Step | None, profile: Path | None, profiled: Step | None) -> None:
    print(
        "\n| listeners (1 task/s each) | requests/s | p50 ms | p99 ms | failures | fan-out lag p99 ms | CPU: "
        + "stack / search engine / locust (cores) | stack CPU ms a request | p99 < 500 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for s in steps:
        cpu = s.cpu
        print(
            f"| {s.users} | {s.rate:.1f} | {float(s.total['50%']):.0f} | {s.p99:.0f} | {100 * s.failure_share:.2f}% | "
            f"{f'{percentile(s.lags_ms, 99):.0f}' if s.lags_ms else '-'} | {cpu.get('devstack (python)', 0):.2f} / "
            f"{cpu.get('search engine (osmem-server)', 0):.2f} / {cpu.get('locust (load generator)', 0):.2f} | "
            f"{stack_cpu_ms(s):.0f} | {'yes' if s.sustained else 'no'} |"
        )
    ceilings = [1000 / stack_cpu_ms(s) for s in steps if stack_cpu_ms(s) > 0]
    if ceilings:
        print(
            f"\nCPU-bound ceiling: the stack is one Python process (one core at a time, its GIL); at the CPU each "
            f"request took it would serve {min(ceilings):.0f}-{max(ceilings):.0f} requests/s with a whole core "
            f"to itself (1000 / stack CPU ms a request)"
        )
    if best is None:
        print("\nno step kept p99 under 500 ms; the figures below are at the lowest step")
        best = steps[0]
    else:
        print(f"\nhighest sustained: {best.users} listeners, {best.rate:.1f} requests/s, p99 {best.p99:.0f} ms")
    if best.lags_ms:
        print(
            f"fan-out at that rate: {best.messages} playlist changes to live listeners, lag p50 "
            f"{percentile(best.lags_ms, 50):.0f} ms, p99 {percentile(best.lags_ms, 99):.0f} ms"
        )
    else:
        print("fan-out at that rate: no playlist edit in the step, so no message to the live listeners")
    print("\n| route at that rate | requests | requests/s | p50 ms | p99 ms | failures |")
    print("|---|---|---|---|---|---|")
    for name, row in sorted(best.rows.items(), key=lambda item: -int(item[1]["Request Count"])):
        if name == "Aggregated":
            continue
        print(
            f"| {row['Type']} {name.removeprefix(row['Type'] + ' ')} | {row['Request Count']} | "
            f"{float(row['Requests/s']):.1f} | {row['50%']} | {row['99%']} | {row['Failure Count']} |"
        )
    source = profiled or best
    routes = route_profile(source.meter)
    if routes:
        print("\nwhere the stack's handler CPU goes at that rate (metered: CPU ms per invocation, by route):")
        print("\n| function and route | invocations | CPU ms p50 | share of handler CPU |")
        print("|---|---|---|---|")
        for key, count, p50, _, share in routes[:15]:
            print(f"| {key} | {count} | {p50:.1f} | {share:.1f}% |")
    if profile is not None and profile.exists() and profile.stat().st_size:
        own, inclusive = summarise_profile(profile)
        print("\npy-spy on the stack process at that rate (50 samples/s of the thread holding the GIL):")
        print("\n| area of the code (innermost frame) | share of samples |")
        print("|---|---|")
        for area, share in profile_areas(profile):
            print(f"| {area} | {share:.1f}% |")
        print("\n| function (self time) | share of samples |")
        print("|---|---|")
        for name, share in own:
            print(f"| `{name}` | {share:.1f}% |")
        interesting = [(n, s) for n, s in inclusive if any(k in n for k in ("functions/", "backbeat/", "devstack/"))]
        print("\n| project function (inclusive: itself and what it calls) | share of samples |")
        print("|---|---|")
        for name, share in interesting[:20]:
            print(f"| `{name}` | {share:.1f}% |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="2,3,4,6,9,13,19,28,42,63", help="listener counts, rising")
    parser.add_argument("--step-seconds", type=int, default=40)
    parser.add_argument("--accounts", type=int, default=100, help="fresh listener accounts (>= the largest step)")
    parser.add_argument("--editors", type=int, default=10, help="accounts sharing one collaborative playlist")
    parser.add_argument("--sockets-per-playlist", type=int, default=10)
    parser.add_argument("--catalog-limit", type=int, default=None, help="seed only the first N songs (a quick run)")
    parser.add_argument("--audio-cache", type=Path, default=ROOT / ".devstack" / "demo-media")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the stack's state here (warm restarts)")
    parser.add_argument("--state", help="attach to the devstack this state file names instead of starting one")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    users_steps = [int(n) for n in args.steps.split(",")]
    work = Path(tempfile.mkdtemp(prefix="load-run-"))
    started = time.perf_counter()
    stack = start_stack(args)
    live: LiveListeners | None = None
    try:
        print(f"devstack ready in {time.perf_counter() - started:.0f} s at {stack.url}", flush=True)
        fixture, accounts, playlists = prepare(stack.url, args, work)
        live = LiveListeners(stack.url.replace("http://", "ws://") + "/ws")
        for index, playlist in enumerate(playlists):
            group = accounts[index * args.editors : (index + 1) * args.editors]
            tokens = [group[i % len(group)]["token"] for i in range(args.sockets_per_playlist)]
            live.start(tokens, playlist)
        deadline = time.monotonic() + 60
        while live.subscribed < len(playlists) * args.sockets_per_playlist and time.monotonic() < deadline:
            time.sleep(0.2)
        print(
            f"{len(accounts)} accounts, {len(playlists)} collaborative playlists, "
            f"{live.subscribed} live listeners subscribed",
            flush=True,
        )
        step(stack, fixture, users_steps[0], 20, work, live)  # warm-up: cold starts, caches (not reported)
        steps: list[Step] = []
        for users in users_steps:
            result = step(stack, fixture, users, args.step_seconds, work, live)
            steps.append(result)
            print(
                f"  {users} listeners: {result.rate:.1f} requests/s, p99 {result.p99:.0f} ms, "
                f"failures {100 * result.failure_share:.2f}%",
                flush=True,
            )
            if not result.sustained:
                break
        best = max((s for s in steps if s.sustained), key=lambda s: s.rate, default=None)
        profile: Path | None = None
        profiled: Step | None = None
        if steps and not args.no_profile:  # at the sustained step, or the lowest when none was
            spy = py_spy_profile(stack.pid, args.step_seconds - 5, work / "profile.txt")
            profiled = step(stack, fixture, (best or steps[0]).users, args.step_seconds, work, live)
            if spy is not None:
                _, errors = spy.communicate()
                profile = work / "profile.txt"
                if spy.returncode != 0:
                    print(f"py-spy failed: {errors[-500:]}")
        print_report(steps, best, profile, profiled)
        if live.problems:
            print(f"\nlive listener problems: {dict(live.problems)}")
    finally:
        if live is not None:
            live.stop()
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
