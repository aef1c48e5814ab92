"""Blending: the candidate sources' lists merged into one, by source weight.

Each source scores in its own scale (cosine similarities, ALS dot products, trend ratios), so each
list is first normalised to [FLOOR, 1] (min-max within the list: its best candidate 1, its worst
FLOOR, so that every proposal counts a little; a list whose scores are all equal is all 1). A song's
blended score is then

    score = sum over the sources that proposed it of  weight(source) / sum(weights) * normalised

so a song two sources agree on rises above one only a single source proposed, and the weights
(collaborative 40, content 30, tags 15, trending 10, exploration 5 by default; a setting) say how
much each source's opinion counts. The result is deduplicated: one entry per song, with the
sources that proposed it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from backbeat.errors import InvalidInput
from backbeat.recs.types import SOURCES, Candidate, Source

DEFAULT_WEIGHTS: dict[Source, float] = {
    "collaborative": 40.0,
    "content": 30.0,
    "tags": 15.0,
    "trending": 10.0,
    "exploration": 5.0,
}
FLOOR = 0.1


@dataclass(frozen=True)
class Blended:
    """One song of the merged list: its blended score in [0, 1] and who proposed it."""

    song_id: str
    score: float
    sources: tuple[Source, ...]


def parse_weights(text: str) -> dict[Source, float]:
    """The weights setting, ``collaborative=40,content=30,...``: sources left out weigh 0."""
    weights: dict[Source, float] = dict.fromkeys(SOURCES, 0.0)
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, _, value = part.partition("=")
        source = name.strip()
        if source not in SOURCES:
            raise InvalidInput(f"recs weights: unknown source {source!r} (known: {', '.join(SOURCES)})")
        try:
            weight = float(value)
        except ValueError:
            raise InvalidInput(f"recs weights: {part!r} is not source=number") from None
        if weight < 0:
            raise InvalidInput(f"recs weights: {source} must not be negative")
        weights[source] = weight  # type: ignore[index]
    if not any(weights.values()):
        raise InvalidInput("recs weights: at least one source must weigh more than 0")
    return weights


def normalised(candidates: Iterable[Candidate]) -> dict[str, float]:
    """One source's list -> song id -> score in [FLOOR, 1] (min-max; a repeated song keeps its best)."""
    best: dict[str, float] = {}
    for candidate in candidates:
        if candidate.song_id not in best or candidate.score > best[candidate.song_id]:
            best[candidate.song_id] = candidate.score
    if not best:
        return {}
    low, high = min(best.values()), max(best.values())
    if high == low:
        return dict.fromkeys(best, 1.0)
    return {song_id: FLOOR + (1 - FLOOR) * (score - low) / (high - low) for song_id, score in best.items()}


def blend(by_source: Mapping[Source, Iterable[Candidate]], weights: Mapping[Source, float]) -> list[Blended]:
    """The sources' lists merged, best first (ties: more sources first, then song id, so the order
    is stable). Only the sources present count towards the weights' sum: when a source is missing
    (timed out, or not asked for a new listener) the others share its weight."""
    present = {source: list(candidates) for source, candidates in by_source.items() if weights.get(source, 0) > 0}
    total = sum(weights[source] for source, candidates in present.items() if candidates)
    if total <= 0:
        return []
    scores: dict[str, float] = {}
    proposers: dict[str, list[Source]] = {}
    for source in SOURCES:
        if not present.get(source):
            continue
        share = weights[source] / total
        for song_id, score in normalised(present[source]).items():
            scores[song_id] = scores.get(song_id, 0.0) + share * score
            proposers.setdefault(song_id, []).append(source)
    merged = [Blended(song_id, round(score, 6), tuple(proposers[song_id])) for song_id, score in scores.items()]
    merged.sort(key=lambda entry: (-entry.score, -len(entry.sources), entry.song_id))
    return merged
