"""Live counters from play records (the plays table's stream), each update applied once.

The counters table (hash `pk`, range `sk`, TTL `expiresAt`) holds, for a billable play:

| what                                  | pk                           | sk                   | attributes       |
|---------------------------------------|------------------------------|----------------------|------------------|
| a song's / an artist's hour window    | ``SONG#<id>``, ``ARTIST#<id>`` | ``H#<yyyy-mm-ddThh>`` | plays, listeners |
| "this play is counted" marker         | ``PLAY#<playId>``            | ``COUNTED``          |                  |
| "this listener is counted" marker     | ``SONG#<id>#H#<hour>``       | ``U#<userId>``       |                  |
| the day index (trending's candidates) | ``DAY#<date>#<shard>``       | ``SONG#<id>``        | plays, artistId  |
| a member's latest bucket              | ``<scope>#M``                | member               | seenIn, left     |
| members by latest bucket              | ``<scope>#C``                | ``<bucket>#<shard>`` | members          |

Scopes: ``NOW#<songId>`` (plays by minute, listening now), ``FANS#<artistId>`` (listeners by day).

Idempotency: every ADD rides in a TransactWriteItems with a conditional put of its marker
(`attribute_not_exists`, backbeat.plays.counter_store), so a redelivered stream record (or a play
that turns billable twice) changes nothing. Windows are UTC and keyed by the play's `startedAt`.
Distinct counts over sliding windows ("listening now": plays in the last 5 minutes; monthly
listeners: listeners in the last 28 days) are exact, by latest bucket (backbeat.plays.distinct).
See docs/decisions.md, 31.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from backbeat.plain import from_image, plain
from backbeat.plays.counter_store import COUNTER_SHARDS, add, marker, once, query, shard
from backbeat.plays.distinct import count_members, leave, move_member

PLAY_PREFIX = "PLAY#"
HOUR = "%Y-%m-%dT%H"
DAY = "%Y-%m-%d"
MINUTE = "%Y-%m-%dT%H:%M"

LISTENING_NOW_MINUTES = 5  # a play is "listening now" while its last event is this recent
MONTHLY_LISTENER_DAYS = 28
HOUR_COUNTERS_KEPT = timedelta(days=35)  # trending reads 8 days back; artists' pages 2 hours
MARKERS_KEPT = timedelta(days=3)  # longer than a stream redelivers (24 h) and a play stays open
DAY_INDEX_KEPT = timedelta(days=10)

# ---------------------------------------------------------------- play records


@dataclass(frozen=True)
class Play:
    """What the counters and the taste profile read of a play record."""

    play_id: str
    user_id: str
    song_id: str
    artist_id: str
    genres: tuple[str, ...]
    started_at: datetime
    last_event_at: datetime
    billable: bool
    ended: str | None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Play | None:
        """A plain play record -> Play; None for any other item of the plays table."""
        if not str(item.get("sk", "")).startswith(PLAY_PREFIX):
            return None
        started = parse_time(str(item["startedAt"]))
        return cls(
            play_id=str(item["playId"]),
            user_id=str(item["userId"]),
            song_id=str(item["songId"]),
            artist_id=str(item["artistId"]),
            genres=tuple(str(genre) for genre in item.get("genres") or ()),
            started_at=started,
            last_event_at=parse_time(str(item["lastEventAt"])) if item.get("lastEventAt") else started,
            billable=bool(item.get("billable")),
            ended=str(item["ended"]) if item.get("ended") else None,
        )


@dataclass(frozen=True)
class PlayChange:
    """One stream record of a play record: its images before and after (None when absent)."""

    old: Play | None
    new: Play | None

    @property
    def turned_billable(self) -> bool:
        """The transition the counters and the taste count: not billable (or absent) -> billable."""
        return self.new is not None and self.new.billable and not (self.old is not None and self.old.billable)

    @property
    def play(self) -> Play:
        found = self.new or self.old
        assert found is not None
        return found


def play_change(record: Mapping[str, Any]) -> PlayChange | None:
    """A DynamoDB stream record (Lambda's shape) -> the play change, or None when the item is not a
    play record (the plays table also holds per-listener state; the template's filter drops those
    records in AWS, the devstack's pollers deliver them all)."""
    change = record.get("dynamodb") or {}
    keys = from_image(change.get("Keys"))
    if not str(keys.get("sk", "")).startswith(PLAY_PREFIX):
        return None
    old = Play.from_item(from_image(change.get("OldImage"))) if change.get("OldImage") else None
    new = Play.from_item(from_image(change.get("NewImage"))) if change.get("NewImage") else None
    if old is None and new is None:
        return None
    return PlayChange(old=old, new=new)


def parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ---------------------------------------------------------------- counting, each applied once


def count_billable_play(play: Play) -> bool:
    """Count a play that turned billable: plays and listeners of its song and artist in the hour
    window of its start, the day index, and the artist's listeners by day. Idempotent per playId
    (plays) and per (song or artist, hour, listener) (listeners); True when the play was new."""
    hour = play.started_at.strftime(HOUR)
    hour_kept = play.started_at + HOUR_COUNTERS_KEPT
    day = play.started_at.strftime(DAY)
    counted = once(
        [
            marker(f"PLAY#{play.play_id}", "COUNTED", play.started_at + MARKERS_KEPT),
            add(f"SONG#{play.song_id}", f"H#{hour}", hour_kept, plays=1),
            add(f"ARTIST#{play.artist_id}", f"H#{hour}", hour_kept, plays=1),
            add(
                f"DAY#{day}#{shard(play.song_id)}",
                f"SONG#{play.song_id}",
                play.started_at + DAY_INDEX_KEPT,
                {"artistId": play.artist_id},
                plays=1,
            ),
        ]
    )
    # Listener counts are idempotent on their own markers, so they are applied (again) even when the
    # play was counted before: a crash between the two transactions must not lose a listener.
    for scope in (f"SONG#{play.song_id}", f"ARTIST#{play.artist_id}"):
        once(
            [
                marker(f"{scope}#H#{hour}", f"U#{play.user_id}", play.started_at + MARKERS_KEPT),
                add(scope, f"H#{hour}", hour_kept, listeners=1),
            ]
        )
    move_member(
        f"FANS#{play.artist_id}",
        play.user_id,
        day,
        member_expires=play.started_at + timedelta(days=MONTHLY_LISTENER_DAYS + 1),
        bucket_expires=play.started_at + timedelta(days=MONTHLY_LISTENER_DAYS + 1),
    )
    return counted


# ---------------------------------------------------------------- listening now


def refresh_listening_now(change: PlayChange, now: datetime) -> None:
    """Keep "listening now" in step with a play record: an open play whose last event is recent is
    (still) listening; an ended or removed play is not, from that moment."""
    play = change.play
    scope = f"NOW#{play.song_id}"
    kept = play.last_event_at + timedelta(hours=1)
    if change.new is None or change.new.ended is not None:
        if change.old is None or change.old.ended is None:
            leave(scope, play.play_id, member_expires=max(kept, now + timedelta(hours=1)))
        return
    new = change.new
    if new.last_event_at < now - timedelta(minutes=LISTENING_NOW_MINUTES):
        return  # a late record: outside the window already
    minute = new.last_event_at.strftime(MINUTE)
    if change.old is not None and change.old.last_event_at.strftime(MINUTE) == minute:
        return  # already counted in this minute's bucket
    move_member(scope, play.play_id, minute, member_expires=kept, bucket_expires=kept)


def listening_now(song_id: str, now: datetime | None = None) -> int:
    """Distinct plays of the song that are open and whose last event arrived within the last
    LISTENING_NOW_MINUTES minutes (by whole minutes: the current minute and the four before it)."""
    now = now or datetime.now(UTC)
    first = now - timedelta(minutes=LISTENING_NOW_MINUTES - 1)
    return count_members(f"NOW#{song_id}", first.strftime(MINUTE), now.strftime(MINUTE))


# ---------------------------------------------------------------- reads


@dataclass(frozen=True)
class HourWindow:
    hour: str
    plays: int
    listeners: int


def hour_windows(kind: str, entity_id: str, first: datetime, last: datetime) -> list[HourWindow]:
    """The hour windows of a song or artist ("SONG" / "ARTIST") from `first` to `last`, with plays."""
    items = query(f"{kind}#{entity_id}", f"H#{first.strftime(HOUR)}", f"H#{last.strftime(HOUR)}")
    return [
        HourWindow(str(item["sk"]).removeprefix("H#"), int(item.get("plays", 0)), int(item.get("listeners", 0)))
        for item in items
    ]


def monthly_listeners(artist_id: str, now: datetime | None = None) -> int:
    """Distinct listeners with a billable play of the artist in the last 28 days (today included),
    exactly: each listener is counted in the day of their latest play."""
    now = now or datetime.now(UTC)
    first = now - timedelta(days=MONTHLY_LISTENER_DAYS - 1)
    return count_members(f"FANS#{artist_id}", first.strftime(DAY), now.strftime(DAY))


def plays_last_hour(artist_id: str, now: datetime | None = None) -> int:
    """Billable plays in the last 60 minutes, from the hour windows: the current window so far plus
    the part of the previous window still inside the last hour, pro rata (exact on the hour)."""
    now = now or datetime.now(UTC)
    current = now.replace(minute=0, second=0, microsecond=0)
    previous = current - timedelta(hours=1)
    windows = {w.hour: w.plays for w in hour_windows("ARTIST", artist_id, previous, current)}
    elapsed = (now - current).total_seconds() / 3600
    estimate = windows.get(current.strftime(HOUR), 0) + windows.get(previous.strftime(HOUR), 0) * (1 - elapsed)
    return math.floor(estimate + 0.5)


def artist_figures(artist_id: str, now: datetime | None = None) -> dict[str, int]:
    """What GET /artists/{id} adds to the artist: `monthlyListeners` and `playsLastHour`."""
    now = now or datetime.now(UTC)
    return {"monthlyListeners": monthly_listeners(artist_id, now), "playsLastHour": plays_last_hour(artist_id, now)}


def songs_played_on(day: datetime) -> dict[str, int]:
    """The day index: every song with a billable play started on `day` (UTC) -> its plays that day.
    One Query per shard; it grows with the catalog's daily reach (docs/decisions.md, 31)."""
    songs: dict[str, int] = {}
    date = day.strftime(DAY)
    for partition in range(COUNTER_SHARDS):
        for item in query(f"DAY#{date}#{partition}", "SONG#", "SONG#~"):
            songs[str(item["sk"]).removeprefix("SONG#")] = int(plain(item.get("plays", 0)))
    return songs
