"""Data access for the catalog table (single-table design, pynamodb).

| entity | pk               | sk     | gsi1 (by artist)              | gsi2 (by album)              |
|--------|------------------|--------|-------------------------------|------------------------------|
| song   | ``SONG#<id>``    | ``META`` | ``ARTIST#<id>`` / ``<title>#<id>`` | ``ALBUM#<id>`` / ``<track no>`` |
| album  | ``ALBUM#<id>``   | ``META`` |                               |                              |
| artist | ``ARTIST#<id>``  | ``META`` |                               |                              |

Ids are deterministic: an artist's id follows from its normalised name, an album's from its artist
and normalised title, a single's from its song, so seeding or ingesting twice rewrites the same items.

Songs and artists may carry `genres` (a list of up to 5 lower-case tags; a song has its artist's).
An ingested song also carries its encoding state (`status`, `reason`, `renditions`, `loudness`).

The table's stream (NEW_AND_OLD_IMAGES) feeds change-data-capture consumers such as search.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from backbeat.ids import base62_id
from backbeat.observability import correlation_id
from backbeat.tables import bind_models

META = "META"
SONG_PREFIX = "SONG#"


def song_key(song_id: str) -> str:
    return f"{SONG_PREFIX}{song_id}"


def song_id_of_key(key: str) -> str:
    return key.removeprefix(SONG_PREFIX)


def album_key(album_id: str) -> str:
    return f"ALBUM#{album_id}"


def artist_key(artist_id: str) -> str:
    return f"ARTIST#{artist_id}"


def by_artist_sort_key(title: str, song_id: str) -> str:
    """A song's sort key in the byArtist index: its artist's songs sort by title."""
    return f"{title.casefold()}#{song_id}"


def by_album_sort_key(track_number: int) -> str:
    """A song's sort key in the byAlbum index: an album's songs sort by track number."""
    return f"{track_number:04d}"


def normalize_name(name: str) -> str:
    """The natural key of an artist or album title: case-, space- and Unicode-form-insensitive."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def artist_id_for(name: str) -> str:
    return base62_id("artist", normalize_name(name))


def album_id_for(artist_id: str, title: str) -> str:
    return base62_id("album", artist_id, normalize_name(title))


def single_album_id_for(song_id: str) -> str:
    """The album a song released on its own belongs to (type ``single``, titled like the song)."""
    return base62_id("single", song_id)


class ByArtistIndex(GlobalSecondaryIndex["SongItem"]):
    class Meta:
        index_name = "byArtist"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class ByAlbumIndex(GlobalSecondaryIndex["SongItem"]):
    class Meta:
        index_name = "byAlbum"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class CatalogModel(Model):
    class Meta:
        table_name = "unbound"  # set by bind_catalog_table() at cold start

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=META)
    entity = UnicodeAttribute()
    id = UnicodeAttribute()


class SongItem(CatalogModel):
    title = UnicodeAttribute()
    artist_id = UnicodeAttribute(attr_name="artistId")
    artist_name = UnicodeAttribute(attr_name="artistName")
    album_id = UnicodeAttribute(attr_name="albumId")
    album_title = UnicodeAttribute(attr_name="albumTitle")
    album_type = UnicodeAttribute(attr_name="albumType")
    track_number = NumberAttribute(attr_name="trackNumber", default=1)
    duration_ms = NumberAttribute(attr_name="durationMs")
    popularity = NumberAttribute(default=0)
    audio_features = MapAttribute(attr_name="audioFeatures", default=dict)  # type: ignore[var-annotated]
    # Encoding (the `encode` state machine): absent on demo songs that have no master.
    status = UnicodeAttribute(null=True)  # processing | ready | failed
    reason = UnicodeAttribute(null=True)  # why encoding failed
    master_key = UnicodeAttribute(attr_name="masterKey", null=True)
    renditions = ListAttribute(of=MapAttribute, null=True)  # type: ignore[var-annotated]
    loudness = MapAttribute(null=True)  # type: ignore[var-annotated]
    # Plays the encoded media of another song (its renditions, loudness and duration) instead of its
    # own: how the demo catalog, which has no audio, is made playable (see devstack/demo_audio.py).
    media_id = UnicodeAttribute(attr_name="mediaId", null=True)
    genres = ListAttribute(of=UnicodeAttribute, null=True)  # type: ignore[var-annotated]  # its artist's
    # The request or state machine run that last wrote the song: the table's stream hands it to the
    # search indexer, which logs the record under it (decision 44).
    correlation_id = UnicodeAttribute(attr_name="correlationId", null=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()

    by_artist = ByArtistIndex()
    by_album = ByAlbumIndex()


def new_song(
    song_id: str,
    *,
    title: str,
    artist_id: str,
    artist_name: str,
    album_id: str,
    album_title: str,
    album_type: str,
    track_number: int = 1,
    **attributes: Any,
) -> SongItem:
    """A song item with every key it is found by: its own, and its place in the byArtist and byAlbum
    indexes (which follow from its artist, title, album and track number), written under the current
    correlation id unless `attributes` name one."""
    attributes.setdefault("correlation_id", correlation_id())
    return SongItem(
        pk=song_key(song_id),
        entity="song",
        id=song_id,
        title=title,
        artist_id=artist_id,
        artist_name=artist_name,
        album_id=album_id,
        album_title=album_title,
        album_type=album_type,
        track_number=track_number,
        gsi1pk=artist_key(artist_id),
        gsi1sk=by_artist_sort_key(title, song_id),
        gsi2pk=album_key(album_id),
        gsi2sk=by_album_sort_key(track_number),
        **attributes,
    )


class AlbumItem(CatalogModel):
    title = UnicodeAttribute()
    album_type = UnicodeAttribute(attr_name="albumType")
    artist_id = UnicodeAttribute(attr_name="artistId")
    artist_name = UnicodeAttribute(attr_name="artistName")
    track_count = NumberAttribute(attr_name="trackCount", default=0)
    popularity = NumberAttribute(default=0)


class ArtistItem(CatalogModel):
    name = UnicodeAttribute()
    song_count = NumberAttribute(attr_name="songCount", default=0)
    popularity = NumberAttribute(default=0)
    genres = ListAttribute(of=UnicodeAttribute, null=True)  # type: ignore[var-annotated]  # up to 5, lower-case


def bind_catalog_table(table_name: str) -> None:
    """Point every catalog model at the deployed table (called once at cold start)."""
    bind_models(table_name, CatalogModel, SongItem, AlbumItem, ArtistItem)
