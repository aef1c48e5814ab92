"""The training entry point: `train(interactions)` fits our collaborative model on any
`(user, item, weight)` table; `build_model` joins it with the catalog's content and tag vectors into
the `RecsModel` serving loads (`backbeat.recs.artefacts`), ANN indexes included.

The weight is what a listener gave an item: for Backbeat's plays, full-play equivalents (listening
time / song length, summed: a skip at 30 s of a 3-minute song weighs 0.17, a completed play 1),
from `backbeat_recs.pipeline`; for the offline benchmark, Last.fm play counts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import scipy.sparse as sp

from backbeat.recs.artefacts import FoldIn, RecsModel, SongCatalog
from backbeat_recs.data import Interactions
from backbeat_recs.models import Als, Ease, Hybrid, Weighting


@dataclass(frozen=True)
class TrainingSettings:
    """Ours, with the settings the offline benchmark's validation chose on Last.fm 2K (presence
    with a high confidence and strong regularisation measured better there than log-scaled plays;
    `weighting="log"` keeps the listening time's magnitude)."""

    factors: int = 200
    regularization: float = 20.0
    alpha: float = 10.0
    iterations: int = 15
    weighting: Weighting = "binary"
    item_model_lambda: float = 100.0
    neighbours: int = 200
    als_share: float = 0.5
    max_item_model_items: int = 20_000
    min_item_users: int = 2
    seed: int = 0


@dataclass
class CollaborativeModel:
    items: list[str]
    item_factors: np.ndarray  # items x factors
    neighbours: sp.csr_matrix  # items x items, each row's strongest item-model neighbours
    listeners: np.ndarray  # per item: distinct listeners in the data
    settings: TrainingSettings
    users: int = 0
    interactions: int = 0
    details: dict[str, object] = field(default_factory=dict)

    @property
    def fold_in(self) -> FoldIn:
        if self.settings.weighting not in ("binary", "log"):
            raise ValueError(f"serving folds in binary or log weighting, not {self.settings.weighting}")
        return FoldIn(
            alpha=self.settings.alpha,
            regularization=self.settings.regularization,
            als_share=self.settings.als_share,
            weighting=self.settings.weighting,
        )


def train(
    interactions: Interactions | Iterable[tuple[str, str, float]], settings: TrainingSettings | None = None
) -> CollaborativeModel:
    """Fit weighted ALS and the pruned item model on every interaction."""
    settings = settings or TrainingSettings()
    data = interactions if isinstance(interactions, Interactions) else Interactions.from_rows(interactions)
    hybrid = Hybrid(
        als=Als(
            factors=settings.factors,
            regularization=settings.regularization,
            alpha=settings.alpha,
            iterations=settings.iterations,
            weighting=settings.weighting,
            seed=settings.seed,
        ),
        items=Ease(
            regularization=settings.item_model_lambda,
            min_item_users=settings.min_item_users,
            max_items=settings.max_item_model_items,
            keep_gram=False,
        ),
        neighbours=settings.neighbours,
        als_share=settings.als_share,
    )
    started = time.perf_counter()
    hybrid.als.fit(data.matrix)
    als_seconds = time.perf_counter() - started
    hybrid.items.fit(data.matrix)
    hybrid.fit(data.matrix)  # the fitted parts are kept: this prunes the item model to its neighbour lists
    item_seconds = time.perf_counter() - started - als_seconds
    assert hybrid.lists is not None
    # the item model's lists are over its own columns: back to the data's item positions
    columns = hybrid.items.columns
    lists = hybrid.lists.tocoo()
    neighbours = sp.csr_matrix(
        (lists.data, (columns[lists.row], columns[lists.col])), shape=(data.shape[1], data.shape[1]), dtype=np.float32
    )
    return CollaborativeModel(
        items=data.items,
        item_factors=hybrid.als.item_factors,
        neighbours=neighbours,
        listeners=np.bincount(data.matrix.indices[data.matrix.data > 0], minlength=data.shape[1]).astype(np.float32),
        settings=settings,
        users=data.shape[0],
        interactions=data.nnz,
        details={
            "itemModelItems": len(columns),
            "alsSeconds": round(als_seconds, 1),
            "alsIterationSeconds": round(float(np.median(hybrid.als.iteration_seconds or [0.0])), 1),
            "itemModelSeconds": round(item_seconds, 1),
        },
    )


def build_model(
    version: str,
    collaborative: CollaborativeModel,
    song_ids: Sequence[str],
    song_artists: Sequence[str],
    song_genres: Sequence[Sequence[str]],
    raw_features: np.ndarray,
    content: np.ndarray,
    artists: Sequence[str],
    artist_vectors: np.ndarray,
    metadata: Mapping[str, object] | None = None,
) -> RecsModel:
    """The serving model over the catalog's songs (row order = `song_ids`); songs the data never
    saw keep zero factors and no neighbours, songs in the data but not in the catalog are dropped."""
    row_of = {song: row for row, song in enumerate(song_ids)}
    item_rows = np.asarray([row_of.get(item, -1) for item in collaborative.items], dtype=np.int64)
    known = item_rows >= 0
    factors = np.zeros((len(song_ids), collaborative.item_factors.shape[1]), dtype=np.float32)
    factors[item_rows[known]] = collaborative.item_factors[known]
    popularity = np.zeros(len(song_ids), dtype=np.float32)
    popularity[item_rows[known]] = collaborative.listeners[known]
    lists = collaborative.neighbours.tocoo()
    keep = known[lists.row] & known[lists.col]
    remapped = sp.csr_matrix(
        (lists.data[keep], (item_rows[lists.row[keep]], item_rows[lists.col[keep]])),
        shape=(len(song_ids), len(song_ids)),
        dtype=np.float32,
    )
    remapped.sort_indices()
    catalog = SongCatalog(
        song_ids=list(song_ids),
        artist_ids=list(song_artists),
        genres=[list(genres) for genres in song_genres],
        popularity=popularity,
        artists=list(artists),
    )
    return RecsModel(
        version=version,
        catalog=catalog,
        item_factors=factors,
        features=raw_features,
        content=content,
        artist_vectors=artist_vectors,
        fold_in=collaborative.fold_in,
        neighbours=(remapped.indptr, remapped.indices, remapped.data),
        metadata={
            "users": collaborative.users,
            "interactions": collaborative.interactions,
            "trainedSongs": int(known.sum()),
            "settings": collaborative.settings.__dict__,
            "trainedAt": datetime.now(UTC).isoformat(timespec="seconds"),  # serving falls back when too old
            **dict(metadata or {}),
        },
    )
