"""Artist analytics end to end, as an artist's account, a stranger and an operator see them: a
listener plays one of the artist's songs and adds it to a playlist, the day's aggregates are run, an
operator links the demo account to the artist and the account reads its analytics (the song among
its top songs, the playlist addition) and its statements; a listener who is not linked gets 403 on
both routes; a user made an operator reads them."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from backbeat.analytics.engines import DuckDBEngine
from backbeat.analytics.queries import with_views
from backbeat_client.reporting import ApiSender, Outbox, PlaybackReporter
from backbeat_ops.dataset import Catalog
from devstack.seed import DEMO_PASSWORD
from tests.conftest import RunningStack
from tests.e2e.test_listening_loop import StepClock, _listen
from tests.support import http, wait_for

PASSWORD = "a-long-password"
ARTIST_ACCOUNT = "premium@demo.backbeat.dev"


def _signup(devstack: RunningStack, prefix: str) -> tuple[str, str]:
    email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
    status, user, _ = http("POST", f"{devstack.url}/auth/signup", {"email": email, "password": PASSWORD})
    assert status == 201, user
    return email, devstack.login(email, PASSWORD)


def _cli_json(devstack: RunningStack, *args: str) -> dict[str, Any]:
    answer = devstack.cli(*args)
    assert answer.returncode == 0, answer.stderr
    return dict(json.loads(answer.stdout.splitlines()[-1]))


def test_the_linked_account_reads_its_figures_and_a_stranger_gets_403(
    devstack: RunningStack, catalog: Catalog, tmp_path: Path
) -> None:
    song = next(s for s in catalog.songs[20:300] if s.duration_ms > 60_000)
    artist = song.artist_id
    _, listener_token = _signup(devstack, "artist-fan")
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if now - midnight < timedelta(minutes=3):  # the listening and the playlist edit must share one day
        time.sleep((midnight + timedelta(minutes=3) - now).total_seconds())
    started = datetime.now(UTC) - timedelta(minutes=3)
    day = started.date().isoformat()

    clock = StepClock()
    reporter = PlaybackReporter(
        Outbox(tmp_path / "outbox"), ApiSender(devstack.url, lambda: listener_token), clock=clock
    )
    _listen(reporter, clock, song, 40, started)
    result = reporter.flush()
    assert (result.rejected, result.failed) == (0, False)

    # The lake read in-process, with one file cache across polls (a CLI call per poll would copy the
    # whole lake again each time).
    lake = DuckDBEngine(devstack.client("s3"), devstack.client("glue"), devstack.stack_output("LakeDatabaseName"))
    query = with_views(f"SELECT count(*) AS plays FROM plays WHERE songId = '{song.id}' AND billable AND dt = '{day}'")

    def billable_in_lake() -> int | None:
        plays = int(lake.query(query).rows[0][0])
        return plays if plays >= 1 else None

    try:
        lake_plays = wait_for(billable_in_lake, timeout=180, interval=1)
    finally:
        lake.close()
    aggregated = devstack.cli("analytics", "aggregate", "--day", day, timeout=600)
    assert aggregated.returncode == 0, aggregated.stderr

    status, playlist, _ = http("POST", f"{devstack.url}/playlists", {"name": "For the artist"}, token=listener_token)
    assert status == 201, playlist
    added = http("POST", f"{devstack.url}/playlists/{playlist['id']}/tracks", {"songId": song.id}, token=listener_token)
    assert added[0] == 201, added[1]

    linked = _cli_json(devstack, "artists", "link", ARTIST_ACCOUNT, artist)
    assert linked["artistId"] == artist
    try:
        account_token = devstack.login(ARTIST_ACCOUNT, DEMO_PASSWORD)
        status, figures, _ = http(
            "GET", f"{devstack.url}/artists/{artist}/analytics?from={day}&to={day}", token=account_token
        )
        assert status == 200, figures
        assert figures["name"] == song.artist_name and [d["day"] for d in figures["daily"]] == [day]
        assert figures["totals"]["billablePlays"] >= lake_plays
        top = {item["songId"]: item for item in figures["topSongs"]}
        assert song.id in top and top[song.id]["billablePlays"] >= lake_plays and top[song.id]["title"] == song.title
        assert any(tier["tier"] == "free" and tier["billablePlays"] >= 1 for tier in figures["tiers"])
        assert figures["totals"]["playlistAdditions"] >= 1 and figures["daily"][0]["playlistAdditions"] >= 1
        status, statements, _ = http("GET", f"{devstack.url}/artists/{artist}/statements", token=account_token)
        assert status == 200 and statements["artistId"] == artist, statements

        for route in ("analytics", "statements"):
            status, refused, _ = http("GET", f"{devstack.url}/artists/{artist}/{route}", token=listener_token)
            assert (status, refused["error"]["code"]) == (403, "Forbidden"), route

        operator_email, _ = _signup(devstack, "operator")
        assert _cli_json(devstack, "users", "set-role", operator_email, "operator")["role"] == "operator"
        operator_token = devstack.login(operator_email, PASSWORD)  # the role travels in the next token
        status, seen, _ = http(
            "GET", f"{devstack.url}/artists/{artist}/analytics?from={day}&to={day}", token=operator_token
        )
        assert status == 200 and seen["totals"] == figures["totals"], seen
    finally:
        assert devstack.cli("artists", "unlink", ARTIST_ACCOUNT, artist).returncode == 0
