"""The ABR comparison's fairness, as a reviewer would check it (bench/abr_simulator.py): the throughput scale
and every controller's settings are chosen on the tuning traces alone, the held-out traces are simulated
only with settings already fixed, every tunable controller gets the same budget and the same abandon rule
option, and tuning picks what the stated objective says. The simulations are replaced by a recording fake:
these tests are about what the procedure feeds its parts, not about the figures."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from backbeat_client.abr import AbandonsRequests, AbrController, AbrSettings
from backbeat_client.baselines import ThroughputOnly
from bench import abr_simulator
from bench.abr_contenders import (
    ALWAYS_LOWEST,
    BOLA_BASIC,
    GRID_SIZE,
    OURS,
    THROUGHPUT_ONLY,
    Candidate,
    Contender,
    ControllerFactory,
    WithAbandonRule,
    at_the_edge,
    contenders,
    shipped_ours,
)
from bench.abr_network import LADDER_KBPS, Trace
from bench.abr_simulator import Split, Summary, compare, objective, throughput_scale, tune
from tests.support import abandon_verdict

SEGMENT = 10.0


def trace(name: str, mbps: float) -> Trace:
    return Trace(name, [0.0, 1.0, 2.0, 3.0], [mbps * 1e6] * 4)


def split() -> Split:
    """Tuning traces around 1-3 Mbit/s, held-out ones ten times faster: any leak moves the scale."""
    return Split(
        tuning=[trace("tune-a", 1.0), trace("tune-b", 2.0), trace("tune-c", 3.0)],
        held_out=[trace("held-a", 10.0), trace("held-b", 20.0), trace("held-c", 30.0)],
    )


def summary(kbps: float, rebuffer: float = 0.0, switches: float = 0.0) -> Summary:
    return Summary(
        rebuffer_ratio=rebuffer,
        mean_bitrate_kbps=kbps,
        switches_per_minute=switches,
        startup_seconds=1.0,
        stalled_sessions=0.0,
        abandoned_sessions=0.0,
        wasted_share=0.0,
    )


class RecordingEvaluate:
    """Stands in for the simulation: records what it is given, builds the controller, returns a made-up
    summary that differs from call to call (so that tuning has something to choose between)."""

    def __init__(self) -> None:
        self.calls: list[tuple[ControllerFactory, list[str], float]] = []

    def __call__(self, build: ControllerFactory, traces: Sequence[Trace], scale: float) -> Summary:
        build()  # every configuration must at least construct
        self.calls.append((build, [t.name for t in traces], scale))
        return summary(100 + (len(self.calls) * 37) % 101, rebuffer=0.001 * (len(self.calls) % 7))


def test_the_scale_is_chosen_from_the_tuning_traces_only(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def spy(traces: Sequence[Trace]) -> float:
        seen.append([t.name for t in traces])
        return throughput_scale(traces)

    monkeypatch.setattr(abr_simulator, "throughput_scale", spy)
    data, evaluate = split(), RecordingEvaluate()
    comparison = compare(data, evaluate)
    assert seen == [["tune-a", "tune-b", "tune-c"]]
    assert comparison.scale == pytest.approx(2e6 / abr_simulator.MIDPOINT_BPS)  # the tuning median, 2 Mbit/s
    assert comparison.scale != pytest.approx(throughput_scale(data.tuning + data.held_out))
    assert {scale for _, _, scale in evaluate.calls} == {comparison.scale}  # every run, held out too


def test_tuning_sees_only_tuning_traces_and_the_held_out_ones_come_last() -> None:
    data, evaluate = split(), RecordingEvaluate()
    comparison = compare(data, evaluate)
    tuning_names, held_out_names = [t.name for t in data.tuning], [t.name for t in data.held_out]
    assert all(names in (tuning_names, held_out_names) for _, names, _ in evaluate.calls)  # never mixed
    phases = [names == held_out_names for _, names, _ in evaluate.calls]
    budget = sum(len(contender.grid) for contender in contenders())
    assert phases == [False] * budget + [True] * (len(phases) - budget)  # all tuning first, then held out
    # Held out: exactly the chosen configurations (plus ours as shipped, when tuning chose otherwise).
    held_out_builds = [build for build, names, _ in evaluate.calls if names == held_out_names]
    chosen = [result.chosen.build for result in comparison.tuned]
    assert held_out_builds[: len(chosen)] == chosen
    extra = 0 if comparison.shipped_held_out is None else 1
    assert len(held_out_builds) == len(chosen) + extra
    assert list(comparison.held_out) == [OURS, ALWAYS_LOWEST, THROUGHPUT_ONLY, BOLA_BASIC]


def test_every_tunable_controller_gets_the_same_budget_and_the_abandon_option() -> None:
    grids = {contender.name: contender.grid for contender in contenders()}
    assert len(grids[ALWAYS_LOWEST]) == 1  # nothing to tune
    for name in (OURS, THROUGHPUT_ONLY, BOLA_BASIC):
        grid = grids[name]
        assert len(grid) == GRID_SIZE
        assert len({candidate.settings for candidate in grid}) == GRID_SIZE  # no configuration counted twice
        on = [candidate for candidate in grid if candidate.settings.endswith("abandon on")]
        off = [candidate for candidate in grid if candidate.settings.endswith("abandon off")]
        assert len(on) == len(off) == GRID_SIZE // 2
        for candidate in on:
            controller = candidate.build()
            assert isinstance(controller, AbandonsRequests)
            settings = getattr(controller, "settings", None) or controller.rule.settings  # type: ignore[attr-defined]
            assert settings.abandon_requests
        for candidate in off:
            controller = candidate.build()
            assert not isinstance(controller, WithAbandonRule)
            assert not getattr(controller, "settings", AbrSettings(abandon_requests=False)).abandon_requests
    # Ours as shipped is one of its grid points, so tuning can only do as well or better on the tuning split.
    assert shipped_ours().settings in {candidate.settings for candidate in grids[OURS]}


def test_tuning_maximises_the_stated_objective_and_breaks_ties_by_grid_order() -> None:
    figures = {
        "more bitrate, some stalls": summary(150, rebuffer=0.01),  # 150 - 30 = 120
        "steady": summary(131, switches=0.2),  # 131 - 1 = 130
        "steady too": summary(130),  # 130, a tie with the one before
        "jumpy": summary(140, switches=3),  # 140 - 15 = 125
    }
    grid = tuple(
        Candidate(label, lambda: AbrController(LADDER_KBPS, start_bitrate_kbps=128, ceiling_kbps=320))
        for label in figures
    )
    by_build = {id(candidate.build): figures[candidate.settings] for candidate in grid}
    seen: list[list[str]] = []

    def evaluate(build: ControllerFactory, traces: Sequence[Trace], scale: float) -> Summary:
        seen.append([t.name for t in traces])
        return by_build[id(build)]

    result = tune(Contender("x", grid, {}, ""), split().tuning, 1.0, evaluate)
    assert [objective(figures[label]) for label in figures] == pytest.approx([120, 130, 130, 125])
    assert result.chosen.settings == "steady"
    assert result.on_tuning == figures["steady"]
    assert seen == [["tune-a", "tune-b", "tune-c"]] * len(grid)


def test_a_choice_at_the_end_of_a_knobs_range_is_pointed_out() -> None:
    space = {"window": (3, 5, 8), "safety": (0.8, 0.9, 1.0), "abandon": (False, True)}
    contender = Contender("x", (), space, "")
    chosen = Candidate("w3", shipped_ours().build, {"window": 3, "safety": 0.9, "abandon": True})
    assert at_the_edge(contender, chosen) == ["`window` 3 (lowest tried)"]  # on/off knobs are always at an end
    inside = Candidate("w5", shipped_ours().build, {"window": 5, "safety": 1.0, "abandon": False})
    assert at_the_edge(contender, inside) == ["`safety` 1.0 (highest tried)"]


def test_a_baseline_with_the_abandon_rule_gives_up_a_collapsing_download_as_ours_would() -> None:
    baseline = WithAbandonRule(ThroughputOnly(LADDER_KBPS, start_bitrate_kbps=128), AbrSettings())
    # 80 s for the segment, 40 s of buffer
    verdict = abandon_verdict(baseline, rung=160, kbps=20, seconds=6, buffer=40, segment=SEGMENT)
    assert verdict is not None and verdict < 160
    assert baseline.abandonments == 1
    inner = baseline.inner
    assert isinstance(inner, ThroughputOnly)
    assert inner.estimate_kbps() == pytest.approx(20, rel=0.1)  # what arrived counts as a measurement
    absorbed = WithAbandonRule(ThroughputOnly(LADDER_KBPS, start_bitrate_kbps=128), AbrSettings())
    # the buffer covers it
    assert abandon_verdict(absorbed, rung=160, kbps=40, seconds=8, buffer=110, segment=SEGMENT) is None


def test_throughput_only_keeps_a_safety_margin_when_asked() -> None:
    plain = ThroughputOnly(LADDER_KBPS, start_bitrate_kbps=128)
    careful = ThroughputOnly(LADDER_KBPS, start_bitrate_kbps=128, safety=0.7)
    for controller in (plain, careful):
        controller.record_download(size_bytes=int(270 * 1000 / 8 * 4), seconds=4)  # 270 kbps
    assert plain.choose(buffer_seconds=60, segment_seconds=SEGMENT) == 256
    assert careful.choose(buffer_seconds=60, segment_seconds=SEGMENT) == 160  # 0.7 x 270 = 189
