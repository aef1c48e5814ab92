"""Reads: a playlist with its tracks in order, a user's playlists, the change log."""

from __future__ import annotations

from typing import Any

from backbeat.playlists.access import load_readable, may_read
from backbeat.playlists.models import (
    META,
    ChangeItem,
    MemberItem,
    PlaylistItem,
    TrackItem,
    log_key,
    playlist_key,
    user_key,
)
from backbeat.playlists.snapshots import snapshot_id

LAST_VERSION = 10**10 - 1  # log keys hold ten digits


def summary_view(playlist: PlaylistItem) -> dict[str, Any]:
    return {
        "id": playlist.id,
        "name": playlist.name,
        "description": playlist.description,
        "isPublic": bool(playlist.is_public),
        "isCollaborative": bool(playlist.is_collaborative),
        "ownerId": playlist.owner_id,
        "collaborators": list(playlist.collaborators or []),
        "version": int(playlist.version),
        "snapshotId": snapshot_id(playlist.id, int(playlist.version)),
    }


def ordered(
    playlist_id: str,
    limit: int | None = None,
    *,
    keys_only: bool = False,
    after: tuple[str, str] | None = None,
    backward: bool = False,
) -> list[TrackItem]:
    """Track items in playlist order (strongly consistent: the index is local), or from the end with
    `backward`; with `after`, an item's (sk, pos), those that follow it in that direction."""
    pk = playlist_key(playlist_id)
    query = TrackItem.by_position.query(
        pk,
        consistent_read=True,
        scan_index_forward=not backward,
        limit=limit,
        attributes_to_get=["pk", "sk", "pos"] if keys_only else None,
        page_size=min(limit, 1000) if limit else 1000,
        last_evaluated_key={"pk": {"S": pk}, "sk": {"S": after[0]}, "pos": {"S": after[1]}} if after else None,
    )
    return list(query)


def get_playlist(playlist_id: str, user_id: str, limit: int, offset: int) -> dict[str, Any]:
    playlist = load_readable(playlist_id, user_id)
    items = ordered(playlist_id, offset + limit)[offset:] if offset < int(playlist.track_count) else []
    view = summary_view(playlist)
    view["tracks"] = {
        "items": [item.view() for item in items],
        "total": int(playlist.track_count),
        "limit": limit,
        "offset": offset,
    }
    return view


def my_playlists(user_id: str, limit: int, offset: int) -> dict[str, Any]:
    """A page of the playlists the user owns or collaborates on. The page reads the memberships up to
    its end, not all of them, and the total is counted by DynamoDB (`Select=COUNT`: no membership is
    sent back or turned into an object), so a user with thousands of playlists costs a page what a
    page needs."""
    key = user_key(user_id)
    total = MemberItem.by_member.count(key)
    members = list(MemberItem.by_member.query(key, limit=offset + limit)) if offset < total else []
    ids = [member.pk for member in members][offset : offset + limit]
    found = {p.pk: p for p in PlaylistItem.batch_get([(pk, META) for pk in ids])} if ids else {}
    items = []
    for pk in ids:
        playlist = found.get(pk)
        if playlist is not None and may_read(playlist, user_id):
            view = summary_view(playlist)
            view["tracks"] = {"total": int(playlist.track_count)}
            items.append(view)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def changes(playlist_id: str, from_version: int, limit: int) -> list[dict[str, Any]]:
    """Entries of the change log from `from_version` on, in version order."""
    if from_version > LAST_VERSION:
        return []
    query = ChangeItem.query(
        playlist_key(playlist_id),
        ChangeItem.sk.between(log_key(from_version), log_key(LAST_VERSION)),
        consistent_read=True,
        limit=limit,
    )
    return [
        {"version": int(c.version), "op": c.op, "by": c.by, "at": c.at, "correlationId": c.correlation_id}
        for c in query
    ]
