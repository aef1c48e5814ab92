"""Re-ranking: freshness (no song heard in 30 days), the moment (morning energy, night mellow) and
diversity (at most 2 songs of an artist in any 20)."""

from __future__ import annotations

from backbeat.recs.blend import Blended
from backbeat.recs.rerank import Ranked, context_fit, diversify, rerank

HIGH = {"energy": 0.95, "danceability": 0.9, "acousticness": 0.05, "valence": 0.8}
MELLOW = {"energy": 0.15, "danceability": 0.3, "acousticness": 0.9, "valence": 0.3}


def _rerank(blended: list[Blended], **kwargs):  # type: ignore[no-untyped-def]
    features = {"loud": HIGH, "calm": MELLOW}
    options = {"heard": set(), "local_hour": None, "device_type": None, "limit": 10, **kwargs}
    return rerank(
        blended,
        artist_of=lambda song_id: f"artist-of-{song_id}",
        features_of=lambda song_id: features.get(song_id),
        **options,
    )


def test_morning_lifts_high_energy_and_night_lifts_mellow_songs() -> None:
    tied = [Blended("calm", 0.5, ("content",)), Blended("loud", 0.5, ("content",))]
    assert [r.song_id for r in _rerank(tied, local_hour=8)] == ["loud", "calm"]
    assert [r.song_id for r in _rerank(tied, local_hour=23)] == ["calm", "loud"]
    assert context_fit(HIGH, 8, None) > 0 > context_fit(MELLOW, 8, None)
    assert context_fit(HIGH, None, None) == 0.0  # no context: no opinion


def test_context_reorders_neighbours_but_never_lifts_a_poor_match_over_a_strong_one() -> None:
    ranked = _rerank([Blended("calm", 0.9, ("content",)), Blended("loud", 0.4, ("content",))], local_hour=8)
    assert [r.song_id for r in ranked] == ["calm", "loud"]


def test_the_car_favours_energy() -> None:
    tied = [Blended("calm", 0.5, ("content",)), Blended("loud", 0.5, ("content",))]
    assert [r.song_id for r in _rerank(tied, device_type="car")] == ["loud", "calm"]


def test_songs_heard_in_the_freshness_window_are_left_out() -> None:
    ranked = _rerank([Blended("a", 0.9, ("tags",)), Blended("b", 0.8, ("tags",))], heard={"a"})
    assert [r.song_id for r in ranked] == ["b"]


def test_no_artist_more_than_twice_in_any_twenty() -> None:
    """One artist's five best songs lead the blend; the answer spreads them: two, then 18 others,
    then the next two."""
    entries = [Ranked(f"a{i}", 1.0 - i / 100, ("tags",), "A") for i in range(5)]
    entries += [Ranked(f"o{i}", 0.5 - i / 1000, ("tags",), f"other{i}") for i in range(30)]
    chosen = diversify(entries, limit=30)
    artists = [entry.artist_id for entry in chosen]
    assert len(chosen) == 30
    for start in range(len(artists)):
        window = artists[start : start + 20]
        assert max(window.count(artist) for artist in set(window)) <= 2
    assert artists[:2] == ["A", "A"] and artists[20:22] == ["A", "A"]


def test_a_single_artist_catalog_stops_at_two_rather_than_break_the_rule() -> None:
    entries = [Ranked(f"a{i}", 1.0, ("tags",), "A") for i in range(5)]
    assert len(diversify(entries, limit=5)) == 2
