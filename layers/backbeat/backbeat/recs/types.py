"""The shapes the recommendation parts share: what a generator is asked and what it answers.

A generator answers candidates for one listener; blending merges them by source weight and the
re-ranker orders the merged list for the listener's context (time of day, device).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

Source = Literal["collaborative", "content", "tags", "trending", "exploration"]
SOURCES: tuple[Source, ...] = ("collaborative", "content", "tags", "trending", "exploration")


@dataclass(frozen=True)
class Candidate:
    """One song a generator proposes, with its score in that generator's own scale (higher is better)."""

    song_id: str
    score: float
    source: Source


@dataclass(frozen=True)
class ListenerContext:
    """What the generators know of the listener and the request.

    `recent_song_ids` are the songs played most recently first; `heard_song_ids` every song the
    listener played in the freshness window (generators may leave them out, the re-ranker does).
    Seeds come from `GET /recommendations?seed=...`; without seeds the answer is the home feed.
    """

    user_id: str | None
    recent_song_ids: Sequence[str] = ()
    heard_song_ids: frozenset[str] = frozenset()
    artist_weights: dict[str, float] = field(default_factory=dict)
    genre_weights: dict[str, float] = field(default_factory=dict)
    seed_song_ids: Sequence[str] = ()
    seed_artist_ids: Sequence[str] = ()
    seed_genres: Sequence[str] = ()
    local_hour: int | None = None
    device_type: str | None = None


class Generator(Protocol):
    """A candidate source: `model` is the promoted model's artefacts (None when there is none)."""

    source: Source

    def candidates(self, context: ListenerContext, model: object | None, limit: int) -> list[Candidate]: ...
