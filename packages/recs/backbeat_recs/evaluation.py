"""Offline evaluation: MostPop, EASE, plain ALS and ours on one held-out split of any
`(user, item, weight)` table.

The split is per user: 20 % of each listener's items are the test set. Every hyperparameter
(EASE's lambda, the ALS settings, our blend) is chosen on a validation split carved out of the
training part (again 20 % per user); the test set is touched once, by the final models fitted on
the whole training part. The same seed gives the same splits and the same table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import scipy.sparse as sp

from backbeat_recs.data import Interactions, holdout_split
from backbeat_recs.metrics import Measures, held_out_users, measure
from backbeat_recs.models import Als, Ease, Hybrid, MostPop, Recommender, top_items

K = 10
EASE_LAMBDAS = (25.0, 50.0, 100.0, 250.0)
PLAIN_ALS_ALPHAS = (1.0, 10.0, 40.0)
# ours: ALS on log-scaled plays (a heavy listener's 10,000th play says less than their first), or on
# presence with a higher confidence and stronger regularisation: validation picks what measures better
OUR_ALS = (
    Als(weighting="log", alpha=10.0, regularization=1.0, factors=64),
    Als(weighting="binary", alpha=20.0, regularization=1.0, factors=64),
    Als(weighting="binary", alpha=10.0, regularization=20.0, factors=200),
)
BLEND_SHARES = (0.35, 0.5)
NEIGHBOURS = 200


@dataclass
class Result:
    model: str
    measures: Measures
    settings: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {"model": self.model, **self.measures.as_dict(K), "users": self.measures.users}


@dataclass
class Evaluation:
    results: list[Result]
    users: int
    items: int
    interactions: int
    train_interactions: int
    test_interactions: int
    seed: int
    tuning: dict[str, object]

    def best(self) -> Result:
        return max(self.results, key=lambda result: result.measures.ndcg)

    def table(self) -> str:
        header = f"{'model':<26} {'ndcg@10':>8} {'recall@10':>9} {'coverage':>8} {'diversity':>9} {'fit s':>6}"
        lines = [header, "-" * len(header)]
        for result in self.results:
            m = result.measures
            lines.append(
                f"{result.model:<26} {m.ndcg:>8.4f} {m.recall:>9.4f} {m.coverage:>8.4f} {m.diversity:>9.4f} "
                f"{result.seconds:>6.1f}"
            )
        return "\n".join(lines)


def _score(model: Recommender, train: sp.csr_matrix, held_out: sp.csr_matrix) -> Measures:
    users = held_out_users(held_out, train)
    return measure(top_items(model, users, train, K), users, held_out, train, K)


def _fit_and_score(model: Recommender, train: sp.csr_matrix, held_out: sp.csr_matrix) -> tuple[Measures, float]:
    started = time.perf_counter()
    model.fit(train)
    elapsed = time.perf_counter() - started
    return _score(model, train, held_out), elapsed


def tune(train: sp.csr_matrix, validation: sp.csr_matrix, log: Callable[[str], None], seed: int) -> dict[str, object]:
    """The settings each model is evaluated with, chosen by NDCG@10 on the validation split."""
    ease = Ease()
    ease_scores: dict[float, float] = {}
    fitted: dict[float, Ease] = {}
    for lam in EASE_LAMBDAS:
        candidate = ease.with_regularization(lam) if ease.gram is not None else Ease(regularization=lam)
        ease_scores[lam] = _fit_and_score(candidate, train, validation)[0].ndcg
        fitted[lam], ease = candidate, candidate
        log(f"validation: EASE lambda={lam:g} ndcg@10={ease_scores[lam]:.4f}")
    best_lambda = max(ease_scores, key=lambda lam: ease_scores[lam])
    plain_scores = {}
    for alpha in PLAIN_ALS_ALPHAS:
        plain_scores[alpha] = _fit_and_score(Als(alpha=alpha, seed=seed), train, validation)[0].ndcg
        log(f"validation: plain ALS alpha={alpha:g} ndcg@10={plain_scores[alpha]:.4f}")
    best_alpha = max(plain_scores, key=lambda alpha: plain_scores[alpha])
    ours_als: list[tuple[float, Als]] = []
    for settings in OUR_ALS:
        als = replace(settings, seed=seed)
        ndcg = _fit_and_score(als, train, validation)[0].ndcg
        ours_als.append((ndcg, als))
        log(f"validation: weighted ALS {als.describe()} ndcg@10={ndcg:.4f}")
    best_als = max(ours_als, key=lambda pair: pair[0])[1]
    share_scores = {}
    for share in BLEND_SHARES:
        hybrid = Hybrid(als=best_als, items=fitted[best_lambda], neighbours=NEIGHBOURS, als_share=share)
        share_scores[share] = _fit_and_score(hybrid, train, validation)[0].ndcg
        log(f"validation: ours ALS share={share:g} ndcg@10={share_scores[share]:.4f}")
    best_share = max(share_scores, key=lambda share: share_scores[share])
    return {
        "easeLambda": best_lambda,
        "plainAlsAlpha": best_alpha,
        "ourAls": {key: value for key, value in best_als.describe().items()},
        "alsShare": best_share,
    }


def our_model(tuning: dict[str, object], seed: int, items: Ease | None = None) -> Hybrid:
    als_settings = dict(tuning["ourAls"])  # type: ignore[call-overload]
    als = Als(seed=seed, **als_settings)
    lam = float(tuning["easeLambda"])  # type: ignore[arg-type]
    share = float(tuning["alsShare"])  # type: ignore[arg-type]
    return Hybrid(als=als, items=items or Ease(regularization=lam), neighbours=NEIGHBOURS, als_share=share)


def evaluate(
    interactions: Interactions,
    seed: int = 0,
    log: Callable[[str], None] = lambda _: None,
    models: Sequence[str] = ("MostPop", "EASE", "ALS", "ours"),
) -> Evaluation:
    """Tune on validation, then fit every model on the training part and measure it on the test part."""
    train, test = holdout_split(interactions, 0.2, seed)
    fit_part, validation = holdout_split(interactions.with_matrix(train), 0.2, seed + 1)
    tuning = tune(fit_part, validation, log, seed)
    ease = Ease(regularization=float(tuning["easeLambda"]))  # type: ignore[arg-type]
    final: dict[str, Recommender] = {
        "MostPop": MostPop(),
        "EASE": ease,
        "ALS": Als(alpha=float(tuning["plainAlsAlpha"]), seed=seed, name="ALS"),  # type: ignore[arg-type]
        "ours": our_model(tuning, seed, items=ease),
    }
    results = []
    for name in models:
        model = final[name]
        measures, seconds = _fit_and_score(model, train, test)
        results.append(Result(model.name, measures, getattr(model, "describe", dict)(), seconds))
        log(f"test: {model.name} ndcg@10={measures.ndcg:.4f} ({seconds:.1f} s)")
    return Evaluation(
        results=results,
        users=interactions.shape[0],
        items=interactions.shape[1],
        interactions=interactions.nnz,
        train_interactions=int(train.nnz),
        test_interactions=int(test.nnz),
        seed=seed,
        tuning=tuning,
    )
