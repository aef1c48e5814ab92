"""The edit engine: every write moves a playlist from version v to v+1 in one DynamoDB transaction.

The transaction updates the playlist item under the condition ``version = v``, appends change v+1 to
the log and applies the writes the edit planned (track items, members). Versions are therefore
gapless and no edit overwrites another. Concurrent edits of one playlist take turns
(`backbeat.playlists.turns`, decision 42) instead of colliding: an edit waits for its turn, reads the
head, plans and commits, handing the turn on in the same transaction. A write without `ifVersion`
applies to the latest state; a write with `ifVersion` gets 409 if the playlist moved on.
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
from backbeat.playlists.access import load
from backbeat.playlists.models import (
    MAX_TRACKS,
    META,
    ChangeItem,
    MemberItem,
    PlaylistItem,
    TrackItem,
    log_key,
    member_key,
    playlist_key,
    user_key,
)
from backbeat.playlists.snapshots import snapshot_id
from backbeat.playlists.turns import Turn, TurnTimeout, take_turn, turn_length
from backbeat.playlists.views import ordered

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
    result: dict[str, Any] = field(default_factory=dict)


def _is_conflict(error: TransactWriteError) -> bool:
    if error.cause_response_code == "TransactionConflictException":
        return True
    reasons = [reason.code for reason in error.cancellation_reasons if reason is not None]
    return any(code in ("ConditionalCheckFailed", "TransactionConflict") for code in reasons)


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
    if not settings.playlist_edit_turns:
        return _edit_optimistically(playlist_id, user_id, if_version, check, build, deadline)
    while True:
        try:
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
    turn: Turn,
) -> dict[str, Any] | None:
    """Commit while holding `turn` (the transaction hands it on); None when the turn was lost."""
    for _ in range(RETRIES_IN_TURN):
        try:
            return _attempt(playlist_id, user_id, if_version, check, build, turn)
        except TransactWriteError as error:
            if not _is_conflict(error):
                raise
            reasons = [reason.code if reason is not None else None for reason in error.cancellation_reasons]
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
    turn: Turn | None,
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
        for write in plan.writes:
            write(transaction)
    return {"version": new_version, "snapshotId": snapshot_id(playlist_id, new_version), **plan.result}


# ------------------------------------------------------------------------- writes an edit plans
def first_keys(playlist_id: str, count: int) -> list[tuple[str, str]]:
    """(sk, pos) of the first `count` items in order."""
    return [(item.sk, item.pos) for item in ordered(playlist_id, count, keys_only=True)]


def last_keys(playlist_id: str, count: int) -> list[tuple[str, str]]:
    """(sk, pos) of the last `count` items, in order."""
    query = TrackItem.by_position.query(
        playlist_key(playlist_id),
        consistent_read=True,
        scan_index_forward=False,
        limit=count,
        attributes_to_get=["pk", "sk", "pos"],
    )
    return [(item.sk, item.pos) for item in reversed(list(query))]


def rekey_writes(playlist_id: str, rekeyed: list[tuple[str, str]]) -> list[Write]:
    """Give existing track items (by sk) new positions."""
    writes: list[Write] = []
    for sk, pos in rekeyed:

        def write(transaction: TransactWrite, sk: str = sk, pos: str = pos) -> None:
            transaction.update(
                TrackItem(pk=playlist_key(playlist_id), sk=sk),
                actions=[TrackItem.pos.set(pos)],
                condition=TrackItem.sk.exists(),
            )

        writes.append(write)
    return writes


def put_item(item: TrackItem) -> Write:
    def write(transaction: TransactWrite) -> None:
        transaction.save(item, condition=TrackItem.sk.does_not_exist())

    return write
