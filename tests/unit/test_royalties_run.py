"""The monthly run over a small hand-made lake (written through the devstack's Firehose) with the
template's royalties table and bucket: payments sum to each tier's pool to the cent, statements
add up to the payments, a rerun writes nothing new, changed figures need an explicit restatement
(which writes adjustments beside the payments), and the user-centric model follows each listener."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest

from backbeat.errors import Conflict, InvalidInput
from backbeat.royalties.compaction import LakeDays
from backbeat.royalties.demo import seed_demo_royalties
from backbeat.royalties.monthly import Terms, run_month
from backbeat.royalties.revenue import set_revenue
from backbeat.royalties.store import RoyaltiesStore
from backbeat_ops.royalties_cli import compare_models, import_splits
from devstack.firehose import FirehoseHub, patch_moto_firehose, set_active_hub
from devstack.resources import Deployment
from tests.unit.conftest import load_function
from tests.unit.test_lake_firehose import play

MONTH = "2026-10"
SONG_A, SONG_B = "A" * 22, "B" * 22
NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


@pytest.fixture
def hub(aws: Deployment) -> Iterator[FirehoseHub]:
    patch_moto_firehose()
    firehose = FirehoseHub(aws.delivery_streams, boto3.Session(region_name="us-east-1"))
    set_active_hub(firehose)
    yield firehose
    set_active_hub(None)


@pytest.fixture
def store(aws: Deployment) -> RoyaltiesStore:
    return RoyaltiesStore(
        boto3.client("dynamodb", region_name="us-east-1"),
        boto3.client("s3", region_name="us-east-1"),
        aws.outputs["RoyaltiesTableName"],
        aws.outputs["RoyaltiesBucketName"],
    )


@pytest.fixture
def engine(aws: Deployment) -> Iterator[Any]:
    from backbeat.analytics.engines import DuckDBEngine

    lake = DuckDBEngine(
        boto3.client("s3", region_name="us-east-1"),
        boto3.client("glue", region_name="us-east-1"),
        aws.outputs["LakeDatabaseName"],
    )
    yield lake
    lake.close()


@pytest.fixture
def days(aws: Deployment) -> LakeDays:
    return LakeDays(boto3.client("s3", region_name="us-east-1"), aws.outputs["LakeBucketName"])


def deliver(hub: FirehoseHub, deployment: Deployment, plays: list[dict[str, Any]]) -> None:
    hub.put(deployment.ref("PlaysDelivery"), [json.dumps(document).encode() for document in plays])
    hub.flush_all()


def october(hub: FirehoseHub, deployment: Deployment) -> None:
    """Premium: u1 plays A three times, u2 plays B once; free: u3 plays A twice; plus a short play
    (not billable), a play of November, and a duplicate delivery of one play."""
    day = "2026-10-1{}T10:00:00.000Z"
    plays = [
        play("p1", 2, day.format(1), userId="u1", songId=SONG_A, artistId="art-a", tier="premium"),
        play("p2", 2, day.format(2), userId="u1", songId=SONG_A, artistId="art-a", tier="premium"),
        play("p3", 2, day.format(3), userId="u1", songId=SONG_A, artistId="art-a", tier="premium"),
        play("p4", 2, day.format(4), userId="u2", songId=SONG_B, artistId="art-b", tier="premium"),
        play("f1", 2, day.format(5), userId="u3", songId=SONG_A, artistId="art-a", tier="free"),
        play("f2", 2, day.format(6), userId="u3", songId=SONG_A, artistId="art-a", tier="free"),
        play("s1", 2, day.format(7), userId="u3", songId=SONG_B, artistId="art-b", tier="free", billable=False),
        play("n1", 2, "2026-11-02T10:00:00.000Z", userId="u3", songId=SONG_B, artistId="art-b", tier="free"),
    ]
    deliver(hub, deployment, plays)
    deliver(hub, deployment, plays[:1])


def statement_rows(store: RoyaltiesStore, key: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(store.get_object(key).decode())))


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


def payments(store: RoyaltiesStore, holders: list[str]) -> dict[str, dict[str, Any]]:
    """Each holder's payment of the month (not its adjustments)."""
    found = {holder: store.get(f"HOLDER#{holder}", f"PAYMENT#{MONTH}") for holder in holders}
    return {holder: item for holder, item in found.items() if item is not None}


def test_a_month_is_paid_to_the_cent_once_and_only_restated_explicitly(
    aws: Deployment, hub: FirehoseHub, store: RoyaltiesStore, engine: Any, days: LakeDays, context: Any
) -> None:
    october(hub, aws)
    seed_demo_royalties(store)
    set_revenue(store, MONTH, "USD", premium="1000.00", ads="100.01")
    function = load_function("royalties_month", aws)
    prepared = function.lambda_handler({"step": "prepare", "input": {"month": MONTH}, "startedAt": None}, context)
    assert prepared == {**prepared, "month": MONTH, "model": "pro-rata", "closesAt": "2026-11-04T00:00:00Z"}
    summary = function.lambda_handler({"step": "run", "run": prepared}, context)
    tiers = {tier["tier"]: tier for tier in summary["tiers"]}
    assert tiers["premium"] == {
        "tier": "premium",
        "revenue": "1000.00",
        "pool": "700.00",
        "billablePlays": 4,
        "perStreamRate": "175.0000000000",
        "totalPaid": "700.00",
        "statements": tiers["premium"]["statements"],
    }
    assert (tiers["free"]["pool"], tiers["free"]["billablePlays"], tiers["free"]["totalPaid"]) == ("70.01", 2, "70.01")

    index = [i for i in store.dynamodb.scan(TableName=store.table)["Items"] if i["sk"]["S"].startswith("STATEMENT#")]
    holders = sorted(item["holderId"]["S"] for item in index)
    assert "art-a" in holders and len(holders) == summary["payments"]
    paid = payments(store, holders)
    for tier, pool in (("premium", 70000), ("free", 7001)):
        assert sum(cents(item["byTier"].get(tier, "0")) for item in paid.values()) == pool
    first_bytes = {}
    for holder in holders:
        item = store.get(f"HOLDER#{holder}", f"STATEMENT#{MONTH}#pro-rata")
        assert item is not None and item["provisional"] is False and item["bucket"] == store.bucket
        rows = statement_rows(store, item["key"])
        assert sum(cents(row["amount"]) for row in rows[:-1]) == cents(rows[-1]["amount"]) == cents(item["amount"])
        assert cents(paid[holder]["amount"]) == cents(item["amount"])
        first_bytes[holder] = store.get_object(item["key"])
    run_item = store.get(f"RUN#{MONTH}#pro-rata", "TIER#premium")
    assert run_item is not None and run_item["perStreamRate"] == "175.0000000000" and run_item["billablePlays"] == 4

    again = function.lambda_handler({"step": "run", "run": prepared}, context)
    assert again["unchanged"] is True and again["payments"] == 0 and again["digest"] == summary["digest"]
    assert payments(store, holders) == paid
    for holder in holders:
        item = store.get(f"HOLDER#{holder}", f"STATEMENT#{MONTH}#pro-rata")
        assert item is not None and store.get_object(item["key"]) == first_bytes[holder]

    # a late play arrives: the paid month is not overwritten; a restatement writes adjustments
    deliver(hub, aws, [play("late", 2, "2026-10-30T23:59:00.000Z", userId="u2", songId=SONG_B, artistId="art-b")])
    with pytest.raises(Conflict, match="only an explicit restatement"):
        run_month(engine, store, MONTH, "pro-rata", Terms(), days, now=NOW)
    restated = run_month(engine, store, MONTH, "pro-rata", Terms(), days, restate=True, now=NOW)
    assert restated["restatement"] == 1 and restated["adjustments"] > 0
    assert payments(store, holders) == paid  # the payments themselves are untouched
    adjustments = [
        item for holder in holders for item in store.query(f"HOLDER#{holder}", f"PAYMENT#{MONTH}#ADJUSTMENT#")
    ]
    assert sum(cents(item["amount"]) for item in adjustments) == 0  # the same pools, shared differently
    item = store.get("HOLDER#art-b", f"STATEMENT#{MONTH}#pro-rata")
    assert item is not None and "/restatement-1/" in item["key"]
    assert store.get_object(f"statements/{MONTH}/pro-rata/art-b.csv") == first_bytes["art-b"]  # kept


def test_user_centric_follows_each_premium_listener_and_provisional_runs_pay_nothing(
    aws: Deployment, hub: FirehoseHub, store: RoyaltiesStore, engine: Any, days: LakeDays
) -> None:
    october(hub, aws)
    set_revenue(store, MONTH, "USD", premium="1000.00", ads="0")
    pro_rata = run_month(engine, store, MONTH, "pro-rata", Terms(publishing_percent=0), days, provisional=True, now=NOW)
    user_centric = run_month(
        engine, store, MONTH, "user-centric", Terms(publishing_percent=0), days, provisional=True, now=NOW
    )
    # no splits registered: each artist holds its songs whole; pro-rata A gets 3/4 of the premium
    # pool (3 of 4 plays), user-centric 1/2 (u1's money; u2's goes to B)
    for result, expected in ((pro_rata, ("525.00", "175.00")), (user_centric, ("350.00", "350.00"))):
        assert result["payments"] == 0 and result["provisional"] is True
        amounts = tuple(
            store.get(f"HOLDER#{artist}", f"STATEMENT#{MONTH}#{result['model']}")["amount"]  # type: ignore[index]
            for artist in ("art-a", "art-b")
        )
        assert amounts == expected
    assert store.query("HOLDER#art-a", f"PAYMENT#{MONTH}") == []
    report = compare_models(engine, store, MONTH, Terms(publishing_percent=0), days)
    assert {row["holderId"]: (row["proRata"], row["userCentric"], row["difference"]) for row in report.rows} == {
        "art-a": ("525.00", "350.00", "-175.00"),
        "art-b": ("175.00", "350.00", "175.00"),
    }
    assert store.get_object(f"reports/{MONTH}/models.csv") == report.csv
    item = store.get("HOLDER#art-a", f"STATEMENT#{MONTH}#pro-rata")
    assert item is not None and item["provisional"] is True and "/provisional/" in item["key"]
    with pytest.raises(Conflict, match="still open"):
        run_month(engine, store, "2026-12", "pro-rata", Terms(), days, now=NOW)


def test_a_month_without_revenue_is_refused_naming_the_command(
    store: RoyaltiesStore, engine: Any, days: LakeDays
) -> None:
    with pytest.raises(InvalidInput, match="backbeat royalties revenue set 2026-10"):
        run_month(engine, store, MONTH, "pro-rata", Terms(), days, now=NOW)


def test_a_splits_import_is_all_or_nothing_against_the_catalog(aws: Deployment, store: RoyaltiesStore) -> None:
    catalog = aws.outputs["CatalogTableName"]
    for key in (f"SONG#{SONG_A}", "ARTIST#art-a"):
        store.dynamodb.put_item(TableName=catalog, Item={"pk": {"S": key}, "sk": {"S": "META"}})
    good = "songId,right,holder,role,share\n"
    good += f"{SONG_A},recording,art-a,artist,100\n{SONG_A},publishing,art-a,songwriter,100\n"
    assert import_splits(store, catalog, good)["songs"] == 1
    before = store.load_register().to_bytes()
    bad = good + f"{SONG_B},recording,art-a,artist,100\n{SONG_B},publishing,art-a,songwriter,100\n"
    with pytest.raises(InvalidInput, match=f"row 4: unknown song {SONG_B}"):
        import_splits(store, catalog, bad)
    with pytest.raises(InvalidInput, match="row 3: unknown holder someone"):
        import_splits(store, catalog, good.replace("art-a,songwriter", "someone,songwriter"))
    assert store.load_register().to_bytes() == before


def test_the_royalty_counts_are_the_plays_views_counts(
    aws: Deployment, hub: FirehoseHub, engine: Any, days: LakeDays
) -> None:
    """The royalty SQL skips the view's window (see royalties.sql); on a lake with a record
    delivered twice and a play whose early version was not billable, the month's sum over its
    compacted days counts what the view does."""
    from backbeat.analytics.queries import with_views
    from backbeat.royalties.compaction import ensure_month
    from backbeat.royalties.counting import billable_by_song

    october(hub, aws)
    deliver(hub, aws, [play("p9", 1, "2026-10-20T10:00:00.000Z", songId=SONG_B, artistId="art-b", billable=False)])
    deliver(hub, aws, [play("p9", 2, "2026-10-20T10:00:00.000Z", songId=SONG_B, artistId="art-b")])
    assert len(ensure_month(engine, days, MONTH)) == 31  # none compacted yet
    through_view = engine.query(
        with_views(
            "SELECT tier, songId, artistId, count(*) FROM plays WHERE billable AND dt >= '2026-10-01' "
            "AND dt < '2026-11-01' GROUP BY tier, songId, artistId"
        )
    ).rows
    assert sorted(billable_by_song(engine, MONTH)) == sorted((t, s, a, int(n)) for t, s, a, n in through_view)
    assert sum(row[3] for row in billable_by_song(engine, MONTH)) == 7
