"""Approximate nearest neighbours over a model's vectors: Spotify's voyager (HNSW), built at training
time and saved with the artefacts, so serving asks the index instead of scanning the catalog.

Rows are addressed by their position in the model's own id list (a song's or an artist's index),
and a query answers `(row, similarity)` pairs, best first: cosine for content and artist vectors,
the inner product for the collaborative factors (what ALS scores with).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from voyager import Index, Space

Metric = Literal["cosine", "inner_product"]
_SPACES: dict[Metric, Space] = {"cosine": Space.Cosine, "inner_product": Space.InnerProduct}

# HNSW graph degree and construction beam: recall above 0.95 at k=100 on the catalog's sizes.
GRAPH_DEGREE = 16
CONSTRUCTION_EF = 200
QUERY_EF = 100


@dataclass
class AnnIndex:
    index: Index
    metric: Metric

    @classmethod
    def build(cls, vectors: np.ndarray, metric: Metric, rows: np.ndarray | None = None) -> AnnIndex:
        """An index over the given rows of `vectors` (every row when None); row i gets id i."""
        matrix = np.asarray(vectors, dtype=np.float32)
        ids = np.arange(len(matrix)) if rows is None else np.asarray(rows, dtype=np.int64)
        index = Index(
            _SPACES[metric], num_dimensions=int(matrix.shape[1]), M=GRAPH_DEGREE, ef_construction=CONSTRUCTION_EF
        )
        if len(ids):
            index.add_items(np.ascontiguousarray(matrix[ids]), ids=[int(row) for row in ids])
        return cls(index, metric)

    @classmethod
    def load(cls, path: Path, metric: Metric) -> AnnIndex:
        return cls(Index.load(str(path)), metric)

    def save(self, path: Path) -> None:
        self.index.save(str(path))

    def __len__(self) -> int:
        return int(self.index.num_elements)

    def query(self, vector: np.ndarray, k: int, exclude: Iterable[int] = ()) -> list[tuple[int, float]]:
        """The `k` rows nearest to `vector` as (row, similarity), best first, rows in `exclude` left out."""
        excluded = set(exclude)
        size = len(self)
        if size == 0 or k <= 0:
            return []
        # a listener who heard thousands of songs must not turn one look-up into a scan: fetch a bounded
        # margin for the exclusions (a shorter answer beats a slow one)
        wanted = min(size, k + min(len(excluded), 4 * k + 100))
        rows, distances = self.index.query(
            np.asarray(vector, dtype=np.float32), k=wanted, query_ef=max(QUERY_EF, wanted)
        )
        # voyager's distance is 1 - similarity for both spaces
        pairs = [(int(row), 1.0 - float(distance)) for row, distance in zip(rows, distances, strict=True)]
        return [(row, similarity) for row, similarity in pairs if row not in excluded][:k]
