"""Snapshot ids: opaque names for one version of one playlist, and the version a write expects."""

from __future__ import annotations

import hashlib

from backbeat.errors import InvalidInput


def snapshot_id(playlist_id: str, version: int) -> str:
    """Opaque, but names one version of one playlist."""
    digest = hashlib.sha256(f"{playlist_id}:{version}".encode()).hexdigest()[:10]
    return f"{version:x}-{digest}"


def version_of_snapshot(playlist_id: str, snapshot: str) -> int:
    head, _, _ = snapshot.partition("-")
    try:
        version = int(head, 16)
    except ValueError:
        raise InvalidInput("snapshotId: not a snapshot of this playlist", "snapshotId") from None
    if snapshot_id(playlist_id, version) != snapshot:
        raise InvalidInput("snapshotId: not a snapshot of this playlist", "snapshotId")
    return version


def expected_version(playlist_id: str, if_version: int | None, snapshot: str | None) -> int | None:
    if snapshot is not None:
        from_snapshot = version_of_snapshot(playlist_id, snapshot)
        if if_version is not None and if_version != from_snapshot:
            raise InvalidInput("ifVersion and snapshotId name different versions", "ifVersion")
        return from_snapshot
    return if_version
