"""Synthetic data with known structure, for the tests and the training benchmark.

Songs fall in `clusters` ("scenes"): each scene has its own artists, its own genre, audio features
around its own centre and artists tagged with its own tags; listeners listen mostly inside one
scene, so a working model must recommend a listener's own scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backbeat.recs.artefacts import FEATURE_NAMES
from backbeat_recs.catalog import CatalogData


@dataclass
class Scenes:
    catalog: CatalogData
    scene_of_song: np.ndarray
    scene_of_user: np.ndarray
    rows: list[tuple[str, str, float]]


def scenes(
    clusters: int = 4,
    songs_per_cluster: int = 60,
    artists_per_cluster: int = 6,
    users: int = 200,
    plays_per_user: int = 25,
    off_scene: float = 0.05,
    seed: int = 0,
) -> Scenes:
    rng = np.random.default_rng(seed)
    song_count = clusters * songs_per_cluster
    scene_of_song = np.repeat(np.arange(clusters), songs_per_cluster)
    song_ids = [f"song-{index:05d}" for index in range(song_count)]
    song_artists = [
        f"artist-{scene}-{(index % songs_per_cluster) % artists_per_cluster}"
        for index, scene in enumerate(scene_of_song)
    ]
    artists = sorted(set(song_artists))
    centres = rng.normal(0.0, 2.0, size=(clusters, len(FEATURE_NAMES)))
    raw = centres[scene_of_song] + rng.normal(0.0, 0.3, size=(song_count, len(FEATURE_NAMES)))
    content = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    tag_centres = rng.normal(0.0, 1.0, size=(clusters, 16))
    vectors = np.asarray([tag_centres[int(a.split("-")[1])] for a in artists]) + rng.normal(
        0.0, 0.2, (len(artists), 16)
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    # popularity inside a scene falls off with the song's position (a few hits, a long tail)
    appeal = 1.0 / (1.0 + np.arange(songs_per_cluster)) ** 0.8
    scene_of_user = rng.integers(0, clusters, size=users)
    rows: list[tuple[str, str, float]] = []
    for user, scene in enumerate(scene_of_user):
        own = rng.choice(songs_per_cluster, size=plays_per_user, replace=False, p=appeal / appeal.sum())
        picks = [scene * songs_per_cluster + int(song) for song in own]
        picks += [int(song) for song in rng.choice(song_count, size=max(1, int(plays_per_user * off_scene)))]
        rows.extend((f"user-{user:04d}", song_ids[song], float(rng.integers(1, 20))) for song in picks)
    catalog = CatalogData(
        song_ids=song_ids,
        song_artists=song_artists,
        song_genres=[[f"genre-{scene}"] for scene in scene_of_song],
        raw_features=raw.astype(np.float32),
        content=content.astype(np.float32),
        artists=artists,
        artist_vectors=vectors.astype(np.float32),
    )
    return Scenes(catalog, scene_of_song, scene_of_user, rows)


def random_plays(users: int, items: int, plays: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """About `plays` (listener, song, weight) rows as three columns (int32, int32, float32), listeners
    numbered 0..users-1, songs 0..items-1; song popularity follows a Zipf-like law (as songs' does),
    listeners' activity a log-normal one. A pair may repeat (its weights add up)."""
    rng = np.random.default_rng(seed)
    item_weights = 1.0 / (1.0 + np.arange(items)) ** 0.9
    item_cdf = np.cumsum(item_weights / item_weights.sum())
    activity = rng.lognormal(0.0, 1.0, size=users)
    per_user = np.maximum(1, np.round(activity / activity.sum() * plays)).astype(np.int64)
    rows = np.repeat(np.arange(users, dtype=np.int32), per_user)
    cols = np.minimum(np.searchsorted(item_cdf, rng.random(len(rows))), items - 1).astype(np.int32)
    values = rng.integers(1, 30, size=len(rows)).astype(np.float32)
    return rows, cols, values
