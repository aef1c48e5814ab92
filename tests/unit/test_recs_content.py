"""The content generator: songs whose audio features are nearest what the listener played, found
through the content ANN index; seeds stand in for a listener with no history."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from backbeat.recs.artefacts import FoldIn, RecsModel, SongCatalog
from backbeat.recs.generators import ContentGenerator
from backbeat.recs.types import ListenerContext
from backbeat_recs.features import audio_features
from backbeat_recs.synthetic import Scenes, scenes


@pytest.fixture(scope="module")
def world() -> tuple[Scenes, RecsModel]:
    data = scenes(clusters=3, seed=5)
    c = data.catalog
    catalog = SongCatalog(c.song_ids, c.song_artists, c.song_genres, np.ones(len(c.song_ids)), c.artists)
    model = RecsModel(
        "test",
        catalog,
        np.zeros((len(c.song_ids), 4)),
        c.raw_features,
        c.content,
        c.artist_vectors,
        FoldIn(alpha=1.0, regularization=1.0),
    )
    return data, model


def test_nearest_audio_features_come_first(world: tuple[Scenes, RecsModel]) -> None:
    data, model = world
    recent = [s for s, scene in zip(data.catalog.song_ids, data.scene_of_song, strict=True) if scene == 1][:5]
    found = ContentGenerator().candidates(ListenerContext(user_id="u", recent_song_ids=recent), model, 15)
    assert len(found) == 15
    assert Counter(data.scene_of_song[model.song_index[c.song_id]] for c in found) == {1: 15}
    assert not {c.song_id for c in found} & set(recent)
    assert all(-1.0 <= c.score <= 1.0 + 1e-6 for c in found)


def test_a_seed_artist_is_enough(world: tuple[Scenes, RecsModel]) -> None:
    data, model = world
    artist = "artist-2-0"
    found = ContentGenerator().candidates(ListenerContext(user_id=None, seed_artist_ids=[artist]), model, 10)
    assert {data.scene_of_song[model.song_index[c.song_id]] for c in found} == {2}


def test_nothing_to_compare_with_gives_nothing(world: tuple[Scenes, RecsModel]) -> None:
    _, model = world
    assert ContentGenerator().candidates(ListenerContext(user_id="new"), model, 10) == []


def test_features_are_standardised_so_tempo_does_not_dominate() -> None:
    from backbeat_ops.dataset import Song

    def song(index: int, tempo: float, energy: float) -> Song:
        features = {"tempo": tempo, "energy": energy, "danceability": 0.5}
        return Song(str(index), "t", "a", "A", "al", "t", "single", 1, 1000, 0, features, "10s")

    raw, standardised = audio_features([song(1, 80.0, 0.1), song(2, 160.0, 0.9), song(3, 120.0, 0.5)])
    assert raw[0, 4] == pytest.approx(80.0)  # tempo kept raw for serving's time-of-day re-ranking
    assert np.allclose(standardised.mean(axis=0), 0.0, atol=1e-6)
    tempo, energy = standardised[:, 4], standardised[:, 1]
    assert np.allclose(np.abs(tempo), np.abs(energy), atol=1e-5)
    assert np.isnan(raw[0, 3])  # acousticness missing: NaN raw, 0 standardised
    assert standardised[0, 3] == 0.0
