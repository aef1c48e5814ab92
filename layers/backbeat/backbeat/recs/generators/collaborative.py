"""Collaborative candidates: implicit ALS on plays weighted by listening time, blended with the item
model's neighbour lists (ours in the offline benchmark, docs/performance.md "Recommendations: offline").

The listener's vector is folded in at request time from their recent plays (`RecsModel.user_vector`),
so plays since the weekly training count; the ANN index (inner product over the item factors)
answers the ALS side, the neighbour lists of the played songs the item side; both are z-scored over
the union and blended with the model's `als_share`. Heard songs are left out.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from backbeat.recs.artefacts import RecsModel
from backbeat.recs.generators.common import as_model, excluded, listener_plays
from backbeat.recs.types import Candidate, ListenerContext, Source

# how many more candidates than asked each side fetches before the blend and the filter
OVERFETCH = 3


def _standardised(values: np.ndarray) -> np.ndarray:
    if len(values) == 0:
        return values
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def blended_scores(model: RecsModel, plays: dict[str, float], songs: Iterable[str] | None) -> dict[str, float]:
    """The blended score of each song in `songs` (None: every song the model trained on or the
    neighbour lists reach) for a listener with these plays; empty when the model knows none of them."""
    user = model.user_vector(plays)
    neighbour = model.neighbour_scores(plays)
    if user is None and not neighbour:
        return {}
    if songs is None:
        rows = set(model.trained_rows.tolist()) | {model.song_index[song] for song in neighbour}
        ordered = sorted(rows)
    else:
        ordered = sorted({model.song_index[song] for song in songs if song in model.song_index})
    if not ordered:
        return {}
    ids = [model.catalog.song_ids[row] for row in ordered]
    als = model.item_factors[ordered] @ user if user is not None else np.zeros(len(ordered), dtype=np.float32)
    items = np.asarray([neighbour.get(song, 0.0) for song in ids], dtype=np.float32)
    share = model.fold_in.als_share if user is not None and neighbour else (1.0 if user is not None else 0.0)
    blended = share * _standardised(als.astype(np.float64)) + (1.0 - share) * _standardised(items.astype(np.float64))
    return {song: float(score) for song, score in zip(ids, blended, strict=True)}


class CollaborativeGenerator:
    source: Source = "collaborative"

    def candidates(self, context: ListenerContext, model: object | None, limit: int) -> list[Candidate]:
        recs = as_model(model)
        plays = listener_plays(context)
        if recs is None or not plays or limit <= 0:
            return []
        skip = excluded(context)
        pool: set[str] = set()
        user = recs.user_vector(plays)
        if user is not None:
            pool.update(song for song, _ in recs.nearest_songs("collaborative", user, limit * OVERFETCH, list(skip)))
        neighbours = recs.neighbour_scores(plays)
        pool.update(sorted(neighbours, key=lambda song: -neighbours[song])[: limit * OVERFETCH])
        scores = blended_scores(recs, plays, pool - skip)
        ranked = sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]
        return [Candidate(song, score, self.source) for song, score in ranked]
