"""The collaborative generator: a listener is recommended songs of their own scene (what listeners
like them played), never a song they heard, and plays made after training count (fold-in)."""

from __future__ import annotations

from collections import Counter

import pytest

from backbeat.recs.artefacts import RecsModel
from backbeat.recs.generators import CollaborativeGenerator
from backbeat.recs.types import ListenerContext
from backbeat_recs.synthetic import Scenes, scenes
from backbeat_recs.training import TrainingSettings, build_model, train


@pytest.fixture(scope="module")
def world() -> tuple[Scenes, RecsModel]:
    data = scenes(clusters=4, users=240, seed=3)
    collaborative = train(data.rows, TrainingSettings(factors=16, iterations=10, item_model_lambda=20.0))
    catalog = data.catalog
    model = build_model(
        "test",
        collaborative,
        catalog.song_ids,
        catalog.song_artists,
        catalog.song_genres,
        catalog.raw_features,
        catalog.content,
        catalog.artists,
        catalog.artist_vectors,
    )
    return data, model


def scene_songs(data: Scenes, scene: int, count: int) -> list[str]:
    return [song for song, s in zip(data.catalog.song_ids, data.scene_of_song, strict=True) if s == scene][:count]


def test_a_listener_gets_songs_of_their_own_scene(world: tuple[Scenes, RecsModel]) -> None:
    data, model = world
    recent = scene_songs(data, 2, 8)
    context = ListenerContext(user_id="new", recent_song_ids=recent, heard_song_ids=frozenset(recent))
    found = CollaborativeGenerator().candidates(context, model, 20)
    assert len(found) == 20
    scenes_found = Counter(data.scene_of_song[model.song_index[c.song_id]] for c in found)
    assert scenes_found[2] >= 16, scenes_found
    assert all(c.source == "collaborative" for c in found)
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)


def test_heard_and_seed_songs_are_never_proposed(world: tuple[Scenes, RecsModel]) -> None:
    data, model = world
    heard = frozenset(scene_songs(data, 1, 40))
    context = ListenerContext(user_id="u", recent_song_ids=sorted(heard)[:10], heard_song_ids=heard)
    found = CollaborativeGenerator().candidates(context, model, 30)
    assert found
    assert not {c.song_id for c in found} & heard


def test_another_scene_played_after_training_moves_the_answer(world: tuple[Scenes, RecsModel]) -> None:
    data, model = world
    before = ListenerContext(user_id="u", recent_song_ids=scene_songs(data, 0, 6))
    after = ListenerContext(user_id="u", recent_song_ids=scene_songs(data, 3, 6))
    first = {
        data.scene_of_song[model.song_index[c.song_id]] for c in CollaborativeGenerator().candidates(before, model, 5)
    }
    second = {
        data.scene_of_song[model.song_index[c.song_id]] for c in CollaborativeGenerator().candidates(after, model, 5)
    }
    assert first == {0}
    assert second == {3}


def test_no_model_or_no_history_gives_nothing(world: tuple[Scenes, RecsModel]) -> None:
    _, model = world
    assert CollaborativeGenerator().candidates(ListenerContext(user_id="new"), model, 10) == []
    assert CollaborativeGenerator().candidates(ListenerContext(user_id="u", recent_song_ids=["x"]), None, 10) == []
    unknown = ListenerContext(user_id="u", recent_song_ids=["not-in-the-catalog"])
    assert CollaborativeGenerator().candidates(unknown, model, 10) == []
