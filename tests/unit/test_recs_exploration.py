"""The exploration generator: songs from genres and by artists new to the listener, popularity
damped, rotating week by week."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from backbeat.recs.artefacts import FoldIn, RecsModel, SongCatalog
from backbeat.recs.generators import ExplorationGenerator
from backbeat.recs.types import ListenerContext

GENRES = ["rock", "jazz", "folk", "metal", "soul", "techno", "blues", "reggae", "punk", "house"]


def model() -> RecsModel:
    song_ids, artists_of, genres, popularity = [], [], [], []
    for genre in GENRES:
        for a in range(2):
            for n in range(4):
                song_ids.append(f"{genre}-{a}-{n}")
                artists_of.append(f"{genre}-artist-{a}")
                genres.append([genre])
                popularity.append(10_000.0 if n == 0 else 1.0 + n)
    artists = sorted(set(artists_of))
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(artists), 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    count = len(song_ids)
    catalog = SongCatalog(song_ids, artists_of, genres, np.asarray(popularity), artists)
    return RecsModel(
        "t", catalog, np.zeros((count, 2)), np.zeros((count, 9)), np.zeros((count, 9)), vectors, FoldIn(1, 1)
    )


MODEL = model()
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)


def test_only_new_genres_and_new_artists() -> None:
    context = ListenerContext(
        user_id="u1",
        recent_song_ids=["rock-0-1", "jazz-1-2"],
        artist_weights={"folk-artist-0": 1.0},
        genre_weights={"metal": 1.0},
    )
    found = ExplorationGenerator(MONDAY).candidates(context, MODEL, 20)
    assert found
    genres = {MODEL.song_genres(c.song_id)[0] for c in found}
    assert not genres & {"rock", "jazz", "metal"}
    assert not {MODEL.song_artist(c.song_id) for c in found} & {"folk-artist-0", "rock-artist-0", "jazz-artist-1"}
    assert len(genres) >= 4


def test_popularity_is_damped_not_ignored() -> None:
    found = ExplorationGenerator(MONDAY).candidates(ListenerContext(user_id="u2"), MODEL, 40)
    scores = {c.song_id: c.score for c in found}
    hit = next(song for song in scores if song.endswith("-0"))
    tail = next(song for song in scores if song.endswith("-1"))
    assert scores[hit] > scores[tail]
    assert scores[hit] / scores[tail] < 10  # 10,000 listeners against 2: not 5,000 times the score


def test_the_choice_rotates_from_week_to_week() -> None:
    weeks = [datetime(2026, 11, 2 + 7 * week, tzinfo=UTC) for week in range(4)]
    answers = {
        frozenset(
            MODEL.song_genres(c.song_id)[0]
            for c in ExplorationGenerator(day).candidates(ListenerContext(user_id="u3"), MODEL, 8)
        )
        for day in weeks
    }
    assert len(answers) > 1
