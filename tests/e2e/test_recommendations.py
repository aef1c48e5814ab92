"""Recommendations end to end, as a listener's client sees them: a brand-new account gets a
non-empty, trending-based home feed marked as fallback; a listener's feed and Discover Weekly leave
out what they played, keep at most 2 songs per artist, and Discover Weekly is a real playlist of 30
songs; bad and unknown seeds are refused; the Monday job runs through the devstack's Step Functions.

Where the promoted model is loaded (a stack that trained one), the answers must be personal (not a
fallback) and an artist seed must bring songs of other artists (its neighbours)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from backbeat_ops.dataset import Catalog
from tests.conftest import RunningStack
from tests.support import http, wait_for

PASSWORD = "a-long-password"


def _signup(devstack: RunningStack) -> str:
    email = f"recs-{uuid.uuid4().hex[:10]}@example.com"
    status, body, _ = http("POST", f"{devstack.url}/auth/signup", {"email": email, "password": PASSWORD})
    assert status == 201, body
    return devstack.login(email, PASSWORD)


def _get(devstack: RunningStack, path: str, token: str) -> tuple[int, Any]:
    status, body, _ = http("GET", f"{devstack.url}{path}", token=token)
    return status, body


def _listen(devstack: RunningStack, token: str, song_ids: list[str]) -> None:
    """A 40-second play of each song (start, then end), as the player reports it."""
    started = datetime.now(UTC) - timedelta(minutes=10)
    events = []
    for n, song_id in enumerate(song_ids):
        play_id = str(uuid.uuid4())
        at = started + timedelta(minutes=n)
        for kind, played in (("start", 0), ("end", 40_000)):
            events.append(
                {
                    "eventId": str(uuid.uuid4()),
                    "playId": play_id,
                    "type": kind,
                    "songId": song_id,
                    "positionMs": played,
                    "playedMs": played,
                    "bitrateKbps": 160,
                    "deviceId": "e2e-phone",
                    "deviceType": "mobile",
                    "context": {"type": "recommendations", "variant": "promoted:none"},
                    "occurredAt": (at + timedelta(milliseconds=played)).isoformat().replace("+00:00", "Z"),
                }
            )
    status, body, _ = http("POST", f"{devstack.url}/events/playback", {"events": events}, token=token)
    assert status == 202, body

    def all_recorded() -> bool:
        _, history = _get(devstack, "/me/recently-played?limit=50", token)
        return {item["track"]["id"] for item in history["items"] if item["track"]} >= set(song_ids)

    wait_for(all_recorded, timeout=60, interval=0.5)


def _artists_within_rule(items: list[dict[str, Any]]) -> bool:
    artists = [item["artist"]["id"] for item in items]
    return all(
        max(window.count(artist) for artist in window) <= 2
        for window in (artists[start : start + 20] for start in range(max(1, len(artists) - 19)))
    )


def test_feed_and_discover_weekly_for_a_new_and_a_listening_account(devstack: RunningStack, catalog: Catalog) -> None:
    newcomer = _signup(devstack)
    status, feed = _get(devstack, "/me/recommendations?limit=20&deviceType=mobile&tz=Europe/Paris", newcomer)
    assert status == 200 and feed["items"], feed
    assert feed["fallback"] is True and feed["fallbackReason"], feed
    assert _artists_within_rule([item["song"] for item in feed["items"]])

    listener = _signup(devstack)
    played = [item["song"]["id"] for item in feed["items"][:3]]
    _listen(devstack, listener, played)

    status, feed = _get(devstack, "/me/recommendations?limit=30&localTime=2026-12-03T07:30:00%2B01:00", listener)
    assert status == 200 and len(feed["items"]) >= 10, feed
    songs = [item["song"] for item in feed["items"]]
    assert not {song["id"] for song in songs} & set(played) and _artists_within_rule(songs)
    modelled = feed["model"]["version"] is not None
    if modelled:
        assert feed["fallback"] is False, feed

    status, weekly = _get(devstack, "/me/discover-weekly", listener)
    assert status == 200, weekly
    week_songs = weekly["songs"]
    assert len(week_songs) == 30 and not {song["id"] for song in week_songs} & set(played)
    artists = [song["artist"]["id"] for song in week_songs]
    assert max(artists.count(artist) for artist in artists) <= 2
    status, playlist = _get(devstack, f"/playlists/{weekly['playlist']['id']}", listener)
    assert status == 200 and [t["songId"] for t in playlist["tracks"]["items"]] == [s["id"] for s in week_songs]
    status, mine = _get(devstack, "/me/playlists", listener)
    assert weekly["playlist"]["id"] in {p["id"] for p in mine["items"]}

    artist = catalog.songs[0].artist_id
    status, seeded = _get(devstack, f"/recommendations?seed=artist:{artist}&limit=10", listener)
    assert status == 200 and seeded["items"] and seeded["seeds"] == [{"type": "artist", "id": artist}], seeded
    if modelled:
        assert {item["song"]["artist"]["id"] for item in seeded["items"]} - {artist}, "no neighbour of the seed"
    assert _get(devstack, "/recommendations?seed=artist:nope", listener)[0] == 422
    assert _get(devstack, "/recommendations?seed=artist:" + "Z" * 22, listener)[0] == 404

    run = devstack.cli("discover-weekly", "run", "--timeout", "300", timeout=330)
    assert run.returncode == 0, run.stderr
    assert '"SUCCEEDED"' in run.stdout, run.stdout
