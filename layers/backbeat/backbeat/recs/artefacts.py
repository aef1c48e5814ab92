"""A trained recommendation model as serving sees it, and its artefacts: a versioned set of files
under `models/<version>/` in the models bucket (`RecsModelsBucket`).

Files of a version (format 1):
- `manifest.json`: version, format, counts, the collaborative model's fold-in settings, the feature names;
- `catalog.json`: song ids in row order with each song's artist, genres and popularity, the artist ids;
- `arrays.npz`: `item_factors` (songs x k, zero rows for songs the collaborative model never saw),
  `features` (songs x F, raw audio features), `content` (songs x F, standardised), `artist_vectors`
  (artists x d, unit rows, zero for artists with no tags);
  and the item model's neighbour lists in CSR form over song rows (`neighbour_indptr`,
  `neighbour_rows`, `neighbour_weights`: what listening to a song points to, strongest first);
- `collaborative.voy`, `content.voy`, `artists.voy`: the ANN indexes over those rows (`backbeat.recs.ann`).

Serving calls `load_promoted()`: the promoted version (the registry's pointer, `backbeat.recs.registry`),
downloaded once per container and reloaded when the pointer moves (checked at most once a minute).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from backbeat.recs.ann import AnnIndex

FORMAT = 1
MANIFEST = "manifest.json"
CATALOG = "catalog.json"
ARRAYS = "arrays.npz"
INDEX_FILES = {"collaborative": "collaborative.voy", "content": "content.voy", "artists": "artists.voy"}
FILES = (MANIFEST, CATALOG, ARRAYS, *INDEX_FILES.values())
# What serving's time-of-day re-ranking reads; the catalog has more (speechiness, liveness, ...)
FEATURE_NAMES = (
    "danceability",
    "energy",
    "valence",
    "acousticness",
    "tempo",
    "loudness",
    "speechiness",
    "instrumentalness",
    "liveness",
)
PROMOTED_CHECK_SECONDS = 60.0

logger = logging.getLogger(__name__)


def _single_threaded_blas() -> None:
    """Serving's linear algebra is a k x k solve per request: with OpenBLAS's threads on a busy or
    small machine each one waits for the others (a 200 x 200 fold-in took 500 ms instead of 1 ms).
    One BLAS thread for the process, set once (the fold-in runs on the request's own thread)."""
    global _blas_limited
    if not _blas_limited:
        threadpool_limits(1, "blas")
        _blas_limited = True


_blas_limited = False


def prefix_for(version: str) -> str:
    return f"models/{version}/"


@dataclass
class SongCatalog:
    """What the model knows of each song, in row order."""

    song_ids: list[str]
    artist_ids: list[str]  # per song
    genres: list[list[str]]  # per song
    popularity: np.ndarray  # per song, plays (or catalog popularity) in the data window
    artists: list[str] = field(default_factory=list)  # artist ids in `artist_vectors` row order

    def to_json(self) -> dict[str, Any]:
        return {
            "songIds": self.song_ids,
            "artistIds": self.artist_ids,
            "genres": self.genres,
            "popularity": [float(value) for value in self.popularity],
            "artists": self.artists,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SongCatalog:
        return cls(
            song_ids=list(data["songIds"]),
            artist_ids=list(data["artistIds"]),
            genres=[list(genres) for genres in data["genres"]],
            popularity=np.asarray(data["popularity"], dtype=np.float32),
            artists=list(data["artists"]),
        )


@dataclass
class FoldIn:
    """How the collaborative model turns a listener's plays into a user vector: implicit ALS's own
    user step against the fixed item factors, with the confidence training gave a play: alpha *
    log(1 + full plays) (`weighting` "log") or alpha for any play ("binary"); `als_share` is ALS's
    part in the blend with the item neighbours."""

    alpha: float
    regularization: float
    als_share: float = 1.0
    weighting: str = "log"


class RecsModel:
    """The promoted model: its version, the lookups serving needs and the generators' vectors."""

    def __init__(
        self,
        version: str,
        catalog: SongCatalog,
        item_factors: np.ndarray,
        features: np.ndarray,
        content: np.ndarray,
        artist_vectors: np.ndarray,
        fold_in: FoldIn,
        neighbours: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
        indexes: Mapping[str, AnnIndex] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.version = version
        self.catalog = catalog
        self.item_factors = np.asarray(item_factors, dtype=np.float32)
        self.features = np.asarray(features, dtype=np.float32)
        self.content = np.asarray(content, dtype=np.float32)
        self.artist_vectors = np.asarray(artist_vectors, dtype=np.float32)
        self.fold_in = fold_in
        songs = len(catalog.song_ids)
        empty = (np.zeros(songs + 1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
        indptr, rows, weights = neighbours if neighbours is not None else empty
        self.neighbour_indptr = np.asarray(indptr, dtype=np.int64)
        self.neighbour_rows = np.asarray(rows, dtype=np.int32)
        self.neighbour_weights = np.asarray(weights, dtype=np.float32)
        self.metadata = dict(metadata or {})
        self.song_index = {song_id: row for row, song_id in enumerate(catalog.song_ids)}
        self.artist_index = {artist_id: row for row, artist_id in enumerate(catalog.artists)}
        self.gram = self.item_factors.T @ self.item_factors
        self.trained = np.any(self.item_factors != 0, axis=1)
        self.trained_rows = np.flatnonzero(self.trained)
        by_popularity = np.argsort(-catalog.popularity, kind="stable")
        self._artist_songs: dict[str, list[str]] = {}
        self._genre_songs: dict[str, list[str]] = {}
        for row in by_popularity:
            song_id = catalog.song_ids[row]
            self._artist_songs.setdefault(catalog.artist_ids[row], []).append(song_id)
            for genre in catalog.genres[row]:
                self._genre_songs.setdefault(genre, []).append(song_id)
        self.indexes = dict(indexes) if indexes is not None else self._build_indexes()
        _single_threaded_blas()

    def _build_indexes(self) -> dict[str, AnnIndex]:
        artist_rows = np.flatnonzero(np.any(self.artist_vectors != 0, axis=1))
        return {
            "collaborative": AnnIndex.build(self.item_factors, "inner_product", rows=self.trained_rows),
            "content": AnnIndex.build(self.content, "cosine"),
            "artists": AnnIndex.build(self.artist_vectors, "cosine", rows=artist_rows),
        }

    # ------------------------------------------------------------------ lookups serving uses
    def song_features(self, song_id: str) -> dict[str, float] | None:
        row = self.song_index.get(song_id)
        if row is None or not np.isfinite(self.features[row]).all():
            return None
        return {name: float(value) for name, value in zip(FEATURE_NAMES, self.features[row], strict=True)}

    def song_artist(self, song_id: str) -> str | None:
        row = self.song_index.get(song_id)
        return None if row is None else self.catalog.artist_ids[row]

    def song_genres(self, song_id: str) -> list[str]:
        row = self.song_index.get(song_id)
        return [] if row is None else list(self.catalog.genres[row])

    def artist_songs(self, artist_id: str, limit: int) -> list[str]:
        """The artist's songs, most played first."""
        return self._artist_songs.get(artist_id, [])[:limit]

    def genre_songs(self, genre: str, limit: int) -> list[str]:
        """Songs of the genre, most played first."""
        return self._genre_songs.get(genre, [])[:limit]

    def genres(self) -> list[str]:
        return list(self._genre_songs)

    def popularity(self, song_id: str) -> float:
        row = self.song_index.get(song_id)
        return 0.0 if row is None else float(self.catalog.popularity[row])

    def similar_artists(self, artist_ids: Sequence[str], k: int) -> list[tuple[str, float]]:
        """Artists nearest (tag cosine) to the mean of the given artists' vectors, the given ones left out."""
        rows = [self.artist_index[artist] for artist in artist_ids if artist in self.artist_index]
        vectors = [self.artist_vectors[row] for row in rows if self.artist_vectors[row].any()]
        if not vectors:
            return []
        query = np.mean(vectors, axis=0)
        hits = self.indexes["artists"].query(query, k, exclude=rows)
        return [(self.catalog.artists[row], similarity) for row, similarity in hits]

    # ------------------------------------------------------------------ the generators' vectors
    def user_vector(self, plays: Mapping[str, float]) -> np.ndarray | None:
        """A listener's collaborative vector folded in from their plays (song id -> play count):
        one ALS least-squares step against the fixed item factors, so plays since training count."""
        rows = [row for song in plays if (row := self.song_index.get(song)) is not None and self.trained[row]]
        if not rows:
            return None
        counts = np.asarray([plays[self.catalog.song_ids[row]] for row in rows], dtype=np.float32)
        if self.fold_in.weighting == "binary":
            confidence = np.full(len(rows), self.fold_in.alpha, dtype=np.float64)
        else:
            confidence = self.fold_in.alpha * np.log1p(np.maximum(counts, 0.0)).astype(np.float64)
        factors = self.item_factors[rows]
        k = factors.shape[1]
        left = self.gram + (factors.T * (confidence - 1.0)) @ factors + self.fold_in.regularization * np.eye(k)
        right = factors.T @ confidence
        return np.asarray(np.linalg.solve(left, right), dtype=np.float32)

    def neighbour_scores(self, plays: Mapping[str, float]) -> dict[str, float]:
        """The item model's scores: each played song's neighbours weighted by log(1 + plays),
        scaled to the listener's most played song (as training scored them)."""
        played = [(row, plays[song]) for song in plays if (row := self.song_index.get(song)) is not None]
        if not played:
            return {}
        top = max(np.log1p(max(count, 0.0)) for _, count in played) or 1.0
        scores: dict[int, float] = {}
        for row, count in played:
            weight = float(np.log1p(max(count, 0.0)) / top)
            start, end = self.neighbour_indptr[row], self.neighbour_indptr[row + 1]
            for neighbour, strength in zip(
                self.neighbour_rows[start:end], self.neighbour_weights[start:end], strict=True
            ):
                scores[int(neighbour)] = scores.get(int(neighbour), 0.0) + weight * float(strength)
        return {self.catalog.song_ids[row]: score for row, score in scores.items()}

    def content_profile(self, song_ids: Sequence[str]) -> np.ndarray | None:
        """The mean standardised audio features of the songs the model knows."""
        rows = [self.song_index[song] for song in song_ids if song in self.song_index]
        if not rows:
            return None
        return np.asarray(self.content[rows].mean(axis=0), dtype=np.float32)

    def nearest_songs(
        self, space: str, vector: np.ndarray, k: int, exclude: Sequence[str] = ()
    ) -> list[tuple[str, float]]:
        """Songs nearest `vector` in one index ("collaborative" or "content"), excluded ids left out."""
        excluded = [self.song_index[song] for song in exclude if song in self.song_index]
        hits = self.indexes[space].query(vector, k, exclude=excluded)
        return [(self.catalog.song_ids[row], score) for row, score in hits]

    # ------------------------------------------------------------------ files
    def save(self, directory: Path) -> list[Path]:
        """Write the version's files into `directory`; answers their paths."""
        directory.mkdir(parents=True, exist_ok=True)
        manifest = {
            "format": FORMAT,
            "version": self.version,
            "songs": len(self.catalog.song_ids),
            "artists": len(self.catalog.artists),
            "factors": int(self.item_factors.shape[1]),
            "trainedSongs": len(self.trained_rows),
            "foldIn": {
                "alpha": self.fold_in.alpha,
                "regularization": self.fold_in.regularization,
                "als_share": self.fold_in.als_share,
                "weighting": self.fold_in.weighting,
            },
            "features": list(FEATURE_NAMES),
            "metadata": self.metadata,
        }
        (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        (directory / CATALOG).write_text(json.dumps(self.catalog.to_json(), separators=(",", ":")))
        np.savez_compressed(
            directory / ARRAYS,
            item_factors=self.item_factors,
            features=self.features,
            content=self.content,
            artist_vectors=self.artist_vectors,
            neighbour_indptr=self.neighbour_indptr,
            neighbour_rows=self.neighbour_rows,
            neighbour_weights=self.neighbour_weights,
        )
        for name, filename in INDEX_FILES.items():
            self.indexes[name].save(directory / filename)
        return [directory / name for name in FILES]

    @classmethod
    def load(cls, directory: Path) -> RecsModel:
        manifest = json.loads((directory / MANIFEST).read_text())
        if manifest.get("format") != FORMAT:
            raise ValueError(f"model format {manifest.get('format')!r} is not {FORMAT}")
        catalog = SongCatalog.from_json(json.loads((directory / CATALOG).read_text()))
        with np.load(directory / ARRAYS) as arrays:
            loaded = {name: arrays[name] for name in arrays.files}
        metrics = {"collaborative": "inner_product", "content": "cosine", "artists": "cosine"}
        indexes = {
            name: AnnIndex.load(directory / filename, metrics[name])  # type: ignore[arg-type]
            for name, filename in INDEX_FILES.items()
        }
        return cls(
            version=manifest["version"],
            catalog=catalog,
            item_factors=loaded["item_factors"],
            features=loaded["features"],
            content=loaded["content"],
            artist_vectors=loaded["artist_vectors"],
            fold_in=FoldIn(**manifest["foldIn"]),
            neighbours=(loaded["neighbour_indptr"], loaded["neighbour_rows"], loaded["neighbour_weights"]),
            indexes=indexes,
            metadata=manifest.get("metadata", {}),
        )


# ---------------------------------------------------------------------- S3
def publish(model: RecsModel, bucket: str, s3: Any) -> str:
    """Upload the version's files under `models/<version>/`; answers the prefix. The manifest goes
    last, so a prefix with a manifest is complete."""
    prefix = prefix_for(model.version)
    with tempfile.TemporaryDirectory() as scratch:
        paths = model.save(Path(scratch))
        for path in sorted(paths, key=lambda path: path.name == MANIFEST):
            s3.upload_file(str(path), bucket, prefix + path.name)
    return prefix


def download(bucket: str, version: str, s3: Any, directory: Path | None = None) -> RecsModel:
    """The version's model read from the bucket (into a scratch directory: Lambda's /tmp)."""
    target = directory or Path(tempfile.mkdtemp(prefix=f"recs-{version}-"))
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        s3.download_file(bucket, prefix_for(version) + name, str(target / name))
    return RecsModel.load(target)


# ---------------------------------------------------------------------- the promoted model, per container
@dataclass
class _PromotedCache:
    model: RecsModel | None = None
    checked_at: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)
    where: tuple[str, str] | None = None  # (models bucket, registry table), bound at cold start


_cache = _PromotedCache()


def bind_models(bucket: str, registry_table: str) -> None:
    """Where the models are, read once at cold start from the function's settings: the loads run on
    the serving cache's own threads, which must not depend on the process environment later."""
    _cache.where = (bucket, registry_table)


def load_promoted(now: float | None = None) -> RecsModel | None:
    """The promoted model, or None when no version was ever promoted (or it cannot be read: serving
    then falls back to trending). Cached per container; the registry's pointer is read at most once
    every PROMOTED_CHECK_SECONDS and the model reloaded only when it moved."""
    from backbeat.aws import client
    from backbeat.config import RecsModelSettings
    from backbeat.recs import registry

    moment = time.monotonic() if now is None else now
    with _cache.lock:
        if moment - _cache.checked_at < PROMOTED_CHECK_SECONDS:
            return _cache.model
        _cache.checked_at = moment
        try:
            if _cache.where is None:
                settings = RecsModelSettings()  # type: ignore[call-arg]
                _cache.where = (settings.recs_models_bucket, settings.recs_registry_table)
            bucket, table = _cache.where
            version = registry.promoted_version(table)
            if version is None:
                _cache.model = None
            elif _cache.model is None or _cache.model.version != version:
                scratch = Path(tempfile.mkdtemp(prefix="recs-model-"))
                try:
                    model = download(bucket, version, client("s3"), scratch)
                finally:  # the model is in memory (indexes included): its files are not needed
                    shutil.rmtree(scratch, ignore_errors=True)
                _cache.model = model
        except Exception:  # a broken artefact must not break serving: keep what we had
            logger.exception("could not load the promoted recommendation model")
        return _cache.model


def forget_promoted() -> None:
    """Drop the cached model (tests; a container that must re-read the registry now)."""
    with _cache.lock:
        _cache.model = None
        _cache.checked_at = float("-inf")
        _cache.where = None
