"""The web player in headless Chromium (Debian's, through Playwright), against a devstack:

    .venv/bin/python bench/web_player.py [--url http://127.0.0.1:3000] [--songs 20] [--keys 20] [--edits 30]

Without --url it starts a devstack of its own (300 catalog songs, the demo audio from
.devstack/demo-media, no demo listening) in a temporary folder. It builds web/ when the build is stale.

- click to `playing`: from the click on a song's play button (in the page's clock) to the audio
  element's `playing` event: the manifest request, hls.js parsing the master and rung playlists, the
  init and first segment fetched and decoded; p50 over N different songs (hls.js already loaded);
- keystroke to suggestions shown: from the keydown of the last letter of a prefix to the suggestion
  list answering that prefix in the DOM (request, engine, render), for N prefixes not typed before;
- JS shipped: gzipped size of every built chunk but hls.js's, against the budget in web/package.json;
- collaboration lag: two browser contexts, owner and collaborator (invited, and the invitation
  accepted, before anything is measured), on one playlist of 12 songs; the owner drags a song to
  another place (HTML5 drag and drop) and the lag is from the drop (owner's clock) to the
  collaborator's list showing the new order (its clock; one machine, one clock), p50/p99 over N edits.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backbeat_ops.dataset import load_catalog
from bench.foundation import percentile
from tests.conftest import start_devstack, stop_devstack
from tests.support import CATALOG_DIR, ROOT, http
from tests.web_player import CHROMIUM, CHROMIUM_ARGS, budget_bytes, ensure_built, shipped_js

PASSWORD = "a-long-password"
NOW = "performance.timeOrigin + performance.now()"


def _signup(url: str, prefix: str) -> str:
    email = f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"
    status, body, _ = http("POST", f"{url}/auth/signup", {"email": email, "password": PASSWORD})
    assert status == 201, body
    return email


def _log_in(page: Any, url: str, email: str) -> None:
    page.goto(url + "/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="For you").wait_for(timeout=30_000)


def _invite_and_accept(url: str, playlist_id: str, owner_token: str, email: str) -> None:
    """The owner invites `email` (202, decision 42) and its listener accepts through the API: only then
    are they a collaborator."""
    status, body, _ = http("POST", f"{url}/playlists/{playlist_id}/collaborators", {"email": email}, token=owner_token)
    assert status == 202, body
    token = str(http("POST", f"{url}/auth/login", {"email": email, "password": PASSWORD})[1]["accessToken"])
    status, invitations, _ = http("GET", f"{url}/me/invitations", token=token)
    assert status == 200, invitations
    invitation = next(i for i in invitations["items"] if i["playlistId"] == playlist_id)
    status, body, _ = http("POST", f"{url}/me/invitations/{invitation['invitationId']}/accept", token=token)
    assert status == 200, body


def click_to_playing(page: Any, url: str, songs: list[Any]) -> list[float]:
    """Each song from an album page, clicked, timed to the audio element's `playing`."""
    samples = []
    for song in songs:
        page.goto(f"{url}/#/album/{song.album_id}")
        button = page.get_by_role("button", name=f"Play {song.title} by ", exact=False).first
        button.wait_for(timeout=20_000)
        page.evaluate(
            """() => {
                const a = window.backbeatPlayer.audio;
                window.benchPlaying = null;
                window.benchClick = null;
                document.addEventListener('click', () => { window.benchClick = performance.now(); },
                    {capture: true, once: true});
                a.addEventListener('playing', () => { window.benchPlaying = performance.now(); }, {once: true});
            }"""
        )
        button.click()
        page.wait_for_function("() => window.benchPlaying !== null", timeout=45_000)
        samples.append(page.evaluate("() => window.benchPlaying - window.benchClick"))
    page.get_by_role("button", name="Pause").click()
    return samples


def keystroke_to_suggestions(page: Any, prefixes: list[str]) -> list[float]:
    box = page.get_by_role("combobox", name="Search songs, artists, albums and playlists")
    samples = []
    for prefix in prefixes:
        box.fill(prefix[:-1])
        page.wait_for_function(
            "p => document.getElementById('search-suggestions').dataset.for === p", arg=prefix[:-1], timeout=20_000
        )
        page.evaluate(
            """p => {
                window.benchKey = null; window.benchShown = null;
                const box = document.getElementById('search-input');
                box.addEventListener('keydown', () => { window.benchKey = performance.now(); }, {once: true});
                const list = document.getElementById('search-suggestions');
                const seen = new MutationObserver(() => {
                    if (list.dataset.for === p) { window.benchShown = performance.now(); seen.disconnect(); }
                });
                seen.observe(list, {attributes: true, childList: true, subtree: true});
            }""",
            prefix,
        )
        box.press(prefix[-1])
        page.wait_for_function("() => window.benchShown !== null", timeout=20_000)
        samples.append(page.evaluate("() => window.benchShown - window.benchKey"))
    return samples


def collaboration_lag(browser: Any, url: str, song_ids: list[str], edits: int) -> list[float]:
    owner_email, friend_email = _signup(url, "bench-owner"), _signup(url, "bench-friend")
    token = str(http("POST", f"{url}/auth/login", {"email": owner_email, "password": PASSWORD})[1]["accessToken"])
    status, playlist, _ = http("POST", f"{url}/playlists", {"name": "Bench", "isCollaborative": True}, token=token)
    assert status == 201, playlist
    pid = playlist["id"]
    assert http("POST", f"{url}/playlists/{pid}/tracks", {"songIds": song_ids}, token=token)[0] == 201
    _invite_and_accept(url, pid, token, friend_email)
    pages = []
    for email in (owner_email, friend_email):
        page = browser.new_context(viewport={"width": 1000, "height": 1400}).new_page()
        _log_in(page, url, email)
        page.goto(f"{url}/#/playlist/{pid}")
        page.get_by_test_id("connection").get_by_text("live", exact=True).wait_for(timeout=20_000)
        page.wait_for_function(f"() => document.querySelectorAll('ol.tracks > li').length === {len(song_ids)}")
        pages.append(page)
    owner, friend = pages
    order = "() => [...document.querySelectorAll('ol.tracks > li')].map((li) => li.id).join(',')"
    friend.evaluate(
        """order => {
            window.benchOrders = [];
            const list = document.querySelector('ol.tracks');
            new MutationObserver(() => window.benchOrders.push([performance.timeOrigin + performance.now(),
                [...list.children].map((li) => li.id).join(',')]))
                .observe(list, {childList: true, subtree: true, attributes: true});
        }""",
        order,
    )
    owner.evaluate(
        f"""() => document.querySelector('ol.tracks').addEventListener('drop',
            () => {{ window.benchDrop = {NOW}; }}, {{capture: true}})"""
    )
    rng = random.Random(7)
    lags = []
    for _ in range(edits):
        before = owner.evaluate(order)
        source, target = rng.sample(range(len(song_ids)), 2)
        rows = owner.locator("ol.tracks > li")
        rows.nth(source).drag_to(rows.nth(target))
        owner.wait_for_function(f"b => ({order})() !== b", arg=before, timeout=20_000)
        expected = owner.evaluate(order)
        dropped = owner.evaluate("() => window.benchDrop")
        friend.wait_for_function(f"e => ({order})() === e", arg=expected, timeout=20_000)
        shown = friend.evaluate("e => window.benchOrders.find(([, o]) => o === e)[0]", expected)
        friend.evaluate("() => { window.benchOrders = []; }")
        lags.append(shown - dropped)
    return lags


def figures(samples: list[float]) -> str:
    return f"p50 {percentile(samples, 50):.0f} ms, p99 {percentile(samples, 99):.0f} ms (n={len(samples)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running devstack (with demo audio); default: start one")
    parser.add_argument("--songs", type=int, default=20)
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--edits", type=int, default=30)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    ensure_built()
    catalog = load_catalog(CATALOG_DIR).first(300)
    rng = random.Random(11)
    songs = rng.sample([s for s in catalog.songs if s.duration_ms > 60_000], args.songs)
    words = sorted({w.lower() for s in catalog.songs for w in s.title.split() if w.isalpha() and len(w) >= 5})
    prefixes = [w[:4] for w in rng.sample(words, min(len(words), args.keys * 3))]
    prefixes = list(dict.fromkeys(prefixes))[: args.keys]
    stack = None
    directory = tempfile.TemporaryDirectory()
    url = args.url
    if not url:
        extra = ["--catalog-limit", "300", "--audio-cache", str(ROOT / ".devstack" / "demo-media")]
        stack = start_devstack(Path(directory.name) / "state.json", *extra, "--no-demo-listening")
        url = stack.url
    url = url.rstrip("/")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
                _log_in(page, url, _signup(url, "bench-listener"))
                page.wait_for_timeout(2_000)  # hls.js loads in the background after login
                play = click_to_playing(page, url, songs)
                keys = keystroke_to_suggestions(page, prefixes)
                lags = collaboration_lag(browser, url, [s.id for s in catalog.songs[:12]], args.edits)
            finally:
                browser.close()
    finally:
        if stack is not None:
            stop_devstack(stack.process)
        directory.cleanup()
    chunks = shipped_js()
    print("| measure | figure |")
    print("|---|---|")
    print(f"| click on a song to `playing` (hls.js, Web Audio gain) | {figures(play)} |")
    print(f"| keystroke to suggestions shown | {figures(keys)} |")
    shipped, budget = sum(chunks.values()) / 1000, budget_bytes() / 1000
    print(f"| JS shipped, gzipped, hls.js excluded | {shipped:.1f} kB of a {budget:.0f} kB budget |")
    print(f"| drag and drop to the collaborator's list updated | {figures(lags)} |")


if __name__ == "__main__":
    main()
