"""Interactions: any `(user, item, weight)` table as a sparse users x items matrix, read from a CSV
(header `user,item,weight`) or from rows, and split per user for held-out evaluation.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp


class InteractionsError(ValueError):
    """The interactions cannot be read (missing columns, a weight that is no number, no rows)."""


@dataclass
class Interactions:
    users: list[str]
    items: list[str]
    matrix: sp.csr_matrix  # users x items, the summed weights (float32)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.users), len(self.items))

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, float]]) -> Interactions:
        """Rows `(user, item, weight)`; repeated pairs add up, rows with a weight <= 0 are left out."""
        user_index: dict[str, int] = {}
        item_index: dict[str, int] = {}
        user_rows: list[int] = []
        item_cols: list[int] = []
        weights: list[float] = []
        for user, item, weight in rows:
            if not weight > 0:
                continue
            user_rows.append(user_index.setdefault(user, len(user_index)))
            item_cols.append(item_index.setdefault(item, len(item_index)))
            weights.append(float(weight))
        if not weights:
            raise InteractionsError("no interaction with a positive weight")
        matrix = sp.csr_matrix(
            (np.asarray(weights, dtype=np.float32), (np.asarray(user_rows), np.asarray(item_cols))),
            shape=(len(user_index), len(item_index)),
        )
        matrix.sum_duplicates()
        return cls(list(user_index), list(item_index), matrix)

    @classmethod
    def from_columns(cls, users: np.ndarray, items: np.ndarray, weights: np.ndarray) -> Interactions:
        """The same table as three equal-length columns (numpy arrays: ids of any dtype, weights),
        with no Python object per row: what the weekly export's Parquet columns and the training
        benchmark's 50 M plays go through. Repeated pairs add up, weights <= 0 are left out; users
        and items keep their order of first appearance, as `from_rows` gives them."""
        values = np.asarray(weights, dtype=np.float32)
        if not (len(users) == len(items) == len(values)):
            raise InteractionsError("the user, item and weight columns differ in length")
        keep = values > 0
        if not keep.any():
            raise InteractionsError("no interaction with a positive weight")
        if not keep.all():
            users, items, values = np.asarray(users)[keep], np.asarray(items)[keep], values[keep]
        user_rows, user_ids = _codes(np.asarray(users))
        item_cols, item_ids = _codes(np.asarray(items))
        matrix = sp.csr_matrix((values, (user_rows, item_cols)), shape=(len(user_ids), len(item_ids)), dtype=np.float32)
        matrix.sum_duplicates()
        return cls([str(user) for user in user_ids.tolist()], [str(item) for item in item_ids.tolist()], matrix)

    def with_matrix(self, matrix: sp.csr_matrix) -> Interactions:
        return Interactions(self.users, self.items, matrix.tocsr())


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int32 code per value, the distinct values), codes numbered in order of first appearance."""
    distinct, first, inverse = np.unique(values, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return rank[inverse.ravel()], distinct[order]


def read_csv(path: Path) -> Interactions:
    """A CSV with a header naming `user`, `item` and `weight` columns (others are ignored)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"user", "item", "weight"} - set(reader.fieldnames or ())
        if missing:
            raise InteractionsError(f"{path}: the header lacks {', '.join(sorted(missing))} (want user,item,weight)")

        def rows() -> Iterable[tuple[str, str, float]]:
            for line, row in enumerate(reader, start=2):
                try:
                    weight = float(row["weight"])
                except (TypeError, ValueError):
                    raise InteractionsError(f"{path}:{line}: weight {row['weight']!r} is not a number") from None
                yield row["user"], row["item"], weight

        return Interactions.from_rows(rows())


def holdout_split(
    interactions: Interactions, fraction: float, seed: int, min_user_items: int = 2
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """A random per-user split: `fraction` of each user's items (at least one, and only for users
    with `min_user_items` or more) go to the held-out matrix, the rest stay in training."""
    rng = np.random.default_rng(seed)
    matrix = interactions.matrix.tocsr()
    held_mask = np.zeros(matrix.nnz, dtype=bool)
    for user in range(matrix.shape[0]):
        start, end = matrix.indptr[user], matrix.indptr[user + 1]
        count = end - start
        if count < min_user_items:
            continue
        held = max(1, round(count * fraction))
        held_mask[start + rng.choice(count, size=held, replace=False)] = True
    coo = matrix.tocoo()
    # csr -> coo keeps the csr order, so the mask lines up with the coo entries
    train = sp.csr_matrix(
        (coo.data[~held_mask], (coo.row[~held_mask], coo.col[~held_mask])), shape=matrix.shape, dtype=np.float32
    )
    held_out = sp.csr_matrix(
        (coo.data[held_mask], (coo.row[held_mask], coo.col[held_mask])), shape=matrix.shape, dtype=np.float32
    )
    return train, held_out
