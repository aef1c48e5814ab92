"""Royalties end to end, as listeners and an operator see them: after some listening, the month's
run (provisional: the month is still open) states every cent of each tier's pool, one statement per
holder whose lines add up to its amount; a split file that does not sum to 100 % is refused whole
with the row named, and the rerun after it changes nothing; a final run of an open month is refused."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from backbeat_client.reporting import ApiSender, Outbox, PlaybackReporter, PlayTracker
from backbeat_ops.dataset import Catalog, Song
from tests.conftest import RunningStack
from tests.support import wait_for


class StepClock:
    def __init__(self) -> None:
        self.time = 0.0

    def now(self) -> float:
        return self.time


def _listen(reporter: PlaybackReporter, clock: StepClock, song: Song, started_at: datetime) -> str:
    """`song` heard for 35 s (billable), then skipped."""
    play = PlayTracker(
        reporter,
        song.id,
        device_id="web-royalties",
        device_type="web",
        context={"type": "album", "id": song.album_id},
        clock=clock,
        duration_ms=song.duration_ms,
        started_at=started_at,
    )
    origin = clock.time
    play.start(bitrate_kbps=160)
    for second in range(5, 36, 5):
        clock.time = origin + second
        play.advance(played_ms=second * 1000, position_ms=second * 1000, bitrate_kbps=160)
    play.skip()
    return play.play_id


def _run(devstack: RunningStack, month: str, *flags: str) -> dict[str, Any]:
    answer = devstack.cli("royalties", "run", month, "--provisional", "--json", *flags, timeout=300)
    assert answer.returncode == 0, answer.stderr
    return dict(json.loads(answer.stdout))


def _statements(devstack: RunningStack, month: str) -> dict[str, dict[str, Any]]:
    table = devstack.resource("dynamodb").Table(devstack.stack_output("RoyaltiesTableName"))
    items = table.scan()["Items"]
    return {item["holderId"]: item for item in items if item["sk"] == f"STATEMENT#{month}#pro-rata"}


def test_a_month_of_listening_is_stated_to_the_cent_and_a_bad_split_file_changes_nothing(
    devstack: RunningStack, catalog: Catalog, demo_tokens: dict[str, str], tmp_path: Path
) -> None:
    songs = [song for song in catalog.songs[200:260] if song.duration_ms > 60_000][:3]
    started = datetime.now(UTC) - timedelta(minutes=3)
    month = started.strftime("%Y-%m")
    play_ids = []
    for index, (tier, picked) in enumerate((("premium", songs[:2]), ("free", songs[2:]))):
        clock = StepClock()
        token = demo_tokens[tier]
        reporter = PlaybackReporter(
            Outbox(tmp_path / f"outbox-{tier}"), ApiSender(devstack.url, lambda t=token: t), clock=clock
        )
        for offset, song in enumerate(picked):
            play_ids.append(_listen(reporter, clock, song, started + timedelta(seconds=60 * (2 * index + offset))))
        assert reporter.flush().settled > 0

    ids = ", ".join(f"'{play_id}'" for play_id in play_ids)
    query = f"SELECT count(*) AS billable FROM plays WHERE playId IN ({ids}) AND billable"

    def landed() -> bool:
        answer = devstack.cli("analytics", "sql", query, "--json")
        assert answer.returncode == 0, answer.stderr
        return bool(json.loads(answer.stdout.splitlines()[0])["billable"] == len(play_ids))

    assert wait_for(landed, timeout=180, interval=2)

    revenue = devstack.cli("royalties", "revenue", "set", month, "--premium", "1000.00", "--ads", "33.33")
    assert revenue.returncode == 0, revenue.stderr
    first = _run(devstack, month)
    tiers = {tier["tier"]: tier for tier in first["tiers"]}
    assert (tiers["premium"]["pool"], tiers["free"]["pool"]) == ("700.00", "23.33")
    for tier in tiers.values():
        assert tier["billablePlays"] >= 1 and tier["totalPaid"] == tier["pool"], tier
    statements = _statements(devstack, month)
    pools = sum(Decimal(tier["pool"]) for tier in tiers.values())
    assert sum(Decimal(item["amount"]) for item in statements.values()) == pools
    s3 = devstack.client("s3")
    artist = songs[0].artist_id
    body = s3.get_object(Bucket=statements[artist]["bucket"], Key=statements[artist]["key"])["Body"].read()
    *lines, total = list(csv.DictReader(io.StringIO(body.decode())))
    assert any(line["songId"] == songs[0].id for line in lines)
    amount = Decimal(statements[artist]["amount"])
    assert sum(Decimal(line["amount"]) for line in lines) == Decimal(total["amount"]) == amount

    # a split file whose second song's recording shares sum to 99 %: refused whole, the row named
    bad = tmp_path / "splits.csv"
    bad.write_text(
        "songId,right,holder,role,share\n"
        f"{songs[0].id},recording,{songs[0].artist_id},artist,100\n"
        f"{songs[0].id},publishing,{songs[0].artist_id},songwriter,100\n"
        f"{songs[1].id},recording,{songs[1].artist_id},artist,99\n"
        f"{songs[1].id},publishing,{songs[1].artist_id},songwriter,100\n"
    )
    refused = devstack.cli("royalties", "import-splits", str(bad))
    assert refused.returncode == 1 and "row 4" in refused.stderr and "99" in refused.stderr, refused.stderr

    # nothing of it was taken (the first song keeps its synthetic splits): the rerun is identical
    again = _run(devstack, month)
    assert again["digest"] == first["digest"] and again["tiers"] == first["tiers"]
    assert s3.get_object(Bucket=statements[artist]["bucket"], Key=statements[artist]["key"])["Body"].read() == body

    final = devstack.cli("royalties", "run", month)
    assert final.returncode == 1 and "still open" in final.stderr and "--provisional" in final.stderr
