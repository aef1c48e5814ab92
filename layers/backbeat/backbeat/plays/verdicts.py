"""Verdicts: whether a play is billable, and why not. A play is judged once, the moment its
`playedMs` reaches 30 s (`BILLABLE_MS`): a bot rule (`backbeat.plays.bots`) that trips flags it
``bot:<rule>``; a repeat of a song the listener was counted for, starting within the dedupe window
of that counted play, is a ``duplicate``; otherwise it is ``billable``. Plays that end under 30 s
are ``short``. Rules and thresholds: docs/decisions.md, 30.

The per-listener state the rules read is one item of the plays table (sk ``LISTENER``), written in
the same transaction as the play records it was updated with (`backbeat.plays.consumer`):
- `devices`: the open play per device and its last event (abandonment, concurrent devices);
- `recent`: the last plays that reached 30 s, their start and how long they lasted (the run rules);
- `counted`: per song, the start of the last billable play, while inside the dedupe window;
- `day` / `dayPlayedMs`: listening in plays started on the latest UTC day seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backbeat.config import PlaysSettings
from backbeat.plays.bots import BotRules, tripped_rule
from backbeat.plays.records import PlayRecord, abandon, awaits_verdict, epoch_ms

LISTENER_KEY = "LISTENER"
BILLABLE, DUPLICATE = "billable", "duplicate"


@dataclass(frozen=True)
class VerdictRules:
    dedupe_window_ms: int = 10 * 60_000
    abandon_after_ms: int = 30 * 60_000
    retention_days: int = 90
    recent_kept: int = 20
    devices_kept: int = 16
    bots: BotRules = field(default_factory=BotRules)

    @classmethod
    def from_settings(cls, settings: PlaysSettings) -> VerdictRules:
        return cls(
            dedupe_window_ms=settings.dedupe_window_seconds * 1000,
            abandon_after_ms=settings.abandon_after_minutes * 60_000,
            retention_days=settings.play_retention_days,
            bots=BotRules(
                max_concurrent_devices=settings.max_concurrent_devices,
                short_run_length=settings.short_run_length,
                regular_run_length=settings.regular_run_length,
            ),
        )


@dataclass
class ListenerState:
    user_id: str
    version: int = 0
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    recent: list[dict[str, Any]] = field(default_factory=list)
    counted: dict[str, int] = field(default_factory=dict)
    day: str = ""
    day_played_ms: int = 0
    last_event_ms: int = 0

    @classmethod
    def from_item(cls, user_id: str, item: dict[str, Any] | None) -> ListenerState:
        if not item:
            return cls(user_id)
        return cls(
            user_id=user_id,
            version=int(item["version"]),
            devices=dict(item.get("devices") or {}),
            recent=list(item.get("recent") or []),
            counted={song: int(start) for song, start in (item.get("counted") or {}).items()},
            day=str(item.get("day") or ""),
            day_played_ms=int(item.get("dayPlayedMs") or 0),
            last_event_ms=int(item.get("lastEventMs") or 0),
        )

    def to_item(self, retention_days: int) -> dict[str, Any]:
        return {
            "userId": self.user_id,
            "sk": LISTENER_KEY,
            "version": self.version,
            "devices": self.devices,
            "recent": self.recent,
            "counted": self.counted,
            "day": self.day,
            "dayPlayedMs": self.day_played_ms,
            "lastEventMs": self.last_event_ms,
            "expiresAt": self.last_event_ms // 1000 + retention_days * 86_400,
        }

    def count_listening(self, play: PlayRecord, added_ms: int) -> None:
        """Add what a play's new event listened to the day the play started (a newer day restarts)."""
        day = play["startedAt"][:10]
        if day > self.day:
            self.day, self.day_played_ms = day, 0
        if day == self.day:
            self.day_played_ms += max(added_ms, 0)

    def follow_device(self, play: PlayRecord, at_ms: int, rules: VerdictRules) -> list[str]:
        """Track the open play on each device; the ids of the plays that are now abandoned: the
        device started a newer play, or a device was silent for the abandon window while the
        listener was active elsewhere."""
        self.last_event_ms = max(self.last_event_ms, at_ms)
        device, play_id, started = play["deviceId"], play["playId"], epoch_ms(play["startedAt"])
        left: list[str] = []
        entry = self.devices.get(device)
        if entry is not None and entry["playId"] != play_id and int(entry["startedAt"]) > started:
            if play["ended"] is None:
                left.append(play_id)  # a late event of a play the device has since moved on from
        elif play["ended"] is not None:
            if entry is not None and entry["playId"] == play_id:
                del self.devices[device]
        else:
            if entry is not None and entry["playId"] != play_id:
                left.append(str(entry["playId"]))
            last = max(at_ms, int(entry["lastEventAt"])) if entry and entry["playId"] == play_id else at_ms
            self.devices[device] = {"playId": play_id, "startedAt": started, "lastEventAt": last}
        for other, open_play in sorted(self.devices.items(), key=lambda item: int(item[1]["lastEventAt"])):
            silent = int(open_play["lastEventAt"]) < self.last_event_ms - rules.abandon_after_ms
            if other != device and (silent or len(self.devices) > rules.devices_kept):
                left.append(str(open_play["playId"]))
                del self.devices[other]
        return left

    def remember(self, play: PlayRecord) -> None:
        """Keep a play that reached 30 s in `recent` up to date (how long it lasted, whether it ended)."""
        for entry in self.recent:
            if entry["playId"] == play["playId"]:
                entry["playedMs"], entry["ended"] = int(play["playedMs"]), play["ended"] is not None

    def judge(self, play: PlayRecord, now_ms: int, rules: VerdictRules) -> None:
        """The verdict of a play that just reached 30 s; then it joins `recent`."""
        started = epoch_ms(play["startedAt"])
        rule = tripped_rule(self, play, now_ms, rules.bots)
        counted = self.counted.get(play["songId"])
        if rule:
            play["billable"], play["reason"] = False, f"bot:{rule}"
        elif counted is not None and abs(started - counted) < rules.dedupe_window_ms:
            play["billable"], play["reason"] = False, DUPLICATE
        else:
            play["billable"], play["reason"] = True, BILLABLE
            self.counted[play["songId"]] = started
        self.counted = {song: at for song, at in self.counted.items() if at >= now_ms - rules.dedupe_window_ms}
        entry = {"playId": play["playId"], "songId": play["songId"], "startedAt": started}
        self.recent = [*self.recent, {**entry, "playedMs": 0, "ended": False}][-rules.recent_kept :]
        self.remember(play)


def settle(
    state: ListenerState,
    play: PlayRecord,
    played_before: int,
    at_ms: int,
    plays: dict[str, PlayRecord],
    rules: VerdictRules,
) -> list[PlayRecord]:
    """After an event changed `play`: account the listening, follow its device, close the plays it
    leaves behind, judge it if it just reached 30 s. Returns the other records it changed."""
    state.count_listening(play, int(play["playedMs"]) - played_before)
    changed: list[PlayRecord] = []
    for play_id in state.follow_device(play, at_ms, rules):
        left = plays.get(play_id)
        if left is not None and abandon(left):
            state.remember(left)
            if left is not play:
                changed.append(left)
    if awaits_verdict(play):
        state.judge(play, at_ms, rules)
    state.remember(play)
    return changed
