"""The tag generator: artists similar in Last.fm tag space (TF-IDF + SVD through the artists' ANN
index) to those the listener likes, their songs proposed; seed genres add their songs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from backbeat.recs.artefacts import FoldIn, RecsModel, SongCatalog
from backbeat.recs.generators import TagsGenerator
from backbeat.recs.types import ListenerContext
from backbeat_recs.features import tag_vectors


def tagged_model() -> RecsModel:
    """Six artists: three tagged metal-ish, three tagged folk-ish; two songs each."""
    tags = [
        Counter({"metal": 30, "heavy metal": 10, "thrash metal": 5}),
        Counter({"metal": 20, "heavy metal": 15, "hard rock": 4}),
        Counter({"thrash metal": 12, "metal": 9}),
        Counter({"folk": 25, "acoustic": 10, "singer-songwriter": 8}),
        Counter({"folk": 18, "singer-songwriter": 12}),
        Counter({"acoustic": 9, "folk": 7, "indie folk": 5}),
        Counter(),  # an artist nobody tagged
    ]
    artists = [f"a{index}" for index in range(len(tags))]
    vectors = tag_vectors(tags, dimensions=4)
    song_ids = [f"s{artist}-{n}" for artist in artists for n in range(2)]
    song_artists = [artist for artist in artists for _ in range(2)]
    genres = [["metal"] if int(a[1]) < 3 else ["folk"] if int(a[1]) < 6 else [] for a in song_artists]
    popularity = np.asarray([10.0 - n for _ in artists for n in range(2)])
    catalog = SongCatalog(song_ids, song_artists, genres, popularity, artists)
    n = len(song_ids)
    return RecsModel("t", catalog, np.zeros((n, 2)), np.zeros((n, 9)), np.zeros((n, 9)), vectors, FoldIn(1.0, 1.0))


@pytest.fixture(scope="module")
def model() -> RecsModel:
    return tagged_model()


def test_tag_vectors_put_like_artists_together() -> None:
    vectors = tag_vectors([Counter({"metal": 5}), Counter({"metal": 3, "rock": 1}), Counter({"jazz": 4}), Counter()])
    assert vectors[0] @ vectors[1] > 0.8
    assert abs(vectors[0] @ vectors[2]) < 0.2
    assert not vectors[3].any()


def test_similar_artists_come_from_the_same_tags(model: RecsModel) -> None:
    similar = model.similar_artists(["a0"], 2)
    assert {artist for artist, _ in similar} == {"a1", "a2"}
    assert model.similar_artists(["a6"], 3) == []  # untagged: nothing to compare


def test_a_metal_listener_gets_metal_artists_songs(model: RecsModel) -> None:
    context = ListenerContext(user_id="u", recent_song_ids=["sa0-0", "sa0-1"], artist_weights={"a0": 1.0})
    found = TagsGenerator().candidates(context, model, 4)
    assert found
    assert {model.song_artist(c.song_id) for c in found} <= {"a1", "a2"}
    assert not {c.song_id for c in found} & {"sa0-0", "sa0-1"}
    assert all(c.source == "tags" for c in found)


def test_seed_artist_and_seed_genre(model: RecsModel) -> None:
    by_artist = TagsGenerator().candidates(ListenerContext(user_id=None, seed_artist_ids=["a3"]), model, 3)
    assert {model.song_artist(c.song_id) for c in by_artist} <= {"a4", "a5"}
    by_genre = TagsGenerator().candidates(ListenerContext(user_id=None, seed_genres=["folk"]), model, 6)
    assert {model.song_genres(c.song_id)[0] for c in by_genre} == {"folk"}
