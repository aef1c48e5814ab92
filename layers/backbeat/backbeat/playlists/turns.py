"""Write turns: each playlist's edits take numbered turns, so concurrent editors queue instead of colliding.

A playlist's ``TURN`` item holds two counters: `next` (the next ticket to hand out) and `serving`
(the ticket whose holder may write now), and `servingSince` (when `serving` last moved). An edit
draws a ticket with one atomic ``ADD next 1`` (never conflicts), waits until `serving` reaches it,
sleeping about as long as the edits ahead of it take, and hands the turn on inside the edit's own
transaction (``SET serving = t + 1`` under the condition ``serving = t``), so a turn costs one extra
write per edit and no extra round trip on the way out.

A turn is an optimisation, never the guarantee: the edit transaction keeps its condition on the
playlist's version, so a holder that was skipped (below) or an edit that bypasses turns still cannot
commit a lost update. A holder that crashed or timed out never hands on its turn; a waiter that sees
`serving` unchanged for `TURN_LEASE_SECONDS` skips it (a conditional ``SET serving = t + 1`` on the
value it saw), and the skipped holder, if it was alive after all, fails its turn condition and draws
a new ticket. Everything is plain DynamoDB (atomic counters, conditional writes, strongly consistent
reads), so it behaves identically in AWS and in the devstack.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from backbeat.playlists.access import load
from backbeat.playlists.models import TURN, TurnItem, playlist_key

TURN_LEASE_SECONDS = 4.0  # a holder silent this long is skipped (an edit takes ~20-50 ms in DynamoDB)
FIRST_WAIT_SECONDS = 0.005
MAX_WAIT_SECONDS = 1.0
TYPICAL_TURN_SECONDS = 0.03  # the first guess of how long one edit holds the turn; then measured


class TurnTimeout(Exception):
    """The edit waited past its deadline for its turn."""


def first_turn_item(playlist_id: str) -> TurnItem:
    """The turn item a new playlist is created with (nobody waiting, ticket 0 served next)."""
    return TurnItem(pk=playlist_key(playlist_id), sk=TURN, next_ticket=0, serving=0, serving_since=_now_ms())


@dataclass
class Turn:
    playlist_id: str
    ticket: int

    def hand_on(self) -> tuple[TurnItem, list[Action], Condition]:
        """The update that ends this turn, for the edit's own transaction."""
        item = TurnItem(pk=playlist_key(self.playlist_id), sk=TURN)
        actions = [TurnItem.serving.set(self.ticket + 1), TurnItem.serving_since.set(_now_ms())]
        return item, actions, TurnItem.serving == self.ticket

    def release(self) -> None:
        """End the turn without an edit (the edit failed before it could commit)."""
        item, actions, condition = self.hand_on()
        with contextlib.suppress(UpdateError):  # skipped already: the queue moved on without us
            item.update(actions=actions, condition=condition)


class TurnAverage:
    """How long a turn lasts, as an exponentially weighted mean (per execution environment)."""

    def __init__(self) -> None:
        self.seconds = TYPICAL_TURN_SECONDS

    def observe(self, seconds: float) -> None:
        self.seconds = 0.8 * self.seconds + 0.2 * min(seconds, TURN_LEASE_SECONDS)


turn_length = TurnAverage()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _draw(playlist_id: str) -> tuple[int, int, int]:
    """(ticket, serving, servingSince) after drawing the next ticket; NotFound for a deleted playlist."""
    item = TurnItem(pk=playlist_key(playlist_id), sk=TURN)
    try:  # a playlist gets its turn item when it is created and loses it when it is purged
        item.update(actions=[TurnItem.next_ticket.add(1)], condition=TurnItem.pk.exists())
    except UpdateError:
        load(playlist_id)  # NotFound when it is gone; else a playlist from before turns existed
        item.update(actions=[TurnItem.next_ticket.add(1)])
    ticket = int(item.next_ticket) - 1
    if item.serving is None:  # the first edit ever: start serving at ticket 0
        try:
            item.update(
                actions=[TurnItem.serving.set(0), TurnItem.serving_since.set(_now_ms())],
                condition=TurnItem.serving.does_not_exist(),
            )
        except UpdateError:
            item.refresh(consistent_read=True)
    return ticket, int(item.serving), int(item.serving_since or 0)


def _look(playlist_id: str) -> tuple[int, int] | None:
    """(serving, servingSince); None once the playlist was purged (nothing left to wait for)."""
    try:
        item = TurnItem.get(playlist_key(playlist_id), TURN, consistent_read=True)
    except DoesNotExist:
        return None
    return int(item.serving or 0), int(item.serving_since or 0)


def _skip(playlist_id: str, serving: int, since: int) -> None:
    """Skip a holder silent for a whole lease (conditional: only if nobody moved the queue)."""
    item = TurnItem(pk=playlist_key(playlist_id), sk=TURN)
    with contextlib.suppress(UpdateError):
        item.update(
            actions=[TurnItem.serving.set(serving + 1), TurnItem.serving_since.set(_now_ms())],
            condition=(TurnItem.serving == serving) & (TurnItem.serving_since == since),
        )


def take_turn(playlist_id: str, deadline: float) -> Turn:
    """Draw a ticket and wait (until `deadline`, a `time.monotonic()` value) for this edit's turn."""
    ticket, serving, since = _draw(playlist_id)
    moved = True  # did the queue move since the last look?
    while serving != ticket:
        if serving > ticket:  # skipped while asleep past a whole lease: queue again
            ticket, serving, since = _draw(playlist_id)
            continue
        if time.monotonic() > deadline:
            raise TurnTimeout(f"waited for turn {ticket} of playlist {playlist_id}; serving {serving}")
        if _now_ms() - since > TURN_LEASE_SECONDS * 1000:
            _skip(playlist_id, serving, since)
        # Sleep about as long as the edits ahead take; when the queue has not moved since the last
        # look, the holder is part-way through: look again sooner.
        expected = (ticket - serving) * turn_length.seconds * (0.8 if moved else 0.25)
        time.sleep(min(MAX_WAIT_SECONDS, max(FIRST_WAIT_SECONDS, expected)))
        seen = _look(playlist_id)
        if seen is None:
            break  # the edit will find the playlist gone
        moved = seen[0] != serving
        serving, since = seen
    return Turn(playlist_id, ticket)


__all__ = ["Turn", "TurnTimeout", "take_turn", "turn_length"]
