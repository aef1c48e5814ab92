"""Royalties end to end, as listeners and an operator see them: after some listening, the month's
run (provisional: the month is still open) states every cent of each tier's pool, one statement per
holder whose lines add up to its amount; a split file that does not sum to 100 % is refused whole
with the row named, and the rerun after it changes nothing; a final run of an open month is refused.
And the paying run of a closed month (the demo's plays copied into it): every cent of each tier's
pool paid once, and a rerun changes nothing."""

from __future__ import annotations

import csv
import io
import json
import time
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


def _scan(table: Any) -> list[dict[str, Any]]:
    page = table.scan()
    items = list(page["Items"])
    while "LastEvaluatedKey" in page:
        page = table.scan(ExclusiveStartKey=page["LastEvaluatedKey"])
        items.extend(page["Items"])
    return items


def _statements(devstack: RunningStack, month: str) -> dict[str, dict[str, Any]]:
    table = devstack.resource("dynamodb").Table(devstack.stack_output("RoyaltiesTableName"))
    items = table.scan()["Items"]
    return {item["holderId"]: item for item in items if item["sk"] == f"STATEMENT#{month}#pro-rata"}


def test_a_month_of_listening_is_stated_to_the_cent_and_a_bad_split_file_changes_nothing(
    devstack: RunningStack, catalog: Catalog, demo_tokens: dict[str, str], tmp_path: Path
) -> None:
    songs = [song for song in catalog.songs[200:260] if song.duration_ms > 60_000][:3]
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if now - month_start < timedelta(minutes=3):  # every play must start in the month that is stated
        time.sleep((month_start + timedelta(minutes=3) - now).total_seconds())
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


def test_a_closed_month_is_paid_to_the_cent_once(
    devstack: RunningStack, catalog: Catalog, demo_tokens: dict[str, str], tmp_path: Path
) -> None:
    """The paying run as a newcomer shows it on a demo stack: the stack's plays copied into the
    latest closed month (`backbeat royalties demo-month`, as the demo listening does after its
    replay), that month's revenue set, `backbeat royalties run MONTH` (not provisional) pays every
    cent of each tier's pool once, and running it again changes nothing."""
    songs = [song for song in catalog.songs[260:300] if song.duration_ms > 60_000][:2]
    started = datetime.now(UTC) - timedelta(minutes=2)
    play_ids = []
    for tier, song in zip(("premium", "free"), songs, strict=True):
        clock = StepClock()
        token = demo_tokens[tier]
        reporter = PlaybackReporter(
            Outbox(tmp_path / f"outbox-{tier}"), ApiSender(devstack.url, lambda t=token: t), clock=clock
        )
        play_ids.append(_listen(reporter, clock, song, started))
        assert reporter.flush().settled > 0
    table = devstack.resource("dynamodb").Table(devstack.stack_output("PlaysTableName"))

    def judged() -> bool:
        records = [item for item in _scan(table) if item.get("playId") in play_ids]
        return len(records) == len(play_ids) and all(item.get("billable") for item in records)

    assert wait_for(judged, timeout=120, interval=1)

    seeded = devstack.cli("royalties", "demo-month")
    assert seeded.returncode == 0, seeded.stderr
    landing = json.loads(seeded.stdout)
    month, landed = landing["month"], landing["plays"]
    assert landed >= len(play_ids)
    first = datetime.strptime(f"{month}-01", "%Y-%m-%d")
    after = (first + timedelta(days=32)).strftime("%Y-%m-01")
    query = f"SELECT count(DISTINCT playId) AS plays FROM plays WHERE dt >= '{month}-01' AND dt < '{after}'"

    def in_the_lake() -> bool:
        answer = devstack.cli("analytics", "sql", query, "--json")
        assert answer.returncode == 0, answer.stderr
        return bool(json.loads(answer.stdout.splitlines()[0])["plays"] >= landed)

    assert wait_for(in_the_lake, timeout=180, interval=2)

    revenue = devstack.cli("royalties", "revenue", "set", month, "--premium", "2000.00", "--ads", "100.01")
    assert revenue.returncode == 0, revenue.stderr
    paid = devstack.cli("royalties", "run", month, "--json", timeout=300)
    assert paid.returncode == 0, paid.stderr
    summary = json.loads(paid.stdout)
    tiers = {tier["tier"]: tier for tier in summary["tiers"]}
    assert (tiers["premium"]["pool"], tiers["free"]["pool"]) == ("1400.00", "70.01")
    for tier in tiers.values():
        assert tier["billablePlays"] >= 1 and tier["totalPaid"] == tier["pool"], tier
    royalties = devstack.resource("dynamodb").Table(devstack.stack_output("RoyaltiesTableName"))
    payments = [item for item in _scan(royalties) if item["sk"] == f"PAYMENT#{month}"]
    assert len(payments) == summary["payments"] > 0
    for name, tier in tiers.items():
        assert sum(Decimal(item["byTier"].get(name, "0")) for item in payments) == Decimal(tier["pool"])

    again = devstack.cli("royalties", "run", month, "--json", timeout=300)
    assert again.returncode == 0, again.stderr
    rerun = json.loads(again.stdout)
    assert rerun["unchanged"] is True and rerun["payments"] == 0 and rerun["digest"] == summary["digest"]
    assert [item for item in _scan(royalties) if item["sk"] == f"PAYMENT#{month}"] == payments
