"""Listeners for locust: the realistic mix that `bench/load.py` steps up against a devstack.

    locust -f bench/load/locustfile.py --host URL   (with BACKBEAT_LOAD_FIXTURE=fixture.json)

The fixture (written by `bench/load.py`) holds signed-in accounts, the catalog songs to play, search
queries from the catalog and Last.fm tags, and the collaborative playlists that live listeners follow
over the WebSocket API. Each locust user is one listener with an account of its own (accounts are
handed out in turn), so per-user rate limits see ordinary listeners, not one account flooding.

The mix is `WEIGHTS`, in one place: each listener runs one task a second on average
(`constant_throughput(TASKS_PER_SECOND)`), picked by weight; a task is the requests an app makes for
one user action. Decision 47 says where the weights come from.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from locust import HttpUser, constant_throughput, task

# Per listener task: weight (share of actions) and the requests it makes.
WEIGHTS = {
    "play_song": 20,  # POST /stream/{id}, the start rung's media playlist, init + first segment
    "next_segment": 30,  # one more 10 s segment of the song playing (a player fetches ~21 per song)
    "report_events": 15,  # POST /events/playback, one batch of the current play's events
    "search": 8,  # GET /search with a catalog title, artist or Last.fm tag
    "suggest": 8,  # GET /search/suggest as the query is typed (3 prefixes)
    "recommendations": 5,  # GET /me/recommendations (the home screen)
    "view_playlist": 4,  # GET /playlists/{id} of a collaborative playlist with live listeners
    "edit_playlist": 3,  # POST or DELETE a track on that playlist (fanned out to its listeners)
}
TASKS_PER_SECOND = 1.0
EVENTS_PER_BATCH = 2  # the client SDK flushes every 10 s and reports every 15 s of listening: one or two events
PLAYLIST_CAP = 60  # editors remove tracks past this size, so the playlist stays a realistic length

_FIXTURE: dict[str, Any] = json.loads(open(os.environ["BACKBEAT_LOAD_FIXTURE"]).read())  # noqa: SIM115
_ACCOUNTS = itertools.count()
_SEGMENT = re.compile(r"^[^#\s].*$", re.MULTILINE)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Listener(HttpUser):
    wait_time = constant_throughput(TASKS_PER_SECOND)

    def on_start(self) -> None:
        accounts = _FIXTURE["accounts"]
        index = next(_ACCOUNTS)
        account = accounts[index % len(accounts)]
        self.headers = {"Authorization": f"Bearer {account['token']}"}
        self.playlist = account["playlist"]
        self.rng = random.Random(index)
        self.device = f"load-{uuid.uuid4().hex[:8]}"
        self.segments: list[str] = []
        self.play: dict[str, Any] | None = None

    # ------------------------------------------------------------------ streaming

    @task(WEIGHTS["play_song"])
    def play_song(self) -> None:
        song = self.rng.choice(_FIXTURE["songs"])
        with self.client.post(
            f"/stream/{song['id']}",
            json={"quality": "very_high"},
            headers=self.headers,
            name="POST /stream/{song_id}",
            catch_response=True,
        ) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")
                return
            manifest = answer.json()
        rungs = manifest["renditions"]
        start = next((r for r in rungs if r["bitrateKbps"] == manifest["startBitrateKbps"]), rungs[0])
        playlist = self.client.get(start["playlistUrl"], name="GET /media/{rung}.m3u8")
        base = start["playlistUrl"].rsplit("/", 1)[0]
        self.segments = [f"{base}/{line}" for line in _SEGMENT.findall(playlist.text) if line.endswith(".m4s")]
        for url in manifest["prebuffer"]:
            self.client.get(url, name="GET /media/{init}.mp4" if url.endswith(".mp4") else "GET /media/{segment}.m4s")
        self.segments = self.segments[1:]
        self._end_play()
        self.play = {"id": str(uuid.uuid4()), "song": song, "playedMs": 0, "started": datetime.now(UTC), "sent": 0}

    @task(WEIGHTS["next_segment"])
    def next_segment(self) -> None:
        if not self.segments:
            self.play_song()
            return
        self.client.get(self.segments.pop(0), name="GET /media/{segment}.m4s")

    # ------------------------------------------------------------------ playback events

    def _event(self, kind: str, played_ms: int) -> dict[str, Any]:
        assert self.play is not None
        return {
            "eventId": str(uuid.uuid4()),
            "playId": self.play["id"],
            "type": kind,
            "songId": self.play["song"]["id"],
            "positionMs": played_ms,
            "playedMs": played_ms,
            "bitrateKbps": 160,
            "deviceId": self.device,
            "deviceType": "desktop",
            "context": {"type": "album"},
            "occurredAt": _iso(self.play["started"] + timedelta(milliseconds=played_ms)),
        }

    def _send(self, events: list[dict[str, Any]]) -> None:
        with self.client.post(
            "/events/playback", json={"events": events}, headers=self.headers, catch_response=True
        ) as answer:
            if answer.status_code != 202:
                answer.failure(f"{answer.status_code}: {answer.text[:200]}")

    @task(WEIGHTS["report_events"])
    def report_events(self) -> None:
        if self.play is None:
            self.play_song()
            return
        duration = self.play["song"]["durationMs"]
        events = [] if self.play["sent"] else [self._event("start", 0)]
        while len(events) < EVENTS_PER_BATCH and self.play["playedMs"] + 15_000 < duration:
            self.play["playedMs"] += 15_000
            events.append(self._event("progress", self.play["playedMs"]))
        if self.play["playedMs"] + 15_000 >= duration:
            events.append(self._event("end", duration))
            self.play = None
        else:
            self.play["sent"] += len(events)
        self._send(events)

    def _end_play(self) -> None:
        """A song started before the last one ended: the player reports the skip."""
        if self.play is not None and self.play["sent"]:
            self._send([self._event("skip", self.play["playedMs"])])
        self.play = None

    # ------------------------------------------------------------------ search, recommendations

    @task(WEIGHTS["search"])
    def search(self) -> None:
        query = self.rng.choice(_FIXTURE["queries"])
        self.client.get("/search", params={"q": query}, headers=self.headers, name="GET /search")

    @task(WEIGHTS["suggest"])
    def suggest(self) -> None:
        title = self.rng.choice(_FIXTURE["titles"])
        for length in (2, 4, 6):
            if length > len(title):
                break
            self.client.get(
                "/search/suggest", params={"q": title[:length]}, headers=self.headers, name="GET /search/suggest"
            )

    @task(WEIGHTS["recommendations"])
    def recommendations(self) -> None:
        self.client.get("/me/recommendations", headers=self.headers, name="GET /me/recommendations")

    # ------------------------------------------------------------------ collaborative playlists

    @task(WEIGHTS["view_playlist"])
    def view_playlist(self) -> None:
        self._playlist()

    def _playlist(self) -> dict[str, Any] | None:
        answer = self.client.get(
            f"/playlists/{self.playlist}?limit=100", headers=self.headers, name="GET /playlists/{playlist_id}"
        )
        return answer.json() if answer.status_code == 200 else None

    @task(WEIGHTS["edit_playlist"])
    def edit_playlist(self) -> None:
        view = self._playlist()
        if view is None:
            return
        items = view["tracks"]["items"]
        if len(items) >= PLAYLIST_CAP:
            item = self.rng.choice(items)["itemId"]
            with self.client.delete(
                f"/playlists/{self.playlist}/tracks/{item}",
                headers=self.headers,
                name="DELETE /playlists/{playlist_id}/tracks/{item_id}",
                catch_response=True,
            ) as answer:
                if answer.status_code == 404:  # another editor removed it first: the edit is moot, not failed
                    answer.success()
            return
        song = self.rng.choice(_FIXTURE["songs"])["id"]
        self.client.post(
            f"/playlists/{self.playlist}/tracks",
            json={"songId": song, "position": 0},
            headers=self.headers,
            name="POST /playlists/{playlist_id}/tracks",
        )
