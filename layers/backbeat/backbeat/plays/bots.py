"""Bot rules: listening no person does. Each rule reads the listener's recent activity
(`ListenerState`, kept by `backbeat.plays.verdicts`) at the moment one of their plays reaches 30 s,
and names itself when it trips; the play is then kept with ``reason: "bot:<rule>"`` and is not
billable. Thresholds and why: docs/decisions.md, 30.

- ``too-many-devices``: more than `max_concurrent_devices` devices of one account playing at once
  (an event within `active_device_window_ms`); a person hands playback over between two or three.
- ``day-overflow``: more listening in one UTC day (plays started that day) than the day holds.
- ``just-past-30s``: the last `short_run_length` plays that reached 30 s all stopped before
  30 s + `short_stop_margin_ms`: playing just long enough to be paid, over and over.
- ``regular-gaps``: the last `regular_run_length` plays that reached 30 s started at gaps that vary
  by no more than `regular_gap_spread_ms`; songs differ in length and people in their pauses, timers
  do not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from backbeat.plays.events import BILLABLE_MS, DAY_MS
from backbeat.plays.records import PlayRecord, epoch_ms

if TYPE_CHECKING:
    from backbeat.plays.verdicts import ListenerState


@dataclass(frozen=True)
class BotRules:
    max_concurrent_devices: int = 3
    active_device_window_ms: int = 2 * 60_000
    short_run_length: int = 10
    short_stop_margin_ms: int = 5_000
    regular_run_length: int = 10
    regular_gap_spread_ms: int = 1_000


def too_many_devices(state: ListenerState, play: PlayRecord, now_ms: int, rules: BotRules) -> bool:
    since = now_ms - rules.active_device_window_ms
    playing = {device for device, entry in state.devices.items() if int(entry["lastEventAt"]) >= since}
    return len(playing | {play["deviceId"]}) > rules.max_concurrent_devices


def day_overflow(state: ListenerState, play: PlayRecord, now_ms: int, rules: BotRules) -> bool:
    return state.day == play["startedAt"][:10] and state.day_played_ms > DAY_MS


def just_past_30s(state: ListenerState, play: PlayRecord, now_ms: int, rules: BotRules) -> bool:
    before = [entry for entry in state.recent if entry["playId"] != play["playId"]][-rules.short_run_length :]
    return len(before) == rules.short_run_length and all(
        entry["ended"] and BILLABLE_MS <= int(entry["playedMs"]) < BILLABLE_MS + rules.short_stop_margin_ms
        for entry in before
    )


def regular_gaps(state: ListenerState, play: PlayRecord, now_ms: int, rules: BotRules) -> bool:
    before = [entry for entry in state.recent if entry["playId"] != play["playId"]]
    starts = sorted([int(entry["startedAt"]) for entry in before[-(rules.regular_run_length - 1) :]])
    starts = sorted([*starts, epoch_ms(play["startedAt"])])
    if len(starts) < rules.regular_run_length:
        return False
    gaps = [later - earlier for earlier, later in pairwise(starts)]
    return min(gaps) > 0 and max(gaps) - min(gaps) <= rules.regular_gap_spread_ms


Rule = Callable[["ListenerState", PlayRecord, int, BotRules], bool]
RULES: tuple[tuple[str, Rule], ...] = (
    ("too-many-devices", too_many_devices),
    ("day-overflow", day_overflow),
    ("just-past-30s", just_past_30s),
    ("regular-gaps", regular_gaps),
)


def tripped_rule(state: ListenerState, play: PlayRecord, now_ms: int, rules: BotRules) -> str | None:
    """The first rule the play trips (in the order above), or None for a person's listening."""
    return next((name for name, rule in RULES if rule(state, play, now_ms, rules)), None)
