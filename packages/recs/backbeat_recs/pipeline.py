"""The weekly training run: the lake's plays -> interactions -> a candidate model -> compared with the
promoted one on a held-out slice -> artefacts + registry record -> promoted if it is not worse.

Both models are judged through the scoring serving uses (`backbeat.recs.generators.collaborative`:
fold-in ALS blended with the item neighbours), brute force over every song instead of the ANN index,
on the same slice: the (listener, song) pairs whose hash falls in the first SLICE_PERCENT of 100. The
slice is the same every week, so no model, the promoted one included, ever trained on it: the
comparison is fair across versions. Past EVALUATION_USERS listeners in the slice, both models are
judged on the same fixed sample of them (those whose hashed id is lowest): scoring every song for
a million listeners would outlast the training. The model published is the one measured.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from backbeat.recs import registry
from backbeat.recs.artefacts import RecsModel, publish
from backbeat.recs.generators.collaborative import blended_scores
from backbeat_recs.catalog import CatalogData
from backbeat_recs.data import Interactions
from backbeat_recs.training import TrainingSettings, build_model, train

logger = logging.getLogger(__name__)

SLICE_PERCENT = 10
K = 10
# "not worse": the candidate's NDCG@10 on the slice may trail the promoted model's by this much
# (the slice's own noise at demo sizes); 0 would let sampling noise block every promotion.
PROMOTION_TOLERANCE = 0.005
# the listeners the slice's NDCG is measured on, at most (a fixed sample, the same for both models)
EVALUATION_USERS = 5_000


@dataclass
class ExportedPlays:
    """The export's (listener, song, weight) rows as three columns, and the window they cover."""

    users: np.ndarray
    songs: np.ndarray
    weights: np.ndarray
    window_start: str | None
    window_end: str | None

    def __len__(self) -> int:
        return len(self.weights)

    @classmethod
    def from_rows(
        cls, rows: Iterable[tuple[str, str, float]], window_start: str | None, window_end: str | None
    ) -> ExportedPlays:
        listed = list(rows)
        users = np.asarray([str(row[0]) for row in listed], dtype=object)
        songs = np.asarray([str(row[1]) for row in listed], dtype=object)
        weights = np.asarray([float(row[2]) for row in listed], dtype=np.float32)
        return cls(users, songs, weights, window_start, window_end)


def top_songs(model: RecsModel, plays: dict[str, float], k: int) -> list[str]:
    """Serving's collaborative ranking for one listener over every song (no ANN), heard songs out."""
    scores = blended_scores(model, plays, songs=None)
    for song in plays:
        scores.pop(song, None)
    return [song for song, _ in sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))[:k]]


def slice_ndcg(model: RecsModel, train_plays: dict[str, dict[str, float]], held: dict[str, set[str]]) -> float:
    discounts = 1.0 / np.log2(np.arange(2, K + 2))
    values = []
    for user, relevant in held.items():
        plays = train_plays.get(user)
        if not plays or not relevant:
            continue
        ranked = top_songs(model, plays, K)
        gain = sum(discounts[position] for position, song in enumerate(ranked) if song in relevant)
        values.append(gain / discounts[: min(K, len(relevant))].sum())
    return float(np.mean(values)) if values else 0.0


def evaluation_sample(users: Iterable[str], size: int = EVALUATION_USERS) -> set[str]:
    """At most `size` of `users`: those whose hashed id is lowest (the same listeners every week)."""
    distinct = set(users)
    if len(distinct) <= size:
        return distinct
    return set(sorted(distinct, key=lambda user: hashlib.sha256(user.encode()).digest())[:size])


def in_slice(user: str, song: str) -> bool:
    """Whether a (listener, song) pair belongs to the evaluation slice no model trains on."""
    digest = hashlib.sha256(f"{user}\x1f{song}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < SLICE_PERCENT


def run_training(
    exported: ExportedPlays,
    catalog: CatalogData,
    registry_table: str,
    bucket: str,
    s3: Any,
    promote: bool = True,
    load_model: Callable[[str], RecsModel] | None = None,
    settings: TrainingSettings | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Train, compare, publish, register and (maybe) promote; answers what happened."""
    moment = now or datetime.now(UTC)
    held_mask = np.fromiter(
        (in_slice(user, song) for user, song in zip(exported.users.tolist(), exported.songs.tolist(), strict=True)),
        dtype=bool,
        count=len(exported),
    )
    kept = ~held_mask
    data = Interactions.from_columns(exported.users[kept], exported.songs[kept], exported.weights[kept])
    collaborative = train(data, settings)
    version = registry.new_version(moment)
    candidate = build_model(
        version,
        collaborative,
        catalog.song_ids,
        catalog.song_artists,
        catalog.song_genres,
        catalog.raw_features,
        catalog.content,
        catalog.artists,
        catalog.artist_vectors,
        metadata={"windowStart": exported.window_start, "windowEnd": exported.window_end},
    )
    sample = evaluation_sample(exported.users[held_mask].tolist())
    # only the sampled listeners' rows are turned into Python objects
    sampled = np.fromiter((user in sample for user in exported.users.tolist()), dtype=bool, count=len(exported))
    held: dict[str, set[str]] = {}
    train_plays: dict[str, dict[str, float]] = {}
    for row in np.flatnonzero(sampled).tolist():
        user, song = str(exported.users[row]), str(exported.songs[row])
        if held_mask[row]:
            held.setdefault(user, set()).add(song)
        else:
            plays = train_plays.setdefault(user, {})
            plays[song] = plays.get(song, 0.0) + float(exported.weights[row])
    candidate_ndcg = slice_ndcg(candidate, train_plays, held)
    current_version = registry.promoted_version(registry_table)
    current_ndcg: float | None = None
    if current_version is not None and load_model is not None:
        try:
            current_ndcg = slice_ndcg(load_model(current_version), train_plays, held)
        except Exception:  # an unreadable promoted model is replaced, not compared
            logger.exception("could not evaluate the promoted model %s", current_version)
    better = current_ndcg is None or candidate_ndcg >= current_ndcg - PROMOTION_TOLERANCE
    prefix = publish(candidate, bucket, s3)
    metrics = {"ndcg@10": round(candidate_ndcg, 6), "heldOutUsers": float(len(held))}
    if current_ndcg is not None:
        metrics["promotedNdcg@10"] = round(current_ndcg, 6)
    registry.record(
        registry_table,
        registry.ModelRecord(
            version=version,
            created_at=moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
            window_start=exported.window_start,
            window_end=exported.window_end,
            metrics=metrics,
            artefact_prefix=prefix,
            details={
                "users": collaborative.users,
                "songs": len(collaborative.items),
                "interactions": collaborative.interactions,
                "comparedWith": current_version,
            },
        ),
    )
    return {
        "version": version,
        "artefactPrefix": prefix,
        "metrics": metrics,
        "comparedWith": current_version,
        "promote": bool(promote and better),
        "notWorse": better,
    }
