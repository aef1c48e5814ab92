"""Read the demo catalog (the "Spotify Hit Predictor" CSVs) into songs, albums and artists.

Every CSV row is a track; a track is identified by the 22-character id of its Spotify URI and
deduplicated on it (the first file, in sorted order, wins). The dataset names no albums, so every
track is released as a single: an album of type ``single`` with the track's title. The ids follow
the catalog's own id scheme (`backbeat.catalog.models`), so a demo song and an ingested one by the
same artist share the artist.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from backbeat.catalog.models import artist_id_for, single_album_id_for

FEATURE_COLUMNS = {
    "danceability": float,
    "energy": float,
    "key": int,
    "loudness": float,
    "mode": int,
    "speechiness": float,
    "acousticness": float,
    "instrumentalness": float,
    "liveness": float,
    "valence": float,
    "tempo": float,
    "time_signature": int,
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class Song:
    id: str
    title: str
    artist_id: str
    artist_name: str
    album_id: str
    album_title: str
    album_type: str
    track_number: int
    duration_ms: int
    popularity: int
    audio_features: dict[str, float | int]
    decade: str


@dataclass
class Artist:
    id: str
    name: str
    song_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Album:
    id: str
    title: str
    album_type: str
    artist_id: str
    artist_name: str
    track_count: int
    popularity: int = 0


@dataclass
class Catalog:
    songs: list[Song]
    albums: list[Album]
    artists: list[Artist]
    # artist id -> genres (`backbeat_ops.genres`); the seed gives them to the artist and its songs
    genres: dict[str, list[str]] = field(default_factory=dict)

    def first(self, count: int) -> Catalog:
        """The first `count` songs with their albums and artists (a smaller demo catalog)."""
        songs = self.songs[:count]
        song_ids = {song.id for song in songs}
        album_ids = {song.album_id for song in songs}
        artists = [
            Artist(id=artist.id, name=artist.name, song_ids=[s for s in artist.song_ids if s in song_ids])
            for artist in self.artists
        ]
        return Catalog(
            songs=songs,
            albums=[album for album in self.albums if album.id in album_ids],
            artists=[artist for artist in artists if artist.song_ids],
            genres=self.genres,
        )


def song_id_from_uri(uri: str) -> str:
    """``spotify:track:4GiXBCUF7H6YfNQsnBRIzl`` -> ``4GiXBCUF7H6YfNQsnBRIzl``."""
    song_id = uri.rsplit(":", 1)[-1].strip()
    if len(song_id) != 22 or not song_id.isalnum():
        raise ValueError(f"not a track URI: {uri!r}")
    return song_id


def _read_rows(paths: Iterable[Path]) -> Iterator[tuple[str, dict[str, str]]]:
    for path in sorted(paths):
        decade = path.stem.rsplit("-", 1)[-1]
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                yield decade, row


def load_catalog(directory: Path) -> Catalog:
    """Load every ``*.csv`` under ``directory``; raises FileNotFoundError when there is none."""
    paths = list(directory.glob("*.csv"))
    if not paths:
        raise FileNotFoundError(f"no catalog CSV files in {directory}")
    songs: dict[str, Song] = {}
    artists: dict[str, Artist] = {}
    for decade, row in _read_rows(paths):
        try:
            song_id = song_id_from_uri(row["uri"])
        except ValueError:
            continue
        if song_id in songs:
            continue
        title = row["track"].strip()
        artist_name = row["artist"].strip()
        artist_id = artist_id_for(artist_name)
        artist = artists.setdefault(artist_id, Artist(id=artist_id, name=artist_name))
        artist.song_ids.append(song_id)
        features = {_camel(col): cast(row[col]) for col, cast in FEATURE_COLUMNS.items() if row.get(col)}
        songs[song_id] = Song(
            id=song_id,
            title=title,
            artist_id=artist_id,
            artist_name=artist_name,
            album_id=single_album_id_for(song_id),
            album_title=title,
            album_type="single",
            track_number=1,
            duration_ms=int(float(row["duration_ms"])),
            # The dataset's `target` marks a Billboard Hot-100 hit: the only popularity signal it has.
            popularity=100 if row.get("target") == "1" else 0,
            audio_features=features,
            decade=decade,
        )
    albums = [
        Album(
            id=song.album_id,
            title=song.album_title,
            album_type=song.album_type,
            artist_id=song.artist_id,
            artist_name=song.artist_name,
            track_count=1,
            popularity=song.popularity,
        )
        for song in songs.values()
    ]
    return Catalog(songs=list(songs.values()), albums=albums, artists=list(artists.values()))


def artist_popularity(hits: int, songs: int) -> int:
    """0..100 from what the dataset knows: each hit counts 20, each song 1."""
    return min(100, 20 * hits + songs)
