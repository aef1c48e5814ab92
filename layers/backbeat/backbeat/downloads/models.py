"""Data access for the downloads table (one partition per user, pynamodb).

| entity            | userId | sk                               | attributes                                   |
|-------------------|--------|----------------------------------|----------------------------------------------|
| device            | user   | ``DEVICE#<deviceId>``            | deviceId, name, type, publicKey, createdAt   |
| download          | user   | ``DL#<deviceId>#<songId>``       | quality, jobId, status, estimatedBytes, ...  |
| playlist download | user   | ``PLAYLIST#<deviceId>#<playlistId>`` | version (change-log position), at        |
| quota             | user   | ``QUOTA``                        | songs (across devices), devices              |

The quota item is the one counter every reservation is conditioned on: a download item is written
only in the same transaction that adds to `songs` under ``songs <= limit - n``, so the counters equal
the items and no interleaving of requests passes the limits (`backbeat.downloads.quota`). The
preparation worker fills in `bytes, bucket, key, contentKeyId, readyAt` (or `reason`) on a download.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from backbeat.tables import bind_models

QUOTA = "QUOTA"
DEVICE_PREFIX = "DEVICE#"
DOWNLOAD_PREFIX = "DL#"
PLAYLIST_PREFIX = "PLAYLIST#"

QUEUED, READY, FAILED = "queued", "ready", "failed"


def now() -> str:
    """ISO-8601 UTC with milliseconds and "Z", as every timestamp of the project."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def device_key(device_id: str) -> str:
    return f"{DEVICE_PREFIX}{device_id}"


def download_key(device_id: str, song_id: str) -> str:
    return f"{DOWNLOAD_PREFIX}{device_id}#{song_id}"


def downloads_prefix(device_id: str) -> str:
    """The sort-key prefix of one device's downloads."""
    return f"{DOWNLOAD_PREFIX}{device_id}#"


def playlist_download_key(device_id: str, playlist_id: str) -> str:
    return f"{PLAYLIST_PREFIX}{device_id}#{playlist_id}"


def playlist_downloads_prefix(device_id: str) -> str:
    return f"{PLAYLIST_PREFIX}{device_id}#"


class DownloadsModel(Model):
    class Meta:
        table_name = "unbound"  # set by bind_downloads_table() at cold start

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    sk = UnicodeAttribute(range_key=True)


class DeviceItem(DownloadsModel):
    device_id = UnicodeAttribute(attr_name="deviceId")
    name = UnicodeAttribute()
    type = UnicodeAttribute()
    public_key = UnicodeAttribute(attr_name="publicKey")
    created_at = UnicodeAttribute(attr_name="createdAt")


class DownloadItem(DownloadsModel):
    device_id = UnicodeAttribute(attr_name="deviceId")
    song_id = UnicodeAttribute(attr_name="songId")
    quality = UnicodeAttribute()  # a rung of the ladder: "96k" ... "320k"
    job_id = UnicodeAttribute(attr_name="jobId")
    status = UnicodeAttribute()  # queued | ready | failed
    estimated_bytes = NumberAttribute(attr_name="estimatedBytes")
    requested_at = UnicodeAttribute(attr_name="requestedAt")
    playlist_id = UnicodeAttribute(attr_name="playlistId", null=True)  # the playlist it came with
    # Set by the preparation worker.
    bytes = NumberAttribute(null=True)
    bucket = UnicodeAttribute(null=True)
    key = UnicodeAttribute(null=True)
    content_key_id = UnicodeAttribute(attr_name="contentKeyId", null=True)
    ready_at = UnicodeAttribute(attr_name="readyAt", null=True)
    reason = UnicodeAttribute(null=True)


class PlaylistDownloadItem(DownloadsModel):
    """A playlist downloaded to a device and the change-log version its songs were taken at."""

    device_id = UnicodeAttribute(attr_name="deviceId")
    playlist_id = UnicodeAttribute(attr_name="playlistId")
    version = NumberAttribute()
    at = UnicodeAttribute()


class QuotaItem(DownloadsModel):
    songs = NumberAttribute(default=0)
    devices = NumberAttribute(default=0)


def bind_downloads_table(table_name: str) -> None:
    """Point every downloads model at the deployed table (called once at cold start)."""
    bind_models(table_name, DownloadsModel, DeviceItem, DownloadItem, PlaylistDownloadItem, QuotaItem)
