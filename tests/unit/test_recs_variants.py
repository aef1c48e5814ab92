"""The A/B split: deterministic per listener and experiment, about the share asked, inert without a
challenger."""

from __future__ import annotations

from dataclasses import dataclass

from backbeat.recs.variants import Split


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
