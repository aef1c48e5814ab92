"""Playlist benchmarks: collaborators editing one playlist at once over HTTP while every one of them
listens on the WebSocket API, edit latency through the gateway, and fan-out lag to 50 subscribers.

    .venv/bin/python bench/playlists.py [--edits 100] [--subscribers 50]
    .venv/bin/python bench/playlists.py --editors 10 [--edits 30] [--modes turns,group]   # the hot spot
    .venv/bin/python bench/playlists.py --editors 10 --edits 30 --rates 10,20,30   # p99 at a given rate
    .venv/bin/python bench/playlists.py --editors 10 --edits 100 --modes group --profile 20   # where the CPU goes

`--editors N --rates R1,R2,...` asks N editors for R edits a second together (each sending one every
N/R seconds, or as soon as its last is answered when that came later), one fresh devstack per rate,
and reports the highest rate whose p99 stays under 500 ms. Every editor first makes one edit at
once, outside the figures (the no-loss checks include it), so the playlist function's environments
have started, as in a service already running: otherwise their cold starts (0.3-0.8 s each,
started together) are the p99 of a 300-edit run.

`--editors N` measures N editors on one playlist once per edit mode in one run, each on a fresh
devstack (`PLAYLIST_EDIT_MODE`): `turns` (one edit per numbered turn, decision 42: how edits met
before group commit), `group` (group commit, decision 51, the default) and, if asked, `optimistic`
(retries with backoff alone, decision 14); and checks no lost edit: every accepted edit's answer
names a version whose log entry is that editor's edit of that kind. With `--profile SECONDS`,
py-spy samples the devstack over that much of the editing (from 10 s in, once the function
environments have started), and the report shares its CPU an edit out by what the samples served:
the playlist function's AWS calls and its own code, the fan-out, the gateway, the authorizer, the
pollers.

Starts its own devstack (small catalog), prints a Markdown report (paste it into
docs/performance.md). For each concurrency scenario it checks what the issue asks: every accepted
edit has its own version, versions run 1..N with no gap, every subscriber saw exactly 1..N in
order, and the final GET equals replaying the change log. The client does what a real one does: it
sends each edit with an Idempotency-Key and retries it with the same key after no answer, a 429 or a
5xx; a subscriber drops a version it already has (the stream delivers a change again after a failed
batch: at least once, in order), and the report counts those.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402

from backbeat_client.replay import apply, empty_state  # noqa: E402
from backbeat_ops.dataset import load_catalog  # noqa: E402
from bench.foundation import cpu_seconds, percentile  # noqa: E402
from bench.load import py_spy_profile, samples  # noqa: E402
from tests.conftest import start_devstack, stop_devstack  # noqa: E402
from tests.support import CATALOG_DIR, http  # noqa: E402

PASSWORD = "benchmark-password"


def epoch_of(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@dataclass
class Listener:
    """One socket subscribed to the playlist: every message, when it arrived, and the replayed state."""

    token: str
    versions: list[int] = field(default_factory=list)
    log: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # version -> (by, op)
    lags: list[float] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    subscribed: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)
    duplicates: int = 0  # versions delivered again (the stream redelivers after a failure): dropped
    messages: int = 0  # socket messages received (`playlist.changes` carries several versions)


class Sockets:
    """All listeners' sockets on one asyncio loop in a background thread."""

    def __init__(self, ws_url: str) -> None:
        self.ws_url = ws_url
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.tasks: list[Any] = []
        self.sockets: list[Any] = []

    def listen(self, listener: Listener, playlist_id: str, initial: dict[str, Any]) -> None:
        listener.state = initial
        self.tasks.append(asyncio.run_coroutine_threadsafe(self._listen(listener, playlist_id), self.loop))

    async def _listen(self, listener: Listener, playlist_id: str) -> None:
        try:
            await self._receive(listener, playlist_id)
        except Exception as error:  # a socket that never opened or broke: say so instead of waiting in silence
            listener.errors.append(repr(error))
            raise

    async def _receive(self, listener: Listener, playlist_id: str) -> None:
        url = f"{self.ws_url}?token={listener.token}"
        async with websockets.connect(url, max_size=2**22, open_timeout=120) as socket:
            self.sockets.append(socket)
            await socket.send(json.dumps({"action": "subscribe", "playlistId": playlist_id}))
            async for raw in socket:
                received = time.time()
                message = json.loads(raw)
                if message["type"] == "subscribed":
                    listener.subscribed.set()
                elif message["type"] in ("playlist.changed", "playlist.changes"):
                    listener.messages += 1
                    with listener.lock:
                        for change in message.get("changes") or [message]:
                            if change["version"] <= listener.state["version"]:  # seen already: a player drops it
                                listener.duplicates += 1
                                continue
                            listener.versions.append(change["version"])
                            listener.log[change["version"]] = (change["by"], change["op"])
                            listener.lags.append(received - epoch_of(change["at"]))
                            try:
                                listener.state = apply(listener.state, change["version"], change["op"])
                            except ValueError as error:
                                listener.errors.append(str(error))
                else:
                    listener.errors.append(raw)

    def stop(self) -> None:
        """Close every socket (bounded), then stop the loop."""

        async def close_all() -> None:
            await asyncio.gather(*(socket.close() for socket in self.sockets), return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(asyncio.wait_for(close_all(), 10), self.loop).result(15)
        for task in self.tasks:
            task.cancel()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def signup(url: str) -> tuple[str, str, str]:
    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    status, user, _ = http("POST", f"{url}/auth/signup", {"email": email, "password": PASSWORD})
    assert status == 201, user
    status, tokens, _ = http("POST", f"{url}/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, tokens
    return email, user["userId"], tokens["accessToken"]


def full_playlist(url: str, playlist_id: str, token: str) -> dict[str, Any]:
    status, body, _ = http("GET", f"{url}/playlists/{playlist_id}?limit=100", token=token)
    assert status == 200, body
    items = list(body["tracks"]["items"])
    while len(items) < body["tracks"]["total"]:
        page = http("GET", f"{url}/playlists/{playlist_id}?limit=100&offset={len(items)}", token=token)[1]
        items += page["tracks"]["items"]
    body["tracks"]["items"] = items
    return body


RETRIED = frozenset({0, 429, 500, 502, 503, 504})  # no answer, throttled, or a server error
RETRIES = 4


def send_edit(method: str, url: str, body: Any, token: str) -> tuple[int, Any, int]:
    """An edit as a client sends one: with an Idempotency-Key, and after no answer, 429 or 5xx (or a
    409 saying the first attempt with that key still runs) again with the same key, after a
    jittered backoff. (status, answer, retries)."""
    key = uuid.uuid4().hex
    for attempt in range(RETRIES + 1):
        try:
            status, answer, _ = http(method, url, body, token=token, headers={"Idempotency-Key": key})
        except OSError:  # no answer within the client's 30 s (an overloaded host)
            status, answer = 0, None
        still_running = status == 409 and "Idempotency-Key" in json.dumps(answer)
        if attempt == RETRIES or (status not in RETRIED and not still_running):
            return status, answer, attempt
        time.sleep(random.uniform(0.5, 1.0) * min(4.0, 0.25 * 2**attempt))
    raise AssertionError("unreachable")


def random_edit(
    url: str, playlist_id: str, token: str, view: dict[str, Any], songs: list[str], rng: random.Random
) -> tuple[str, int, Any, float, int]:
    """One random edit against what this collaborator currently sees: (kind, status, answer, seconds,
    retries)."""
    items = view["items"]
    kind = rng.choice(["insert", "insert", "remove", "move"]) if items else "insert"
    started = time.perf_counter()
    if kind == "insert":
        body = {"songId": rng.choice(songs), "position": rng.randint(0, len(items))}
        status, answer, retries = send_edit("POST", f"{url}/playlists/{playlist_id}/tracks", body, token)
    elif kind == "remove":
        item = rng.choice(items)["itemId"]
        status, answer, retries = send_edit("DELETE", f"{url}/playlists/{playlist_id}/tracks/{item}", None, token)
    else:
        start = rng.randrange(len(items))
        length = rng.randint(1, min(3, len(items) - start))
        before = rng.choice([i for i in range(len(items) + 1) if not start < i < start + length])
        body = {"rangeStart": start, "insertBefore": before, "rangeLength": length}
        status, answer, retries = send_edit("PUT", f"{url}/playlists/{playlist_id}/tracks", body, token)
    return kind, status, answer, time.perf_counter() - started, retries


LOGGED_AS = {"insert": "tracks.added", "remove": "tracks.removed", "move": "tracks.moved"}


def invite_and_accept(url: str, playlist_id: str, owner_token: str, email: str, token: str) -> None:
    """Make `email` a collaborator the way a listener does: invited, then accepting."""
    invited = http("POST", f"{url}/playlists/{playlist_id}/collaborators", {"email": email}, token=owner_token)
    assert invited[0] == 202, invited
    invitations = http("GET", f"{url}/me/invitations", token=token)[1]["items"]
    (invitation,) = [i for i in invitations if i["playlistId"] == playlist_id]
    accepted = http("POST", f"{url}/me/invitations/{invitation['invitationId']}/accept", token=token)
    assert accepted[0] == 200, accepted


def collaborate(
    url: str,
    ws_url: str,
    songs: list[str],
    collaborators: int,
    edits: int,
    stack_pid: int | None = None,
    rate: float | None = None,
    profile: Path | None = None,
    profile_seconds: int = 20,
) -> dict[str, Any]:
    """`stack_pid`: the devstack's Python process, whose CPU time over the editing is reported.
    `profile`: where py-spy writes its samples of that process over `profile_seconds` of the editing,
    from PROFILE_AFTER_SECONDS in.
    `rate`: edits a second all collaborators together aim at, each sending an edit every
    `collaborators / rate` seconds (or at once when its last answer came later); None: each sends its
    next edit as soon as the last is answered."""
    users = [signup(url) for _ in range(collaborators)]
    owner_token = users[0][2]
    status, playlist, _ = http(
        "POST", f"{url}/playlists", {"name": "bench", "isPublic": True, "isCollaborative": True}, token=owner_token
    )
    assert status == 201, playlist
    playlist_id = playlist["id"]
    initial = empty_state()
    initial = apply(
        initial,
        0,
        {"type": "playlist.created", **{k: playlist[k] for k in ("name", "description")}}
        | {"isPublic": True, "isCollaborative": True, "ownerId": playlist["ownerId"]},
    )
    sockets = Sockets(ws_url)
    listeners = [Listener(token) for _, _, token in users]
    for listener in listeners:
        sockets.listen(listener, playlist_id, initial)
    for listener in listeners:
        assert listener.subscribed.wait(180), listener.errors
    for email, _, token in users[1:]:
        invite_and_accept(url, playlist_id, owner_token, email, token)

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    answers: list[tuple[str, str, Any]] = []  # (editor's user id, kind, answer) of each accepted edit
    retried: list[int] = []  # retries of each edit that needed any
    lock = threading.Lock()

    def edit_once(index: int, rng: random.Random, timed: bool) -> None:
        """One random edit by editor `index`, counted in the checks; in the figures only when `timed`."""
        listener = listeners[index]
        with listener.lock:
            view = listener.state
        kind, status, answer, seconds, retries = random_edit(url, playlist_id, users[index][2], view, songs, rng)
        with lock:
            statuses[status] = statuses.get(status, 0) + 1
            if status < 300:
                answers.append((users[index][1], kind, answer))
            if timed and retries:
                retried.append(retries)
            if timed and status < 300:
                latencies.append(seconds)

    def worker(index: int) -> None:
        rng = random.Random(index)
        for number in range(edits):
            if rate:  # the editors' sends spread evenly over each interval
                due = started + (number * collaborators + index) / rate
                time.sleep(max(0.0, due - time.perf_counter()))
            edit_once(index, rng, timed=True)

    if rate:  # every editor at once, so the function's environments exist, as in a service already running
        with ThreadPoolExecutor(collaborators) as pool:
            list(pool.map(lambda index: edit_once(index, random.Random(-1 - index), timed=False), range(collaborators)))
    stack_cpu, own_cpu = cpu_seconds(stack_pid), time.process_time()
    samplers: list[subprocess.Popen[str] | None] = []
    if profile and stack_pid:  # from PROFILE_AFTER_SECONDS in, once the function environments have started
        pid = stack_pid
        timer = threading.Timer(
            PROFILE_AFTER_SECONDS,
            lambda: samplers.append(py_spy_profile(pid, profile_seconds, profile, rate=250, nonblocking=False)),
        )
        timer.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(collaborators) as pool:
        list(pool.map(worker, range(collaborators)))
    elapsed = time.perf_counter() - started
    if profile and stack_pid:
        timer.cancel()
        for sampler in samplers:
            if sampler is not None:
                sampler.communicate()
    stack_cpu, own_cpu = cpu_seconds(stack_pid) - stack_cpu, time.process_time() - own_cpu
    final = full_playlist(url, playlist_id, owner_token)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(
        (listener.versions[-1] if listener.versions else 0) < final["version"] for listener in listeners
    ):
        time.sleep(0.05)
    sockets.stop()
    accepted = sum(count for status, count in statuses.items() if status < 300)
    timed = len(latencies)  # the accepted edits of the timed phase (all of them without a warm-up)
    expected = list(range(1, final["version"] + 1))
    # Gapless: the log the first listener received runs 1..N with no hole (an edit whose answer was lost
    # to a gateway timeout may still have committed, so counting answers is not the test).
    gapless = sorted(listeners[0].log) == list(range(1, final["version"] + 1))
    in_order = all(listener.versions == expected for listener in listeners)
    replayed = listeners[0].state
    matches = [(i["itemId"], i["songId"]) for i in replayed["items"]] == [
        (i["itemId"], i["songId"]) for i in final["tracks"]["items"]
    ] and replayed["collaborators"] == final["collaborators"]
    problems = [error for listener in listeners for error in listener.errors]
    log = listeners[0].log
    answered = [answer["version"] for _, _, answer in answers]
    no_lost_edit = len(set(answered)) == len(answered) and all(
        log.get(answer["version"], ("", {}))[0] == user_id
        and log[answer["version"]][1]["type"] == LOGGED_AS[kind]
        and (kind != "insert" or log[answer["version"]][1]["items"][0]["itemId"] == answer["itemId"])
        for user_id, kind, answer in answers
    )
    return {
        "collaborators": collaborators,
        "attempted": collaborators * (edits + (1 if rate else 0)),
        "accepted": accepted,
        "statuses": dict(sorted(statuses.items())),
        "final_version": final["version"],
        "tracks": final["tracks"]["total"],
        "gapless": gapless,
        "in_order": in_order,
        "replay_matches": matches,
        "no_lost_edit": no_lost_edit,
        "errors": problems[:3],
        "retried": f"{len(retried)} edits retried ({sum(retried)} retries)",
        "duplicates": sum(listener.duplicates for listener in listeners),
        "versions_a_message": sum(len(listener.versions) for listener in listeners)
        / max(1, sum(listener.messages for listener in listeners)),
        "seconds": elapsed,
        "edits_per_second": timed / elapsed,
        "stack_cores": stack_cpu / elapsed,  # the devstack's Python process, busy cores while editing
        "stack_ms_per_edit": stack_cpu * 1000 / max(1, timed),
        "client_cores": own_cpu / elapsed,  # this benchmark's editors and listeners
        "latency_p50": percentile(latencies, 50) * 1000,
        "latency_p99": percentile(latencies, 99) * 1000,
        "lag_p50": percentile([lag for listener in listeners for lag in listener.lags], 50) * 1000,
        "lag_p99": percentile([lag for listener in listeners for lag in listener.lags], 99) * 1000,
    }


def fan_out_lag(url: str, ws_url: str, songs: list[str], subscribers: int, edits: int) -> dict[str, Any]:
    _, _, token = signup(url)
    status, playlist, _ = http("POST", f"{url}/playlists", {"name": "fan-out"}, token=token)
    assert status == 201
    playlist_id = playlist["id"]
    initial = apply(
        empty_state(),
        0,
        {
            "type": "playlist.created",
            "name": "fan-out",
            "description": "",
            "isPublic": False,
            "isCollaborative": False,
            "ownerId": playlist["ownerId"],
        },
    )
    sockets = Sockets(ws_url)
    listeners = [Listener(token) for _ in range(subscribers)]
    for listener in listeners:
        sockets.listen(listener, playlist_id, initial)
    for listener in listeners:
        assert listener.subscribed.wait(60), listener.errors
    latencies = []
    for index in range(edits):
        started = time.perf_counter()
        status = send_edit(
            "POST", f"{url}/playlists/{playlist_id}/tracks", {"songId": songs[index % len(songs)]}, token
        )[0]
        latencies.append(time.perf_counter() - started)
        assert status == 201
        time.sleep(0.02)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(len(listener.versions) < edits for listener in listeners):
        time.sleep(0.05)
    sockets.stop()
    lags = [lag for listener in listeners for lag in listener.lags]
    return {
        "subscribers": subscribers,
        "edits": edits,
        "changes": len(lags),
        "expected_changes": subscribers * edits,
        "in_order": all(listener.versions == list(range(1, edits + 1)) for listener in listeners),
        "duplicates": sum(listener.duplicates for listener in listeners),
        "lag_p50": percentile(lags, 50) * 1000,
        "lag_p99": percentile(lags, 99) * 1000,
        "latency_p50": percentile(latencies, 50) * 1000,
        "latency_p99": percentile(latencies, 99) * 1000,
    }


PROFILE_AFTER_SECONDS = 10


# What a sample of the devstack was doing for the edits: the first whose frame it holds.
PURPOSES = (
    ("_FunctionPool._cold_start (", "cold starts of new function environments"),
    ("fan_out", "fan-out function: listeners read, messages posted"),
    ("LambdaRuntime._run (", "playlist function's AWS calls"),  # with _make_api_call; else its own code
    ("authorize (", "gateway: JWT authorizer"),
    ("_start_gateway", "gateway: HTTP and WebSocket serving, posts answered"),
    ("Poller.run (", "stream and queue pollers"),
    ("FirehoseHub", "Firehose delivery (reading its Kinesis source)"),
)


def purposes(path: Path) -> list[tuple[str, float]]:
    """Share of py-spy's samples by what they served (PURPOSES; the playlist function's samples
    outside AWS calls as its own code), largest first."""
    shares: dict[str, int] = {}
    for stack, count in samples(path):
        purpose = next((name for frame, name in PURPOSES if frame in stack), "other")
        if purpose == "playlist function's AWS calls" and "BaseClient._make_api_call (" not in stack:
            purpose = "playlist function's own code (handler, Powertools, pynamodb, domain)"
        shares[purpose] = shares.get(purpose, 0) + count
    total = sum(shares.values()) or 1
    return sorted(((name, 100 * n / total) for name, n in shares.items()), key=lambda row: -row[1])


def yes(flag: bool) -> str:
    return "yes" if flag else "NO"


MODES = {"optimistic": "optimistic retries", "turns": "write turns", "group": "group commit"}


def editors_before_and_after(
    songs: list[str], editors: int, edits: int, modes: list[str], profile_seconds: int | None = None
) -> int:
    """N editors on one playlist, on one fresh devstack per edit mode (the first is the baseline);
    with `profile_seconds`, where each devstack's CPU went over that much of the editing."""
    runs = []
    profiles: dict[str, Path] = {}
    work = Path(tempfile.mkdtemp(prefix="playlists-profile-"))
    for mode in modes:
        os.environ["PLAYLIST_EDIT_MODE"] = mode  # the devstack's functions inherit it
        try:
            with tempfile.TemporaryDirectory() as directory:
                stack = start_devstack(Path(directory) / "state.json", "--catalog-limit", "2000")
                try:
                    ws_url = stack.url.replace("http://", "ws://") + "/ws"
                    profile = work / f"{mode}.txt" if profile_seconds else None
                    run = collaborate(
                        stack.url, ws_url, songs, editors, edits, stack.process.pid, None, profile, profile_seconds or 0
                    )
                    runs.append((MODES[mode], run))
                    if profile is not None and profile.exists():
                        profiles[MODES[mode]] = profile
                finally:
                    stop_devstack(stack.process)
        finally:
            os.environ.pop("PLAYLIST_EDIT_MODE", None)
    profiled = f" --profile {profile_seconds}" if profile_seconds else ""
    print(
        f"`.venv/bin/python bench/playlists.py --editors {editors} --edits {edits} --modes {','.join(modes)}"
        f"{profiled}`:\n"
    )
    print(
        "| edits meet by | editors x edits | accepted (status counts) | versions | gapless 1..N | no lost edit "
        "| every subscriber saw 1..N in order | final GET = log replay | edits/s | edit latency p50 / p99 "
        "| fan-out lag p50 / p99 | devstack CPU an edit (cores busy) | benchmark's own cores |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, run in runs:
        print(
            f"| {name} | {editors} x {edits} | {run['accepted']} of {run['attempted']} {run['statuses']} "
            f"| 1..{run['final_version']} | {yes(run['gapless'])} | {yes(run['no_lost_edit'])} "
            f"| {yes(run['in_order'])} | {yes(run['replay_matches'])} | {run['edits_per_second']:.1f} "
            f"| {run['latency_p50']:.0f} / {run['latency_p99']:.0f} ms "
            f"| {run['lag_p50']:.0f} / {run['lag_p99']:.0f} ms "
            f"| {run['stack_ms_per_edit']:.0f} ms ({run['stack_cores']:.2f}) | {run['client_cores']:.2f} |"
        )
        if run["errors"]:
            print(f"\nerrors ({name}): {run['errors']}\n")
    for name, run in runs:
        print(f"\n{name}: {run['versions_a_message']:.2f} versions a socket message")
    for name, run in runs:
        if name in profiles:
            heading = (
                f"where the devstack's CPU went (py-spy --gil over {profile_seconds} s of the editing, "
                f"from {PROFILE_AFTER_SECONDS} s in)"
            )
            print(f"\n{name}: {heading}:\n")
            print("| what the samples served | share | ms an edit |")
            print("|---|---|---|")
            for purpose, share in purposes(profiles[name]):
                print(f"| {purpose} | {share:.1f}% | {share * run['stack_ms_per_edit'] / 100:.1f} |")
    (base_name, before), *others = runs
    for name, after in others:
        print(
            f"\n{name} / {base_name}: {after['edits_per_second'] / before['edits_per_second']:.1f}x edits/s, "
            f"p99 {after['latency_p99'] / before['latency_p99']:.2f}x"
        )
    checks = ("gapless", "no_lost_edit", "in_order", "replay_matches")
    return 0 if all(run[check] for _, run in runs for check in checks) else 1


def editors_at_rates(songs: list[str], editors: int, edits: int, rates: list[float]) -> int:
    """N editors on one playlist sending edits at each of `rates` (edits a second, all together), each
    rate on a fresh devstack: the highest rate whose edits' p99 stays under 500 ms."""
    runs = []
    for rate in rates:
        with tempfile.TemporaryDirectory() as directory:
            stack = start_devstack(Path(directory) / "state.json", "--catalog-limit", "2000")
            try:
                ws_url = stack.url.replace("http://", "ws://") + "/ws"
                runs.append((rate, collaborate(stack.url, ws_url, songs, editors, edits, stack.process.pid, rate)))
            finally:
                stop_devstack(stack.process)
        print(f"  {rate:g} edits/s asked: p99 {runs[-1][1]['latency_p99']:.0f} ms", file=sys.stderr, flush=True)
    rates_text = ",".join(f"{rate:g}" for rate, _ in runs)
    print(f"`.venv/bin/python bench/playlists.py --editors {editors} --edits {edits} --rates {rates_text}`:\n")
    print(
        "| edits/s asked | editors x edits | accepted (status counts) | gapless 1..N | no lost edit "
        "| every subscriber saw 1..N in order | final GET = log replay | edits/s | edit latency p50 / p99 "
        "| fan-out lag p50 / p99 | devstack CPU an edit (cores busy) | p99 < 500 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for rate, run in runs:
        print(
            f"| {rate:g} | {editors} x {edits} | {run['accepted']} of {run['attempted']} {run['statuses']} "
            f"| {yes(run['gapless'])} | {yes(run['no_lost_edit'])} | {yes(run['in_order'])} "
            f"| {yes(run['replay_matches'])} | {run['edits_per_second']:.1f} "
            f"| {run['latency_p50']:.0f} / {run['latency_p99']:.0f} ms "
            f"| {run['lag_p50']:.0f} / {run['lag_p99']:.0f} ms "
            f"| {run['stack_ms_per_edit']:.0f} ms ({run['stack_cores']:.2f}) | {yes(run['latency_p99'] < 500)} |"
        )
    held = [(rate, run) for rate, run in runs if run["latency_p99"] < 500]
    if held:
        rate, run = max(held, key=lambda pair: pair[1]["edits_per_second"])
        print(f"\nhighest rate with p99 under 500 ms: {run['edits_per_second']:.1f} edits/s (asked {rate:g})")
    else:
        print("\nno rate tried kept the p99 under 500 ms")
    checks = ("gapless", "no_lost_edit", "in_order", "replay_matches")
    return 0 if all(run[check] for _, run in runs for check in checks) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=100, help="edits per collaborator")
    parser.add_argument("--subscribers", type=int, default=50)
    parser.add_argument("--editors", type=int, help="only the hot spot: N editors on one playlist, before/after")
    parser.add_argument(
        "--rates",
        help="with --editors: edits a second to ask of the editors together, comma-separated, one devstack each",
    )
    parser.add_argument(
        "--modes", default="turns,group", help="edit modes for --editors, the baseline first (optimistic, turns, group)"
    )
    parser.add_argument(
        "--profile", type=int, metavar="SECONDS", help="with --editors: py-spy on the devstack over that much editing"
    )
    args = parser.parse_args()
    modes = args.modes.split(",")
    if any(mode not in MODES for mode in modes):
        parser.error(f"--modes: each of {', '.join(MODES)}")
    if not CATALOG_DIR.is_dir():
        print(f"the demo catalog is not at {CATALOG_DIR}", file=sys.stderr)
        return 1
    songs = [song.id for song in load_catalog(CATALOG_DIR).first(2000).songs]
    if args.editors and args.rates:
        return editors_at_rates(songs, args.editors, args.edits, [float(rate) for rate in args.rates.split(",")])
    if args.editors:
        return editors_before_and_after(songs, args.editors, args.edits, modes, args.profile)
    with tempfile.TemporaryDirectory() as directory:
        stack = start_devstack(Path(directory) / "state.json", "--catalog-limit", "2000")
        try:
            ws_url = stack.url.replace("http://", "ws://") + "/ws"
            runs = [collaborate(stack.url, ws_url, songs, n, args.edits) for n in (2, 10)]
            lag = fan_out_lag(stack.url, ws_url, songs, args.subscribers, args.edits)
        finally:
            stop_devstack(stack.process)

    print(f"`.venv/bin/python bench/playlists.py --edits {args.edits} --subscribers {args.subscribers}`:\n")
    print(
        "| collaborators x edits | accepted (status counts) | versions | gapless 1..N "
        "| every subscriber saw 1..N in order | final GET = log replay | no lost edit | edits/s "
        "| edit latency p50 / p99 | fan-out lag p50 / p99 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        print(
            f"| {run['collaborators']} x {args.edits} | {run['accepted']} of {run['attempted']} {run['statuses']} "
            f"| 1..{run['final_version']} | {yes(run['gapless'])} | {yes(run['in_order'])} "
            f"| {yes(run['replay_matches'])} | {yes(run['no_lost_edit'])} | {run['edits_per_second']:.1f} "
            f"| {run['latency_p50']:.0f} / {run['latency_p99']:.0f} ms "
            f"| {run['lag_p50']:.0f} / {run['lag_p99']:.0f} ms |"
        )
        if run["errors"]:
            print(f"\nerrors ({run['collaborators']} collaborators): {run['errors']}\n")
    for run in runs:
        print(
            f"\nclient ({run['collaborators']} collaborators): {run['retried']}, "
            f"{run['duplicates']} redelivered messages dropped"
        )
    print()
    print("| fan-out | figure |")
    print("|---|---|")
    print(f"| subscribers x sequential edits | {lag['subscribers']} x {lag['edits']} |")
    print(f"| changes received / expected | {lag['changes']} / {lag['expected_changes']} |")
    print(f"| every subscriber saw 1..N in order | {yes(lag['in_order'])} |")
    print(f"| redelivered messages dropped | {lag['duplicates']} |")
    print(f"| fan-out lag (commit -> message) p50 / p99 | {lag['lag_p50']:.0f} / {lag['lag_p99']:.0f} ms |")
    print(f"| edit latency, one editor, p50 / p99 | {lag['latency_p50']:.1f} / {lag['latency_p99']:.1f} ms |")
    ok = all(r["gapless"] and r["no_lost_edit"] and r["in_order"] and r["replay_matches"] for r in runs)
    ok = ok and lag["in_order"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
