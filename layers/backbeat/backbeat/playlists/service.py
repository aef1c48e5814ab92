"""Playlists: the domain functions behind /playlists and /me/playlists.

Each write states what it changes as a `Plan` and hands it to the edit engine
(`backbeat.playlists.edits`: one versioned, conditional transaction per edit); who may do what is
`backbeat.playlists.access`, what reads answer is `backbeat.playlists.views`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from pynamodb.transactions import TransactWrite

from backbeat.catalog.models import META as CATALOG_META
from backbeat.catalog.models import SongItem, song_id_of_key, song_key
from backbeat.errors import InvalidInput, NotFound
from backbeat.ids import ID_LENGTH, is_valid_id
from backbeat.playlists.access import check_edit, check_owner, load_readable, may_read
from backbeat.playlists.edits import (
    Plan,
    change_item,
    connection,
    edit,
    member_item,
    new_id,
    now,
    track_edit,
)
from backbeat.playlists.groups import builders
from backbeat.playlists.invitations import MAX_COLLABORATORS, accept, decline, invite, my_invitations
from backbeat.playlists.models import (
    MAX_TRACKS,
    META,
    ChangeItem,
    MemberItem,
    PlaylistItem,
    TrackItem,
    item_id_of_key,
    item_key,
    member_key,
    playlist_key,
)
from backbeat.playlists.ordering import RESPACE_WINDOW, place
from backbeat.playlists.snapshots import expected_version, snapshot_id
from backbeat.playlists.tracks import TrackChanges, Tracks
from backbeat.playlists.turns import first_turn_item
from backbeat.playlists.views import changes, get_playlist, my_playlists, summary_view
from backbeat.tables import write_transaction

__all__ = [
    "MAX_COLLABORATORS",
    "MAX_MOVE_LENGTH",
    "MAX_SONGS_PER_ADD",
    "accept",
    "add_tracks",
    "changes",
    "create_playlist",
    "decline",
    "delete_playlist",
    "expected_version",
    "get_playlist",
    "invite",
    "load_readable",
    "may_read",
    "move_tracks",
    "my_invitations",
    "my_playlists",
    "remove_collaborator",
    "remove_track",
    "remove_tracks",
    "snapshot_id",
    "update_details",
]

MAX_SONGS_PER_ADD = 50  # a transaction holds 100 items: songs + re-keyed neighbours + playlist + log
MAX_MOVE_LENGTH = 50


# ---------------------------------------------------------------------------------------- input
def _unprintable(text: str, allowed: str) -> str | None:
    for character in text:
        if character not in allowed and unicodedata.category(character) in ("Cc", "Cs"):
            return f"U+{ord(character):04X}"
    return None


def printable_text(text: str) -> str:
    """`text` when it holds no control character nor lone surrogate (a pydantic validator)."""
    found = _unprintable(text, "")
    if found:
        raise ValueError(f"must not contain control characters ({found})")
    return text


def printable_text_with_lines(text: str) -> str:
    """As `printable_text`, but line breaks and tabs are allowed (a description's paragraphs)."""
    found = _unprintable(text, "\n\t")
    if found:
        raise ValueError(f"must not contain control characters ({found})")
    return text


# ---------------------------------------------------------------------------------------- create
def create_playlist(
    user_id: str, name: str, description: str, is_public: bool, is_collaborative: bool
) -> dict[str, Any]:
    playlist_id = new_id()
    at = now()
    op = {
        "type": "playlist.created",
        "name": name,
        "description": description,
        "isPublic": is_public,
        "isCollaborative": is_collaborative,
        "ownerId": user_id,
    }
    playlist = PlaylistItem(
        pk=playlist_key(playlist_id),
        sk=META,
        name=name,
        description=description,
        is_public=is_public,
        is_collaborative=is_collaborative,
        owner_id=user_id,
        collaborators=[],
        version=0,
        track_count=0,
        created_at=at,
        updated_at=at,
        last_op=op,
        last_by=user_id,
        last_at=at,
    )

    def write() -> None:
        with TransactWrite(connection=connection()) as transaction:
            transaction.save(playlist, condition=PlaylistItem.pk.does_not_exist())
            transaction.save(change_item(playlist_id, 0, op, user_id, at), condition=ChangeItem.pk.does_not_exist())
            transaction.save(member_item(playlist_id, user_id, "owner"))
            transaction.save(first_turn_item(playlist_id))

    write_transaction(write)
    view = summary_view(playlist)
    view["tracks"] = {"items": [], "total": 0, "limit": 100, "offset": 0}
    return view


# ---------------------------------------------------------------------------------------- edits
def _check_songs(song_ids: list[str]) -> None:
    unknown = [song_id for song_id in song_ids if not is_valid_id(song_id)]
    wanted = {song_key(song_id) for song_id in song_ids if is_valid_id(song_id)}
    found = {song.pk for song in SongItem.batch_get([(key, CATALOG_META) for key in wanted])} if wanted else set()
    unknown += [song_id_of_key(key) for key in sorted(wanted - found)]
    if unknown:
        raise NotFound(f"song {unknown[0]!r} not found")


def add_tracks(
    playlist_id: str, user_id: str, song_ids: list[str], position: int | None, if_version: int | None
) -> dict[str, Any]:
    _check_songs(song_ids)
    args = {"playlistId": playlist_id, "userId": user_id, "songIds": song_ids, "position": position}
    return track_edit(playlist_id, user_id, if_version, "add", args, _add_build(args))


def _add_build(args: dict[str, Any]) -> Callable[[PlaylistItem, Tracks], Plan]:
    playlist_id, user_id, song_ids, position = args["playlistId"], args["userId"], args["songIds"], args["position"]
    count = len(song_ids)

    def build(playlist: PlaylistItem, tracks: Tracks) -> Plan:
        total = int(playlist.track_count)
        if total + count > MAX_TRACKS:
            raise InvalidInput(f"a playlist holds at most {MAX_TRACKS} tracks (it has {total})", "songIds")
        if position is not None and position > total:
            raise InvalidInput(f"position: must be between 0 and {total}", "position")
        at = total if position is None else position
        if at == total:  # append: only the last key matters
            tail = tracks.last(RESPACE_WINDOW + 1) if total else []
            keys, rekeyed = place(tail, len(tail), count)
        else:
            keys, rekeyed = place(tracks.first(at + RESPACE_WINDOW + 1), at, count)
        added_at = now()
        items = [
            TrackItem(
                pk=playlist_key(playlist_id),
                sk=item_key(item_id),
                item_id=item_id,
                song_id=song_id,
                added_by=user_id,
                added_at=added_at,
                pos=key,
            )
            for item_id, song_id, key in zip((new_id() for _ in song_ids), song_ids, keys, strict=True)
        ]
        return Plan(
            op={"type": "tracks.added", "position": at, "items": [item.view() for item in items]},
            track_delta=count,
            tracks=TrackChanges(puts=items, rekeys=rekeyed),
            result={"itemId": items[0].item_id, "itemIds": [item.item_id for item in items]},
        )

    return build


def remove_track(playlist_id: str, user_id: str, item_id: str, if_version: int | None) -> dict[str, Any]:
    args = {"itemIds": [item_id]}
    return track_edit(playlist_id, user_id, if_version, "remove", args, _remove_build(args))


def remove_tracks(playlist_id: str, user_id: str, item_ids: list[str], if_version: int | None) -> dict[str, Any]:
    """Several items removed in one edit: one version, one `tracks.removed` entry naming them all
    (what Discover Weekly's renewal asks, instead of one edit per song)."""
    if not 1 <= len(item_ids) <= MAX_SONGS_PER_ADD:
        raise InvalidInput(f"itemIds: 1 to {MAX_SONGS_PER_ADD} items at a time", "itemIds")
    if len(set(item_ids)) != len(item_ids):
        raise InvalidInput("itemIds: name each item once", "itemIds")
    args = {"itemIds": list(item_ids)}
    return track_edit(playlist_id, user_id, if_version, "remove", args, _remove_build(args))


def _remove_build(args: dict[str, Any]) -> Callable[[PlaylistItem, Tracks], Plan]:
    item_ids: list[str] = args["itemIds"]

    def build(playlist: PlaylistItem, tracks: Tracks) -> Plan:
        valid = [item_id for item_id in item_ids if len(item_id) == ID_LENGTH and is_valid_id(item_id)]
        if len(valid) < len(item_ids):
            raise NotFound(f"item {next(i for i in item_ids if i not in valid)!r} not found")
        found = tracks.present([item_key(item_id) for item_id in item_ids])
        missing = [item_id for item_id in item_ids if item_key(item_id) not in found]
        if missing:
            raise NotFound(f"item {missing[0]!r} not found in this playlist")
        return Plan(
            op={"type": "tracks.removed", "itemIds": list(item_ids)},
            track_delta=-len(item_ids),
            tracks=TrackChanges(deletes=[item_key(item_id) for item_id in item_ids]),
        )

    return build


def move_tracks(
    playlist_id: str, user_id: str, range_start: int, insert_before: int, range_length: int, if_version: int | None
) -> dict[str, Any]:
    if range_length > MAX_MOVE_LENGTH:
        raise InvalidInput(f"rangeLength: at most {MAX_MOVE_LENGTH}", "rangeLength")
    if range_start < insert_before < range_start + range_length:
        raise InvalidInput("insertBefore: must not fall inside the range being moved", "insertBefore")
    args = {"rangeStart": range_start, "insertBefore": insert_before, "rangeLength": range_length}
    return track_edit(playlist_id, user_id, if_version, "move", args, _move_build(args))


def _move_build(args: dict[str, Any]) -> Callable[[PlaylistItem, Tracks], Plan]:
    range_start, insert_before, range_length = args["rangeStart"], args["insertBefore"], args["rangeLength"]

    def build(playlist: PlaylistItem, tracks: Tracks) -> Plan:
        total = int(playlist.track_count)
        if range_start + range_length > total:
            raise InvalidInput(f"rangeStart: the range must lie within the {total} tracks", "rangeStart")
        if insert_before > total:
            raise InvalidInput(f"insertBefore: must be between 0 and {total}", "insertBefore")
        needed = max(range_start + range_length, insert_before) + RESPACE_WINDOW + 1
        ordered = tracks.first(needed)
        moving = ordered[range_start : range_start + range_length]
        rest = ordered[:range_start] + ordered[range_start + range_length :]
        at = insert_before - range_length if insert_before > range_start else insert_before
        keys, rekeyed = place(rest, at, range_length)
        moved_ids = [item_id_of_key(sk) for sk, _ in moving]
        return Plan(
            op={
                "type": "tracks.moved",
                "rangeStart": range_start,
                "insertBefore": insert_before,
                "rangeLength": range_length,
                "itemIds": moved_ids,
            },
            tracks=TrackChanges(rekeys=[*rekeyed, *((sk, key) for (sk, _), key in zip(moving, keys, strict=True))]),
        )

    return build


# What the group commit's applier rebuilds a queued edit from (`backbeat.playlists.groups`).
builders.update(
    {
        "add": lambda args: (check_edit, _add_build(args)),
        "remove": lambda args: (check_edit, _remove_build(args)),
        "move": lambda args: (check_edit, _move_build(args)),
    }
)


def update_details(playlist_id: str, user_id: str, details: dict[str, Any], if_version: int | None) -> dict[str, Any]:
    attributes = {
        "name": PlaylistItem.name,
        "description": PlaylistItem.description,
        "isPublic": PlaylistItem.is_public,
        "isCollaborative": PlaylistItem.is_collaborative,
    }

    def build(playlist: PlaylistItem) -> Plan:
        return Plan(
            op={"type": "details.updated", "changes": details},
            meta_actions=[attributes[key].set(value) for key, value in details.items()],
        )

    edit(playlist_id, user_id, if_version, check_owner, build)
    return get_playlist(playlist_id, user_id, limit=100, offset=0)


def remove_collaborator(playlist_id: str, user_id: str, collaborator: str, if_version: int | None) -> dict[str, Any]:
    def build(playlist: PlaylistItem) -> Plan:
        remaining = [c for c in (playlist.collaborators or []) if c != collaborator]
        if len(remaining) == len(playlist.collaborators or []):
            raise NotFound(f"user {collaborator!r} is not a collaborator")
        plan = Plan(
            op={"type": "collaborator.removed", "userId": collaborator},
            meta_actions=[PlaylistItem.collaborators.set(remaining)],
            result={"userId": collaborator},
        )
        plan.writes.append(lambda t: t.delete(MemberItem(pk=playlist.pk, sk=member_key(collaborator))))
        return plan

    return edit(playlist_id, user_id, if_version, check_owner, build)


def delete_playlist(playlist_id: str, user_id: str, if_version: int | None) -> dict[str, Any]:
    """Marks the playlist deleted (version v+1, the last change subscribers see), then removes its
    items, log and memberships."""

    def build(playlist: PlaylistItem) -> Plan:
        return Plan(op={"type": "playlist.deleted"}, meta_actions=[PlaylistItem.deleted.set(True)])

    result = edit(playlist_id, user_id, if_version, check_owner, build)
    _purge(playlist_id)
    return result


def _purge(playlist_id: str) -> None:
    keys = PlaylistItem.query(playlist_key(playlist_id), attributes_to_get=["pk", "sk"])
    with PlaylistItem.batch_write() as batch:
        for item in keys:
            batch.delete(item)
