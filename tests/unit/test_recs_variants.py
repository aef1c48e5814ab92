"""The A/B split: deterministic per listener and experiment, about the share asked, inert without a
challenger."""

from __future__ import annotations

from dataclasses import dataclass

from backbeat.analytics.queries import with_views
from backbeat.recs.variants import Split, variant_report_sql
from tests.unit.test_lake_firehose import play
from tests.unit.test_lake_sql import deliver, engine, hub  # noqa: F401 (fixtures)
from tests.unit.test_lake_sql import event as lake_event


@dataclass(frozen=True)
class Model:
    version: str


def test_a_listener_always_lands_in_the_same_arm() -> None:
    split = Split(Model("v1"), Model("v2"))
    first = [split.assign(f"user-{i}").arm for i in range(200)]
    again = [Split(Model("v1"), Model("v2")).assign(f"user-{i}").arm for i in range(200)]
    assert first == again


def test_the_split_follows_the_share_and_a_new_challenger_reshuffles() -> None:
    users = [f"user-{i}" for i in range(4000)]
    half = Split(Model("v1"), Model("v2"), 0.5)
    tenth = Split(Model("v1"), Model("v2"), 0.1)
    in_half = {u for u in users if half.assign(u).arm == "challenger"}
    assert 1800 < len(in_half) < 2200
    assert 300 < sum(tenth.assign(u).arm == "challenger" for u in users) < 500
    other = Split(Model("v1"), Model("v3"), 0.5)
    moved = sum((other.assign(u).arm == "challenger") != (u in in_half) for u in users)
    assert moved > 1000  # another experiment, another draw


def test_the_arm_carries_its_model_and_a_name_for_the_events() -> None:
    split = Split(Model("v1"), Model("v2"), 1.0)
    assignment = split.assign("someone")
    assert assignment.model == Model("v2") and assignment.name == "challenger:v2" and not assignment.inert
    assert assignment.view()["experiment"] == "v1~v2"


def test_without_a_challenger_the_split_is_inert_and_says_so() -> None:
    assignment = Split(Model("v1")).assign("someone")
    assert assignment.arm == "promoted" and assignment.inert and assignment.name == "promoted:v1"
    assert Split(None).assign("someone").name == "promoted:none"


def test_the_lake_report_gives_each_variant_its_plays_listening_time_and_skip_rate(aws, hub, engine) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Plays whose events carried a variant, counted per variant (a play without one is not in the
    experiment), from events and plays written through the devstack's Firehose with the Glue schema."""
    started = "2026-12-02T10:00:00.000Z"
    arms = {"p1": "promoted:v1", "p2": "promoted:v1", "p3": "challenger:v2", "p4": None}
    events = []
    for n, (play_id, variant) in enumerate(arms.items()):
        document = {**lake_event(f"e{n}", started), "playId": play_id}
        document["context"] = {"type": "recommendations", "id": None, "variant": variant}
        events.append(document)
    deliver(hub, aws, "EventsDelivery", events)
    deliver(
        hub,
        aws,
        "PlaysDelivery",
        [
            play("p1", 2, started, playedMs=60_000),
            play("p2", 2, started, playedMs=6_000, ended="skipped", billable=False, reason="short"),
            play("p3", 2, started, playedMs=120_000),
            play("p4", 2, started, playedMs=30_000),
        ],
    )
    result = engine.query(with_views(variant_report_sql("2026-12-01")))
    rows = {row[0]: dict(zip(result.columns, row, strict=True)) for row in result.rows}
    assert set(rows) == {"challenger:v2", "promoted:v1"}
    assert rows["promoted:v1"]["plays"] == 2 and float(rows["promoted:v1"]["skipRate"]) == 0.5
    assert float(rows["promoted:v1"]["listeningMinutes"]) == 1.1 and rows["promoted:v1"]["billablePlays"] == 1
    assert rows["challenger:v2"]["plays"] == 1 and float(rows["challenger:v2"]["listeningMinutes"]) == 2.0
    assert engine.query(with_views(variant_report_sql("2026-12-03"))).rows == []
