"""The listening loop end to end, as a listener's client and an operator see it: reported plays
become play records with verdicts, move the song's hour counter once, show in recently-played and
the taste profile, land in the event lake; a replayed batch changes nothing; a bot is flagged."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backbeat_client.reporting import ApiSender, Outbox, PlaybackReporter, PlayTracker
from backbeat_ops.dataset import Catalog, Song
from tests.conftest import RunningStack
from tests.support import http, wait_for

PASSWORD = "a-long-password"


class StepClock:
    def __init__(self) -> None:
        self.time = 0.0

    def now(self) -> float:
        return self.time


def _signup(devstack: RunningStack, prefix: str) -> tuple[str, str, str]:
    email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
    status, user, _ = http("POST", f"{devstack.url}/auth/signup", {"email": email, "password": PASSWORD})
    assert status == 201, user
    return email, user["userId"], devstack.login(email, PASSWORD)


def _listen(
    reporter: PlaybackReporter, clock: StepClock, song: Song, seconds: int, started_at: datetime, device: str = "web-1"
) -> PlayTracker:
    """A play of `song` heard for `seconds`, then skipped, on the player's clock."""
    play = PlayTracker(
        reporter,
        song.id,
        device_id=device,
        device_type="web",
        context={"type": "album", "id": song.album_id},
        clock=clock,
        duration_ms=song.duration_ms,
        started_at=started_at,
    )
    origin = clock.time
    play.start(bitrate_kbps=160)
    for second in range(1, seconds + 1):
        clock.time = origin + second
        play.advance(played_ms=second * 1000, position_ms=second * 1000, bitrate_kbps=160)
    play.skip()
    return play


def _plays(devstack: RunningStack, email: str) -> dict[str, dict[str, Any]]:
    listed = devstack.cli("plays", "list", "--user", email, "--json", "--limit", "100")
    assert listed.returncode == 0, listed.stderr
    return {play["playId"]: play for play in map(json.loads, listed.stdout.splitlines())}


def _song_hour_plays(devstack: RunningStack, song_id: str, hour: str) -> int:
    table = devstack.resource("dynamodb").Table(devstack.stack_output("CountersTableName"))
    item = table.get_item(Key={"pk": f"SONG#{song_id}", "sk": f"H#{hour}"}, ConsistentRead=True).get("Item") or {}
    return int(item.get("plays", 0))


def _taste_artists(devstack: RunningStack, user_id: str) -> dict[str, Any]:
    table = devstack.resource("dynamodb").Table(devstack.stack_output("TasteTableName"))
    return dict((table.get_item(Key={"userId": user_id}).get("Item") or {}).get("artists") or {})


def test_two_listens_one_billable_one_not_through_every_view(
    devstack: RunningStack, catalog: Catalog, tmp_path: Path
) -> None:
    email, user_id, token = _signup(devstack, "loop")
    candidates = [s for s in catalog.songs[40:200] if s.duration_ms > 60_000]
    long_song = candidates[0]
    short_song = next(s for s in candidates if s.artist_id != long_song.artist_id)
    started = datetime.now(UTC) - timedelta(minutes=2)
    hour = started.strftime("%Y-%m-%dT%H")
    counter_before = _song_hour_plays(devstack, long_song.id, hour)

    clock = StepClock()
    reporter = PlaybackReporter(
        Outbox(tmp_path / "outbox"), ApiSender(devstack.url, lambda: token), clock=clock, flush_interval_seconds=3600
    )
    heard = _listen(reporter, clock, long_song, 45, started)
    skipped = _listen(reporter, clock, short_song, 10, started + timedelta(seconds=50))
    sent = reporter.outbox.pending()
    result = reporter.flush()
    assert (result.settled, result.rejected, result.failed) == (len(sent), 0, False)

    plays = wait_for(lambda: (found := _plays(devstack, email)) and len(found) == 2 and found, timeout=90, interval=1)
    assert (plays[heard.play_id]["billable"], plays[heard.play_id]["reason"]) == (True, "billable")
    assert plays[heard.play_id]["playedMs"] == 45_000
    assert (plays[skipped.play_id]["billable"], plays[skipped.play_id]["reason"]) == (False, "short")

    assert wait_for(lambda: _song_hour_plays(devstack, long_song.id, hour) == counter_before + 1, timeout=60)

    status, history, _ = http("GET", f"{devstack.url}/me/recently-played?limit=10", token=token)
    assert status == 200, history
    assert [item["track"]["id"] for item in history["items"]] == [short_song.id, long_song.id]

    taste = wait_for(lambda: (artists := _taste_artists(devstack, user_id)) and artists, timeout=60)
    assert long_song.artist_id in taste and short_song.artist_id not in taste

    query = f"SELECT playId, billable, reason FROM plays WHERE userId = '{user_id}' ORDER BY startedAt"

    def in_lake() -> list[dict[str, Any]] | None:
        answer = devstack.cli("analytics", "sql", query, "--json")
        assert answer.returncode == 0, answer.stderr
        rows = [json.loads(line) for line in answer.stdout.splitlines() if line.strip()]
        return rows if len(rows) == 2 else None

    rows = wait_for(in_lake, timeout=180, interval=2)
    assert [(row["playId"], row["billable"]) for row in rows] == [(heard.play_id, True), (skipped.play_id, False)]

    # The same batch again: every event a duplicate, and nothing anywhere moves.
    status, again, _ = http("POST", f"{devstack.url}/events/playback", {"events": sent}, token=token)
    assert status == 202 and again["duplicates"] == len(sent), again
    assert _plays(devstack, email) == plays
    assert _song_hour_plays(devstack, long_song.id, hour) == counter_before + 1


def test_a_scripted_bot_is_flagged_and_not_billable(devstack: RunningStack, catalog: Catalog, tmp_path: Path) -> None:
    """Fourteen plays of different songs, each stopped at 31 s and started exactly 40 s apart: the
    first ones pass (nothing is known yet), then the rules trip and the rest are not paid for."""
    email, _, token = _signup(devstack, "bot")
    clock = StepClock()
    reporter = PlaybackReporter(
        Outbox(tmp_path / "outbox"), ApiSender(devstack.url, lambda: token), clock=clock, flush_interval_seconds=3600
    )
    songs = [s for s in catalog.songs[100:400] if s.duration_ms > 60_000][:14]
    first = datetime.now(UTC) - timedelta(minutes=15)
    trackers = []
    for index, song in enumerate(songs):
        clock.time = index * 40.0
        trackers.append(_listen(reporter, clock, song, 31, first + timedelta(seconds=index * 40), device="bot-1"))
    result = reporter.flush()
    assert result.rejected == 0 and not result.failed

    plays = wait_for(
        lambda: (found := _plays(devstack, email)) and len(found) == len(songs) and found, timeout=90, interval=1
    )
    flagged = [plays[t.play_id] for t in trackers if plays[t.play_id]["reason"].startswith("bot:")]
    assert len(flagged) >= 3, [plays[t.play_id]["reason"] for t in trackers]
    assert not any(play["billable"] for play in flagged)
    assert {play["reason"] for play in flagged} <= {"bot:just-past-30s", "bot:regular-gaps"}
