"""The lake's SQL over a small hand-made lake (written through the devstack's Firehose, so with the
Glue schema): the deduplicating views count a record delivered twice once and keep a play's latest
version, and the daily aggregates give the right figures, the same on a re-run, with that day's
files replaced rather than added to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import boto3
import pytest

from backbeat.analytics import queries
from backbeat.analytics.aggregates import day_to_aggregate, write_daily_aggregates
from backbeat.analytics.engines import DuckDBEngine, QueryFailed
from backbeat.errors import InvalidInput
from devstack.firehose import FirehoseHub, patch_moto_firehose, set_active_hub
from devstack.resources import Deployment
from tests.support import ROOT
from tests.unit.conftest import load_function
from tests.unit.test_lake_firehose import play

DAY = date(2026, 12, 2)


@pytest.fixture
def hub(aws: Deployment) -> Iterator[FirehoseHub]:
    patch_moto_firehose()
    firehose = FirehoseHub(aws.delivery_streams, boto3.Session(region_name="us-east-1"))
    set_active_hub(firehose)
    yield firehose
    set_active_hub(None)


@pytest.fixture
def engine(aws: Deployment) -> Iterator[DuckDBEngine]:
    lake = DuckDBEngine(
        boto3.client("s3", region_name="us-east-1"),
        boto3.client("glue", region_name="us-east-1"),
        aws.outputs["LakeDatabaseName"],
    )
    yield lake
    lake.close()


def deliver(hub: FirehoseHub, deployment: Deployment, stream: str, documents: list[dict[str, Any]]) -> None:
    """One Firehose delivery (one Parquet file per day) of `documents`."""
    hub.put(deployment.ref(stream), [json.dumps(document).encode() for document in documents])
    hub.flush_all()


def event(event_id: str, received_at: str) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "playId": "p1",
        "type": "progress",
        "songId": "s" * 22,
        "positionMs": 15_000,
        "playedMs": 15_000,
        "bitrateKbps": 160,
        "deviceId": "phone-1",
        "deviceType": "mobile",
        "context": {"type": "album", "id": "album-1"},
        "occurredAt": received_at,
        "userId": "user-1",
        "tier": "free",
        "country": "SE",
        "receivedAt": received_at,
        "artistId": "artist-1",
        "durationMs": 200_000,
        "genres": [],
    }


def scalar(engine: DuckDBEngine, sql: str) -> Any:
    return engine.query(queries.with_views(sql)).rows[0][0]


def test_an_event_delivered_twice_is_counted_once_and_the_raw_table_keeps_both(
    aws: Deployment, hub: FirehoseHub, engine: DuckDBEngine
) -> None:
    batch = [event("e1", "2026-12-02T10:00:00Z"), event("e2", "2026-12-02T10:00:15Z")]
    deliver(hub, aws, "EventsDelivery", batch)
    deliver(hub, aws, "EventsDelivery", batch[:1])  # Firehose retried a delivery: e1 lands again
    assert scalar(engine, "SELECT count(*) FROM events_raw") == 3
    assert scalar(engine, "SELECT count(*) FROM events") == 2
    assert scalar(engine, "SELECT count(DISTINCT eventId) FROM events WHERE dt = '2026-12-02'") == 2
    row = engine.query(queries.with_views("SELECT contextType, contextId FROM events WHERE eventId = 'e1'"))
    assert row.columns == ["contextType", "contextId"] and row.rows == [("album", "album-1")]


def test_the_plays_view_keeps_the_latest_version_of_each_play(
    aws: Deployment, hub: FirehoseHub, engine: DuckDBEngine
) -> None:
    started = "2026-12-02T10:00:00.000Z"
    deliver(hub, aws, "PlaysDelivery", [play("p1", 1, started, billable=False, reason="open", ended=None)])
    deliver(hub, aws, "PlaysDelivery", [play("p1", 3, started), play("p1", 2, started, billable=False)])
    deliver(hub, aws, "PlaysDelivery", [play("p1", 2, started, billable=False)])  # a version delivered twice
    assert scalar(engine, "SELECT count(*) FROM plays_raw") == 4
    result = engine.query(queries.with_views("SELECT playId, version, billable, reason FROM plays"))
    assert result.rows == [("p1", 3, True, "billable")]


def test_a_query_with_its_own_ctes_reads_the_views_too(aws: Deployment, hub: FirehoseHub, engine: DuckDBEngine) -> None:
    deliver(hub, aws, "PlaysDelivery", [play("p1", 1, "2026-12-02T10:00:00.000Z")])
    sql = "WITH billable AS (SELECT * FROM plays WHERE billable) SELECT count(*) FROM billable"
    assert scalar(engine, sql) == 1


def test_a_bad_query_is_a_query_error_naming_the_problem(engine: DuckDBEngine) -> None:
    with pytest.raises(QueryFailed, match="no_such_column"):
        engine.query(queries.with_views("SELECT no_such_column FROM plays"))


def hand_made_day(hub: FirehoseHub, deployment: Deployment) -> None:
    """Song A (artist X): u1 billable completed, u2 billable skipped, u1 again short skipped;
    song B (artist X): u3 billable completed on a speaker; a play of the next day; one play whose
    early version came twice and whose latest made it billable."""
    day = "2026-12-02T"
    song_a, song_b = "A" * 22, "B" * 22
    plays = [
        play("a1", 2, day + "08:00:00.000Z", userId="u1", songId=song_a, artistId="X", country="SE", tier="premium"),
        play(
            "a2",
            2,
            day + "09:00:00.000Z",
            userId="u2",
            songId=song_a,
            artistId="X",
            country="SE",
            tier="free",
            ended="skipped",
            playedMs=40_000,
        ),
        play(
            "a3",
            2,
            day + "10:00:00.000Z",
            userId="u1",
            songId=song_a,
            artistId="X",
            country="SE",
            tier="premium",
            ended="skipped",
            billable=False,
            reason="short",
            playedMs=9_000,
        ),
        play(
            "b1",
            2,
            day + "11:00:00.000Z",
            userId="u3",
            songId=song_b,
            artistId="X",
            country="NO",
            tier="free",
            deviceType="speaker",
        ),
        play("next", 1, "2026-12-03T00:10:00.000Z", userId="u4", songId=song_a, artistId="X"),
    ]
    early = play(
        "a1",
        1,
        day + "08:00:00.000Z",
        userId="u1",
        songId=song_a,
        artistId="X",
        country="SE",
        tier="premium",
        billable=False,
        reason="open",
        ended=None,
        playedMs=15_000,
    )
    deliver(hub, deployment, "PlaysDelivery", [early, *plays])
    deliver(hub, deployment, "PlaysDelivery", [early])


def song_totals(engine: DuckDBEngine) -> dict[str, tuple[Any, ...]]:
    result = engine.query(
        "SELECT songid, plays, billableplays, listeners, billablelisteners, completed, skipped, skiprate, "
        "completionrate FROM daily_song WHERE dt = '2026-12-02' AND country = 'all' ORDER BY songid"
    )
    return {row[0]: tuple(row[1:]) for row in result.rows}


def test_the_daily_aggregates_give_the_right_figures_and_the_same_on_a_rerun(
    aws: Deployment, hub: FirehoseHub, engine: DuckDBEngine
) -> None:
    hand_made_day(hub, aws)
    s3 = boto3.client("s3", region_name="us-east-1")
    bucket = aws.outputs["LakeBucketName"]
    write_daily_aggregates(engine, s3, bucket, DAY)
    columns = engine.query("SELECT * FROM daily_song LIMIT 0").columns
    assert columns == [name for name in columns if name == name.lower()]  # as Athena's UNLOAD names them
    first = song_totals(engine)
    a, b = first["A" * 22], first["B" * 22]
    # plays, billable, listeners, billable listeners, completed, skipped, skip rate, completion rate
    assert a == (3, 2, 2, 2, 1, 2, pytest.approx(2 / 3), pytest.approx(1 / 3))
    assert b == (1, 1, 1, 1, 1, 0, 0.0, 1.0)
    breakdown = engine.query(
        "SELECT country, devicetype, tier, plays, billableplays, listeners FROM daily_song "
        f"WHERE dt = '2026-12-02' AND songid = '{'A' * 22}' AND country <> 'all' ORDER BY tier"
    ).rows
    assert breakdown == [("SE", "mobile", "free", 1, 1, 1), ("SE", "mobile", "premium", 2, 1, 1)]
    artist = engine.query(
        "SELECT plays, billableplays, listeners, songs FROM daily_artist WHERE dt = '2026-12-02' AND country = 'all'"
    ).rows
    assert artist == [(4, 3, 3, 2)]

    write_daily_aggregates(engine, s3, bucket, DAY)  # a re-run replaces the day
    assert song_totals(engine) == first
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="aggregates/daily_song/dt=2026-12-02/")["Contents"]
    assert len(listed) == 1


def test_the_state_machine_step_aggregates_the_day_it_is_given_or_yesterday(
    aws: Deployment, hub: FirehoseHub, engine: DuckDBEngine, context: Any
) -> None:
    hand_made_day(hub, aws)
    app = load_function("lake_aggregates", aws)
    scheduled = json.loads((ROOT / "events" / "state_machine" / "lake_aggregates_daily.json").read_text())
    answer = app.lambda_handler(scheduled, context)  # the schedule's input: {} -> yesterday
    assert answer["day"] == "2026-12-02"
    assert set(answer["written"]) == {"daily_song", "daily_artist"}
    assert song_totals(engine)["A" * 22][:2] == (3, 2)
    with pytest.raises(InvalidInput):
        app.lambda_handler({"input": {"day": "2026-12-02'; DROP TABLE plays; --"}}, context)


def test_the_day_is_validated_before_it_reaches_sql() -> None:
    assert day_to_aggregate("2026-12-01", None) == date(2026, 12, 1)
    assert day_to_aggregate(None, "2026-12-01T00:05:00+00:00") == date(2026, 11, 30)
    for bad in ("2026-13-01", "20261201", "2026-12-01 OR 1=1"):
        with pytest.raises(InvalidInput):
            day_to_aggregate(bad, None)
