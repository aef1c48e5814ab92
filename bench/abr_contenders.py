"""The controllers the ABR simulator compares, each with its tuning grid: ours (backbeat_client.abr) and
the baselines (backbeat_client.baselines), every tunable one with a grid of the same size over its own
knobs, the abandon rule (rule 5 of backbeat_client.abr) on and off among them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial

from backbeat_client.abr import AbandonRule, AbrController, AbrSettings, BitrateController
from backbeat_client.baselines import AlwaysLowest, BolaBasic, ThroughputOnly
from bench.abr_network import LADDER_KBPS, SEGMENT_SECONDS, START_KBPS

CEILING_KBPS = 320  # very_high, premium: the whole ladder is in play
OURS = "ours (backbeat_client.abr)"
ALWAYS_LOWEST = "always-lowest"
THROUGHPUT_ONLY = "throughput-only"
BOLA_BASIC = "BOLA-BASIC"

ControllerFactory = Callable[[], BitrateController]


class WithAbandonRule:
    """A baseline with rule 5 of backbeat_client.abr in front of it: the same abandon rule, knobs and all,
    that ours can use. What an abandoned download received is a measurement too, as in ours."""

    def __init__(self, inner: BitrateController, settings: AbrSettings) -> None:
        self.inner = inner
        self.rule = AbandonRule(LADDER_KBPS, settings)
        self.abandonments = 0

    def choose(self, *, buffer_seconds: float, segment_seconds: float) -> int:
        return self.inner.choose(buffer_seconds=buffer_seconds, segment_seconds=segment_seconds)

    def record_download(self, *, size_bytes: int, seconds: float) -> None:
        self.inner.record_download(size_bytes=size_bytes, seconds=seconds)

    def start_download(self) -> None:
        self.rule.start_download()

    def abandon(
        self,
        *,
        bitrate_kbps: int,
        bytes_received: int,
        total_bytes: int,
        elapsed_seconds: float,
        buffer_seconds: float,
        segment_seconds: float,
    ) -> int | None:
        decision = self.rule.check(
            bitrate_kbps=bitrate_kbps,
            bytes_received=bytes_received,
            total_bytes=total_bytes,
            elapsed_seconds=elapsed_seconds,
            buffer_seconds=buffer_seconds,
            segment_seconds=segment_seconds,
        )
        if decision is None:
            return None
        self.inner.record_download(size_bytes=bytes_received, seconds=elapsed_seconds)
        self.rule.start_download()
        self.abandonments += 1
        return decision.to_kbps


@dataclass(frozen=True)
class Candidate:
    """One configuration of one controller: its settings as the tables name them, and how to build it."""

    settings: str
    build: ControllerFactory
    point: Mapping[str, object] = field(default_factory=dict)  # its values of the grid's knobs


@dataclass(frozen=True)
class Contender:
    name: str
    grid: tuple[Candidate, ...]
    space: Mapping[str, tuple[object, ...]]  # each knob's values; the grid is their product
    fixed: str  # what is not tuned here, and where it comes from


GRID_SIZE = 72  # configurations per controller with something to tune
ABANDON = (False, True)  # the abandon rule, off and on, in every tunable controller's grid
OURS_GRID: dict[str, tuple[object, ...]] = {
    "healthy_buffer_fraction": (0.2, 0.25, 0.3),
    "full_buffer_headroom": (0.5, 0.7, 1.0),
    "downgrade_safety": (0.7, 0.9),
    "survival_downloads": (0, 10),  # the upgrade guard's window (0: no guard)
    "abandon_requests": ABANDON,
}
THROUGHPUT_ONLY_GRID: dict[str, tuple[object, ...]] = {
    "safety": (0.5, 0.6, 0.7, 0.8, 0.9, 1.0),  # the rung must fit in this share of the estimate
    "window": (3, 5, 8, 10, 15, 20),  # downloads in the harmonic mean
    "abandon": ABANDON,
}
BOLA_GRID: dict[str, tuple[object, ...]] = {
    "max_buffer_segments": (6, 9, 12, 16, 20, 24),  # Q_max: V follows from it (the top rung near Q_max)
    "low_buffer_segments": (0.5, 1, 1.5, 2, 3, 4),  # Q_low: gamma_p follows from it (lowest rung below it)
    "abandon": ABANDON,
}


def grid_points(grid: Mapping[str, tuple[object, ...]]) -> list[dict[str, object]]:
    return [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]


def on_off(flag: object) -> str:
    return "on" if flag else "off"


def ours_label(settings: AbrSettings) -> str:
    return (
        f"healthy {settings.healthy_buffer_fraction:.0%}, full-buffer headroom {settings.full_buffer_headroom}x, "
        f"downgrade safety {settings.downgrade_safety}, upgrade guard "
        + (f"{settings.survival_downloads} downloads" if settings.survival_downloads else "off")
        + f", abandon {on_off(settings.abandon_requests)}"
    )


def ours(settings: AbrSettings) -> Candidate:
    return Candidate(
        ours_label(settings),
        partial(
            AbrController, LADDER_KBPS, start_bitrate_kbps=START_KBPS, ceiling_kbps=CEILING_KBPS, settings=settings
        ),
    )


def with_abandon(build: ControllerFactory, abandon: object) -> ControllerFactory:
    if not abandon:
        return build
    return lambda: WithAbandonRule(build(), AbrSettings())


def throughput_only(safety: float, window: int, abandon: object) -> Candidate:
    build = partial(ThroughputOnly, LADDER_KBPS, start_bitrate_kbps=START_KBPS, window=window, safety=safety)
    return Candidate(f"safety {safety}, window {window}, abandon {on_off(abandon)}", with_abandon(build, abandon))


def bola_basic(max_buffer_segments: float, low_buffer_segments: float, abandon: object) -> Candidate:
    build = partial(
        BolaBasic,
        LADDER_KBPS,
        target_buffer_seconds=max_buffer_segments * SEGMENT_SECONDS,
        segment_seconds=SEGMENT_SECONDS,
        low_buffer_seconds=low_buffer_segments * SEGMENT_SECONDS,
    )
    return Candidate(
        f"Q_max {max_buffer_segments} segments, Q_low {low_buffer_segments}, abandon {on_off(abandon)}",
        with_abandon(build, abandon),
    )


def shown(value: object) -> str:
    return on_off(value) if isinstance(value, bool) else str(value)


def describe(grid: Mapping[str, tuple[object, ...]]) -> str:
    """The grid in words: each knob with the values tried."""
    return "; ".join(f"`{knob}` {' / '.join(shown(value) for value in values)}" for knob, values in grid.items())


def at_the_edge(contender: Contender, chosen: Candidate) -> list[str]:
    """The chosen values that are the lowest or highest tried of a knob with three values or more (the best
    may lie beyond the grid)."""
    notes = []
    for knob, values in contender.space.items():
        value = chosen.point.get(knob)
        if len(values) >= 3 and value in (values[0], values[-1]):
            notes.append(f"`{knob}` {shown(value)} ({'lowest' if value == values[0] else 'highest'} tried)")
    return notes


def contenders() -> list[Contender]:
    """Every controller with its grid (always-lowest: its one configuration)."""
    shipped = AbrSettings()
    abandon_knobs = (
        f"abandon rule's knobs as shipped ({shipped.abandon_grace_seconds:g} s grace, "
        f"{shipped.abandon_window_seconds:g} s window, {shipped.abandon_safety:g}x safety, "
        f"{shipped.abandon_reserve_fraction:.0%} reserve, re-request at {shipped.downgrade_safety:g}x the "
        f"in-flight rate)"
    )
    return [
        Contender(
            OURS,
            tuple(replace(ours(replace(shipped, **point)), point=point) for point in grid_points(OURS_GRID)),  # type: ignore[arg-type]
            OURS_GRID,
            f"upgrade headroom {shipped.upgrade_headroom}x at the healthy level, quiet periods "
            f"{shipped.segments_between_switches}/{shipped.segments_before_reversal} segments, EWMA half-lives "
            f"{shipped.fast_half_life_seconds:g}/{shipped.slow_half_life_seconds:g} s, panic level "
            f"{shipped.panic_buffer_fraction:.0%} (also the upgrade guard's level), {abandon_knobs}: as shipped, "
            f"from earlier grid searches on the tuning split (432 configurations for the main knobs, 81 for the "
            f"abandon rule's, 8 for the guard's window), so ours has had more tuning than this budget; those "
            f"searches ran at the previous throughput scale, which was set from the median of all traces, the "
            f"held-out ones included, and the guard's level was set to the panic level after its alternatives "
            f"had been compared on the held-out traces too",
        ),
        Contender(ALWAYS_LOWEST, (Candidate("(nothing to tune)", partial(AlwaysLowest, LADDER_KBPS)),), {}, "-"),
        Contender(
            THROUGHPUT_ONLY,
            tuple(
                replace(throughput_only(**point), point=point)  # type: ignore[arg-type]
                for point in grid_points(THROUGHPUT_ONLY_GRID)
            ),
            THROUGHPUT_ONLY_GRID,
            f"harmonic mean of the last downloads; {abandon_knobs}",
        ),
        Contender(
            BOLA_BASIC,
            tuple(replace(bola_basic(**point), point=point) for point in grid_points(BOLA_GRID)),  # type: ignore[arg-type]
            BOLA_GRID,
            f"utilities ln(S_m / S_1), sizes proportional to the bitrates; {abandon_knobs}",
        ),
    ]


def shipped_ours() -> Candidate:
    return ours(AbrSettings())
