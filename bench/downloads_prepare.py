"""Offline downloads: preparation time and worker throughput on the devstack.

    .venv/bin/python bench/downloads_prepare.py [--songs 50] [--shim] [--catalog-limit 300]

A new premium listener downloads a playlist of `--songs` demo catalog songs (quality very_high) to
one device, then the same playlist to a second device:

1. **Cold**: from `POST /downloads` to every download ready; the worker encrypts each rendition the
   first time it is asked for (the demo catalog's songs play ten encoded tracks, so at most ten
   renditions are encrypted and the rest reuse them: what the catalog's shape gives).
2. **Warm**: the same playlist to a second device: every rendition already exists, so this is the
   cost of a download that reuses one (the common case at scale: one copy per rendition).
3. **License**: `POST /licenses` for the whole playlist on one device (KMS unwraps each content key,
   RSA-OAEP wraps it for the device, KMS signs).

`--shim` stands in for the downloads API (devices, POST /downloads) where it is not deployed: it
writes the device and download items and sends the queue messages exactly as the contract says
(docs/decisions.md, 39), then times the same way. Without it, the real routes are used.

Prints a Markdown report (paste it into docs/performance.md). A shared 2-core machine is noisy:
compare runs of this script, not absolute figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from boto3.dynamodb.conditions import Key  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from backbeat_ops.dataset import load_catalog  # noqa: E402
from tests.conftest import RunningStack, start_devstack, stop_devstack  # noqa: E402
from tests.support import CATALOG_DIR, http  # noqa: E402

PASSWORD = "benchmark-password"
QUALITY = "very_high"


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def physical(stack: RunningStack, service: str, logical_id: str) -> str:
    """A resource of the downloads section by its logical id (the devstack names it after it)."""
    if service == "dynamodb":
        names = stack.client("dynamodb").list_tables()["TableNames"]
    else:
        names = stack.client("sqs").list_queues().get("QueueUrls", [])
    found = [name for name in names if logical_id.lower() in name.lower() and "dlq" not in name.lower()[-12:]]
    assert len(found) == 1, f"{logical_id}: {found}"
    return found[0]


def public_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


class Shim:
    """The downloads API's writes, as its contract describes them (for a stack without its routes)."""

    def __init__(self, stack: RunningStack, user_id: str) -> None:
        self.table = stack.resource("dynamodb").Table(physical(stack, "dynamodb", "DownloadsTable"))
        self.sqs = stack.client("sqs")
        self.queue = physical(stack, "sqs", "DownloadsQueue")
        self.user_id = user_id

    def register(self) -> str:
        device_id = uuid.uuid4().hex[:22]
        self.table.put_item(
            Item={
                "userId": self.user_id,
                "sk": f"DEVICE#{device_id}",
                "deviceId": device_id,
                "name": "bench",
                "type": "phone",
                "publicKey": public_pem(),
                "createdAt": datetime.now(UTC).isoformat(),
            }
        )
        return device_id

    def download(self, device_id: str, songs: list[str]) -> None:
        job_id = uuid.uuid4().hex
        with self.table.batch_writer() as batch:
            for song_id in songs:
                batch.put_item(
                    Item={
                        "userId": self.user_id,
                        "sk": f"DL#{device_id}#{song_id}",
                        "deviceId": device_id,
                        "songId": song_id,
                        "quality": QUALITY,
                        "jobId": job_id,
                        "status": "queued",
                        "estimatedBytes": 0,
                        "requestedAt": datetime.now(UTC).isoformat(),
                    }
                )
        messages = [
            {"jobId": job_id, "userId": self.user_id, "deviceId": device_id, "songId": song, "quality": QUALITY}
            for song in songs
        ]
        for start in range(0, len(messages), 10):
            entries = [
                {"Id": str(index), "MessageBody": json.dumps(message)}
                for index, message in enumerate(messages[start : start + 10])
            ]
            self.sqs.send_message_batch(QueueUrl=self.queue, Entries=entries)


def statuses(stack: RunningStack, user_id: str, device_id: str) -> list[dict[str, Any]]:
    table = stack.resource("dynamodb").Table(physical(stack, "dynamodb", "DownloadsTable"))
    items: list[dict[str, Any]] = table.query(
        KeyConditionExpression=Key("userId").eq(user_id) & Key("sk").begins_with(f"DL#{device_id}#"),
        ConsistentRead=True,
    )["Items"]
    return items


def wait_ready(stack: RunningStack, user_id: str, device_id: str, count: int, timeout: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        items = statuses(stack, user_id, device_id)
        done = [item for item in items if item["status"] in ("ready", "failed")]
        if len(done) >= count:
            failed = [item for item in done if item["status"] == "failed"]
            assert not failed, f"failed downloads: {[(i['songId'], i.get('reason')) for i in failed]}"
            return time.perf_counter()
        time.sleep(0.25)
    raise TimeoutError(f"not all {count} downloads ready within {timeout} s")


def run(stack: RunningStack, songs: list[str], shim_wanted: bool) -> dict[str, Any]:
    url = stack.url
    email = f"bench-offline-{uuid.uuid4().hex[:8]}@example.com"
    status, user, _ = http("POST", f"{url}/auth/signup", {"email": email, "password": PASSWORD})
    assert status == 201, user
    assert stack.cli("users", "set-tier", email, "premium").returncode == 0
    token = stack.login(email, PASSWORD)
    status, playlist, _ = http("POST", f"{url}/playlists", {"name": "Offline bench"}, token=token)
    assert status == 201, playlist
    for song_id in songs:
        assert http("POST", f"{url}/playlists/{playlist['id']}/tracks", {"songId": song_id}, token=token)[0] == 201
    shim = Shim(stack, user["userId"]) if shim_wanted else None

    def register() -> str:
        if shim:
            return shim.register()
        body = {"name": "bench", "type": "phone", "publicKey": public_pem()}
        status, device, _ = http("POST", f"{url}/me/devices", body, token=token)
        assert status in (200, 201), device
        return str(device["deviceId"])

    def request(device_id: str) -> float:
        started = time.perf_counter()
        if shim:
            shim.download(device_id, songs)
        else:
            body = {"deviceId": device_id, "playlistId": playlist["id"], "quality": QUALITY}
            status, answer, _ = http("POST", f"{url}/downloads", body, token=token)
            assert status == 202, answer
        return started

    results: dict[str, Any] = {}
    for phase in ("cold", "warm"):
        device_id = register()
        log(f"{phase}: {len(songs)} songs to device {device_id}")
        started = request(device_id)
        finished = wait_ready(stack, user["userId"], device_id, len(songs), timeout=900)
        results[phase] = finished - started
        results[f"{phase}_device"] = device_id
    keys_table = stack.resource("dynamodb").Table(physical(stack, "dynamodb", "ContentKeysTable"))
    renditions = keys_table.scan()["Items"]
    results["renditions"] = len(renditions)
    results["encrypted_mb"] = sum(int(item.get("bytes", 0)) for item in renditions) / 1e6
    started = time.perf_counter()
    status, issued, _ = http(
        "POST", f"{url}/licenses", {"deviceId": results["cold_device"], "songIds": songs}, token=token
    )
    results["license_seconds"] = time.perf_counter() - started
    assert status == 200 and len(issued["songs"]) == len(songs), issued
    results["license_kb"] = len(issued["license"]) / 1000
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=50)
    parser.add_argument("--shim", action="store_true", help="write devices and downloads as the downloads API would")
    parser.add_argument("--catalog-limit", type=int, default=300)
    args = parser.parse_args()
    if not CATALOG_DIR.is_dir():
        print(f"the demo catalog is not at {CATALOG_DIR}", file=sys.stderr)
        return 1
    catalog = load_catalog(CATALOG_DIR).first(args.catalog_limit)
    songs = [song.id for song in catalog.songs[: args.songs]]
    with tempfile.TemporaryDirectory() as directory:
        log("starting a devstack")
        stack = start_devstack(Path(directory) / "state.json", "--catalog-limit", str(args.catalog_limit))
        try:
            results = run(stack, songs, args.shim)
        finally:
            stop_devstack(stack.process)
    n = len(songs)
    mode = "the downloads API shim (`--shim`)" if args.shim else "the downloads API"
    print(
        "\n".join(
            [
                f"`.venv/bin/python bench/downloads_prepare.py --songs {n}{' --shim' if args.shim else ''}` "
                f"(requests through {mode}; devstack with `--catalog-limit {args.catalog_limit}`):",
                "",
                "| phase | songs | POST -> all ready | songs/s |",
                "| --- | ---: | ---: | ---: |",
                f"| cold (renditions encrypted on first request) | {n} | {results['cold']:.1f} s "
                f"| {n / results['cold']:.1f} |",
                f"| warm (second device, every rendition reused) | {n} | {results['warm']:.1f} s "
                f"| {n / results['warm']:.1f} |",
                "",
                f"Renditions encrypted: {results['renditions']} ({results['encrypted_mb']:.1f} MB in the offline "
                f"bucket for {2 * n} downloads on two devices). `POST /licenses` for {n} songs: "
                f"{results['license_seconds'] * 1000:.0f} ms, a {results['license_kb']:.0f} kB license.",
            ]
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
