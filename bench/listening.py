"""The listening loop under load and under faults: playback events through the local gateway, the
stream consumers, the counters, the taste profiles and the event lake.

    .venv/bin/python bench/listening.py [--events 100000] [--listeners 40] [--probes 50]

1. **Ingest**: `--events` events (whole plays: start, progress every 15 s of listening, end or skip)
   of `--listeners` new listeners, POSTed in batches of 100 by 8 clients (each listener's batches
   from one client, in order): accepted events/s at the gateway, then the consumers' records/s
   until every play record holds all its events.
2. **Lag**: `--probes` single 45 s plays on the idle stack before the load, each on its own song:
   from the POST to the song's hour counter moving and to the taste profile naming the artist.
3. **No loss under faults**: the same load again with new listeners while the devstack injects
   faults (devstack/faults.py): the consumers fail random records after applying them, DynamoDB
   throttles writes, Kinesis refuses some PutRecords entries, and each consumer crashes once
   mid-batch. Then: every event exactly once in the lake (count and checksum of the event ids, read
   through the lake's deduplicated view), every billable play exactly once in the counters, every
   play record with exactly its events.

Prints a Markdown report (paste it into docs/performance.md). A shared 2-core machine is noisy:
the figures are for comparing runs of this script, not promises.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backbeat.plays.events import BILLABLE_MS, MAX_BATCH  # noqa: E402
from backbeat_ops.dataset import load_catalog  # noqa: E402
from bench.foundation import percentile  # noqa: E402
from tests.conftest import RunningStack, start_devstack, stop_devstack  # noqa: E402
from tests.support import CATALOG_DIR, http  # noqa: E402

PASSWORD = "benchmark-password"
CATALOG_SONGS = 2000
PROGRESS_MS = 15_000
CLIENTS = 8


@dataclass(frozen=True)
class Song:
    id: str
    artist_id: str
    duration_ms: int


@dataclass
class Listener:
    email: str
    token: str = ""
    user_id: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    plays: dict[str, int] = field(default_factory=dict)  # playId -> playedMs
    events_per_play: Counter[str] = field(default_factory=Counter)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def play_events(song: Song, start: datetime, listened_ms: int, device: str) -> list[dict[str, Any]]:
    """One play as a client reports it: start, progress every 15 s of listening, then end (the whole
    song) or skip (earlier)."""
    play_id = str(uuid.uuid4())
    completed = listened_ms >= song.duration_ms
    listened_ms = min(listened_ms, song.duration_ms)

    def event(kind: str, played: int) -> dict[str, Any]:
        return {
            "eventId": str(uuid.uuid4()),
            "playId": play_id,
            "type": kind,
            "songId": song.id,
            "positionMs": played,
            "playedMs": played,
            "bitrateKbps": 160,
            "deviceId": device,
            "deviceType": "desktop",
            "context": {"type": "album"},
            "occurredAt": iso(start + timedelta(milliseconds=played)),
        }

    events = [event("start", 0)]
    events += [event("progress", ms) for ms in range(PROGRESS_MS, listened_ms, PROGRESS_MS)]
    events.append(event("end" if completed else "skip", listened_ms))
    return events


def plan_listening(listeners: list[Listener], songs: list[Song], total_events: int, seed: int) -> None:
    """Human-looking listening for each listener (so no bot rule trips and no play repeats a song
    inside the dedupe window): distinct songs, irregular gaps, mostly whole songs, some early skips
    and some partial listens, all inside the last 20 hours."""
    rng = random.Random(seed)
    per_listener = total_events // len(listeners)
    now = datetime.now(UTC)
    for index, listener in enumerate(listeners):
        order = rng.sample(songs, len(songs))
        moment = now - timedelta(hours=20) + timedelta(seconds=rng.uniform(0, 600))
        device = f"bench-device-{index}"
        for song in order:
            roll = rng.random()
            if roll < 0.7:
                listened = song.duration_ms
            elif roll < 0.9:
                listened = rng.randint(3_000, 25_000)
            else:
                listened = rng.randint(40_000, max(41_000, song.duration_ms - 1))
            events = play_events(song, moment, listened, device)
            if len(listener.events) + len(events) > per_listener:
                break
            listener.events.extend(events)
            play_id = events[0]["playId"]
            listener.plays[play_id] = events[-1]["playedMs"]
            listener.events_per_play[play_id] = len(events)
            moment += timedelta(milliseconds=events[-1]["playedMs"] + rng.uniform(2_000, 90_000))
        if moment > now:
            raise SystemExit("the planned listening runs into the future: use more listeners")


def signup(url: str, listener: Listener) -> None:
    status, body, _ = http("POST", f"{url}/auth/signup", {"email": listener.email, "password": PASSWORD})
    if status != 201:
        raise SystemExit(f"signup failed: {status} {body}")
    listener.user_id = body["userId"]
    for attempt in range(5):
        status, body, _ = http("POST", f"{url}/auth/login", {"email": listener.email, "password": PASSWORD})
        if status == 200:
            listener.token = body["accessToken"]
            return
        time.sleep(0.5 * 2**attempt)
    raise SystemExit(f"login failed: {status} {body}")


def send(url: str, listener: Listener) -> Counter[str]:
    """Every event of `listener` in order, in batches of 100, resending what the service answers
    `retry` (and a whole batch on 5xx) until each event is accepted or a duplicate."""
    statuses: Counter[str] = Counter()
    for first in range(0, len(listener.events), MAX_BATCH):
        pending = listener.events[first : first + MAX_BATCH]
        attempt = 0
        while pending:
            status, body, _ = http("POST", f"{url}/events/playback", {"events": pending}, token=listener.token)
            if status >= 500 or status == 429:
                attempt += 1
                time.sleep(min(2.0, 0.05 * 2**attempt))
                continue
            if status != 202:
                raise SystemExit(f"POST /events/playback answered {status}: {body}")
            again = []
            for event, result in zip(pending, body["results"], strict=True):
                statuses[result["status"]] += 1
                if result["status"] == "retry":
                    again.append(event)
                elif result["status"] == "rejected":
                    raise SystemExit(f"a planned event was rejected: {result}")
            pending = again
    return statuses


def checksum(ids: list[str]) -> str:
    """Order-independent: the XOR of the ids' SHA-256 digests, with the count."""
    value = 0
    for identifier in ids:
        value ^= int.from_bytes(hashlib.sha256(identifier.encode()).digest()[:16], "big")
    return f"{len(ids)}:{value:032x}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--listeners", type=int, default=40)
    parser.add_argument("--probes", type=int, default=50)
    parser.add_argument("--faults-only", action="store_true", help="only the run under faults (a quick check)")
    parser.add_argument("--fault-plan", type=json.loads, default=FAULT_PLAN, help="the faults to inject (JSON)")
    args = parser.parse_args()
    if not CATALOG_DIR.is_dir():
        print(f"the demo catalog is not at {CATALOG_DIR}", file=sys.stderr)
        return 1
    catalog = load_catalog(CATALOG_DIR).first(CATALOG_SONGS)
    songs = [Song(s.id, s.artist_id, s.duration_ms) for s in catalog.songs]
    results = {}
    # a fresh stack for each run, so the fault run's counters are its own
    for faults in (True,) if args.faults_only else (False, True):
        with tempfile.TemporaryDirectory() as directory:
            stack = start_devstack(Path(directory) / "state.json", "--catalog-limit", str(CATALOG_SONGS))
            try:
                results[faults] = run(stack, songs, args, faults)
            finally:
                stop_devstack(stack.process)
    if False in results:
        print(report(results[False], results[True], args))
    else:
        command = f"bench/listening.py --events {args.events} --listeners {args.listeners} --faults-only"
        print(f"`.venv/bin/python {command}`:\n\n{fault_report(results[True], args)}")
    return 0


def report(clean: dict[str, Any], faulty: dict[str, Any], args: argparse.Namespace) -> str:
    ms = 1000
    lines = [
        f"`.venv/bin/python bench/listening.py --events {args.events} --listeners {args.listeners} "
        f"--probes {args.probes}`:",
        "",
        "| run | events (plays) | POST: accepted events/s | consumers: events/s to folded | statuses |",
        "|---|---|---|---|---|",
    ]
    for name, run_figures in (("clean", clean), ("under faults", faulty)):
        lines.append(
            f"| {name} | {run_figures['events']:,} ({run_figures['plays']:,}) | "
            f"{run_figures['accepted_per_second']:,.0f} | {run_figures['consumed_per_second']:,.0f} | "
            f"{run_figures['statuses']} |"
        )
    lines += [
        "",
        "| lag from POST (idle stack, single 45 s plays) | p50 | p99 |",
        "|---|---|---|",
        f"| to the song's hour counter | {percentile(clean['counter_lag'], 50) * ms:.0f} ms | "
        f"{percentile(clean['counter_lag'], 99) * ms:.0f} ms |",
        f"| to the taste profile | {percentile(clean['taste_lag'], 50) * ms:.0f} ms | "
        f"{percentile(clean['taste_lag'], 99) * ms:.0f} ms |",
        "",
        fault_report(faulty, args),
    ]
    return "\n".join(lines)


def fault_report(faulty: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        f"Under faults (plan: `{json.dumps(args.fault_plan)}`; injected: `{json.dumps(faulty['injected'])}`):",
        "",
        "| check | expected | found | exact |",
        "|---|---|---|---|",
        f"| play records with exactly their events | {faulty['plays']:,} | | {faulty['plays_exact']} |",
        f"| billable plays in the hour counters | {faulty['counters'][0]:,} | {faulty['counters'][1]:,} | "
        f"{faulty['counters_checksum'][0] == faulty['counters_checksum'][1]} (checksum) |",
        f"| events in the lake (deduplicated view; raw rows {faulty['lake'][2]:,}) | {faulty['lake'][0]} | "
        f"{faulty['lake'][1]} | {faulty['lake'][0] == faulty['lake'][1]} |",
        "",
        f"Under faults, {faulty['events']:,} events were accepted at {faulty['accepted_per_second']:,.0f}/s, "
        f"folded into play records {faulty['folded_seconds']:.0f} s after the last POST, and counted in the "
        f"hour counters {faulty['counters_seconds']:.0f} s after that.",
    ]
    return "\n".join(lines)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def make_listeners(url: str, prefix: str, count: int) -> list[Listener]:
    listeners = [Listener(f"{prefix}-{i:03d}-{uuid.uuid4().hex[:6]}@bench.example") for i in range(count)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(lambda listener: signup(url, listener), listeners))
    return listeners


def send_all(url: str, listeners: list[Listener]) -> tuple[float, Counter[str]]:
    """Every listener's events, each listener from one client, 8 clients: (seconds, statuses)."""
    started = time.perf_counter()
    totals: Counter[str] = Counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        for statuses in pool.map(lambda listener: send(url, listener), listeners):
            totals.update(statuses)
    return time.perf_counter() - started, totals


def folded_plays(stack: RunningStack, listener: Listener) -> dict[str, tuple[int, int, bool]]:
    """The listener's play records: playId -> (events folded, playedMs, billable)."""
    table = stack.resource("dynamodb").Table(stack.stack_output("PlaysTableName"))
    found: dict[str, tuple[int, int, bool]] = {}
    arguments: dict[str, Any] = {
        "KeyConditionExpression": "userId = :u AND begins_with(sk, :p)",
        "ExpressionAttributeValues": {":u": listener.user_id, ":p": "PLAY#"},
        "ProjectionExpression": "playId, events, playedMs, billable",
    }
    while True:
        page = table.query(**arguments)
        for item in page["Items"]:
            found[str(item["playId"])] = (int(item["events"]), int(item["playedMs"]), bool(item["billable"]))
        if "LastEvaluatedKey" not in page:
            return found
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def all_folded(stack: RunningStack, listener: Listener) -> bool:
    found = folded_plays(stack, listener)
    return all(found.get(play, (0,))[0] == count for play, count in listener.events_per_play.items())


def wait_until_folded(stack: RunningStack, listeners: list[Listener], timeout: float) -> float:
    """Seconds until every play record holds all its events (polled listener by listener)."""
    started = time.perf_counter()
    last_report = started
    waiting = list(listeners)
    while waiting:
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"{len(waiting)} listeners' plays were not all folded after {timeout:.0f} s")
        waiting = [listener for listener in waiting if not all_folded(stack, listener)]
        if waiting:
            if time.perf_counter() - last_report > 60:
                last_report = time.perf_counter()
                listener = waiting[0]
                found = folded_plays(stack, listener)
                odd = [
                    (play, count, found.get(play))
                    for play, count in listener.events_per_play.items()
                    if found.get(play, (0,))[0] != count
                ]
                extra = sorted(set(found) - set(listener.events_per_play))
                log(f"still waiting for {len(waiting)} listeners; {listener.email}: {odd[:3]}, unplanned {extra[:3]}")
                Path(f"/tmp/listening-devstack-{os.getpid()}.log").write_text("\n".join(stack.output))
            time.sleep(5)  # each poll reads every waiting listener's plays: do not load the stack it measures
    return time.perf_counter() - started


def expected_song_hours(listeners: list[Listener]) -> Counter[tuple[str, str]]:
    """Billable plays planned per (song, start hour)."""
    expected: Counter[tuple[str, str]] = Counter()
    for listener in listeners:
        for event in listener.events:
            if event["type"] == "start" and listener.plays[event["playId"]] >= BILLABLE_MS:
                expected[(event["songId"], event["occurredAt"][:13])] += 1
    return expected


def counted_song_hours(stack: RunningStack, song_ids: set[str], first: str, last: str) -> Counter[tuple[str, str]]:
    table = stack.resource("dynamodb").Table(stack.stack_output("CountersTableName"))
    counted: Counter[tuple[str, str]] = Counter()
    for song_id in sorted(song_ids):
        arguments: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :a AND :b",
            "ExpressionAttributeValues": {":pk": f"SONG#{song_id}", ":a": f"H#{first}", ":b": f"H#{last}"},
        }
        for item in table.query(**arguments)["Items"]:
            if int(item.get("plays", 0)):
                counted[(song_id, str(item["sk"]).removeprefix("H#"))] = int(item["plays"])
    return counted


def lake_column(stack: RunningStack, sql: str) -> list[dict[str, Any]]:
    answer = stack.cli("analytics", "sql", sql, "--json", timeout=600)
    if answer.returncode != 0:
        raise SystemExit(f"backbeat analytics sql failed: {answer.stderr}")
    return [json.loads(line) for line in answer.stdout.splitlines() if line.strip()]


def set_faults(url: str, plan: dict[str, Any]) -> dict[str, Any]:
    status, body, _ = http("POST", f"{url}/_devstack/faults", plan)
    if status != 200:
        raise SystemExit(f"the devstack refused the fault plan: {status} {body}")
    return dict(body)


def probe_lag(stack: RunningStack, songs: list[Song], probes: int) -> tuple[list[float], list[float]]:
    """Single 45 s plays, each of its own song by a new artist for its listener: seconds from the
    POST to the song's hour counter moving, and to the listener's taste naming the artist."""
    counters = stack.resource("dynamodb").Table(stack.stack_output("CountersTableName"))
    taste = stack.resource("dynamodb").Table(stack.stack_output("TasteTableName"))
    # A listener per probe: one listener's plays seconds apart would look like a bot (regular gaps).
    probe_listeners = make_listeners(stack.url, "probe", probes)
    to_counter: list[float] = []
    to_taste: list[float] = []
    seen_artists: set[str] = set()
    chosen = [song for song in songs if song.duration_ms > 60_000]
    for song in chosen:
        if len(to_counter) == probes:
            break
        if song.artist_id in seen_artists:
            continue
        seen_artists.add(song.artist_id)
        listener = probe_listeners[len(to_counter)]
        start = datetime.now(UTC) - timedelta(seconds=46)
        hour = iso(start)[:13]
        key = {"pk": f"SONG#{song.id}", "sk": f"H#{hour}"}
        before = int((counters.get_item(Key=key).get("Item") or {}).get("plays", 0))
        listener.events = play_events(song, start, 45_000, "probe-device")
        posted = time.perf_counter()
        send(stack.url, listener)
        counted = tasted = None
        while counted is None or tasted is None:
            now = time.perf_counter()
            if now - posted > 60:
                raise SystemExit(f"probe {song.id}: not counted within 60 s")
            if counted is None and int((counters.get_item(Key=key).get("Item") or {}).get("plays", 0)) > before:
                counted = now - posted
            if tasted is None:
                profile = taste.get_item(Key={"userId": listener.user_id}).get("Item") or {}
                if song.artist_id in (profile.get("artists") or {}):
                    tasted = now - posted
            time.sleep(0.02)
        to_counter.append(counted)
        to_taste.append(tasted)
    return to_counter, to_taste


FAULT_PLAN = {
    "recordFailures": {"PlaysFunction": 0.01, "CountersFunction": 0.01, "LakePlaysFunction": 0.01},
    "crashes": {"PlaysFunction": 1, "CountersFunction": 1, "LakePlaysFunction": 1},
    "dynamodbThrottle": 0.02,
    "dynamodbConflict": 0.02,
    "kinesisPutFailures": 0.02,
    "seed": 11,
}


def run(stack: RunningStack, songs: list[Song], args: argparse.Namespace, faults: bool) -> dict[str, Any]:
    prefix = "faults" if faults else "ingest"
    log(f"{prefix}: signing up {args.listeners} listeners")
    listeners = make_listeners(stack.url, prefix, args.listeners)
    plan_listening(listeners, songs, args.events, seed=1 if faults else 0)
    events = sum(len(listener.events) for listener in listeners)
    plays = sum(len(listener.plays) for listener in listeners)
    if not faults:  # on an idle stack, before the load, so the lag is the loop's own
        log(f"{prefix}: {args.probes} lag probes")
        probes = probe_lag(stack, songs, args.probes)
    if faults:
        set_faults(stack.url, args.fault_plan)
    log(f"{prefix}: sending {events:,} events ({plays:,} plays)")
    seconds, statuses = send_all(stack.url, listeners)
    log(f"{prefix}: sent in {seconds:.1f} s {dict(statuses)}; waiting for the play records")
    folded = wait_until_folded(stack, listeners, timeout=1800)
    log(f"{prefix}: folded {folded:.1f} s after the last POST")
    figures: dict[str, Any] = {
        "events": events,
        "plays": plays,
        "post_seconds": seconds,
        "accepted_per_second": events / seconds,
        "statuses": dict(statuses),
        "consumed_per_second": events / (seconds + folded),
        "folded_seconds": folded,
    }
    if not faults:
        figures["counter_lag"], figures["taste_lag"] = probes
        return figures
    _, injected, _ = http("GET", f"{stack.url}/_devstack/faults")
    figures["injected"] = injected["injected"]
    http("DELETE", f"{stack.url}/_devstack/faults")
    # Play records: exactly the planned events folded into each, nothing more.
    planned = {(pid, n) for listener in listeners for pid, n in listener.events_per_play.items()}
    stored = {(pid, rec[0]) for listener in listeners for pid, rec in folded_plays(stack, listener).items()}
    figures["plays_exact"] = planned == stored
    # Counters: every billable play once in its song's hour window.
    expected = expected_song_hours(listeners)
    hours = sorted(hour for _, hour in expected)
    # The counters consumer reads the plays table's stream (one record per play version), so it may
    # trail the play records by a while: wait while the count still grows, give up after 5 minutes
    # without progress.
    started, last_total, last_progress = time.monotonic(), -1, time.monotonic()
    while True:
        counted = counted_song_hours(stack, {song for song, _ in expected}, hours[0], hours[-1])
        total = sum(counted.values())
        if total != last_total:
            last_total, last_progress = total, time.monotonic()
            log(f"{prefix}: {total:,} of {sum(expected.values()):,} billable plays counted")
        if counted == expected or time.monotonic() - last_progress > 300:
            break
        time.sleep(15)
    figures["counters_seconds"] = time.monotonic() - started
    figures["counters"] = (sum(expected.values()), sum(counted.values()))
    figures["counters_checksum"] = (
        checksum([f"{k}:{v}" for k, v in sorted(expected.items())]),
        checksum([f"{k}:{v}" for k, v in sorted(counted.items())]),
    )
    # The lake: every event once, by id, through the deduplicated view (raw rows for the record).
    sent_ids = [event["eventId"] for listener in listeners for event in listener.events]
    users = ", ".join(f"'{listener.user_id}'" for listener in listeners)
    deadline = time.monotonic() + 900
    while True:
        rows = lake_column(stack, f"SELECT eventId FROM events WHERE userId IN ({users})")
        if len(rows) >= len(sent_ids) or time.monotonic() > deadline:
            break
        time.sleep(10)
    raw = lake_column(stack, f"SELECT count(*) AS n FROM events_raw WHERE userId IN ({users})")
    figures["lake"] = (checksum(sent_ids), checksum([row["eventId"] for row in rows]), int(raw[0]["n"]))
    return figures


if __name__ == "__main__":
    sys.exit(main())
