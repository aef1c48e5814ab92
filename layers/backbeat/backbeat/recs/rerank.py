"""Re-ranking the blended list for the listener's moment: time of day, device, diversity, freshness.

- **Freshness**: no song the listener played in the freshness window (30 days) is recommended.
- **Context**: the client's local hour and device type nudge songs by their audio features: energy
  and danceability up in the morning and on the move (car), mellow songs (low energy, high
  acousticness) up late at night. A nudge multiplies the blended score by ``1 + strength * fit``
  with ``fit`` in [-1, 1], so the context re-orders near neighbours but never lifts a poor match
  over a strong one.
- **Diversity**: at most `PER_ARTIST` songs of one artist in any `WINDOW` consecutive songs; a song
  that would break the rule waits for the first place where it no longer does (or is left out).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from backbeat.recs.blend import Blended

PER_ARTIST = 2
WINDOW = 20
CONTEXT_STRENGTH = 0.3

# The part of the day a local hour falls in: what the seed means by morning and night.
MORNING = range(5, 11)
EVENING = range(18, 22)
NIGHT = (*range(22, 24), *range(0, 5))
ON_THE_MOVE = frozenset({"car", "mobile"})
LEAN_BACK = frozenset({"speaker", "tv"})


@dataclass(frozen=True)
class Ranked:
    song_id: str
    score: float
    sources: tuple[str, ...]
    artist_id: str | None


def _feature(features: Mapping[str, float], name: str) -> float:
    """A feature in [0, 1] (0.5 when the catalog has none); tempo is not used here."""
    value = features.get(name)
    return 0.5 if value is None else max(0.0, min(1.0, float(value)))


def context_fit(features: Mapping[str, float] | None, local_hour: int | None, device_type: str | None) -> float:
    """How well a song's audio features suit the moment, in [-1, 1] (0: no opinion)."""
    if not features or (local_hour is None and device_type is None):
        return 0.0
    energy = _feature(features, "energy")
    dance = _feature(features, "danceability")
    acoustic = _feature(features, "acousticness")
    valence = _feature(features, "valence")
    lively = (energy + dance) / 2 * 2 - 1  # -1 mellow .. +1 high energy
    mellow = ((1 - energy) + acoustic) / 2 * 2 - 1
    fit = 0.0
    if local_hour is not None:
        if local_hour in MORNING:
            fit += lively
        elif local_hour in NIGHT:
            fit += mellow
        elif local_hour in EVENING:
            fit += (valence * 2 - 1) / 2  # evenings: a little brighter
    if device_type in ON_THE_MOVE:
        fit += lively / 2
    elif device_type in LEAN_BACK:
        fit += (dance * 2 - 1) / 2
    return max(-1.0, min(1.0, fit))


def diversify(ranked: Iterable[Ranked], limit: int, per_artist: int = PER_ARTIST, window: int = WINDOW) -> list[Ranked]:
    """The first `limit` songs in order, with at most `per_artist` of an artist in any `window`
    consecutive places: at each place the best waiting song that keeps the rule goes next."""
    waiting = list(ranked)
    chosen: list[Ranked] = []
    recent: deque[str | None] = deque(maxlen=window - 1)
    while waiting and len(chosen) < limit:
        for index, entry in enumerate(waiting):
            if entry.artist_id is None or sum(1 for artist in recent if artist == entry.artist_id) < per_artist:
                chosen.append(waiting.pop(index))
                recent.append(entry.artist_id)
                break
        else:
            break  # every waiting song's artist is already twice in the window
    return chosen


def rerank(
    blended: Iterable[Blended],
    *,
    artist_of: Callable[[str], str | None],
    features_of: Callable[[str], Mapping[str, float] | None],
    heard: frozenset[str] | set[str],
    local_hour: int | None,
    device_type: str | None,
    limit: int,
    strength: float = CONTEXT_STRENGTH,
) -> list[Ranked]:
    """The blended list without heard songs, nudged by context, then diversified and cut to `limit`."""
    nudged: list[Ranked] = []
    for entry in blended:
        if entry.song_id in heard:
            continue
        fit = context_fit(features_of(entry.song_id), local_hour, device_type)
        score = entry.score * (1 + strength * fit)
        nudged.append(Ranked(entry.song_id, round(score, 6), entry.sources, artist_of(entry.song_id)))
    nudged.sort(key=lambda entry: (-entry.score, entry.song_id))
    return diversify(nudged, limit)
