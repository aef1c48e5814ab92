"""Sync on reconnect: what changed in each playlist a device downloaded, from the playlist change log.

Downloading a playlist records its change-log version on the device (``PLAYLIST#<device>#<playlist>``).
`GET /downloads/sync?since=<cursor>` folds the log (asked of `backbeat.playlists`, never read from its
table) up to the version the device last saw and up to the current version, and answers the
difference: songs to add, songs to delete, and the playlist's detail changes. The log is gapless and
append-only, so the answer is exact: a song added and removed in between appears in neither list, a
song the playlist still holds through another entry is not deleted.

The cursor is opaque to clients: base64url of ``{"d": deviceId, "p": {playlistId: version}}``. A
playlist that was deleted, or that the user may no longer read, is reported once as removed (all its
songs on the device to delete) and then carried in the cursor as version -1.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any

from backbeat.downloads.devices import load_device
from backbeat.downloads.models import (
    DownloadItem,
    PlaylistDownloadItem,
    downloads_prefix,
    now,
    playlist_download_key,
    playlist_downloads_prefix,
)
from backbeat.errors import InvalidInput, NotFound
from backbeat.playlists import service as playlists

LOG_PAGE = 1000
REPORTED_REMOVED = -1
DETAIL_FIELDS = ("name", "description", "isPublic", "isCollaborative")


# ------------------------------------------------------------------------------ the change log
def _log(playlist_id: str, through: int) -> list[dict[str, Any]]:
    """The playlist's change log from version 0 through `through`, in order."""
    entries: list[dict[str, Any]] = []
    start = 0
    while start <= through:
        page = playlists.changes(playlist_id, start, LOG_PAGE)
        entries += [entry for entry in page if int(entry["version"]) <= through]
        if len(page) < LOG_PAGE or int(page[-1]["version"]) >= through:
            break
        start = int(page[-1]["version"]) + 1
    return entries


def _song_counts(entries: Iterable[dict[str, Any]]) -> dict[str, int]:
    """How many entries of each song the playlist holds after `entries` (moves change nothing)."""
    items: dict[str, str] = {}
    for entry in entries:
        op = entry["op"]
        if op["type"] == "tracks.added":
            items.update({str(item["itemId"]): str(item["songId"]) for item in op["items"]})
        elif op["type"] == "tracks.removed":
            for item_id in op["itemIds"]:
                items.pop(str(item_id), None)
        elif op["type"] == "playlist.deleted":
            items.clear()
    counts: dict[str, int] = {}
    for song_id in items.values():
        counts[song_id] = counts.get(song_id, 0) + 1
    return counts


def songs_at(playlist_id: str, version: int) -> list[str]:
    """The distinct songs of the playlist at `version`, in the order they were first added."""
    return list(_song_counts(_log(playlist_id, version)))


def readable_version(playlist_id: str, user_id: str) -> int:
    """The playlist's current version; NotFound unless the user may read it."""
    return int(playlists.load_readable(playlist_id, user_id).version)


def record_playlist(user_id: str, device_id: str, playlist_id: str, version: int) -> None:
    PlaylistDownloadItem(
        user_id,
        playlist_download_key(device_id, playlist_id),
        device_id=device_id,
        playlist_id=playlist_id,
        version=version,
        at=now(),
    ).save()


# -------------------------------------------------------------------------------------- cursor
def encode_cursor(device_id: str, versions: dict[str, int]) -> str:
    raw = json.dumps({"d": device_id, "p": versions}, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, device_id: str) -> dict[str, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        versions = {str(key): int(value) for key, value in data["p"].items()}
        device = data["d"]
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
        raise InvalidInput("since: not a cursor this API issued", "since") from None
    if device != device_id:
        raise InvalidInput("since: this cursor belongs to another device", "since")
    return versions


# ---------------------------------------------------------------------------------------- sync
def _details(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    changed: dict[str, Any] = {}
    for entry in entries:
        if entry["op"]["type"] == "details.updated":
            changed.update({k: v for k, v in entry["op"]["changes"].items() if k in DETAIL_FIELDS})
    return changed


def _playlist_changes(user_id: str, playlist_id: str, since: int) -> tuple[dict[str, Any], int]:
    current = readable_version(playlist_id, user_id)
    if since > current:
        raise InvalidInput(f"since: playlist {playlist_id} has no version {since} yet", "since")
    log = _log(playlist_id, current)
    before, after = _song_counts(log[: since + 1]), _song_counts(log)
    answer = {
        "playlistId": playlist_id,
        "fromVersion": since,
        "version": current,
        "removed": False,
        "add": [song for song in after if song not in before],
        "delete": [song for song in before if song not in after],
        "metadata": _details(log[since + 1 :]),
    }
    return answer, current


def _removed(user_id: str, device_id: str, playlist_id: str, since: int) -> dict[str, Any]:
    held = DownloadItem.query(
        user_id,
        DownloadItem.sk.startswith(downloads_prefix(device_id)),
        filter_condition=DownloadItem.playlist_id == playlist_id,
        consistent_read=True,
    )
    return {
        "playlistId": playlist_id,
        "fromVersion": since,
        "version": None,
        "removed": True,
        "add": [],
        "delete": [item.song_id for item in held],
        "metadata": {},
    }


def sync(user_id: str, device_id: str, since: str | None) -> dict[str, Any]:
    """For every playlist downloaded to the device: songs to add and delete and detail changes since
    the cursor (or since the download, without one), and the cursor to send next time."""
    load_device(user_id, device_id)
    seen = decode_cursor(since, device_id) if since else {}
    recorded = PlaylistDownloadItem.query(
        user_id, PlaylistDownloadItem.sk.startswith(playlist_downloads_prefix(device_id)), consistent_read=True
    )
    answers: list[dict[str, Any]] = []
    versions: dict[str, int] = {}
    for playlist in recorded:
        playlist_id = str(playlist.playlist_id)
        start = seen.get(playlist_id, int(playlist.version))
        try:
            answer, versions[playlist_id] = _playlist_changes(user_id, playlist_id, start)
        except NotFound:
            versions[playlist_id] = REPORTED_REMOVED
            if start != REPORTED_REMOVED:
                answers.append(_removed(user_id, device_id, playlist_id, start))
            continue
        answers.append(answer)
    return {"deviceId": device_id, "playlists": answers, "cursor": encode_cursor(device_id, versions)}
