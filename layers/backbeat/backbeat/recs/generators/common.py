"""What several generators share: the model as a RecsModel, the listener's plays as counts."""

from __future__ import annotations

from collections import Counter

from backbeat.recs.artefacts import RecsModel
from backbeat.recs.types import ListenerContext

# how many of the most recent plays describe "what the listener is into now"
RECENT_PLAYS = 50


def as_model(model: object | None) -> RecsModel | None:
    return model if isinstance(model, RecsModel) else None


def listener_plays(context: ListenerContext) -> dict[str, float]:
    """Song -> plays (each play counts 1) from the recent plays, seed songs counting one play each."""
    counts: Counter[str] = Counter(context.recent_song_ids)
    for song in context.seed_song_ids:
        counts[song] += 1
    return {song: float(count) for song, count in counts.items()}


def excluded(context: ListenerContext) -> set[str]:
    """Songs no generator proposes: what the listener heard lately and the seed songs themselves."""
    return set(context.heard_song_ids) | set(context.recent_song_ids) | set(context.seed_song_ids)
