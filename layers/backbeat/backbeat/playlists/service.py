"""Playlists: the domain functions behind /playlists and /me/playlists.

Every write is one DynamoDB transaction that moves the playlist from version v to v+1 under the
condition ``version = v``, appends change v+1 to the log and writes the track items it touches.
Versions are therefore gapless and no edit overwrites another. A write without `ifVersion` applies
to the latest state: when another edit commits first, it rereads and tries again (optimistic
concurrency with jittered backoff); a write with `ifVersion` gets 409 instead.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from backbeat.catalog.models import META as CATALOG_META
from backbeat.catalog.models import SongItem, song_key
from backbeat.errors import Conflict, Forbidden, InvalidInput, NotFound
from backbeat.identity.models import UserItem
from backbeat.ids import ID_LENGTH, base62_id, is_valid_id
from backbeat.playlists.models import (
    MAX_TRACKS,
    META,
    ChangeItem,
    MemberItem,
    PlaylistItem,
    TrackItem,
    item_key,
    log_key,
    member_key,
    playlist_key,
    user_key,
)
from backbeat.playlists.ordering import RESPACE_WINDOW, place

MAX_COLLABORATORS = 50
MAX_SONGS_PER_ADD = 50  # a transaction holds 100 items: songs + re-keyed neighbours + playlist + log
MAX_MOVE_LENGTH = 50
EDIT_DEADLINE_SECONDS = 8.0  # under the function's 10 s timeout
RETRY_BASE_SECONDS = 0.02
RETRY_CAP_SECONDS = 1.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _new_id() -> str:
    return base62_id(uuid.uuid4().hex)


# ---------------------------------------------------------------------------------------- snapshots
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


# ---------------------------------------------------------------------------------------- access
def may_read(playlist: PlaylistItem, user_id: str) -> bool:
    return bool(playlist.is_public) or user_id == playlist.owner_id or user_id in (playlist.collaborators or [])


def may_edit(playlist: PlaylistItem, user_id: str) -> bool:
    if user_id == playlist.owner_id:
        return True
    return bool(playlist.is_collaborative) and user_id in (playlist.collaborators or [])


def load(playlist_id: str) -> PlaylistItem:
    if not is_valid_id(playlist_id):
        raise NotFound(f"playlist {playlist_id!r} not found")
    try:
        playlist = PlaylistItem.get(playlist_key(playlist_id), META, consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"playlist {playlist_id!r} not found") from None
    if playlist.deleted:
        raise NotFound(f"playlist {playlist_id!r} not found")
    return playlist


def load_readable(playlist_id: str, user_id: str) -> PlaylistItem:
    """A private playlist is invisible (404) to anyone but its owner and collaborators."""
    playlist = load(playlist_id)
    if not may_read(playlist, user_id):
        raise NotFound(f"playlist {playlist_id!r} not found")
    return playlist


def _check_edit(playlist: PlaylistItem, user_id: str) -> None:
    if not may_read(playlist, user_id):
        raise NotFound(f"playlist {playlist.id!r} not found")
    if not may_edit(playlist, user_id):
        raise Forbidden("only the owner and the collaborators of a collaborative playlist edit it")


def _check_owner(playlist: PlaylistItem, user_id: str) -> None:
    if not may_read(playlist, user_id):
        raise NotFound(f"playlist {playlist.id!r} not found")
    if user_id != playlist.owner_id:
        raise Forbidden("only the owner of the playlist may do this")


# ---------------------------------------------------------------------------------------- views
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


def _ordered(playlist_id: str, limit: int | None = None, *, keys_only: bool = False) -> list[TrackItem]:
    """Track items in playlist order (strongly consistent: the index is local)."""
    attributes = ["pk", "sk", "pos"] if keys_only else None
    query = TrackItem.by_position.query(
        playlist_key(playlist_id),
        consistent_read=True,
        limit=limit,
        attributes_to_get=attributes,
        page_size=min(limit, 1000) if limit else 1000,
    )
    return list(query)


def get_playlist(playlist_id: str, user_id: str, limit: int, offset: int) -> dict[str, Any]:
    playlist = load_readable(playlist_id, user_id)
    items = _ordered(playlist_id, offset + limit)[offset:] if offset < int(playlist.track_count) else []
    view = summary_view(playlist)
    view["tracks"] = {
        "items": [item.view() for item in items],
        "total": int(playlist.track_count),
        "limit": limit,
        "offset": offset,
    }
    return view


def my_playlists(user_id: str, limit: int, offset: int) -> dict[str, Any]:
    members = list(MemberItem.by_member.query(user_key(user_id)))
    ids = [member.pk for member in members][offset : offset + limit]
    found = {p.pk: p for p in PlaylistItem.batch_get([(pk, META) for pk in ids])} if ids else {}
    items = []
    for pk in ids:
        playlist = found.get(pk)
        if playlist is not None and not playlist.deleted and may_read(playlist, user_id):
            view = summary_view(playlist)
            view["tracks"] = {"total": int(playlist.track_count)}
            items.append(view)
    return {"items": items, "total": len(members), "limit": limit, "offset": offset}


def changes(playlist_id: str, from_version: int, limit: int) -> list[dict[str, Any]]:
    """Entries of the change log from `from_version` on, in version order."""
    query = ChangeItem.query(
        playlist_key(playlist_id),
        ChangeItem.sk.between(log_key(from_version), log_key(10**10 - 1)),
        consistent_read=True,
        limit=limit,
    )
    return [{"version": int(c.version), "op": c.op, "by": c.by, "at": c.at} for c in query]


# ---------------------------------------------------------------------------------------- create
def create_playlist(
    user_id: str, name: str, description: str, is_public: bool, is_collaborative: bool
) -> dict[str, Any]:
    playlist_id = _new_id()
    now = _now()
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
        created_at=now,
        updated_at=now,
        last_op=op,
        last_by=user_id,
        last_at=now,
    )
    with TransactWrite(connection=_connection()) as transaction:
        transaction.save(playlist, condition=PlaylistItem.pk.does_not_exist())
        transaction.save(_change(playlist_id, 0, op, user_id, now), condition=ChangeItem.pk.does_not_exist())
        transaction.save(_member(playlist_id, user_id, "owner"))
    view = summary_view(playlist)
    view["tracks"] = {"items": [], "total": 0, "limit": 100, "offset": 0}
    return view


def _connection() -> Connection:
    return PlaylistItem._get_connection().connection


def _change(playlist_id: str, version: int, op: dict[str, Any], user_id: str, at: str) -> ChangeItem:
    return ChangeItem(pk=playlist_key(playlist_id), sk=log_key(version), version=version, op=op, by=user_id, at=at)


def _member(playlist_id: str, user_id: str, role: str) -> MemberItem:
    return MemberItem(
        pk=playlist_key(playlist_id),
        sk=member_key(user_id),
        user_id=user_id,
        role=role,
        gsi1pk=user_key(user_id),
        gsi1sk=playlist_key(playlist_id),
    )


# ---------------------------------------------------------------------------------------- edits
@dataclass
class Plan:
    """What one edit writes besides the playlist item and the log entry."""

    op: dict[str, Any]
    track_delta: int = 0
    meta_actions: list[Action] = field(default_factory=list)
    writes: list[Callable[[TransactWrite], None]] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)


def _is_conflict(error: TransactWriteError) -> bool:
    if error.cause_response_code == "TransactionConflictException":
        return True
    reasons = [reason.code for reason in error.cancellation_reasons if reason is not None]
    return any(code in ("ConditionalCheckFailed", "TransactionConflict") for code in reasons)


def _edit(
    playlist_id: str,
    user_id: str,
    if_version: int | None,
    check: Callable[[PlaylistItem, str], None],
    build: Callable[[PlaylistItem], Plan],
) -> dict[str, Any]:
    """Read, plan, commit v -> v+1; on a lost race reread and replan (unless `if_version` is set)."""
    deadline = time.monotonic() + EDIT_DEADLINE_SECONDS
    attempt = 0
    while True:
        playlist = load(playlist_id)
        check(playlist, user_id)
        version = int(playlist.version)
        if if_version is not None and version != if_version:
            raise Conflict(f"the playlist is at version {version}, not {if_version}")
        plan = build(playlist)
        now = _now()
        new_version = version + 1
        condition: Condition = PlaylistItem.version == version
        if plan.track_delta > 0:
            condition &= PlaylistItem.track_count <= MAX_TRACKS - plan.track_delta
        actions = [
            PlaylistItem.version.set(new_version),
            PlaylistItem.updated_at.set(now),
            PlaylistItem.last_op.set(plan.op),
            PlaylistItem.last_by.set(user_id),
            PlaylistItem.last_at.set(now),
            *plan.meta_actions,
        ]
        if plan.track_delta:
            actions.append(PlaylistItem.track_count.add(plan.track_delta))
        try:
            with TransactWrite(connection=_connection()) as transaction:
                transaction.update(PlaylistItem(pk=playlist.pk, sk=META), actions=actions, condition=condition)
                transaction.save(
                    _change(playlist_id, new_version, plan.op, user_id, now), condition=ChangeItem.pk.does_not_exist()
                )
                for write in plan.writes:
                    write(transaction)
        except TransactWriteError as error:
            if not _is_conflict(error):
                raise
            if if_version is not None:
                raise Conflict("the playlist moved on; reload it and try again") from None
            attempt += 1
            if time.monotonic() > deadline:
                raise Conflict("too many concurrent edits; try again") from None
            time.sleep(random.uniform(0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempt)))
            continue
        return {"version": new_version, "snapshotId": snapshot_id(playlist_id, new_version), **plan.result}


def _order_around(playlist_id: str, count: int) -> list[tuple[str, str]]:
    """(sk, pos) of the first `count` items in order."""
    return [(item.sk, item.pos) for item in _ordered(playlist_id, count, keys_only=True)]


def _last_keys(playlist_id: str, count: int) -> list[tuple[str, str]]:
    query = TrackItem.by_position.query(
        playlist_key(playlist_id),
        consistent_read=True,
        scan_index_forward=False,
        limit=count,
        attributes_to_get=["pk", "sk", "pos"],
    )
    return [(item.sk, item.pos) for item in reversed(list(query))]


def _rekey_writes(playlist_id: str, rekeyed: list[tuple[str, str]]) -> list[Callable[[TransactWrite], None]]:
    writes: list[Callable[[TransactWrite], None]] = []
    for sk, pos in rekeyed:

        def write(transaction: TransactWrite, sk: str = sk, pos: str = pos) -> None:
            transaction.update(
                TrackItem(pk=playlist_key(playlist_id), sk=sk),
                actions=[TrackItem.pos.set(pos)],
                condition=TrackItem.sk.exists(),
            )

        writes.append(write)
    return writes


def _put_item(item: TrackItem) -> Callable[[TransactWrite], None]:
    def write(transaction: TransactWrite) -> None:
        transaction.save(item, condition=TrackItem.sk.does_not_exist())

    return write


def _check_songs(song_ids: list[str]) -> None:
    unknown = [song_id for song_id in song_ids if not is_valid_id(song_id)]
    wanted = {song_key(song_id) for song_id in song_ids if is_valid_id(song_id)}
    found = {song.pk for song in SongItem.batch_get([(key, CATALOG_META) for key in wanted])} if wanted else set()
    unknown += [key.removeprefix("SONG#") for key in sorted(wanted - found)]
    if unknown:
        raise NotFound(f"song {unknown[0]!r} not found")


def add_tracks(
    playlist_id: str, user_id: str, song_ids: list[str], position: int | None, if_version: int | None
) -> dict[str, Any]:
    _check_songs(song_ids)
    count = len(song_ids)

    def build(playlist: PlaylistItem) -> Plan:
        total = int(playlist.track_count)
        if total + count > MAX_TRACKS:
            raise InvalidInput(f"a playlist holds at most {MAX_TRACKS} tracks (it has {total})", "songIds")
        if position is not None and position > total:
            raise InvalidInput(f"position: must be between 0 and {total}", "position")
        at = total if position is None else position
        if at == total:  # append: only the last key matters
            tail = _last_keys(playlist_id, RESPACE_WINDOW + 1) if total else []
            keys, rekeyed = place(tail, len(tail), count)
        else:
            keys, rekeyed = place(_order_around(playlist_id, at + RESPACE_WINDOW + 1), at, count)
        now = _now()
        items = [
            TrackItem(
                pk=playlist_key(playlist_id),
                sk=item_key(item_id),
                item_id=item_id,
                song_id=song_id,
                added_by=user_id,
                added_at=now,
                pos=key,
            )
            for item_id, song_id, key in zip((_new_id() for _ in song_ids), song_ids, keys, strict=True)
        ]
        plan = Plan(
            op={"type": "tracks.added", "position": at, "items": [item.view() for item in items]},
            track_delta=count,
            writes=_rekey_writes(playlist_id, rekeyed),
        )
        plan.writes += [_put_item(item) for item in items]
        plan.result = {"itemId": items[0].item_id, "itemIds": [item.item_id for item in items]}
        return plan

    return _edit(playlist_id, user_id, if_version, _check_edit, build)


def remove_track(playlist_id: str, user_id: str, item_id: str, if_version: int | None) -> dict[str, Any]:
    def build(playlist: PlaylistItem) -> Plan:
        if len(item_id) != ID_LENGTH or not is_valid_id(item_id):
            raise NotFound(f"item {item_id!r} not found")
        try:
            TrackItem.get(playlist.pk, item_key(item_id), consistent_read=True, attributes_to_get=["pk", "sk"])
        except DoesNotExist:
            raise NotFound(f"item {item_id!r} not found in this playlist") from None
        plan = Plan(op={"type": "tracks.removed", "itemIds": [item_id]}, track_delta=-1)
        plan.writes.append(
            lambda t: t.delete(TrackItem(pk=playlist.pk, sk=item_key(item_id)), condition=TrackItem.sk.exists())
        )
        return plan

    return _edit(playlist_id, user_id, if_version, _check_edit, build)


def move_tracks(
    playlist_id: str, user_id: str, range_start: int, insert_before: int, range_length: int, if_version: int | None
) -> dict[str, Any]:
    if range_length > MAX_MOVE_LENGTH:
        raise InvalidInput(f"rangeLength: at most {MAX_MOVE_LENGTH}", "rangeLength")
    if range_start < insert_before < range_start + range_length:
        raise InvalidInput("insertBefore: must not fall inside the range being moved", "insertBefore")

    def build(playlist: PlaylistItem) -> Plan:
        total = int(playlist.track_count)
        if range_start + range_length > total:
            raise InvalidInput(f"rangeStart: the range must lie within the {total} tracks", "rangeStart")
        if insert_before > total:
            raise InvalidInput(f"insertBefore: must be between 0 and {total}", "insertBefore")
        needed = max(range_start + range_length, insert_before) + RESPACE_WINDOW + 1
        ordered = _order_around(playlist_id, needed)
        moving = ordered[range_start : range_start + range_length]
        rest = ordered[:range_start] + ordered[range_start + range_length :]
        at = insert_before - range_length if insert_before > range_start else insert_before
        keys, rekeyed = place(rest, at, range_length)
        moved_ids = [sk.removeprefix("ITEM#") for sk, _ in moving]
        plan = Plan(
            op={
                "type": "tracks.moved",
                "rangeStart": range_start,
                "insertBefore": insert_before,
                "rangeLength": range_length,
                "itemIds": moved_ids,
            },
            writes=_rekey_writes(
                playlist_id, [*rekeyed, *((sk, key) for (sk, _), key in zip(moving, keys, strict=True))]
            ),
        )
        return plan

    return _edit(playlist_id, user_id, if_version, _check_edit, build)


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

    _edit(playlist_id, user_id, if_version, _check_owner, build)
    return get_playlist(playlist_id, user_id, limit=100, offset=0)


def _user_by_email(email: str) -> str:
    users = list(UserItem.by_email.query(email.strip().lower(), limit=1))
    if not users:
        raise NotFound(f"no user with email {email}")
    return str(users[0].user_id)


def add_collaborator(playlist_id: str, user_id: str, email: str, if_version: int | None) -> dict[str, Any]:
    collaborator = _user_by_email(email)

    def build(playlist: PlaylistItem) -> Plan:
        if collaborator == playlist.owner_id:
            raise InvalidInput("email: the owner is not a collaborator of their own playlist", "email")
        if collaborator in (playlist.collaborators or []):
            raise Conflict("already a collaborator")
        if len(playlist.collaborators or []) >= MAX_COLLABORATORS:
            raise InvalidInput(f"a playlist has at most {MAX_COLLABORATORS} collaborators", "email")
        plan = Plan(
            op={"type": "collaborator.added", "userId": collaborator},
            meta_actions=[PlaylistItem.collaborators.set(PlaylistItem.collaborators.append([collaborator]))],
            result={"userId": collaborator},
        )
        plan.writes.append(lambda t: t.save(_member(playlist_id, collaborator, "collaborator")))
        return plan

    return _edit(playlist_id, user_id, if_version, _check_owner, build)


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

    return _edit(playlist_id, user_id, if_version, _check_owner, build)


def delete_playlist(playlist_id: str, user_id: str, if_version: int | None) -> dict[str, Any]:
    """Marks the playlist deleted (version v+1, the last change subscribers see), then removes its
    items, log and memberships."""

    def build(playlist: PlaylistItem) -> Plan:
        return Plan(op={"type": "playlist.deleted"}, meta_actions=[PlaylistItem.deleted.set(True)])

    result = _edit(playlist_id, user_id, if_version, _check_owner, build)
    _purge(playlist_id)
    return result


def _purge(playlist_id: str) -> None:
    keys = PlaylistItem.query(playlist_key(playlist_id), attributes_to_get=["pk", "sk"])
    with PlaylistItem.batch_write() as batch:
        for item in keys:
            batch.delete(item)
