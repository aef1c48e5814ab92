"""Quota exactness of offline downloads under concurrency, on a small devstack.

    .venv/bin/python bench/downloads_quota.py [--rounds 3] [--catalog-limit 300] [--audio-cache DIR]

Per round, against a fresh premium user:
- songs: the user's five devices hold 9,900 downloads, seeded through the quota functions
  (`backbeat.downloads.quota.reserve_downloads`, the code `POST /downloads` runs, called in this
  process against the devstack's DynamoDB: the small catalog has only 300 songs, so 9,900 distinct
  downloads cannot go through the API); then 20 concurrent `POST /downloads` of 50 catalog songs each
  (request i to device i mod 5, so no two requests ask one device for one song) race for the last
  100 slots. Exact means: 100 accepted in total, 900 refused `quota_exceeded`, the counter at
  10,000 and 10,000 download items stored.
- devices: 20 concurrent `POST /me/devices` for a fresh user: exactly 5 get 201, 15 get 409, and
  `GET /me/devices` lists 5.

And once: how the storage estimate a request answers with (duration x bitrate + container) compares
with the bytes of the encoded renditions (init segment + segments) of every encoded song, per rung.

Starts its own devstack with the demo audio (downloads need encoded songs; `--audio-cache` points
at a copy of an encoded-tracks cache, e.g. of `.devstack/demo-media`, so nothing is encoded), prints
a Markdown report (paste it into docs/performance.md) and exits non-zero if any round is not exact.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backbeat_ops.dataset import load_catalog  # noqa: E402
from bench.foundation import percentile  # noqa: E402
from tests.conftest import RunningStack, start_devstack, stop_devstack  # noqa: E402
from tests.support import CATALOG_DIR, http  # noqa: E402

PASSWORD = "benchmark-password"
REQUESTS = 20
SONGS_PER_REQUEST = 50
SEEDED = 9_900
DEVICES = 5


def bind_to(stack: RunningStack) -> None:
    """Point this process's AWS clients and models at the devstack's emulated AWS."""
    from backbeat.aws import client
    from backbeat.downloads.models import bind_downloads_table
    from backbeat.identity.models import bind_users_table

    os.environ.update(stack.state["environment"])
    client.cache_clear()
    bind_downloads_table(stack.stack_output("DownloadsTableName"))
    bind_users_table(stack.stack_output("UsersTableName"))


def new_user(url: str, tier: str) -> tuple[str, str]:
    from backbeat.identity import service

    email = f"bench-dl-{uuid.uuid4().hex[:10]}@example.com"
    status, user, _ = http("POST", f"{url}/auth/signup", {"email": email, "password": PASSWORD})
    assert status == 201, user
    service.set_tier(email, tier)
    status, tokens, _ = http("POST", f"{url}/auth/login", {"email": email, "password": PASSWORD})
    assert status == 200, tokens
    return str(user["userId"]), str(tokens["accessToken"])


def public_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def register(url: str, token: str, key: str, name: str) -> tuple[int, Any]:
    status, body, _ = http("POST", f"{url}/me/devices", {"name": name, "type": "phone", "publicKey": key}, token=token)
    return status, body


def warm_up(url: str, token: str) -> float:
    """Start the function's execution environments before the race: the devstack, like Lambda, gives
    each concurrent invocation an environment of its own and starts them one import at a time, so a
    cold race would measure 20 cold starts queued behind each other, not the quota."""
    started = time.perf_counter()

    def get(_: int) -> int:
        request = urllib.request.Request(f"{url}/me/devices", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=600) as response:
            return int(response.status)

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        assert set(pool.map(get, range(REQUESTS))) == {200}
    return time.perf_counter() - started


def seed(user_id: str, device_id: str, count: int) -> float:
    """`count` downloads on one device through the quota functions; returns the seconds it took."""
    from backbeat.downloads import quota
    from backbeat.downloads.models import DownloadItem, download_key, now

    started = time.perf_counter()
    items = [
        DownloadItem(
            user_id,
            download_key(device_id, song),
            device_id=device_id,
            song_id=song,
            quality="160k",
            job_id="seed",
            status="queued",
            estimated_bytes=1,
            requested_at=now(),
        )
        for song in (f"seed{n:05d}" for n in range(count))
    ]
    reserved = quota.reserve_downloads(user_id, device_id, items)
    assert len(reserved.accepted) == count, "seeding hit the quota"
    return time.perf_counter() - started


def stored(user_id: str) -> tuple[int, int]:
    """(the QUOTA counter's songs, the download items stored) for the user."""
    from backbeat.downloads import quota
    from backbeat.downloads.models import DownloadItem

    items = sum(1 for _ in DownloadItem.query(user_id, DownloadItem.sk.startswith("DL#"), attributes_to_get=["sk"]))
    return quota.usage(user_id).songs, items


def songs_race(url: str, songs: list[str], key: str) -> dict[str, Any]:
    user_id, token = new_user(url, "premium")
    devices = []
    for n in range(DEVICES):
        status, body = register(url, token, key, f"Device {n}")
        assert status == 201, body
        devices.append(body["deviceId"])
    seed_seconds = seed(user_id, devices[0], SEEDED)

    def request(index: int) -> tuple[int, Any, float]:
        start = (index // DEVICES) * SONGS_PER_REQUEST
        body = {"deviceId": devices[index % DEVICES], "songIds": songs[start : start + SONGS_PER_REQUEST]}
        t = time.perf_counter()
        status, answer, _ = http("POST", f"{url}/downloads", body, token=token)
        return status, answer, time.perf_counter() - t

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        results = list(pool.map(request, range(REQUESTS)))
    assert all(status == 202 for status, _, _ in results), [a for s, a, _ in results if s != 202][:1]
    reasons: dict[str, int] = {}
    for _, answer, _ in results:
        for refused in answer["refused"]:
            reasons[refused["reason"]] = reasons.get(refused["reason"], 0) + 1
    counter, items = stored(user_id)
    return {
        "accepted": sum(len(answer["accepted"]) for _, answer, _ in results),
        "refused": reasons,
        "counter": counter,
        "items": items,
        "seed_seconds": seed_seconds,
        "latencies": [seconds for _, _, seconds in results],
    }


def devices_race(url: str, key: str) -> dict[str, Any]:
    _, token = new_user(url, "free")
    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        statuses = [status for status, _ in pool.map(lambda n: register(url, token, key, f"D{n}"), range(REQUESTS))]
    status, listed, _ = http("GET", f"{url}/me/devices", token=token)
    assert status == 200, listed
    return {"created": statuses.count(201), "refused": statuses.count(409), "listed": len(listed["items"])}


def estimate_accuracy(stack: RunningStack) -> dict[int, list[float]]:
    """Per rung: estimate / actual bytes of each encoded song's rendition (init segment + segments)."""
    from backbeat.catalog.models import SongItem, bind_catalog_table
    from backbeat.downloads.downloads import estimated_bytes
    from backbeat.media.pipeline import READY
    from backbeat.plain import plain

    bind_catalog_table(stack.stack_output("CatalogTableName"))
    s3 = stack.client("s3")
    bucket = stack.stack_output("MediaBucketName")
    ratios: dict[int, list[float]] = {}
    for song in SongItem.scan(SongItem.status == READY):
        for rendition in map(plain, song.renditions or []):
            key = str(rendition["playlistKey"])
            folder = key.rsplit("/", 1)[0]
            playlist = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            files = re.findall(r'URI="([^"]+)"', playlist) + [
                line for line in playlist.splitlines() if line and not line.startswith("#")
            ]
            actual = sum(s3.head_object(Bucket=bucket, Key=f"{folder}/{name}")["ContentLength"] for name in files)
            kbps = int(rendition["bitrateKbps"])
            ratios.setdefault(kbps, []).append(estimated_bytes(int(song.duration_ms), kbps) / actual)
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--catalog-limit", type=int, default=300)
    parser.add_argument("--audio-cache", type=Path, default=ROOT / ".devstack" / "demo-media")
    args = parser.parse_args()
    needed = REQUESTS // DEVICES * SONGS_PER_REQUEST
    if args.catalog_limit < needed:
        parser.error(f"--catalog-limit must be at least {needed}")

    workdir = Path(tempfile.mkdtemp(prefix="bench-downloads-"))
    cache = workdir / "demo-media"
    if args.audio_cache.is_dir():
        shutil.copytree(args.audio_cache, cache)  # a copy: the stack may write to its cache
    started = time.perf_counter()
    stack = start_devstack(
        workdir / "state.json", "--catalog-limit", str(args.catalog_limit), "--audio-cache", str(cache)
    )
    try:
        ready = time.perf_counter() - started
        bind_to(stack)
        songs = [song.id for song in load_catalog(CATALOG_DIR).first(args.catalog_limit).songs][:needed]
        key = public_key()
        warm_up(stack.url, new_user(stack.url, "free")[1])
        rounds = [(songs_race(stack.url, songs, key), devices_race(stack.url, key)) for _ in range(args.rounds)]
        accuracy = estimate_accuracy(stack)
    finally:
        stop_devstack(stack.process)
        shutil.rmtree(workdir, ignore_errors=True)

    exact = report(args.rounds, args.catalog_limit, ready, rounds)
    report_accuracy(accuracy)
    sys.exit(0 if exact else 1)


def row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def report(count: int, catalog_limit: int, ready: float, rounds: list[tuple[dict[str, Any], dict[str, Any]]]) -> bool:
    """Print the Markdown report; True when every round was exact."""
    exact = True
    print(f"## Quota exactness: {count} rounds, devstack --catalog-limit {catalog_limit} (ready in {ready:.0f} s)\n")
    print(f"Songs: {SEEDED:,} seeded through `quota.reserve_downloads`, then {REQUESTS} concurrent")
    print(f"`POST /downloads` of {SONGS_PER_REQUEST} songs each.\n")
    print(row("round", "accepted", "refused (by reason)", "counter", "items", "seed s", "p50 s", "max s", "exact"))
    print(row(*["---"] * 9))
    for number, (songs, _) in enumerate(rounds, 1):
        refused_all = REQUESTS * SONGS_PER_REQUEST - 100
        ok = songs["accepted"] == 100 and songs["refused"] == {"quota_exceeded": refused_all}
        ok = ok and songs["counter"] == songs["items"] == SEEDED + 100
        exact &= ok
        latencies = songs["latencies"]
        refused = ", ".join(f"{reason} {n}" for reason, n in sorted(songs["refused"].items()))
        print(
            row(
                number,
                songs["accepted"],
                refused,
                f"{songs['counter']:,}",
                f"{songs['items']:,}",
                f"{songs['seed_seconds']:.1f}",
                f"{percentile(latencies, 50):.2f}",
                f"{max(latencies):.2f}",
                "yes" if ok else "NO",
            )
        )
    print(f"\nDevices: {REQUESTS} concurrent `POST /me/devices` for a fresh user.\n")
    print(row("round", "201", "409", "listed", "exact"))
    print(row(*["---"] * 5))
    for number, (_, devices) in enumerate(rounds, 1):
        ok = devices["created"] == devices["listed"] == DEVICES and devices["refused"] == REQUESTS - DEVICES
        exact &= ok
        print(row(number, devices["created"], devices["refused"], devices["listed"], "yes" if ok else "NO"))
    return exact


def report_accuracy(accuracy: dict[int, list[float]]) -> None:
    print("\nStorage estimate / bytes of the encoded rendition (init segment + segments), per rung:\n")
    print(row("rung", "songs", "median", "min", "max"))
    print(row(*["---"] * 5))
    for kbps, ratios in sorted(accuracy.items()):
        median = percentile(ratios, 50)
        print(row(f"{kbps}k", len(ratios), f"{median:.3f}", f"{min(ratios):.3f}", f"{max(ratios):.3f}"))


if __name__ == "__main__":
    main()
