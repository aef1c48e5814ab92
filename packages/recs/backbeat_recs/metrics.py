"""Offline measures of top-k lists against held-out interactions: NDCG@k and Recall@k (binary
relevance), catalogue coverage and intra-list diversity.

Recall@k is hits / min(k, held-out items), so a user with more held-out items than k can still
reach 1. Diversity is 1 - the mean pairwise cosine of a list's items, each item represented by the
listeners who played it in training (a representation no model owns, so every model is judged alike).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Measures:
    ndcg: float
    recall: float
    coverage: float
    diversity: float
    users: int

    def as_dict(self, k: int) -> dict[str, float]:
        return {
            f"ndcg@{k}": round(self.ndcg, 4),
            f"recall@{k}": round(self.recall, 4),
            "coverage": round(self.coverage, 4),
            "diversity": round(self.diversity, 4),
        }


def measure(top: np.ndarray, users: np.ndarray, held_out: sp.csr_matrix, train: sp.csr_matrix, k: int) -> Measures:
    """`top[i]` is the ranked list (item columns) for `users[i]`."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discounts)
    ndcgs = np.empty(len(users))
    recalls = np.empty(len(users))
    for position, user in enumerate(users):
        relevant = held_out.indices[held_out.indptr[user] : held_out.indptr[user + 1]]
        hits = np.isin(top[position, :k], relevant)
        wanted = min(k, len(relevant))
        ndcgs[position] = float(discounts[hits].sum() / ideal[wanted - 1])
        recalls[position] = float(hits.sum() / wanted)
    return Measures(
        ndcg=float(ndcgs.mean()),
        recall=float(recalls.mean()),
        coverage=len(np.unique(top[:, :k])) / train.shape[1],
        diversity=intra_list_diversity(top[:, :k], train),
        users=len(users),
    )


def intra_list_diversity(top: np.ndarray, train: sp.csr_matrix) -> float:
    listeners = (train > 0).astype(np.float32).tocsc()
    norms = np.sqrt(np.asarray(listeners.multiply(listeners).sum(axis=0)).ravel())
    norms[norms == 0] = 1.0
    k = top.shape[1]
    if k < 2:
        return 0.0
    pairs = np.triu_indices(k, 1)
    scores = np.empty(len(top))
    for position, items in enumerate(top):
        vectors = listeners[:, items]
        cosine = (vectors.T @ vectors).toarray() / np.outer(norms[items], norms[items])
        scores[position] = 1.0 - float(cosine[pairs].mean())
    return float(scores.mean())


def held_out_users(held_out: sp.csr_matrix, train: sp.csr_matrix) -> np.ndarray:
    """Users with at least one held-out item and one training item (the ones a model can be asked about)."""
    has_test = np.diff(held_out.indptr) > 0
    has_train = np.diff(train.indptr) > 0
    return np.flatnonzero(has_test & has_train)
