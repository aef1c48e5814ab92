"""Helpers shared by the test suites."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backbeat_client.abr import AbandonsRequests

ROOT = Path(__file__).resolve().parent.parent
CATALOG_DIR = ROOT.parent / "shared" / "datasets" / "catalog"
AUDIO_DIR = ROOT.parent / "shared" / "datasets" / "audio"
DEMO_TRACK = AUDIO_DIR / "elf-land.ogg"  # the shortest demo track (27 s): cheap to encode again


def _ffmpeg_or_none() -> str | None:
    from backbeat.media.ffmpeg import ffmpeg_exe

    try:
        found = ffmpeg_exe(os.environ.get("FFMPEG_PATH", ""))
    except RuntimeError:
        return None
    return found if os.access(found, os.X_OK) or shutil.which(found) else None


def demo_audio_missing() -> str | None:
    """Why the demo audio cannot be played here (None when it can): the tracks in
    ../shared/datasets/audio, and an ffmpeg to encode them (the devstack's and the tests' own)."""
    if not DEMO_TRACK.is_file():
        return f"no demo audio: {DEMO_TRACK} is missing"
    if _ffmpeg_or_none() is None:
        configured = os.environ.get("FFMPEG_PATH")
        if configured:
            return f"no ffmpeg: FFMPEG_PATH={configured} is not an executable"
        return "no ffmpeg: install imageio-ffmpeg (make venv) or set FFMPEG_PATH"
    return None


def needs_demo_audio() -> Any:
    """A skip mark, with the reason shown, for tests that play or encode the demo audio."""
    import pytest

    missing = demo_audio_missing()
    return pytest.mark.skipif(missing is not None, reason=missing or "")


def demo_song_id(track: Path = DEMO_TRACK) -> str:
    """The song id a demo track has in a devstack started with demo audio (derived from its bytes,
    exactly as ingest derives it)."""
    from backbeat.media.masters import content_hash, master_key, song_id_for_key

    return song_id_for_key(master_key(content_hash(track.read_bytes())))


def fresh_copy(track: Path, directory: Path) -> Path:
    """`track` remuxed (stream copy, same audio) with a tag of its own, so its bytes, and so its song
    id, are new: ingesting it on the shared devstack encodes a song of its own, never the demo song
    made from the same track."""
    ffmpeg = _ffmpeg_or_none()
    assert ffmpeg, demo_audio_missing()
    target = directory / f"{track.stem}-{uuid.uuid4().hex[:8]}{track.suffix}"
    tag = f"backbeat_test_copy={target.stem}"
    command = [ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-y", "-i", str(track), "-map", "0", "-c", "copy"]
    subprocess.run([*command, "-metadata:s:a:0", tag, str(target)], check=True, timeout=60)
    return target


def http(
    method: str,
    url: str,
    body: Any = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, Any, dict[str, str]]:
    """A plain HTTP call: (status, parsed JSON body or text, headers)."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
            status, response_headers = response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        payload = error.read()
        status, response_headers = error.code, dict(error.headers)
    try:
        parsed: Any = json.loads(payload) if payload else None
    except ValueError:
        parsed = payload.decode("utf-8", "replace")
    return status, parsed, response_headers


def wait_for(predicate: Any, timeout: float = 20, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def plain_get(url: str) -> tuple[int, bytes, dict[str, str]]:
    """A plain GET, as a player or browser fetches signed media: no Authorization, no cookies."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def api_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
    claims: dict[str, str] | None = None,
    route_key: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as the gateway would build it."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
            "requestId": "req",
            "routeKey": route_key or f"{method} {path}",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    if claims:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": []}}
    return event


@dataclass
class Spawned:
    """A process in its own session (so its whole group can be signalled), with its output collected
    line by line and an event set when a line containing `marker` appears (or the output ends)."""

    process: subprocess.Popen[str]
    marker: str
    lines: list[str] = field(default_factory=list)
    seen: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout: float) -> bool:
        """True when the marker appeared within `timeout` seconds."""
        self.seen.wait(timeout)
        return any(self.marker in line for line in self.lines)

    def tail(self, count: int = 40) -> str:
        return "".join(self.lines[-count:])


def spawn(args: list[str], marker: str, cwd: Path = ROOT) -> Spawned:
    process = subprocess.Popen(
        args,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    spawned = Spawned(process, marker)

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            spawned.lines.append(line)
            if marker in line:
                spawned.seen.set()
        spawned.seen.set()

    threading.Thread(target=pump, daemon=True).start()
    return spawned


def abandon_verdict(
    controller: AbandonsRequests, *, rung: int, kbps: float, seconds: float, buffer: float, segment: float
) -> int | None:
    """A download of a `segment`-second segment at `rung` arriving at `kbps`, reported to the controller's
    abandon rule every 0.5 s for `seconds` while the buffer drains from `buffer`; the first verdict."""
    controller.start_download()
    total = int(rung * 1000 / 8 * segment)
    for step in range(1, int(seconds / 0.5) + 1):
        elapsed = step * 0.5
        verdict = controller.abandon(
            bitrate_kbps=rung,
            bytes_received=min(int(kbps * 1000 / 8 * elapsed), total - 1),
            total_bytes=total,
            elapsed_seconds=elapsed,
            buffer_seconds=buffer - elapsed,
            segment_seconds=segment,
        )
        if verdict is not None:
            return verdict
    return None
