"""The catalog side of a model: every song's artist, genres and audio features, every artist's tag
vector. Read from the demo catalog (the Spotify hit-predictor CSVs the devstack seeds) with its
genres from Last.fm tags, the same way `devstack.seed` builds the catalog table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backbeat_ops.dataset import load_catalog
from backbeat_ops.genres import artist_genres
from backbeat_ops.lastfm import DEFAULT_LASTFM_DIR, load_lastfm, match_artists
from backbeat_recs.features import artist_tag_counts, audio_features, tag_vectors

DEFAULT_CATALOG_DIR = DEFAULT_LASTFM_DIR.parent / "catalog"


@dataclass
class CatalogData:
    song_ids: list[str]
    song_artists: list[str]
    song_genres: list[list[str]]
    raw_features: np.ndarray
    content: np.ndarray
    artists: list[str]
    artist_vectors: np.ndarray


def demo_catalog_data(
    catalog_dir: Path = DEFAULT_CATALOG_DIR, lastfm_dir: Path = DEFAULT_LASTFM_DIR, limit: int | None = None
) -> CatalogData:
    catalog = load_catalog(catalog_dir)
    if limit is not None:
        catalog = catalog.first(limit)
    try:
        lastfm = load_lastfm(lastfm_dir)
    except FileNotFoundError:
        lastfm = None
    artists = [artist.id for artist in catalog.artists]
    match = match_artists(lastfm, artists) if lastfm is not None else None
    genres = artist_genres(lastfm, match) if lastfm is not None and match is not None else {}
    raw, content = audio_features(catalog.songs)
    return CatalogData(
        song_ids=[song.id for song in catalog.songs],
        song_artists=[song.artist_id for song in catalog.songs],
        song_genres=[list(genres.get(song.artist_id, [])) for song in catalog.songs],
        raw_features=raw,
        content=content,
        artists=artists,
        artist_vectors=tag_vectors(artist_tag_counts(artists, lastfm, match, genres)),
    )
