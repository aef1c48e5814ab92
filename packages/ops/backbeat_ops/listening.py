"""Demo listening: synthetic listeners whose plays follow real Last.fm listeners' tastes, sent
through `POST /events/playback` as a client would send them.

The listeners are synthetic accounts (`listener-0001@demo.backbeat.dev`, ...), one per real Last.fm
user (HetRec 2011 Last.fm 2K, `backbeat_ops.lastfm`) with enough artists in the catalog. A listener's
plays go to the catalog songs of that user's artists in proportion to the user's play counts, in
listening sessions over the last 28 days at realistic times of day; most plays are completed, some
skipped early (under 30 s, not billable), some skipped later, a few abandoned (paused, never
resumed). Each play is the event sequence a player reports: `start`, `progress` every 15 s of
listening, sometimes a `pause`/`resume`, then `end` or `skip`, with consistent `positionMs`,
`playedMs` and `occurredAt`. `backbeat_ops.listening_sender` sends them.

Everything follows from a seeded random generator: the same dataset, catalog, `now` and seed give the
same listeners, plays, ids and times. Event ids do not depend on `now`, so sending again (after an
interrupted run) is answered `duplicate` for what was already accepted.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from backbeat.plays.events import BILLABLE_MS

EMAIL_DOMAIN = "demo.backbeat.dev"
WINDOW_DAYS = 28
PROGRESS_EVERY_MS = 15_000
DEFAULT_LISTENERS = 60
DEFAULT_PLAYS_PER_LISTENER = (15, 35)
MIN_MATCHED_ARTISTS = 5
PREMIUM_SHARE = 0.4

_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://demo.backbeat.dev/listening")

# Relative listening by hour of day (UTC): quiet at night, a morning commute, an evening peak.
HOUR_WEIGHTS = (2, 1, 1, 0.5, 0.5, 1, 2, 4, 5, 4, 3, 3, 4, 4, 3, 3, 4, 5, 6, 6, 6, 5, 4, 3)
DEVICE_TYPES = ("mobile", "mobile", "desktop", "web", "speaker")
CONTEXT_WEIGHTS = {"album": 3, "artist": 3, "playlist": 2, "search": 1, "radio": 1}

# How plays end (shares of plays): the rest are completed.
SKIP_EARLY_SHARE = 0.20  # skipped before 30 s: not billable
SKIP_LATE_SHARE = 0.06  # skipped after 45 s or more: billable
ABANDON_SHARE = 0.05  # paused and never resumed
PAUSE_SHARE = 0.05  # paused for a while and resumed


@dataclass(frozen=True)
class CatalogSong:
    id: str
    artist_id: str
    album_id: str
    duration_ms: int
    hit: bool = False


@dataclass(frozen=True)
class DemoListener:
    number: int
    lastfm_user: int
    tier: str
    artist_plays: dict[str, int]  # catalog artist id -> the Last.fm user's play count
    devices: tuple[tuple[str, str], ...]  # (deviceId, deviceType)

    @property
    def email(self) -> str:
        return listener_email(self.number)


@dataclass
class DemoPlay:
    play_id: str
    song: CatalogSong
    started_at: datetime
    played_ms: int
    ending: str  # completed | skipped | abandoned
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def billable(self) -> bool:
        return self.played_ms >= BILLABLE_MS

    @property
    def finished_at(self) -> datetime:
        return datetime.fromisoformat(self.events[-1]["occurredAt"])


@dataclass
class DemoListening:
    listeners: list[DemoListener]
    plays: dict[str, list[DemoPlay]]  # listener email -> plays, oldest first

    def events(self, email: str) -> list[dict[str, Any]]:
        return [event for play in self.plays[email] for event in play.events]

    @property
    def play_count(self) -> int:
        return sum(len(plays) for plays in self.plays.values())

    @property
    def event_count(self) -> int:
        return sum(len(play.events) for plays in self.plays.values() for play in plays)


def listener_email(number: int) -> str:
    return f"listener-{number:04d}@{EMAIL_DOMAIN}"


def _event_id(play_id: str, index: int) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{play_id}/{index}"))


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and "Z", as clients send it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def songs_by_artist(songs: Iterable[CatalogSong]) -> dict[str, list[CatalogSong]]:
    result: dict[str, list[CatalogSong]] = {}
    for song in songs:
        result.setdefault(song.artist_id, []).append(song)
    return result


# ------------------------------------------------------------------------------------ listeners
def choose_listeners(
    plays_by_user: Mapping[int, Mapping[str, int]],
    catalog: Mapping[str, Sequence[CatalogSong]],
    count: int,
    rng: random.Random,
    min_artists: int = MIN_MATCHED_ARTISTS,
) -> list[DemoListener]:
    """`count` Last.fm users (of those with at least `min_artists` artists that have catalog songs),
    each becoming one demo listener with that user's play counts on those artists."""
    eligible: dict[int, dict[str, int]] = {}
    for user, counts in sorted(plays_by_user.items()):
        on_catalog = {artist: plays for artist, plays in sorted(counts.items()) if catalog.get(artist) and plays > 0}
        if len(on_catalog) >= min_artists:
            eligible[user] = on_catalog
    chosen = sorted(rng.sample(sorted(eligible), min(count, len(eligible))))
    listeners = []
    for number, user in enumerate(chosen, start=1):
        kinds = rng.sample(DEVICE_TYPES, rng.choice((1, 1, 2)))
        devices = tuple((f"demo-{number:04d}-{kind}-{index}", kind) for index, kind in enumerate(kinds, start=1))
        tier = "premium" if rng.random() < PREMIUM_SHARE else "free"
        listeners.append(
            DemoListener(number=number, lastfm_user=user, tier=tier, artist_plays=eligible[user], devices=devices)
        )
    return listeners


# ------------------------------------------------------------------------------------ plays
def _ending(rng: random.Random, duration_ms: int) -> tuple[str, int]:
    """How a play ends and how much of it was listened to (never more than the song)."""
    roll = rng.random()
    if roll < SKIP_EARLY_SHARE:
        return "skipped", min(rng.randint(2_000, BILLABLE_MS - 1_000), duration_ms)
    if roll < SKIP_EARLY_SHARE + SKIP_LATE_SHARE and duration_ms > 60_000:
        return "skipped", rng.randint(45_000, max(45_000, duration_ms * 4 // 5))
    if roll < SKIP_EARLY_SHARE + SKIP_LATE_SHARE + ABANDON_SHARE and duration_ms > 20_000:
        return "abandoned", rng.randint(10_000, duration_ms - 5_000)
    return "completed", duration_ms


def play_events(
    *,
    play_id: str,
    song: CatalogSong,
    started_at: datetime,
    played_ms: int,
    ending: str,
    device: tuple[str, str],
    context: dict[str, Any],
    bitrate_kbps: int,
    pause: tuple[int, int] | None,
    event_id: Callable[[int], str],
) -> list[dict[str, Any]]:
    """The events a player reports for one play: `start`; `progress` every 15 s of listening;
    `pause`/`resume` at `pause` = (listened ms, pause length ms); then `end` (completed), `skip`
    (skipped) or a `pause` with no resume (abandoned). Position and listened time move together
    (no seeks), and wall-clock time is listened time plus the pause."""
    pause_at, pause_ms = pause if pause and 0 < pause[0] < played_ms else (None, 0)
    last = {"completed": "end", "skipped": "skip", "abandoned": "pause"}[ending]
    steps = [(0, "start")] + [(ms, "progress") for ms in range(PROGRESS_EVERY_MS, played_ms, PROGRESS_EVERY_MS)]
    if pause_at is not None:
        steps += [(pause_at, "pause"), (pause_at, "resume")]
    steps.sort(key=lambda step: step[0])  # stable: a pause stays before its resume
    steps.append((played_ms, last))

    def occurred_at(listened: int, kind: str) -> str:
        paused = pause_at is not None and (listened > pause_at or (listened == pause_at and kind == "resume"))
        return iso(started_at + timedelta(milliseconds=listened + (pause_ms if paused else 0)))

    timeline = [(kind, listened, occurred_at(listened, kind)) for listened, kind in steps]
    device_id, device_type = device
    return [
        {
            "eventId": event_id(index),
            "playId": play_id,
            "type": kind,
            "songId": song.id,
            "positionMs": position,
            "playedMs": position,
            "bitrateKbps": bitrate_kbps,
            "deviceId": device_id,
            "deviceType": device_type,
            "context": context,
            "occurredAt": occurred_at,
        }
        for index, (kind, position, occurred_at) in enumerate(timeline)
    ]


def _context(rng: random.Random, song: CatalogSong) -> dict[str, Any]:
    kind = rng.choices(list(CONTEXT_WEIGHTS), weights=list(CONTEXT_WEIGHTS.values()))[0]
    ids = {"album": song.album_id, "artist": song.artist_id}
    return {"type": kind, "id": ids[kind]} if kind in ids else {"type": kind}


def _session_starts(rng: random.Random, sessions: int, now: datetime) -> list[datetime]:
    """Session starts over the last `WINDOW_DAYS` days at hours drawn from `HOUR_WEIGHTS`, none
    later than three hours before `now` (so that no event lies in the future)."""
    latest = now - timedelta(hours=3)
    starts = []
    for _ in range(sessions):
        day = (now - timedelta(days=rng.randrange(WINDOW_DAYS))).replace(hour=0, minute=0, second=0, microsecond=0)
        hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        start = day + timedelta(hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60))
        starts.append(start if start <= latest else start - timedelta(days=1))
    return sorted(starts)


def listener_plays(
    listener: DemoListener,
    catalog: Mapping[str, Sequence[CatalogSong]],
    plays: int,
    now: datetime,
    rng: random.Random,
    seed: int,
) -> list[DemoPlay]:
    """`plays` plays in sessions of 1 to 8 songs back to back; a session that would overlap the one
    before starts after it instead (one listener plays one song at a time). Within a session a song
    is not repeated while its artist has others (a repeat within minutes is a `duplicate` play)."""
    artists = list(listener.artist_plays)
    weights = [listener.artist_plays[artist] for artist in artists]
    sizes: list[int] = []
    while sum(sizes) < plays:
        sizes.append(min(rng.randint(1, 8), plays - sum(sizes)))
    result: list[DemoPlay] = []
    free_from = now - timedelta(days=WINDOW_DAYS + 1)
    deadline = now - timedelta(minutes=5)
    for size, start in zip(sizes, _session_starts(rng, len(sizes), now), strict=True):
        clock = max(start, free_from + timedelta(minutes=rng.randint(10, 90)))
        device = rng.choice(listener.devices)
        in_session: set[str] = set()
        for _ in range(size):
            artist = rng.choices(artists, weights=weights)[0]
            # A song already heard in this session is played again only when the artist has no other.
            songs = [song for song in catalog[artist] if song.id not in in_session] or list(catalog[artist])
            song = rng.choices(songs, weights=[3 if song.hit else 1 for song in songs])[0]
            in_session.add(song.id)
            ending, played_ms = _ending(rng, song.duration_ms)
            pause = None
            if rng.random() < PAUSE_SHARE and played_ms > 2_000:
                pause = (rng.randint(1_000, played_ms - 1), rng.randint(5_000, 120_000))
            number = len(result)
            play_id = str(uuid.uuid5(_ID_NAMESPACE, f"{seed}/{listener.email}/{number}"))
            bitrate = rng.choice((256, 320) if listener.tier == "premium" else (128, 160))
            events = play_events(
                play_id=play_id,
                song=song,
                started_at=clock,
                played_ms=played_ms,
                ending=ending,
                device=device,
                context=_context(rng, song),
                bitrate_kbps=bitrate,
                pause=pause,
                event_id=partial(_event_id, play_id),
            )
            play = DemoPlay(
                play_id=play_id, song=song, started_at=clock, played_ms=played_ms, ending=ending, events=events
            )
            if play.finished_at > deadline:
                break
            result.append(play)
            clock = play.finished_at + timedelta(milliseconds=rng.randint(300, 4_000))
        free_from = clock
    return result


def generate_listening(
    plays_by_user: Mapping[int, Mapping[str, int]],
    songs: Iterable[CatalogSong],
    now: datetime,
    *,
    seed: int = 10,
    listeners: int = DEFAULT_LISTENERS,
    plays_per_listener: tuple[int, int] = DEFAULT_PLAYS_PER_LISTENER,
    min_artists: int = MIN_MATCHED_ARTISTS,
) -> DemoListening:
    """The demo listeners and their plays (see the module's docstring); `plays_by_user` is each
    Last.fm user's play counts on catalog artists (`backbeat_ops.lastfm.matched_plays`)."""
    rng = random.Random(seed)
    catalog = songs_by_artist(songs)
    chosen = choose_listeners(plays_by_user, catalog, listeners, rng, min_artists)
    plays = {
        listener.email: listener_plays(listener, catalog, rng.randint(*plays_per_listener), now, rng, seed)
        for listener in chosen
    }
    return DemoListening(listeners=chosen, plays=plays)
