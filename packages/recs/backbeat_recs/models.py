"""The collaborative models the evaluation compares: MostPop, EASE (closed form), plain ALS and ours
(ALS on confidence-weighted plays, tuned on a validation split).

Each model fits a users x items training matrix of weights (plays, or listening time) and scores
items for a batch of users; `top_items` ranks them with the user's training items left out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import scipy.sparse as sp

Weighting = Literal["binary", "log", "bm25"]

# implicit uses every core it sees unless told; training shares its container with nothing else,
# the benchmarks on a developer machine may not
THREADS = int(os.environ.get("BACKBEAT_RECS_THREADS", "0"))


def weighted(matrix: sp.csr_matrix, weighting: Weighting, bm25_b: float = 0.8) -> sp.csr_matrix:
    """The confidence matrix before ALS's alpha: 1 per play pair, log(1 + weight), or BM25 over
    the weights (damps heavy listeners and very popular items)."""
    result = matrix.tocsr().astype(np.float32, copy=True)
    if weighting == "binary":
        result.data[:] = 1.0
    elif weighting == "log":
        result.data = np.log1p(result.data)
    else:
        from implicit.nearest_neighbours import bm25_weight

        result = bm25_weight(result, K1=100, B=bm25_b).tocsr().astype(np.float32)
    return result


class Recommender(Protocol):
    name: str

    def fit(self, train: sp.csr_matrix) -> None: ...

    def scores(self, users: np.ndarray, train: sp.csr_matrix) -> np.ndarray: ...


@dataclass
class MostPop:
    name: str = "MostPop"
    popularity: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def fit(self, train: sp.csr_matrix) -> None:
        self.popularity = np.asarray((train > 0).sum(axis=0), dtype=np.float32).ravel()

    def scores(self, users: np.ndarray, train: sp.csr_matrix) -> np.ndarray:
        return np.tile(self.popularity, (len(users), 1))


@dataclass
class Ease:
    """Steck's EASE: B = I - P / diag(P), P = (X'X + lambda I)^-1 over binary X; items with fewer
    than `min_item_users` listeners stay out of the Gram matrix (they are no candidates)."""

    regularization: float = 500.0
    min_item_users: int = 2
    name: str = "EASE"
    columns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    weights: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    max_items: int = 20_000
    gram: np.ndarray | None = None  # X'X, kept so that refitting with another lambda skips it
    keep_gram: bool = True  # training fits once: False lets the fit invert X'X in place

    def fit(self, train: sp.csr_matrix) -> None:
        gram = self.gram if self.gram is not None else self._gram(train)
        if self.keep_gram:
            self.gram = gram
            gram = gram.copy()
        else:
            self.gram = None  # about to be overwritten by its inverse
        # B = -P / diag(P) with P = (G + lambda I)^-1, all in place: G + lambda I is symmetric
        # positive definite, so Cholesky (potrf + potri) inverts it with half the work of LU
        gram[np.diag_indices_from(gram)] += self.regularization
        inverse = _spd_inverse(gram)
        inverse /= -np.diag(inverse).copy()
        inverse[np.diag_indices_from(inverse)] = 0.0
        self.weights = np.ascontiguousarray(inverse, dtype=np.float32)

    def _gram(self, train: sp.csr_matrix, chunk: int = 2048) -> np.ndarray:
        """X'X over the kept columns of binary X, as dense float64, built a block of columns at a
        time (the sparse product of a whole popular catalog would hold items^2 entries twice)."""
        binary = train.tocsc(copy=True).astype(np.float32)
        binary.data[:] = np.float32(1.0)
        binary.eliminate_zeros()
        counts = np.diff(binary.indptr)
        eligible = np.flatnonzero(counts >= self.min_item_users)
        # the dense Gram matrix is items^2: past `max_items` the most listened ones only
        self.columns = np.sort(eligible[np.argsort(-counts[eligible], kind="stable")[: self.max_items]])
        x = binary[:, self.columns].tocsc()
        del binary
        transposed = x.T.tocsr()
        gram = np.empty((len(self.columns), len(self.columns)), dtype=np.float64)
        for start in range(0, len(self.columns), chunk):
            gram[:, start : start + chunk] = (transposed @ x[:, start : start + chunk]).toarray()
        return gram

    def with_regularization(self, regularization: float) -> Ease:
        """The same data's model at another lambda (the Gram matrix is shared, not recomputed)."""
        other = Ease(regularization=regularization, min_item_users=self.min_item_users, max_items=self.max_items)
        other.gram, other.columns = self.gram, self.columns
        return other

    def scores(self, users: np.ndarray, train: sp.csr_matrix) -> np.ndarray:
        x = (train[users][:, self.columns] > 0).astype(np.float32)
        result = np.full((len(users), train.shape[1]), -np.inf, dtype=np.float32)
        result[:, self.columns] = np.asarray(x @ self.weights)
        return result


@dataclass
class Als:
    """Implicit ALS (Hu, Koren, Volinsky) through the `implicit` library: confidence 1 + alpha * w
    with w the weighted plays. The defaults are the library's: plain ALS on binary plays."""

    factors: int = 100
    regularization: float = 0.01
    alpha: float = 1.0
    iterations: int = 15
    weighting: Weighting = "binary"
    bm25_b: float = 0.8
    seed: int = 0
    name: str = "ALS"
    user_factors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    item_factors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    iteration_seconds: list[float] = field(default_factory=list)  # the last fit's, one per iteration

    def fit(self, train: sp.csr_matrix) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        # implicit parallelises over users itself; BLAS threads inside each solve only contend
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=THREADS,
                calculate_training_loss=False,
            )
            self.iteration_seconds = []
            model.fit(
                weighted(train, self.weighting, self.bm25_b),
                show_progress=False,
                callback=lambda _iteration, seconds, _loss: self.iteration_seconds.append(seconds),
            )
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)

    def scores(self, users: np.ndarray, train: sp.csr_matrix) -> np.ndarray:
        return np.asarray(self.user_factors[users] @ self.item_factors.T)

    def describe(self) -> dict[str, object]:
        return {
            "factors": self.factors,
            "regularization": self.regularization,
            "alpha": self.alpha,
            "iterations": self.iterations,
            "weighting": self.weighting,
        }


# scipy's bundled OpenBLAS crashes (SIGSEGV in a multithreaded potrf) on the full-size item model's
# Gram matrix (20,000 items, 3.2 GB); with one thread it inverts it. Past this many bytes the inverse
# runs on one BLAS thread: slower, but in place, so the peak memory stays one matrix.
THREADED_LAPACK_LIMIT_BYTES = 2**31 - 1


def _spd_inverse(
    matrix: np.ndarray, block: int = 1024, threaded_limit: int = THREADED_LAPACK_LIMIT_BYTES
) -> np.ndarray:
    """The inverse of a symmetric positive definite float64 matrix, computed in the matrix's own
    memory (Cholesky: potrf then potri), on one BLAS thread past `threaded_limit` bytes; the answer
    may be Fortran-ordered."""
    from scipy.linalg import lapack
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1 if matrix.nbytes > threaded_limit else None, "blas"):  # None: left as it is
        # a C-ordered matrix's transpose is a Fortran-ordered view of the same memory: LAPACK works in
        # place on it, and for a symmetric matrix it is the same matrix
        array = matrix.T if matrix.flags.c_contiguous else np.asfortranarray(matrix)
        factor, info = lapack.dpotrf(array, lower=True, overwrite_a=True, clean=False)
        if info != 0:
            raise np.linalg.LinAlgError(f"the item model's Gram matrix is not positive definite (potrf {info})")
        inverse, info = lapack.dpotri(factor, lower=True, overwrite_c=True)
        if info != 0:
            raise np.linalg.LinAlgError(f"the item model's Gram matrix is singular (potri {info})")
        # potri fills the lower triangle: mirror it to the upper one a block of rows at a time
        size = inverse.shape[0]
        for start in range(0, size, block):
            end = min(start + block, size)
            inverse[:start, start:end] = inverse[start:end, :start].T
            diagonal = inverse[start:end, start:end]
            inverse[start:end, start:end] = np.tril(diagonal) + np.tril(diagonal, -1).T
        return inverse


def standardised(scores: np.ndarray) -> np.ndarray:
    """Each row's finite scores as z-scores (so two models' scales can be blended); -inf stays."""
    finite = np.isfinite(scores)
    masked = np.where(finite, scores, np.nan)
    mean = np.nanmean(masked, axis=1, keepdims=True)
    spread = np.nanstd(masked, axis=1, keepdims=True) + 1e-9
    return np.where(finite, (scores - mean) / spread, -np.inf).astype(np.float32)


def neighbour_lists(weights: np.ndarray, k: int, chunk: int = 1024) -> sp.csr_matrix:
    """Keep each item's `k` strongest positive neighbours (row i: what listening to i points to),
    a block of rows at a time (a whole items x items argpartition is 8 bytes per pair)."""
    k = min(k, weights.shape[1] - 1)
    if k <= 0:
        return sp.csr_matrix(weights.shape, dtype=np.float32)
    best = np.empty((weights.shape[0], k), dtype=np.int32)
    values = np.empty((weights.shape[0], k), dtype=np.float32)
    for start in range(0, weights.shape[0], chunk):
        block = weights[start : start + chunk]
        picked = np.argpartition(-block, k, axis=1)[:, :k]
        best[start : start + chunk] = picked
        values[start : start + chunk] = np.take_along_axis(block, picked, axis=1)
    rows = np.repeat(np.arange(weights.shape[0], dtype=np.int32), k)
    keep = values.ravel() > 0
    return sp.csr_matrix(
        (values.ravel()[keep], (rows[keep], best.ravel()[keep])), shape=weights.shape, dtype=np.float32
    )


def listener_profile(train_rows: sp.csr_matrix) -> sp.csr_matrix:
    """A listener's plays as the item model's input: log(1 + plays), scaled to 1 for their top item."""
    profile = train_rows.astype(np.float32, copy=True).tocsr()
    profile.data = np.log1p(profile.data)
    top = np.asarray(profile.max(axis=1).todense()).ravel()
    top[top == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / top) @ profile)


@dataclass
class Hybrid:
    """Ours: weighted ALS blended with an item-to-item model. The item model is EASE's closed form
    pruned to each item's `neighbours` strongest neighbours (what the artefacts store and serving
    reads), fed the listener's log-scaled plays; the two z-scored scores are blended with
    `als_share` (tuned on the validation split)."""

    als: Als
    items: Ease
    neighbours: int = 100
    als_share: float = 0.35
    name: str = "ours (ALS + item model)"
    lists: sp.csr_matrix | None = None

    def fit(self, train: sp.csr_matrix) -> None:
        if not self.als.item_factors.size:
            self.als.fit(train)
        if not self.items.weights.size:
            self.items.fit(train)
        self.lists = neighbour_lists(self.items.weights, self.neighbours)

    def item_scores(self, users: np.ndarray, train: sp.csr_matrix) -> np.ndarray:
        assert self.lists is not None
        profile = listener_profile(train[users][:, self.items.columns])
        result = np.full((len(users), train.shape[1]), -np.inf, dtype=np.float32)
        result[:, self.items.columns] = (profile @ self.lists).toarray()
        return result

    def scores(self, users: np.ndarray, train: sp.csr_matrix) -> np.ndarray:
        collaborative = standardised(self.als.scores(users, train))
        items = standardised(self.item_scores(users, train))
        items[~np.isfinite(items)] = collaborative.min() - 1.0  # outside the item model: ALS alone ranks
        return (1.0 - self.als_share) * items + self.als_share * collaborative

    def describe(self) -> dict[str, object]:
        return {
            "als": self.als.describe(),
            "itemModelRegularization": self.items.regularization,
            "neighbours": self.neighbours,
            "alsShare": self.als_share,
        }


def top_items(model: Recommender, users: np.ndarray, train: sp.csr_matrix, k: int, batch: int = 512) -> np.ndarray:
    """Each user's `k` best items (columns), the items they have in training left out."""
    ranked = np.empty((len(users), k), dtype=np.int64)
    for start in range(0, len(users), batch):
        chunk = users[start : start + batch]
        scores = model.scores(chunk, train).astype(np.float32, copy=True)
        seen = train[chunk]
        scores[seen.nonzero()] = -np.inf
        best = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
        ranked[start : start + len(chunk)] = np.take_along_axis(best, order, axis=1)
    return ranked
