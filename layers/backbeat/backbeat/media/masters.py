"""Masters in the masters bucket: a content-hash key (so the same bytes are the same song) and the
song's metadata as S3 user metadata, percent-encoded because S3 carries it in ASCII headers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from backbeat.ids import base62_id

MASTERS_PREFIX = "masters/"
MEDIA_PREFIX = "songs/"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def master_key(digest: str) -> str:
    return f"{MASTERS_PREFIX}{digest}"


def song_id_for_key(key: str) -> str:
    """The song id follows from the master's key, hence from its bytes: re-ingesting is idempotent."""
    if not key.startswith(MASTERS_PREFIX) or len(key) <= len(MASTERS_PREFIX):
        raise ValueError(f"not a master key: {key}")
    return base62_id("master", key.removeprefix(MASTERS_PREFIX))


def media_prefix(song_id: str) -> str:
    return f"{MEDIA_PREFIX}{song_id}/"


@dataclass(frozen=True)
class MasterMetadata:
    title: str
    artist: str
    album: str | None = None

    def to_s3(self) -> dict[str, str]:
        metadata = {"title": quote(self.title), "artist": quote(self.artist)}
        if self.album:
            metadata["album"] = quote(self.album)
        return metadata

    @classmethod
    def from_s3(cls, metadata: dict[str, str]) -> MasterMetadata:
        title, artist = metadata.get("title"), metadata.get("artist")
        if not title or not artist:
            raise ValueError("the master has no title or artist metadata")
        album = metadata.get("album")
        return cls(title=unquote(title), artist=unquote(artist), album=unquote(album) if album else None)


def upload_master(s3: Any, bucket: str, data: bytes, metadata: MasterMetadata) -> tuple[str, bool]:
    """Put a master under its content hash (which starts the `encode` state machine through S3 ->
    EventBridge); (song id, False) without uploading when the same bytes are already there."""
    key = master_key(content_hash(data))
    song_id = song_id_for_key(key)
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return song_id, False
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
    s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata=metadata.to_s3())
    return song_id, True
