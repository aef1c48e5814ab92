"""Training at scale: the interactions built from columns are the ones built from rows, the item
model's in-place, block-wise fit gives EASE's closed form, and the weekly run's evaluation sample
is bounded and the same every week."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from backbeat_recs.data import Interactions, InteractionsError
from backbeat_recs.models import Ease, _spd_inverse, neighbour_lists
from backbeat_recs.pipeline import evaluation_sample
from backbeat_recs.synthetic import random_plays, scenes


def test_columns_give_the_same_interactions_as_rows() -> None:
    rows = scenes(users=40, seed=3).rows
    rows += [(rows[0][0], rows[0][1], 2.5), ("user-new", "song-x", 0.0), ("user-neg", rows[1][1], -1.0)]
    by_rows = Interactions.from_rows(rows)
    users, items, weights = (np.asarray(column) for column in zip(*rows, strict=True))
    by_columns = Interactions.from_columns(users, items, weights.astype(np.float64))
    assert by_columns.users == by_rows.users and by_columns.items == by_rows.items
    assert (by_columns.matrix != by_rows.matrix).nnz == 0
    assert by_columns.matrix.dtype == np.float32 and "user-new" not in by_columns.users


def test_integer_columns_become_string_ids_and_bad_columns_are_named() -> None:
    users, items, weights = random_plays(300, 50, 3_000, seed=1)
    data = Interactions.from_columns(users, items, weights)
    assert data.users[:3] == ["0", "1", "2"] and data.shape == (300, len(set(items.tolist())))
    assert data.matrix.sum() == pytest.approx(float(weights.sum()), rel=1e-5)
    with pytest.raises(InteractionsError, match="positive"):
        Interactions.from_columns(users[:5], items[:5], np.zeros(5))
    with pytest.raises(InteractionsError, match="length"):
        Interactions.from_columns(users[:5], items[:4], weights[:5])


def test_a_gram_matrix_past_the_threaded_limit_is_inverted_on_one_thread() -> None:
    """The threaded LAPACK crashed on the full-size item model (20,000 items, 3.2 GB): past the limit
    the inverse runs on one BLAS thread, with the same answer."""
    rng = np.random.default_rng(4)
    factors = rng.random((200, 16))
    gram = factors @ factors.T + 5.0 * np.eye(200)
    expected = np.linalg.inv(gram)
    in_place = _spd_inverse(gram.copy())
    past_limit = _spd_inverse(gram.copy(), threaded_limit=gram.nbytes - 1)
    assert np.allclose(in_place, expected) and np.allclose(past_limit, expected)


def closed_form(train: sp.csr_matrix, columns: np.ndarray, regularization: float) -> np.ndarray:
    x = (train[:, columns] > 0).astype(np.float64).toarray()
    inverse = np.linalg.inv(x.T @ x + regularization * np.eye(len(columns)))
    weights = -inverse / np.diag(inverse)
    np.fill_diagonal(weights, 0.0)
    return weights


@pytest.mark.parametrize("keep_gram", [True, False])
def test_the_item_model_is_eases_closed_form(keep_gram: bool) -> None:
    train = Interactions.from_columns(*random_plays(400, 120, 6_000, seed=2)).matrix
    model = Ease(regularization=30.0, min_item_users=3, max_items=90, keep_gram=keep_gram)
    model.fit(train)
    assert len(model.columns) == 90  # the 90 most listened of the eligible songs
    assert np.allclose(model.weights, closed_form(train, model.columns, 30.0), atol=1e-6)
    assert (model.gram is not None) == keep_gram
    if keep_gram:  # refitting at another lambda reuses X'X and still gives the closed form
        other = model.with_regularization(80.0)
        other.fit(train)
        assert np.allclose(other.weights, closed_form(train, model.columns, 80.0), atol=1e-6)


def test_neighbour_lists_do_not_depend_on_the_block_size() -> None:
    weights = np.random.default_rng(5).normal(size=(37, 37)).astype(np.float32)
    whole, blocks = neighbour_lists(weights, 6, chunk=1000), neighbour_lists(weights, 6, chunk=4)
    assert (whole != blocks).nnz == 0
    first = whole.getrow(0).toarray().ravel()
    strongest = np.sort(weights[0][weights[0] > 0])[::-1][:6]
    assert np.allclose(np.sort(first[first > 0])[::-1], strongest)


def test_the_evaluation_sample_is_bounded_and_the_same_every_week() -> None:
    users = [f"listener-{number}" for number in range(500)]
    sample = evaluation_sample(users, size=50)
    assert len(sample) == 50 and sample <= set(users)
    assert evaluation_sample(reversed(users), size=50) == sample
    assert evaluation_sample(users[:30], size=50) == set(users[:30])
