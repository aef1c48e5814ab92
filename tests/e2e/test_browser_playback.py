"""A real browser plays a song: hls.js (from npm, pinned in tests/browser/) in Debian's headless Chromium
plays the master playlist of a StreamManifest for a demo track from the session devstack, over MSE, from
a page on another origin (a loopback server started here), exactly as a web player would.

It passes when playback advances at least 5 s with no hls.js error at all (fatal or not), hls.js saw
exactly the rungs the manifest grants (a free listener asking for very_high gets 96/128/160), and every
media fetch was a plain cross-origin GET answered 200; a rung above the cap, fetched by hand from the
page, is a 403 the page can read.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

import pytest

from tests.conftest import RunningStack
from tests.support import ROOT, demo_song_id, http, needs_demo_audio
from tests.web_player import CHROMIUM, CHROMIUM_ARGS, needs_browser

PAGE_DIR = ROOT / "tests" / "browser"
HLS_DIST = PAGE_DIR / "node_modules" / "hls.js" / "dist"
PLAYED_SECONDS = 5.0
PLAY_TIMEOUT_S = 40.0


pytestmark = [pytest.mark.e2e, needs_demo_audio(), needs_browser()]


@pytest.fixture(scope="module")
def hls_dist() -> Path:
    """hls.js as pinned in tests/browser/package-lock.json, installed with `npm ci` when missing."""
    if not (HLS_DIST / "hls.min.js").is_file():
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=PAGE_DIR,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, f"npm ci failed in {PAGE_DIR}:\n{done.stdout}\n{done.stderr}"
    return HLS_DIST


class _PageHandler(BaseHTTPRequestHandler):
    """index.html and hls.js's dist files, nothing else."""

    dist: Path = HLS_DIST

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._send(PAGE_DIR / "index.html", "text/html; charset=utf-8")
        elif (found := re.fullmatch(r"/hls\.js/([A-Za-z0-9_.-]+\.js(?:\.map)?)", path)) and (
            self.dist / found[1]
        ).is_file():
            self._send(self.dist / found[1], "text/javascript")
        else:
            self.send_error(404)

    def _send(self, file: Path, content_type: str) -> None:
        body = file.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_url(hls_dist: Path) -> Iterator[str]:
    """The player page on its own loopback origin, so media fetches to the gateway are cross-origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PageHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def stack(devstack: RunningStack) -> RunningStack:
    return devstack


@pytest.fixture(scope="module")
def free_manifest(stack: RunningStack) -> dict[str, Any]:
    """A new free listener's very_high manifest for a demo track (encoded by the ingest path)."""
    song_id = demo_song_id()
    email, password = f"browser-{time.time_ns()}@stream.test", "a-long-password"
    status, body, _ = http("POST", f"{stack.url}/auth/signup", {"email": email, "password": password})
    assert status == 201, body
    status, manifest, _ = http(
        "POST", f"{stack.url}/stream/{song_id}", {"quality": "very_high"}, token=stack.login(email, password)
    )
    assert status == 200, manifest
    return dict(manifest)


@dataclass
class MediaFetch:
    method: str
    url: str
    status: int | None  # None: the request failed without a response
    authorization: bool
    failure: str | None = None


def _rung_kbps(url: str) -> int:
    found = re.search(r"/master_(\d+)k\.m3u8$", url)
    assert found, f"not a rung playlist: {url}"
    return int(found[1])


def test_hls_js_plays_the_master_playlist_in_chromium(
    stack: RunningStack, free_manifest: dict[str, Any], page_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import Request, Response, sync_playwright
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    master = free_manifest["masterPlaylistUrl"]
    granted = [r["bitrateKbps"] for r in free_manifest["renditions"]]
    assert granted == [96, 128, 160], free_manifest["renditions"]
    media_prefix = f"{stack.url}/media/"
    fetches: list[MediaFetch] = []
    refused: list[str] = []  # anything the page asked for, from any origin, that was not answered 2xx

    def on_response(response: Response) -> None:
        if response.status >= 300:
            refused.append(f"{response.status} {response.request.method} {response.url}")
        if response.url.startswith(media_prefix):
            request = response.request
            fetches.append(
                MediaFetch(request.method, response.url, response.status, "authorization" in request.headers)
            )

    def on_failed(request: Request) -> None:
        if request.url.startswith(media_prefix):
            fetches.append(MediaFetch(request.method, request.url, None, False, request.failure))

    started = time.perf_counter()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = context.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
            page.on("response", on_response)
            page.on("requestfailed", on_failed)
            page.goto(f"{page_url}?src={quote(master, safe='')}")
            try:
                page.wait_for_function(
                    """([seconds]) => {
                        const s = window.playback();
                        return s.mediaError !== null || s.errors.some((e) => e.fatal)
                            || (s.startedAt !== null && s.currentTime - s.startedAt >= seconds);
                    }""",
                    arg=[PLAYED_SECONDS],
                    timeout=PLAY_TIMEOUT_S * 1000,
                    polling=100,
                )
            except PlaywrightTimeout as timed_out:  # the state below says more than the time-out does
                print(f"\nwaiting for playback: {timed_out}", file=sys.stderr)
            state: dict[str, Any] = page.evaluate("window.playback()")
            # The rung above a free listener's cap, asked for by hand from the page: a refusal the
            # player can read (403, so it knows to fetch a new manifest), not an opaque network error.
            logged = console[:]  # what playback logged (the refusal below logs its 403 too)
            page.remove_listener("response", on_response)
            above_cap = urljoin(master, "master_320k.m3u8")
            refusal = page.evaluate("url => fetch(url).then((r) => r.status, (e) => String(e))", above_cap)
        finally:
            context.close()
    elapsed = time.perf_counter() - started
    report = f"state: {state}\nconsole: {logged}\nmedia fetches: {fetches}\nrefused: {refused}"
    print(f"\nbrowser playback: {elapsed:.1f} s (hls.js {state['hlsVersion']})", file=sys.stderr)

    assert state["hlsSupported"] and state["aacInMp4"], report
    # No error at all, except a non-fatal stall report: hls.js raises bufferStalledError (and recovers)
    # when a busy machine starves the page for a moment, which is not a fault of what was served.
    stalls = {"bufferStalledError", "bufferNudgeOnStall", "bufferSeekOverHole"}
    serious = [e for e in state["errors"] if e.get("fatal") or e.get("details") not in stalls]
    assert serious == [] and state["mediaError"] is None, report
    assert not [line for line in logged if line.startswith(("error", "pageerror"))], report
    assert state["startedAt"] is not None, report
    assert state["currentTime"] - state["startedAt"] >= PLAYED_SECONDS, report

    # hls.js saw exactly the rungs the manifest grants, all AAC-LC, and played from them only.
    assert [_rung_kbps(level["url"]) for level in state["levels"]] == granted, report
    assert {level["audioCodec"] for level in state["levels"]} == {"mp4a.40.2"}, report
    assert state["fragments"] and {f["level"] for f in state["fragments"]} <= set(range(len(granted))), report

    # Every media fetch was a plain cross-origin GET (no Authorization header: the token is in the path)
    # answered 200; a CORS refusal or a preflight the gateway does not answer would fail the request.
    assert fetches, report
    assert all(f.method == "GET" and f.status == 200 and not f.authorization for f in fetches), report
    fetched = {f.url.rsplit("/", 1)[1] for f in fetches}
    assert master.rsplit("/", 1)[1] in fetched, report
    assert any(re.fullmatch(r"master_\d+k_init(_\d+)?\.mp4", name) for name in fetched), report  # named after its rung
    assert any(name.endswith(".m4s") for name in fetched), report
    assert refused == [], report
    assert refusal == 403, f"{above_cap}: {refusal}"
