"""Offline evaluation: the measures are computed as documented, the models are compared on one
split tuned on validation only, and `backbeat recs evaluate` prints the table for any user,item,weight CSV."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from backbeat_ops.cli import main
from backbeat_recs import evaluation
from backbeat_recs.data import Interactions, InteractionsError, holdout_split, read_csv
from backbeat_recs.metrics import measure
from backbeat_recs.synthetic import scenes


def test_measures_on_a_hand_computed_case() -> None:
    train = sp.csr_matrix(np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0]], dtype=np.float32))
    held = sp.csr_matrix(np.array([[0, 1, 1, 0, 0], [0, 0, 0, 0, 1]], dtype=np.float32))
    top = np.array([[1, 3], [4, 2]])  # user 0: a hit at rank 1; user 1: a hit at rank 1
    result = measure(top, np.array([0, 1]), held, train, k=2)
    ideal_two = 1 + 1 / np.log2(3)
    assert result.ndcg == pytest.approx((1 / ideal_two + 1.0) / 2)
    assert result.recall == pytest.approx((1 / 2 + 1 / 1) / 2)
    assert result.coverage == pytest.approx(4 / 5)
    assert 0.0 <= result.diversity <= 1.0


def test_the_split_holds_out_a_fifth_of_each_listener_and_is_reproducible() -> None:
    data = Interactions.from_rows(scenes(users=50, seed=2).rows)
    train, held = holdout_split(data, 0.2, seed=4)
    again_train, _ = holdout_split(data, 0.2, seed=4)
    assert (train != again_train).nnz == 0
    assert train.nnz + held.nnz == data.nnz
    assert train.multiply(held).nnz == 0
    per_user = np.diff(held.indptr) / np.diff(data.matrix.indptr)
    assert np.all((per_user > 0.1) & (per_user < 0.3))


def test_models_are_compared_and_ours_beats_mostpop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluation, "EASE_LAMBDAS", (10.0, 50.0))
    monkeypatch.setattr(evaluation, "PLAIN_ALS_ALPHAS", (10.0,))
    monkeypatch.setattr(evaluation, "OUR_ALS", (evaluation.Als(weighting="log", alpha=10.0, factors=16, iterations=8),))
    monkeypatch.setattr(evaluation, "BLEND_SHARES", (0.35,))
    seen: list[str] = []
    result = evaluation.evaluate(Interactions.from_rows(scenes(users=200, seed=9).rows), seed=1, log=seen.append)
    by_name = {r.model: r.measures for r in result.results}
    assert list(by_name) == ["MostPop", "EASE", "ALS", "ours (ALS + item model)"]
    assert by_name["ours (ALS + item model)"].ndcg > by_name["MostPop"].ndcg + 0.05
    assert by_name["EASE"].ndcg > by_name["MostPop"].ndcg
    assert result.tuning["easeLambda"] in (10.0, 50.0)
    # tuning reads the validation split only; the test split is measured once per model
    assert sum(line.startswith("test:") for line in seen) == 4
    assert all(line.startswith(("validation:", "test:")) for line in seen)


def test_the_cli_prints_json_per_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(evaluation, "EASE_LAMBDAS", (20.0,))
    monkeypatch.setattr(evaluation, "PLAIN_ALS_ALPHAS", (10.0,))
    monkeypatch.setattr(evaluation, "OUR_ALS", (evaluation.Als(weighting="log", factors=8, iterations=5),))
    monkeypatch.setattr(evaluation, "BLEND_SHARES", (0.5,))
    path = tmp_path / "plays.csv"
    lines = ["user,item,weight", *(f"{u},{i},{w}" for u, i, w in scenes(users=80, seed=4).rows)]
    path.write_text("\n".join(lines) + "\n")
    assert main(["recs", "evaluate", "--interactions", str(path), "--seed", "3", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["model"] for row in rows] == ["MostPop", "EASE", "ALS", "ours (ALS + item model)"]
    assert all({"ndcg@10", "recall@10", "coverage", "diversity"} <= set(row) for row in rows)


def test_a_csv_without_the_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("listener,song\nu,s\n")
    with pytest.raises(InteractionsError, match="lacks item, user, weight"):
        read_csv(path)
    with pytest.raises(SystemExit, match="lacks"):
        main(["recs", "evaluate", "--interactions", str(path)])
