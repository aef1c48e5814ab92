"""A listener walks through the web player (web/, served by the session devstack at `/`) in Debian's
headless Chromium: signs up, searches with a typo (suggestions as they type, all results on Enter),
plays a song (playback advances, the bitrate shows, the start event reaches the event lake), makes a
collaborative playlist and invites a second listener, who accepts the invitation in their own browser
context (Invitations page), then sees the song arrive live, catches up after its socket drops and
reorders with the keyboard, opens Discover Weekly, and logs out.

Each step saves a screenshot under test-results/web-player/ and runs axe-core (from web/node_modules)
on the page: no serious or critical violation is allowed."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any
from urllib.parse import quote

import pytest

from backbeat_ops.dataset import Catalog, Song
from tests.conftest import RunningStack
from tests.support import ROOT, http, needs_demo_audio, wait_for
from tests.web_player import CHROMIUM, CHROMIUM_ARGS, WEB, ensure_built, needs_browser

pytestmark = [pytest.mark.e2e, needs_demo_audio(), needs_browser()]

SHOTS = ROOT / "test-results" / "web-player"
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "a-long-password"
PLAYED_SECONDS = 3.0


def _typo(word: str) -> str:
    """`word` with two letters after the first swapped: one edit that fuzzy matching forgives."""
    return word[0] + word[2] + word[1] + word[3:]


def _searchable(catalog: Catalog) -> tuple[Song, str, str]:
    """A song whose title has a long word to misspell: (song, a typed prefix, the typo query)."""
    for song in catalog.songs[20:250]:
        words = re.findall(r"[A-Za-z]{6,}", song.title)
        if words and len(song.title) <= 40 and words[0][1] != words[0][2]:
            query = song.title.replace(words[0], _typo(words[0]), 1)
            return song, song.title[:4], f"{query} {song.artist_name}"
    raise AssertionError("no song with a word of six letters in the demo catalog")


class Axe:
    """axe-core on the page as it is: the serious and critical violations, with their nodes."""

    def __init__(self) -> None:
        self.source = AXE.read_text()

    def check(self, page: Any, step: str) -> None:
        if not page.evaluate("typeof window.axe !== 'undefined'"):
            page.add_script_tag(content=self.source)
        violations = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
        serious = [
            {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in violations
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], f"{step}: {json.dumps(serious, indent=1)}"


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _token(page: Any) -> str:
    return str(page.evaluate("JSON.parse(localStorage.getItem('backbeat.session')).accessToken"))


def _user_id(stack: RunningStack, page: Any) -> str:
    status, me, _ = http("GET", f"{stack.url}/me", token=_token(page))
    assert status == 200, me
    return str(me["userId"])


def test_a_listener_walks_through_the_web_player(devstack: RunningStack, catalog: Catalog) -> None:
    from playwright.sync_api import expect, sync_playwright

    ensure_built()
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: `npm ci` in web/ installs it")
    SHOTS.mkdir(parents=True, exist_ok=True)
    axe = Axe()
    url = devstack.url + "/"
    song, prefix, typo_query = _searchable(catalog)
    listener = f"web-{uuid.uuid4().hex[:8]}@example.com"
    friend = f"web-friend-{uuid.uuid4().hex[:8]}@example.com"
    assert http("POST", f"{devstack.url}/auth/signup", {"email": friend, "password": PASSWORD})[0] == 201
    errors: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            mine = browser.new_context(viewport={"width": 1200, "height": 900})
            theirs = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)  # a phone
            page, other = mine.new_page(), theirs.new_page()
            for p in (page, other):
                p.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
            socket_messages: list[str] = []  # what the friend's phone receives on its WebSockets
            other.on(
                "websocket",
                lambda socket: socket.on(
                    "framereceived", lambda frame: socket_messages.append(frame if isinstance(frame, str) else "")
                ),
            )

            # 1. Sign up (and so log in) through the form.
            page.goto(url)
            expect(page.get_by_role("heading", name="Log in")).to_be_visible()
            axe.check(page, "login")
            page.get_by_role("button", name="Create an account").click()
            page.get_by_label("Email").fill(listener)
            page.get_by_label("Password").fill(PASSWORD)
            _shot(page, "01-sign-up")
            page.get_by_role("button", name="Sign up").click()
            expect(page.get_by_role("heading", name="For you")).to_be_visible(timeout=20_000)
            expect(page.get_by_test_id("account")).to_contain_text("(free)")
            page.get_by_role("heading", name="Recently played").wait_for()
            axe.check(page, "home")
            _shot(page, "02-home")
            user_id = _user_id(devstack, page)

            # 2. Suggestions as they type, then a search with a typo, all results on Enter.
            box = page.get_by_role("combobox", name=re.compile("Search"))
            box.press_sequentially(prefix, delay=60)
            expect(page.get_by_role("listbox", name="Suggestions")).to_be_visible(timeout=10_000)
            _shot(page, "03-suggestions")
            box.fill(typo_query)
            box.press("Enter")
            found = page.get_by_role("list", name="Songs found")
            play = found.get_by_role("button", name=f"Play {song.title} by ", exact=False).first
            expect(play).to_be_visible(timeout=15_000)
            axe.check(page, "search")
            _shot(page, "04-typo-search")

            # 3. Play it: playback advances, at a bitrate the free tier allows.
            play.click()
            page.wait_for_function(
                "s => { const a = window.backbeatPlayer.audio; return !a.paused && a.currentTime >= s; }",
                arg=PLAYED_SECONDS,
                timeout=45_000,
            )
            expect(page.get_by_test_id("now-playing")).to_have_text(song.title)
            bitrate = page.get_by_test_id("bitrate").inner_text()
            assert re.fullmatch(r"(96|128|160) kbps", bitrate), bitrate
            assert page.get_by_test_id("player-error").count() == 0
            axe.check(page, "playing")
            _shot(page, "05-playing")

            # 4. A collaborative playlist; the friend is invited (202: not a collaborator yet).
            page.get_by_role("link", name="Playlists").click()
            page.get_by_label("New playlist name").fill("Road trip")
            page.get_by_label("Collaborative", exact=True).check()
            page.get_by_role("button", name="Create", exact=True).click()
            expect(page.get_by_role("heading", name="Road trip")).to_be_visible(timeout=10_000)
            playlist_id = page.url.rsplit("/", 1)[1]
            page.get_by_label("Invite by email").fill(friend)
            page.get_by_role("button", name="Invite").click()
            expect(page.get_by_text(f"Invitation sent to {friend}.")).to_be_visible(timeout=10_000)
            axe.check(page, "playlist")
            _shot(page, "06-playlist-shared")

            # The friend logs in on their phone: the nav counts one invitation; they accept it there,
            # which opens the playlist (now theirs to edit) and follows it live.
            other.goto(url)
            other.get_by_label("Email").fill(friend)
            other.get_by_label("Password").fill(PASSWORD)
            other.get_by_role("button", name="Log in").click()
            expect(other.get_by_role("heading", name="For you")).to_be_visible(timeout=20_000)
            expect(other.get_by_test_id("invitation-count")).to_have_text("1", timeout=15_000)
            other.get_by_role("link", name="Invitations (1 pending)").click()
            invitations = other.get_by_role("list", name="Pending invitations")
            expect(invitations.get_by_text("Road trip")).to_be_visible(timeout=10_000)
            axe.check(other, "invitations")
            _shot(other, "07-invitations")
            status, listed, _ = http("GET", f"{devstack.url}/me/playlists", token=_token(other))
            assert status == 200 and playlist_id not in [p["id"] for p in listed["items"]], listed
            other.get_by_role("button", name="Accept the invitation to Road trip").click()
            expect(other.get_by_role("heading", name="Road trip")).to_be_visible(timeout=15_000)
            assert other.url.endswith(f"#/playlist/{playlist_id}"), other.url
            expect(other.get_by_test_id("connection")).to_have_text("live", timeout=15_000)
            expect(other.get_by_text("No songs yet")).to_be_visible()
            expect(other.get_by_test_id("invitation-count")).to_have_count(0)
            # The owner's page, live too, counts the new collaborator.
            expect(page.get_by_text("1 collaborator(s)")).to_be_visible(timeout=15_000)

            # 5. The listener adds the song from the search results: it appears on the friend's phone.
            page.goto(f"{url}#/search?q={quote(typo_query)}")
            expect(found).to_be_visible(timeout=10_000)
            found.get_by_role("button", name=f"Add {song.title} to a playlist").first.click()
            page.get_by_role("list", name="Your playlists").get_by_role("button", name="Road trip").click()
            expect(page.get_by_text(f"Added “{song.title}” to Road trip.")).to_be_visible(timeout=10_000)
            tracks = other.get_by_role("list", name="Songs in this playlist")
            expect(tracks.get_by_text(song.title)).to_be_visible(timeout=15_000)
            axe.check(other, "collaborator")
            _shot(other, "08-collaborator-sees-it-live")

            # 6. The friend's socket drops; two changes made meanwhile arrive by resync once it is back
            # (replayed together in one `playlist.changes` message).
            token = _token(page)
            other.evaluate("window.backbeatLive.drop()")
            second = next(s for s in catalog.songs[250:] if s.title != song.title)
            status, added, _ = http(
                "POST", f"{devstack.url}/playlists/{playlist_id}/tracks", {"songId": second.id}, token
            )
            assert status == 201, added
            status, renamed, _ = http("PATCH", f"{devstack.url}/playlists/{playlist_id}", {"name": "Road trip!"}, token)
            assert status == 200, renamed
            expect(tracks.get_by_role("listitem")).to_have_count(2, timeout=20_000)
            expect(other.get_by_role("heading", name="Road trip!")).to_be_visible(timeout=10_000)
            replayed = [json.loads(m) for m in socket_messages if '"playlist.changes"' in m]
            assert [[c["op"]["type"] for c in m["changes"]] for m in replayed] == [
                ["tracks.added", "details.updated"]
            ], socket_messages
            expect(other.get_by_test_id("connection")).to_have_text("live")
            _shot(other, "09-collaborator-resynced")

            # 7. The friend moves the first song down with the keyboard (Alt+Down on the focused song).
            first = tracks.get_by_role("listitem").first
            first.focus()
            first.press("Alt+ArrowDown")
            expect(tracks.get_by_role("listitem").nth(1)).to_have_attribute("data-song-id", song.id, timeout=15_000)
            status, saved, _ = http("GET", f"{devstack.url}/playlists/{playlist_id}", token=token)
            assert [item["songId"] for item in saved["tracks"]["items"]] == [second.id, song.id], saved

            # 8. Discover Weekly.
            page.get_by_role("link", name="Discover Weekly").click()
            expect(page.get_by_text(re.compile(r"^Week "))).to_be_visible(timeout=30_000)
            axe.check(page, "discover weekly")
            _shot(page, "10-discover-weekly")

            # 9. Log out: back at the login form, the player stopped.
            page.get_by_role("button", name="Log out").click()
            expect(page.get_by_role("heading", name="Log in")).to_be_visible()
            assert page.evaluate("window.backbeatPlayer.audio.paused")
            _shot(page, "11-logged-out")
        finally:
            browser.close()
    assert errors == [], errors

    # The play reached the event lake: its start event (and the skip that logging out reported).
    query = f"SELECT type, songId FROM events WHERE userId = '{user_id}' ORDER BY occurredAt"

    def in_lake() -> list[dict[str, Any]] | None:
        answer = devstack.cli("analytics", "sql", query, "--json")
        assert answer.returncode == 0, answer.stderr
        rows = [json.loads(line) for line in answer.stdout.splitlines() if line.strip()]
        return rows if any(row["type"] == "start" for row in rows) else None

    started = time.monotonic()
    rows = wait_for(in_lake, timeout=60, interval=2)
    assert {"type": "start", "songId": song.id} in rows, rows
    print(f"\nweb player: the start event was in the lake {time.monotonic() - started:.1f} s after logging out")
