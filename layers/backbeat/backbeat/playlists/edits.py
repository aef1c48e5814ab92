"""The edit engine: every write moves a playlist from version v to v+1 in one DynamoDB transaction.

The transaction updates the playlist item under the condition ``version = v``, appends change v+1 to
the log and applies the writes the edit planned (track items, members). Versions are therefore
gapless and no edit overwrites another. Track edits (add, remove, move) are group-committed by
default (`backbeat.playlists.groups`, decision 51): queued, and applied several to a transaction by
whoever holds the playlist's apply lease. Other edits take the lease themselves and commit alone.
`PLAYLIST_EDIT_MODE=turns` makes every edit take a numbered turn and commit alone (decision 42),
`optimistic` retries lost races with backoff (decision 14). A write without `ifVersion` applies to
the latest state; a write with `ifVersion` gets 409 if the playlist moved on.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from backbeat.config import PlaylistEditSettings
from backbeat.errors import Conflict
from backbeat.ids import base62_id
from backbeat.observability import correlation_id
from backbeat.playlists.access import check_edit, load
from backbeat.playlists.groups import Lease, lease, submit
from backbeat.playlists.models import (
    MAX_TRACKS,
    META,
    ChangeItem,
    MemberItem,
    PlaylistItem,
    log_key,
    member_key,
    playlist_key,
    user_key,
)
from backbeat.playlists.snapshots import snapshot_id
from backbeat.playlists.tracks import StoredTracks, TrackChanges, Tracks
from backbeat.playlists.turns import Turn, TurnTimeout, take_turn, turn_length
from backbeat.tables import cancellation_reasons

EDIT_DEADLINE_SECONDS = 8.0  # under the function's 10 s timeout
TURN_HEADROOM_SECONDS = 2.0  # stop waiting for a turn early enough to use it within the deadline
RETRY_BASE_SECONDS = 0.02
RETRY_CAP_SECONDS = 1.0

Write = Callable[[TransactWrite], None]
settings = PlaylistEditSettings()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    return base62_id(uuid.uuid4().hex)


def connection() -> Connection:
    return PlaylistItem._get_connection().connection


def change_item(playlist_id: str, version: int, op: dict[str, Any], user_id: str, at: str) -> ChangeItem:
    return ChangeItem(
        pk=playlist_key(playlist_id),
        sk=log_key(version),
        version=version,
        op=op,
        by=user_id,
        at=at,
        correlation_id=correlation_id(),
    )


def last_correlation_id_action() -> Action:
    """Set the playlist item's `lastCorrelationId` to the current request's (remove it without one)."""
    current = correlation_id()
    return PlaylistItem.last_correlation_id.set(current) if current else PlaylistItem.last_correlation_id.remove()


def member_item(playlist_id: str, user_id: str, role: str) -> MemberItem:
    return MemberItem(
        pk=playlist_key(playlist_id),
        sk=member_key(user_id),
        user_id=user_id,
        role=role,
        gsi1pk=user_key(user_id),
        gsi1sk=playlist_key(playlist_id),
    )


@dataclass
class Plan:
    """What one edit writes besides the playlist item and the log entry."""

    op: dict[str, Any]
    track_delta: int = 0
    meta_actions: list[Action] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    tracks: TrackChanges = field(default_factory=TrackChanges)
    result: dict[str, Any] = field(default_factory=dict)


TrackBuild = Callable[[PlaylistItem, Tracks], Plan]


def track_edit(
    playlist_id: str, user_id: str, if_version: int | None, kind: str, args: dict[str, Any], build: TrackBuild
) -> dict[str, Any]:
    """A track edit: queued for a group commit, or (other modes) committed alone like any edit.
    `build` is what `backbeat.playlists.groups.builders[kind](args)` builds (the queue's applier
    rebuilds it from `kind` and `args`)."""
    if settings.edit_mode == "group":
        return submit(playlist_id, user_id, if_version, kind, args, time.monotonic() + EDIT_DEADLINE_SECONDS - 1)
    return edit(
        playlist_id, user_id, if_version, check_edit, lambda playlist: build(playlist, StoredTracks(playlist_id))
    )


def _is_conflict(error: TransactWriteError) -> bool:
    if error.cause_response_code == "TransactionConflictException":
        return True
    return any(code in ("ConditionalCheckFailed", "TransactionConflict") for code in cancellation_reasons(error))


def edit(
    playlist_id: str,
    user_id: str,
    if_version: int | None,
    check: Callable[[PlaylistItem, str], None],
    build: Callable[[PlaylistItem], Plan],
) -> dict[str, Any]:
    """Wait for this playlist's write turn, then read, plan and commit v -> v+1 (decision 42).

    Within its turn an edit almost never loses the version race (only to a writer that skipped a
    turn it thought dead, or to a write without turns); when it does, it rereads and replans at once,
    still holding its turn. With `if_version` set, a moved playlist is 409 at once.
    """
    deadline = time.monotonic() + EDIT_DEADLINE_SECONDS
    mode = settings.edit_mode
    if mode == "optimistic":
        return _edit_optimistically(playlist_id, user_id, if_version, check, build, deadline)
    while True:
        turn: Turn | Lease
        try:
            if mode == "group":  # the apply lease of group commit, for an edit that does not queue
                turn = lease(playlist_id, new_id(), deadline - TURN_HEADROOM_SECONDS)
            else:
                turn = take_turn(playlist_id, deadline - TURN_HEADROOM_SECONDS)
        except TurnTimeout:
            raise Conflict("too many concurrent edits; try again") from None
        started = time.monotonic()
        try:
            result = _edit_in_turn(playlist_id, user_id, if_version, check, build, deadline, turn)
        except BaseException:
            turn.release()
            raise
        turn_length.observe(time.monotonic() - started)
        if result is not None:
            return result
        # skipped: the queue moved past this edit while it was stalled; queue again


def _edit_in_turn(
    playlist_id: str,
    user_id: str,
    if_version: int | None,
    check: Callable[[PlaylistItem, str], None],
    build: Callable[[PlaylistItem], Plan],
    deadline: float,
    turn: Turn | Lease,
) -> dict[str, Any] | None:
    """Commit while holding `turn` (the transaction hands it on); None when the turn was lost."""
    for _ in range(RETRIES_IN_TURN):
        try:
            return _attempt(playlist_id, user_id, if_version, check, build, turn)
        except TransactWriteError as error:
            if not _is_conflict(error):
                raise
            reasons = cancellation_reasons(error)
            if len(reasons) > TURN_INDEX and reasons[TURN_INDEX] == "ConditionalCheckFailed":
                return None  # the turn was skipped: this transaction wrote nothing
            if if_version is not None:
                raise Conflict("the playlist moved on; reload it and try again") from None
            if time.monotonic() > deadline:
                raise Conflict("too many concurrent edits; try again") from None
    raise Conflict("the playlist keeps changing under this edit; try again")


def _edit_optimistically(
    playlist_id: str,
    user_id: str,
    if_version: int | None,
    check: Callable[[PlaylistItem, str], None],
    build: Callable[[PlaylistItem], Plan],
    deadline: float,
) -> dict[str, Any]:
    """Without turns: on a lost race reread and replan after a jittered backoff."""
    attempt = 0
    while True:
        try:
            return _attempt(playlist_id, user_id, if_version, check, build, None)
        except TransactWriteError as error:
            if not _is_conflict(error):
                raise
            if if_version is not None:
                raise Conflict("the playlist moved on; reload it and try again") from None
            attempt += 1
            if time.monotonic() > deadline:
                raise Conflict("too many concurrent edits; try again") from None
            time.sleep(random.uniform(0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**attempt)))


RETRIES_IN_TURN = 5  # races lost while holding the turn: only to a write outside turns, or a gone item
TURN_INDEX = 2  # the turn's update is the third item of an edit's transaction


def _attempt(
    playlist_id: str,
    user_id: str,
    if_version: int | None,
    check: Callable[[PlaylistItem, str], None],
    build: Callable[[PlaylistItem], Plan],
    turn: Turn | Lease | None,
) -> dict[str, Any]:
    """Read, plan and commit once; raises TransactWriteError when a condition fails."""
    playlist = load(playlist_id)
    check(playlist, user_id)
    version = int(playlist.version)
    if if_version is not None and version != if_version:
        raise Conflict(f"the playlist is at version {version}, not {if_version}")
    plan = build(playlist)
    at = now()
    new_version = version + 1
    condition: Condition = PlaylistItem.version == version
    if plan.track_delta > 0:
        condition &= PlaylistItem.track_count <= MAX_TRACKS - plan.track_delta
    actions = [
        PlaylistItem.version.set(new_version),
        PlaylistItem.updated_at.set(at),
        PlaylistItem.last_op.set(plan.op),
        PlaylistItem.last_by.set(user_id),
        PlaylistItem.last_at.set(at),
        last_correlation_id_action(),
        PlaylistItem.last_changes.remove(),
        *plan.meta_actions,
    ]
    if plan.track_delta:
        actions.append(PlaylistItem.track_count.add(plan.track_delta))
    with TransactWrite(connection=connection()) as transaction:
        transaction.update(PlaylistItem(pk=playlist.pk, sk=META), actions=actions, condition=condition)
        transaction.save(
            change_item(playlist_id, new_version, plan.op, user_id, at),
            condition=ChangeItem.pk.does_not_exist(),
        )
        if turn is not None:
            turn_item, turn_actions, turn_condition = turn.hand_on()
            transaction.update(turn_item, actions=turn_actions, condition=turn_condition)
        for write in [*plan.writes, *plan.tracks.writes(playlist_id)]:
            write(transaction)
    return {"version": new_version, "snapshotId": snapshot_id(playlist_id, new_version), **plan.result}
