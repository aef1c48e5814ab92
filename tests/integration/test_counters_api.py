"""Counters through the devstack: play records written to the plays table reach the counters
consumer through the table's stream (the devstack's poller, which applies no filter), and the API
shows them: the artist's monthly listeners and plays in the last hour, and the trending chart."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support import http, wait_for


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _plays_table(devstack: Any) -> Any:
    names = devstack.client("dynamodb").list_tables()["TableNames"]
    (name,) = [name for name in names if "PlaysTable" in name]
    return devstack.resource("dynamodb").Table(name)


def test_billable_plays_move_the_artist_page_and_the_chart(devstack: Any, catalog: Any) -> None:
    email = f"counters-{uuid.uuid4().hex[:8]}@example.com"
    assert http("POST", f"{devstack.url}/auth/signup", {"email": email, "password": "a-long-password"})[0] == 201
    token = devstack.login(email, "a-long-password")
    song = catalog.songs[7]

    def artist() -> dict[str, Any]:
        status, body, _ = http("GET", f"{devstack.url}/artists/{song.artist_id}", token=token)
        assert status == 200, body
        return dict(body)

    before = artist()
    listeners = [f"counters-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    plays = _plays_table(devstack)
    now = datetime.now(UTC)
    for listener in listeners:
        play_id = str(uuid.uuid4())
        plays.put_item(
            Item={
                "userId": listener,
                "sk": f"PLAY#{play_id}",
                "playId": play_id,
                "songId": song.id,
                "artistId": song.artist_id,
                "genres": [],
                "tier": "free",
                "country": "unknown",
                "deviceId": "web-1",
                "deviceType": "web",
                "contextType": "album",
                "startedAt": _iso(now - timedelta(seconds=45)),
                "lastEventAt": _iso(now),
                "receivedAt": _iso(now),
                "playedMs": 45_000,
                "durationMs": 200_000,
                "bitrateKbps": 160,
                "ended": None,
                "billable": True,
                "reason": "billable",
                "events": 4,
                "version": 4,
                "expiresAt": int(now.timestamp()) + 86_400,
            }
        )
        plays.put_item(Item={"userId": listener, "sk": "STATE#not-a-play", "seen": 1})  # ignored by the counters

    after = wait_for(lambda: (page := artist())["monthlyListeners"] >= before["monthlyListeners"] + 3 and page)
    assert after["monthlyListeners"] == before["monthlyListeners"] + 3
    assert after["playsLastHour"] >= 3

    status, chart, _ = http("GET", f"{devstack.url}/charts/trending?limit=100", token=token)
    assert status == 200 and chart["limit"] == 100
    assert all({"rank", "song", "score", "playsLast24h", "listeningNow"} <= set(item) for item in chart["items"])
    status, body, _ = http("GET", f"{devstack.url}/charts/trending?limit=0", token=token)
    assert status == 422 and body["error"]["field"] == "limit"
    assert http("GET", f"{devstack.url}/charts/trending")[0] == 401
