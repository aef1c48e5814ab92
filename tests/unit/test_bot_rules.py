"""Bot rules, each tripped by a scripted listening pattern through the plays consumer: the flagged
plays are kept with `reason: "bot:<rule>"` and are not billable, the plays before the pattern shows
are; a person's ordinary day of listening trips none of them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.unit.test_play_records import T0, by_time, consumer, deliver, event, listen, play_record, song, table

__all__ = ["consumer", "table"]  # fixtures


def verdicts(table: str, plays: list[list[Any]]) -> list[str]:
    return [play_record(table, events[0].playId)["reason"] for events in plays]


def test_a_fourth_device_playing_at_once_trips_too_many_devices(consumer, table, context) -> None:  # type: ignore[no-untyped-def]
    """Three devices play (a handover, a speaker: still a person); a fourth joins while they play."""
    three = [listen(180, T0 + timedelta(seconds=i), song_id=song(f"d{i}"), device=f"device-{i}") for i in range(3)]
    fourth = listen(60, T0 + timedelta(seconds=40), song_id=song("d3"), device="device-3")
    deliver(consumer, context, by_time(*three, fourth))
    assert verdicts(table, [*three, fourth]) == ["billable"] * 3 + ["bot:too-many-devices"]
    assert play_record(table, fourth[0].playId)["billable"] is False


def test_four_devices_starting_at_once_are_all_flagged(consumer, table, context) -> None:  # type: ignore[no-untyped-def]
    plays = [listen(60, T0 + timedelta(seconds=i), song_id=song(f"d{i}"), device=f"device-{i}") for i in range(4)]
    deliver(consumer, context, by_time(*plays))
    assert verdicts(table, plays) == ["bot:too-many-devices"] * 4


def test_more_listening_in_a_day_than_the_day_holds_trips_day_overflow(consumer, table, context) -> None:  # type: ignore[no-untyped-def]
    """A client that claims an hour listened a few seconds after each start, every half hour or so."""
    hour = 3_600_000
    plays = []
    for index in range(26):
        at = T0.replace(hour=0) + timedelta(minutes=30 * index, seconds=(index * 37) % 29)
        play_id = f"00000000-0000-4000-8000-{index:012d}"
        plays.append(
            [
                event(play_id, "start", 0, at, song_id=song(f"h{index}"), duration_ms=hour),
                event(play_id, "end", hour, at + timedelta(seconds=3), song_id=song(f"h{index}"), duration_ms=hour),
            ]
        )
    deliver(consumer, context, by_time(*plays))
    # 24 plays make 24 hours: the day is full; the 25th and 26th overflow it.
    assert verdicts(table, plays) == ["billable"] * 24 + ["bot:day-overflow"] * 2


def test_a_long_run_of_plays_stopping_just_past_30_seconds_trips_just_past_30s(consumer, table, context) -> None:  # type: ignore[no-untyped-def]
    plays, at = [], T0
    for index in range(13):
        seconds = 31 + index % 4  # 31-34 s
        plays.append(listen(seconds, at, ending="skip", song_id=song(f"s{index}")))
        at += timedelta(seconds=seconds + 2 + (index * 5) % 17)  # irregular pauses
    deliver(consumer, context, by_time(*plays))
    # Ten such plays in a row are what a person might do; from the eleventh, it is a run.
    assert verdicts(table, plays) == ["billable"] * 10 + ["bot:just-past-30s"] * 3
    assert not any(play_record(table, events[0].playId)["billable"] for events in plays[10:])


def test_plays_starting_at_machine_regular_gaps_trip_regular_gaps(consumer, table, context) -> None:  # type: ignore[no-untyped-def]
    lengths = [61, 185, 122, 97, 143, 76, 160, 118, 133, 90, 175, 64]
    plays = [
        listen(seconds, T0 + timedelta(seconds=200 * index), song_id=song(f"r{index}"))
        for index, seconds in enumerate(lengths)
    ]
    deliver(consumer, context, by_time(*plays))
    assert verdicts(table, plays) == ["billable"] * 9 + ["bot:regular-gaps"] * 3


def test_a_persons_day_of_listening_trips_no_rule(consumer, table, context) -> None:  # type: ignore[no-untyped-def]
    """Albums in the morning on the phone, a few skips, songs played again later, the desktop in the
    afternoon while the phone's last song ends, and an evening of short songs on the speaker."""
    plays, skipped, at = [], [], T0.replace(hour=7)
    for index in range(40):
        device = "phone-1" if index < 15 else "desktop-1" if index < 30 else "speaker-1"
        song_id = song(f"p{index % 12}")  # an album or two on repeat: the same songs come back
        if index % 7 == 3:
            skipped.append(listen(4 + index % 9, at, ending="skip", song_id=song_id, device=device))
            at += timedelta(seconds=6 + index % 9)
            continue
        seconds = 150 + (index * 37) % 140
        plays.append(listen(seconds, at, song_id=song_id, device=device))
        at += timedelta(seconds=seconds + (index * 13) % 11)
        if index == 14:
            at += timedelta(hours=4)
    deliver(consumer, context, by_time(*plays, *skipped))
    assert verdicts(table, skipped) == ["short"] * len(skipped)
    assert verdicts(table, plays) == ["billable"] * len(plays)
