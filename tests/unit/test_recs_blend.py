"""Blending: each source's scores normalised, weighted (40/30/15/10/5 by default), merged per song."""

from __future__ import annotations

import pytest

from backbeat.errors import InvalidInput
from backbeat.recs.blend import DEFAULT_WEIGHTS, FLOOR, blend, normalised, parse_weights
from backbeat.recs.types import Candidate


def _c(song_id: str, score: float, source: str) -> Candidate:
    return Candidate(song_id, score, source)  # type: ignore[arg-type]


def test_each_source_is_normalised_to_its_own_best_and_worst() -> None:
    scores = normalised([_c("a", 10, "tags"), _c("b", 5, "tags"), _c("c", 0, "tags")])
    assert scores == {"a": 1.0, "b": pytest.approx(0.55), "c": pytest.approx(FLOOR)}
    assert normalised([_c("a", 0.2, "tags"), _c("b", 0.2, "tags")]) == {"a": 1.0, "b": 1.0}


def test_scale_of_a_source_does_not_let_it_dominate() -> None:
    """Collaborative scores in the thousands do not bury content's cosine similarities: after
    normalisation, weights alone decide (40 vs 30)."""
    merged = blend(
        {
            "collaborative": [_c("als-top", 5000.0, "collaborative"), _c("als-low", 1000.0, "collaborative")],
            "content": [_c("cos-top", 0.9, "content"), _c("cos-low", 0.1, "content")],
        },
        DEFAULT_WEIGHTS,
    )
    assert [entry.song_id for entry in merged][:2] == ["als-top", "cos-top"]
    assert merged[0].score == pytest.approx(40 / 70) and merged[1].score == pytest.approx(30 / 70)
    assert merged[-1].song_id == "cos-low" and merged[-1].score == pytest.approx(FLOOR * 30 / 70, abs=1e-6)


def test_a_song_several_sources_agree_on_rises_and_appears_once() -> None:
    """`shared` and `y` are tied in tags; collaborative and trending also propose `shared`."""
    merged = blend(
        {
            "collaborative": [_c("x", 1.0, "collaborative"), _c("shared", 0.5, "collaborative")],
            "tags": [_c("shared", 3.0, "tags"), _c("y", 3.0, "tags")],
            "trending": [_c("shared", 2.0, "trending"), _c("z", 1.0, "trending")],
        },
        DEFAULT_WEIGHTS,
    )
    ids = [entry.song_id for entry in merged]
    assert ids.count("shared") == 1 and ids.index("shared") < ids.index("y") < ids.index("z")
    assert next(e for e in merged if e.song_id == "shared").sources == ("collaborative", "tags", "trending")


def test_missing_sources_leave_their_weight_to_the_others() -> None:
    merged = blend({"trending": [_c("t", 1.0, "trending")], "content": []}, DEFAULT_WEIGHTS)
    assert merged[0].song_id == "t" and merged[0].score == pytest.approx(1.0)
    assert blend({}, DEFAULT_WEIGHTS) == []


def test_the_weights_setting_is_read_and_checked() -> None:
    weights = parse_weights("collaborative=50, content=50")
    assert weights["collaborative"] == 50 and weights["tags"] == 0
    merged = blend({"tags": [_c("t", 1.0, "tags")], "content": [_c("c", 1.0, "content")]}, weights)
    assert [entry.song_id for entry in merged] == ["c"]  # tags weighs 0: ignored
    for bad in ("colaborative=40", "content=much", "content=-1", "content=0"):
        with pytest.raises(InvalidInput):
            parse_weights(bad)
