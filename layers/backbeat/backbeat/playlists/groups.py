"""Group commit (decision 51): track edits queue in the playlist's partition, and whoever holds the
playlist's apply lease commits every queued edit it finds in one transaction, a version each.

An editor puts its edit as a ``QUEUE#<ms>#<id>`` item (one conditional write) and takes the lease on
the playlist's ``TURN`` item if it is free (`holder` absent or `leaseUntil` past). The holder reads
the queue, the head and the track order once, plans the queued edits in order against the order in
memory (each edit sees the ones before it), and commits them in one ``TransactWriteItems``: the
playlist item moves from version v to v+k under the condition ``version = v`` (and ``holder = me``),
each accepted edit gets its own log entry v+i, each touched track item is written once in its final
state, each queued item gets its answer (its version, or its own 4xx when it no longer applies), and
the holder's own item is deleted with the lease released. The playlist item's `lastChanges` carries
the k changes, so the one stream record of the commit hands the fan-out every version in order.
Waiters look at their queued item and the lease together (one strongly consistent BatchGetItem),
take the lease when it is free, and delete their item once answered. A waiter out of time withdraws
its item with a conditional delete (``state = queued``): either it is withdrawn (409, nothing
written) or it was applied and its answer is read. A holder that dies loses the lease after
`LEASE_SECONDS`; its transaction cannot commit after that (``holder = me``), and the version
condition keeps versions gapless whatever happens to the lease. An item left by an editor that
crashed (queued more than `ORPHAN_SECONDS` ago, answered or not) is deleted with a later group and
never applied: its requester had an error, and the queue does not grow with such items.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from backbeat.errors import BackbeatError, Conflict, Forbidden, InvalidInput, NotFound
from backbeat.ids import base62_id
from backbeat.observability import correlation_id
from backbeat.playlists.access import load
from backbeat.playlists.models import (
    META,
    QUEUE_PREFIX,
    TURN,
    ChangeItem,
    PlaylistItem,
    QueuedEdit,
    TurnItem,
    log_key,
    playlist_key,
)
from backbeat.playlists.snapshots import snapshot_id
from backbeat.playlists.tracks import OrderInMemory, TrackChanges
from backbeat.tables import cancellation_reasons

LEASE_SECONDS = 3.0  # a holder silent this long loses the lease (a group commit takes ~30-60 ms in AWS)
MAX_ITEMS = 100  # what one TransactWriteItems carries
MAX_CHANGES_BYTES = 100_000  # the changes one commit puts on the playlist item (an item holds 400 KB)
FIRST_LOOK_SECONDS = 0.01
MAX_LOOK_SECONDS = 1.0
DEFAULT_GROUP_MS = 50
# An edit queued this long ago has no editor waiting for it any more: an editor gives up within its
# function's timeout (10 s) and withdraws its edit, so one still there was left by an editor that
# crashed, either unanswered or answered and never collected. A holder deletes such items with its
# group, as many as its transaction has room for (at most MAX_ORPHANS), and never applies any of them
# (however many there are): their requesters already had an error.
ORPHAN_SECONDS = 60
MAX_ORPHANS = 10

# kind -> (args -> (check, build)); filled by `backbeat.playlists.service`
Check = Callable[[PlaylistItem, str], None]
Build = Callable[[PlaylistItem, OrderInMemory], Any]
Builders = dict[str, Callable[[dict[str, Any]], tuple[Check, Build]]]
builders: Builders = {}
ERRORS: dict[str, type[BackbeatError]] = {error.code: error for error in (InvalidInput, NotFound, Forbidden, Conflict)}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _turn(playlist_id: str) -> TurnItem:
    return TurnItem(pk=playlist_key(playlist_id), sk=TURN)


# ---------------------------------------------------------------------------------------- lease
@dataclass
class Lease:
    """The right to commit a playlist's writes; ends inside the transaction that uses it last."""

    playlist_id: str
    holder: str
    group_ms: int | None = None  # how long this holder's group commit is taking (waiters sleep as long)

    def _timing(self) -> list[Action]:
        return [TurnItem.group_ms.set(self.group_ms)] if self.group_ms is not None else []

    def hand_on(self) -> tuple[TurnItem, list[Action], Condition]:
        actions = [TurnItem.holder.remove(), TurnItem.lease_until.remove(), *self._timing()]
        return _turn(self.playlist_id), actions, TurnItem.holder == self.holder

    def extend(self) -> tuple[TurnItem, list[Action], Condition]:
        actions = [TurnItem.lease_until.set(_now_ms() + int(LEASE_SECONDS * 1000)), *self._timing()]
        return _turn(self.playlist_id), actions, TurnItem.holder == self.holder

    def release(self) -> None:
        item, actions, condition = self.hand_on()
        with contextlib.suppress(UpdateError):  # expired and taken already
            item.update(actions=actions, condition=condition)


def try_lease(playlist_id: str, holder: str) -> Lease | None:
    """The lease when it is free or expired; None when someone holds it (or the playlist has no
    turn item: `lease` sorts that out)."""
    now = _now_ms()
    free = TurnItem.holder.does_not_exist() | (TurnItem.lease_until < now)
    try:
        _turn(playlist_id).update(
            actions=[TurnItem.holder.set(holder), TurnItem.lease_until.set(now + int(LEASE_SECONDS * 1000))],
            condition=TurnItem.pk.exists() & free,
        )
    except UpdateError:
        return None
    return Lease(playlist_id, holder)


def _ensure_turn_item(playlist_id: str) -> None:
    """A playlist from before turns has no turn item: give it one (NotFound when it is gone)."""
    load(playlist_id)
    with contextlib.suppress(PutError):
        TurnItem(pk=playlist_key(playlist_id), sk=TURN, next_ticket=0, serving=0, serving_since=_now_ms()).save(
            condition=TurnItem.pk.does_not_exist()
        )


def lease(playlist_id: str, holder: str, deadline: float) -> Lease:
    """Wait (until `deadline`, a monotonic time) for the lease: for edits that do not queue."""
    wait = FIRST_LOOK_SECONDS
    while True:
        taken = try_lease(playlist_id, holder)
        if taken is not None:
            return taken
        if time.monotonic() > deadline:
            raise Conflict("too many concurrent edits; try again")
        with contextlib.suppress(DoesNotExist):
            TurnItem.get(playlist_key(playlist_id), TURN, consistent_read=True)
            time.sleep(wait)
            wait = min(MAX_LOOK_SECONDS, wait * 1.5)
            continue
        _ensure_turn_item(playlist_id)


# ---------------------------------------------------------------------------------------- queue
def submit(
    playlist_id: str, user_id: str, if_version: int | None, kind: str, args: dict[str, Any], deadline: float
) -> dict[str, Any]:
    """Queue an edit and wait for its answer, applying the queue whenever the lease is free."""
    sk = f"{QUEUE_PREFIX}{_now_ms():013d}#{base62_id(uuid.uuid4().hex)}"
    queued = QueuedEdit(
        pk=playlist_key(playlist_id),
        sk=sk,
        request={"kind": kind, "args": args},
        by=user_id,
        if_version=if_version,
        correlation_id=correlation_id(),
        state="queued",
    )
    queued.save(condition=QueuedEdit.sk.does_not_exist())
    first = True
    while True:
        mine, turn = _look(playlist_id, sk)
        if mine is None:
            raise NotFound(f"playlist {playlist_id!r} not found")  # purged with its queue
        if mine.state == "done":
            with contextlib.suppress(DeleteError):
                mine.delete()
            return _answer(mine.answer)
        if turn is None:  # a playlist that is not there, or one from before turns
            try:
                _ensure_turn_item(playlist_id)
            except NotFound:
                with contextlib.suppress(DeleteError):
                    queued.delete()
                raise
            continue
        group = int(turn.group_ms or DEFAULT_GROUP_MS) / 1000
        if turn.holder is None or int(turn.lease_until or 0) < _now_ms():
            taken = try_lease(playlist_id, sk)
            if taken is not None:
                answer = _apply_until_done(playlist_id, sk, taken, deadline)
                if answer is not None:
                    return _answer(answer)
                continue  # answered by an earlier holder, or the lease was lost: look again
        if time.monotonic() > deadline:
            try:
                queued.delete(condition=QueuedEdit.state == "queued")
            except DeleteError:
                deadline = time.monotonic() + 1  # applied meanwhile: read the answer
                continue
            raise Conflict("too many concurrent edits; try again")
        # The group under way ends, then this edit's own group is written: the first look comes after
        # the rest of the current group and one more; later ones a group apart.
        taken_at = (int(turn.lease_until or 0) - LEASE_SECONDS * 1000) / 1000
        rest = max(0.0, taken_at + group - time.time()) + group if first else group
        first = False
        time.sleep(min(MAX_LOOK_SECONDS, max(FIRST_LOOK_SECONDS, rest)))


def _look(playlist_id: str, sk: str) -> tuple[QueuedEdit | None, TurnItem | None]:
    """This edit's queued item and the lease, in one strongly consistent read."""
    pk = playlist_key(playlist_id)
    table = QueuedEdit._get_connection()
    keys: list[Any] = [{"pk": pk, "sk": sk}, {"pk": pk, "sk": TURN}]
    raw = table.batch_get_item(keys, consistent_read=True)
    mine: QueuedEdit | None = None
    turn: TurnItem | None = None
    for item in next(iter(raw.get("Responses", {}).values()), []):
        if item["sk"]["S"] == sk:
            mine = QueuedEdit.from_raw_data(item)
        else:
            turn = TurnItem.from_raw_data(item)
    return mine, turn


def _answer(answer: dict[str, Any] | None) -> dict[str, Any]:
    if answer is None:
        raise Conflict("the edit was not applied; try again")
    if "ok" in answer:
        return dict(answer["ok"])
    error = answer["error"]
    kind = ERRORS.get(error["code"], Conflict)
    if kind is InvalidInput:
        raise InvalidInput(error["message"], error.get("field"))
    raise kind(error["message"])


# ---------------------------------------------------------------------------------------- apply
def _apply_until_done(playlist_id: str, sk: str, held: Lease, deadline: float) -> dict[str, Any] | None:
    """Commit groups while holding the lease until this edit's own is among them; its answer, or
    None when the lease was lost first (the edit is still queued)."""
    while time.monotonic() < deadline:
        try:
            answer = _commit_group(playlist_id, sk, held)
        except TransactWriteError as error:
            reasons = cancellation_reasons(error)
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                return None  # the lease expired and was taken: nothing was written
            continue  # a write outside the queue, or a waiter withdrew: read again
        except NotFound:  # the playlist is gone (its purge removes the rest of the queue)
            held.release()
            with contextlib.suppress(DeleteError):
                QueuedEdit(pk=playlist_key(playlist_id), sk=sk).delete()
            raise
        except _NotQueued:
            held.release()
            return None
        if answer is not None:
            return answer
    held.release()
    return None


class _NotQueued(Exception):
    """This edit is no longer queued (answered before the lease was taken)."""


def _commit_group(playlist_id: str, mine: str, held: Lease) -> dict[str, Any] | None:
    """One group commit: this edit's answer when it was in the group (the lease then released)."""
    started = time.monotonic()
    pk = playlist_key(playlist_id)
    queue = list(
        QueuedEdit.query(pk, QueuedEdit.sk.startswith(QUEUE_PREFIX), consistent_read=True, page_size=MAX_ITEMS)
    )
    cutoff = _now_ms() - ORPHAN_SECONDS * 1000
    live: list[QueuedEdit] = []
    stale: list[str] = []  # left by editors that crashed: never applied
    for item in queue:
        if _queued_ms(item.sk) < cutoff:
            stale.append(item.sk)
        elif item.state == "queued":
            live.append(item)
    queue = live
    if mine not in {item.sk for item in queue}:
        raise _NotQueued(mine)
    playlist = load(playlist_id)
    start = int(playlist.version)
    order = OrderInMemory.read(playlist_id)
    changes: list[dict[str, Any]] = []
    answers: dict[str, dict[str, Any]] = {}
    size, delta = 0, 0
    for item in queue:
        fixed = 2 + len(answers) + len(changes)  # playlist + lease + one per answer + one per change
        if fixed + 2 + order.net().count() > MAX_ITEMS or size > MAX_CHANGES_BYTES:
            break
        try:
            check, build = builders[item.request["kind"]](item.request["args"])
            check(playlist, item.by)
            version = start + len(changes)
            if item.if_version is not None and int(item.if_version) != version:
                raise Conflict(f"the playlist is at version {version}, not {int(item.if_version)}")
            plan = build(playlist, order)
        except BackbeatError as error:
            answers[item.sk] = {"error": {"code": error.code, "message": error.message, "field": _field(error)}}
            continue
        trial = order.copy()
        trial.apply(plan.tracks)
        if fixed + 2 + trial.net().count() > MAX_ITEMS:
            if changes:
                break  # the next group takes it
            message = "the edit touches too many tracks for one transaction; send fewer at a time"
            answers[item.sk] = {"error": {"code": "InvalidInput", "message": message, "field": "songIds"}}
            continue
        order = trial
        delta += plan.track_delta
        playlist.track_count = int(playlist.track_count) + plan.track_delta  # what the next edit sees
        new_version = start + len(changes) + 1
        change = {"version": new_version, "op": plan.op, "by": item.by, "at": _now_iso()}
        change["correlationId"] = item.correlation_id
        changes.append(change)
        size += len(json.dumps(change))
        answers[item.sk] = {
            "ok": {"version": new_version, "snapshotId": snapshot_id(playlist_id, new_version), **plan.result}
        }
    held.group_ms = int((time.monotonic() - started) * 1000 * 1.5)  # planned so far, and the write to come
    # the stale items go in whatever room the group's own writes leave (they never crowd out an edit)
    net = order.net()
    room = MAX_ITEMS - (2 + len(answers) + len(changes) + net.count())
    orphans = stale[: max(0, min(MAX_ORPHANS, room))]
    _write(playlist, start, changes, delta, net, answers, mine, held, orphans)
    return answers.get(mine)


def _queued_ms(sk: str) -> int:
    """When an edit was queued (epoch ms), from its key `QUEUE#<ms>#<id>`."""
    return int(sk.removeprefix(QUEUE_PREFIX).split("#", 1)[0])


def _write(
    playlist: PlaylistItem,
    start: int,
    changes: list[dict[str, Any]],
    delta: int,
    tracks: TrackChanges,
    answers: dict[str, dict[str, Any]],
    mine: str,
    held: Lease,
    orphans: Sequence[str] = (),
) -> None:
    from backbeat.playlists.edits import connection  # the engine's connection (no import cycle)

    lease_item, lease_actions, lease_condition = held.hand_on() if mine in answers else held.extend()
    with TransactWrite(connection=connection()) as transaction:
        if changes:
            last = changes[-1]
            actions = [
                PlaylistItem.version.set(last["version"]),
                PlaylistItem.updated_at.set(last["at"]),
                PlaylistItem.last_op.set(last["op"]),
                PlaylistItem.last_by.set(last["by"]),
                PlaylistItem.last_at.set(last["at"]),
                PlaylistItem.last_changes.set(changes),
                PlaylistItem.last_correlation_id.set(last["correlationId"])
                if last["correlationId"]
                else PlaylistItem.last_correlation_id.remove(),
            ]
            if delta:
                actions.append(PlaylistItem.track_count.add(delta))
        else:  # every queued edit failed: no new version, only answers
            actions = [PlaylistItem.updated_at.set(playlist.updated_at)]
        transaction.update(
            PlaylistItem(pk=playlist.pk, sk=META), actions=actions, condition=PlaylistItem.version == start
        )
        transaction.update(lease_item, actions=lease_actions, condition=lease_condition)
        for change in changes:
            transaction.save(
                ChangeItem(
                    pk=playlist.pk,
                    sk=log_key(change["version"]),
                    version=change["version"],
                    op=change["op"],
                    by=change["by"],
                    at=change["at"],
                    correlation_id=change["correlationId"],
                ),
                condition=ChangeItem.pk.does_not_exist(),
            )
        for write in tracks.writes(playlist.id):
            write(transaction)
        for sk, answer in answers.items():
            queued = QueuedEdit(pk=playlist.pk, sk=sk)
            if sk == mine:
                transaction.delete(queued, condition=QueuedEdit.state == "queued")
            else:
                transaction.update(
                    queued,
                    actions=[QueuedEdit.state.set("done"), QueuedEdit.answer.set(answer)],
                    condition=QueuedEdit.state == "queued",
                )
        for sk in orphans:  # no editor waits for these: collected, never applied
            transaction.delete(QueuedEdit(pk=playlist.pk, sk=sk))


def _field(error: BackbeatError) -> str | None:
    return getattr(error, "field", None)


def _now_iso() -> str:
    from backbeat.playlists.edits import now

    return now()


__all__ = ["Lease", "builders", "lease", "submit", "try_lease"]
