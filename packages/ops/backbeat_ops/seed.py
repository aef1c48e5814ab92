"""Write the demo catalog into the catalog table with parallel batch writes (idempotent: ids are
deterministic, so seeding twice rewrites the same items)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import Any

from backbeat.catalog.models import (
    AlbumItem,
    ArtistItem,
    CatalogModel,
    album_key,
    artist_key,
    new_song,
)
from backbeat.plain import item_of
from backbeat_ops.dataset import Catalog, artist_popularity


@dataclass(frozen=True)
class SeedReport:
    songs: int
    albums: int
    artists: int
    seconds: float

    @property
    def songs_per_second(self) -> float:
        return self.songs / self.seconds if self.seconds else float("inf")


MediaFor = Callable[[str], str | None]


def song_items(catalog: Catalog, media_for: MediaFor | None = None) -> Iterable[CatalogModel]:
    for song in catalog.songs:
        yield new_song(
            song.id,
            title=song.title,
            artist_id=song.artist_id,
            artist_name=song.artist_name,
            album_id=song.album_id,
            album_title=song.album_title,
            album_type=song.album_type,
            track_number=song.track_number,
            duration_ms=song.duration_ms,
            popularity=song.popularity,
            audio_features=song.audio_features,
            media_id=media_for(song.id) if media_for else None,
            genres=catalog.genres.get(song.artist_id) or None,
        )
    for album in catalog.albums:
        yield AlbumItem(
            pk=album_key(album.id),
            entity="album",
            id=album.id,
            title=album.title,
            album_type=album.album_type,
            artist_id=album.artist_id,
            artist_name=album.artist_name,
            track_count=album.track_count,
            popularity=album.popularity,
        )
    hits: dict[str, int] = {}
    for song in catalog.songs:
        if song.popularity >= 100:
            hits[song.artist_id] = hits.get(song.artist_id, 0) + 1
    for artist in catalog.artists:
        yield ArtistItem(
            pk=artist_key(artist.id),
            entity="artist",
            id=artist.id,
            name=artist.name,
            song_count=len(artist.song_ids),
            popularity=artist_popularity(hits.get(artist.id, 0), len(artist.song_ids)),
            genres=catalog.genres.get(artist.id) or None,
        )


def _chunks(items: Iterable[CatalogModel], size: int) -> Iterable[list[CatalogModel]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def catalog_items(catalog: Catalog) -> Iterable[dict[str, Any]]:
    """The items seeding writes, as plain dicts (what a table scan or stream image would give)."""
    for item in song_items(catalog):
        yield item_of(item)


def _write_chunk(items: Sequence[CatalogModel]) -> int:
    with CatalogModel.batch_write() as batch:
        for item in items:
            batch.save(item)
    return len(items)


def seed_catalog(
    catalog: Catalog,
    *,
    workers: int = 8,
    chunk_size: int = 500,
    progress: Callable[[int, int], Any] | None = None,
    media_for: MediaFor | None = None,
) -> SeedReport:
    """Write every song, album and artist; `progress(done, total)` is called after each chunk;
    `media_for(song_id)` names the song whose encoded media a song plays (None: its own)."""
    started = time.perf_counter()
    total = len(catalog.songs) + len(catalog.albums) + len(catalog.artists)
    done = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="seed") as pool:
        for written in pool.map(_write_chunk, _chunks(song_items(catalog, media_for), chunk_size)):
            done += written
            if progress:
                progress(done, total)
    return SeedReport(
        songs=len(catalog.songs),
        albums=len(catalog.albums),
        artists=len(catalog.artists),
        seconds=time.perf_counter() - started,
    )
