"""What the content and tag generators read, computed at training time from the catalog.

- Content: each song's audio features (danceability, energy, valence, ...), standardised over the
  catalog (z-scores, so tempo in BPM does not outweigh valence in 0..1); a missing feature is the
  catalog's mean (0 once standardised).
- Tags: each artist as a TF-IDF vector over the Last.fm tags listeners gave it (cleaned to genres,
  `backbeat_ops.genres.clean_tag`) plus the catalog's own genres for the artist, reduced by a
  truncated SVD to `dimensions` (latent topics: "shoegaze" lands near "dream pop" even when no
  artist carries both), rows scaled to unit length. Artists with no tag get a zero row.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from backbeat.recs.artefacts import FEATURE_NAMES
from backbeat_ops.dataset import Song
from backbeat_ops.genres import clean_tag
from backbeat_ops.lastfm import ArtistMatch, LastFm

TAG_DIMENSIONS = 64
# the catalog's own genre for an artist counts like this many listeners tagging it
CATALOG_GENRE_WEIGHT = 3


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def audio_features(songs: Sequence[Song]) -> tuple[np.ndarray, np.ndarray]:
    """(raw features, standardised features), songs x FEATURE_NAMES; a raw missing value is NaN."""
    raw = np.full((len(songs), len(FEATURE_NAMES)), np.nan, dtype=np.float64)
    keys = [_camel(name) for name in FEATURE_NAMES]
    for row, song in enumerate(songs):
        for column, key in enumerate(keys):
            value = song.audio_features.get(key)
            if value is not None:
                raw[row, column] = float(value)
    with warnings.catch_warnings():  # a feature no song has: its mean is NaN, replaced by 0 below
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(raw, axis=0) if len(songs) else np.zeros(len(FEATURE_NAMES))
        spread = np.nanstd(raw, axis=0) if len(songs) else np.ones(len(FEATURE_NAMES))
    mean = np.nan_to_num(mean)
    spread = np.where(np.nan_to_num(spread) > 0, np.nan_to_num(spread), 1.0)
    standardised = np.nan_to_num((raw - mean) / spread)
    return raw.astype(np.float32), standardised.astype(np.float32)


def artist_tag_counts(
    artist_ids: Sequence[str], lastfm: LastFm | None, match: ArtistMatch | None, genres: Mapping[str, Sequence[str]]
) -> list[Counter[str]]:
    """Per catalog artist: tag -> weight (Last.fm listeners who gave it + the catalog's genres)."""
    counts = [Counter[str]() for _ in artist_ids]
    position = {artist: row for row, artist in enumerate(artist_ids)}
    if lastfm is not None and match is not None:
        cleaned = {tag_id: clean_tag(tag) for tag_id, tag in lastfm.tags.items()}
        for lastfm_artist, catalog_artist in match.catalog_ids.items():
            row = position.get(catalog_artist)
            if row is None:
                continue
            for tag_id, listeners in lastfm.taggings.get(lastfm_artist, Counter()).items():
                if tag := cleaned.get(tag_id):
                    counts[row][tag] += listeners
    for artist, artist_genres in genres.items():
        row = position.get(artist)
        if row is not None:
            for genre in artist_genres:
                counts[row][genre] += CATALOG_GENRE_WEIGHT
    return counts


def tag_vectors(counts: Sequence[Counter[str]], dimensions: int = TAG_DIMENSIONS) -> np.ndarray:
    """TF-IDF (log tf, smoothed idf) over the tags, reduced to `dimensions` by truncated SVD, unit rows."""
    vocabulary: dict[str, int] = {}
    rows: list[int] = []
    columns: list[int] = []
    values: list[float] = []
    for row, tags in enumerate(counts):
        for tag, count in tags.items():
            rows.append(row)
            columns.append(vocabulary.setdefault(tag, len(vocabulary)))
            values.append(1.0 + math.log(count))
    if not values:
        return np.zeros((len(counts), 1), dtype=np.float32)
    matrix = sp.csr_matrix((values, (rows, columns)), shape=(len(counts), len(vocabulary)), dtype=np.float64)
    document_frequency = np.bincount(matrix.indices, minlength=len(vocabulary))
    idf = np.log((1 + len(counts)) / (1 + document_frequency)) + 1.0
    tfidf = sp.csr_matrix(matrix @ sp.diags(idf))
    rank = min(dimensions, min(tfidf.shape) - 1)
    if rank >= 2:
        left, singular, _ = svds(tfidf, k=rank, random_state=0)
        dense = left * singular
    else:
        dense = tfidf.toarray()
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (dense / norms).astype(np.float32)
