"""The track order an edit plans against, and the track writes it plans, as data.

A track edit reads the order through a `Tracks` (the first or last keys, whether an item is there) and
states its writes as a `TrackChanges` (items put, items given a new position, items deleted). One
edit at a time reads DynamoDB (`StoredTracks`); a group commit (`backbeat.playlists.groups`) plans
several edits in a row against the order as changed in memory (`OrderInMemory`), each edit seeing
the ones before it, reading of the stored order only what the edits look at (once), and writes each
touched item once, in its final state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pynamodb.transactions import TransactWrite

from backbeat.playlists.models import TrackItem, playlist_key
from backbeat.playlists.views import ordered

Write = Callable[[TransactWrite], None]


@dataclass
class TrackChanges:
    """What one edit (or a whole group) writes to track items."""

    puts: list[TrackItem] = field(default_factory=list)
    rekeys: list[tuple[str, str]] = field(default_factory=list)  # (sk, new pos) of existing items
    deletes: list[str] = field(default_factory=list)  # sk

    def count(self) -> int:
        return len(self.puts) + len(self.rekeys) + len(self.deletes)

    def writes(self, playlist_id: str) -> list[Write]:
        """The transaction operations, each conditional on the item's (non-)existence."""
        pk = playlist_key(playlist_id)
        writes: list[Write] = [_put(item) for item in self.puts]
        writes += [_rekey(TrackItem(pk=pk, sk=sk), pos) for sk, pos in self.rekeys]
        writes += [_delete(TrackItem(pk=pk, sk=sk)) for sk in self.deletes]
        return writes


def _put(item: TrackItem) -> Write:
    def write(transaction: TransactWrite) -> None:
        transaction.save(item, condition=TrackItem.sk.does_not_exist())

    return write


def _rekey(item: TrackItem, pos: str) -> Write:
    def write(transaction: TransactWrite) -> None:
        transaction.update(item, actions=[TrackItem.pos.set(pos)], condition=TrackItem.sk.exists())

    return write


def _delete(item: TrackItem) -> Write:
    def write(transaction: TransactWrite) -> None:
        transaction.delete(item, condition=TrackItem.sk.exists())

    return write


class Tracks(Protocol):
    def first(self, count: int) -> list[tuple[str, str]]:
        """(sk, pos) of the first `count` items, in order."""

    def last(self, count: int) -> list[tuple[str, str]]:
        """(sk, pos) of the last `count` items, in order."""

    def present(self, sks: list[str]) -> set[str]:
        """Which of `sks` are items of the playlist."""


class StoredTracks:
    """The order as stored (strongly consistent reads of the `byPosition` index)."""

    def __init__(self, playlist_id: str) -> None:
        self.playlist_id = playlist_id

    def first(self, count: int) -> list[tuple[str, str]]:
        return [(item.sk, item.pos) for item in ordered(self.playlist_id, count, keys_only=True)]

    def last(self, count: int) -> list[tuple[str, str]]:
        backward = ordered(self.playlist_id, count, keys_only=True, backward=True)
        return [(item.sk, item.pos) for item in reversed(backward)]

    def present(self, sks: list[str]) -> set[str]:
        pk = playlist_key(self.playlist_id)
        keys = [(pk, sk) for sk in dict.fromkeys(sks)]
        if len(keys) == 1:
            found = TrackItem.query(pk, TrackItem.sk == keys[0][1], consistent_read=True, attributes_to_get=["sk"])
            return {item.sk for item in found}
        return {item.sk for item in TrackItem.batch_get(keys, consistent_read=True, attributes_to_get=["pk", "sk"])}


class _Stored:
    """What a group commit has read of the stored order: a run from its start, a run from its end, and
    items known to be there or not. The stored order does not change while the apply lease is held
    (a writer without it fails the version condition, and the group is planned again)."""

    def __init__(self, playlist_id: str | None, order: list[tuple[str, str]] | None = None) -> None:
        self.playlist_id = playlist_id
        self.head: list[tuple[str, str]] = list(order or [])  # from the start, in order
        self.whole = order is not None  # `head` is the whole order
        self.tail: list[tuple[str, str]] = []  # from the end, in order
        self.known: dict[str, bool] = {}  # sk -> whether it is an item of the playlist

    def _tracks(self) -> StoredTracks:
        assert self.playlist_id is not None
        return StoredTracks(self.playlist_id)

    def first(self, count: int) -> tuple[list[tuple[str, str]], str | None]:
        """At least `count` items from the start (all when there are fewer), and the position up to
        which they are every stored item (None: the whole order)."""
        if not self.whole and len(self.head) < count:
            # A longer look reads on from where the last one ended, at least as many again: a group
            # reads each item once, and at most twice as many as its edits look at.
            wanted = max(count, 2 * len(self.head)) - len(self.head)
            more = self._after(self.head[-1] if self.head else None, wanted)
            self.head = [*self.head, *more]
            self.whole = len(more) < wanted
        if self.whole or not self.head:
            return self.head, None
        return self.head, self.head[-1][1]

    def _after(self, entry: tuple[str, str] | None, limit: int, backward: bool = False) -> list[tuple[str, str]]:
        """Up to `limit` items after `entry` ((sk, pos); None: from the start), or before it (None: from
        the end) with `backward`, in playlist order either way."""
        assert self.playlist_id is not None
        items = ordered(self.playlist_id, limit, keys_only=True, after=entry, backward=backward)
        return [(item.sk, item.pos) for item in (reversed(items) if backward else items)]

    def last(self, count: int) -> tuple[list[tuple[str, str]], str | None]:
        """At least `count` items from the end, and the position from which they are every stored
        item (None: the whole order)."""
        if self.whole:
            return self.head, None
        if len(self.tail) < count:  # read on towards the start, as `first` reads on towards the end
            wanted = max(count, 2 * len(self.tail)) - len(self.tail)
            more = self._after(self.tail[0] if self.tail else None, wanted, backward=True)
            self.tail = [*more, *self.tail]
            if len(more) < wanted:
                self.head, self.whole = self.tail, True
                return self.head, None
        return self.tail, self.tail[0][1] if self.tail else None

    def present(self, sks: list[str]) -> set[str]:
        seen = {sk for sk, _ in self.head} | {sk for sk, _ in self.tail}
        unknown = [sk for sk in sks if sk not in seen and sk not in self.known and not self.whole]
        if unknown:
            found = self._tracks().present(unknown)
            self.known.update({sk: sk in found for sk in unknown})
        return {sk for sk in sks if sk in seen or self.known.get(sk, False)}


class OrderInMemory:
    """The order as a group's edits change it, edit by edit, over what has been read of the stored
    order; `net()` is what to write. Only what the edits look at is read: an append reads the last
    few items, a removal its items, an insertion or a move the items up to its position."""

    def __init__(self, stored: _Stored) -> None:
        self.stored = stored
        self.new: dict[str, TrackItem] = {}
        self.moved: dict[str, str] = {}
        self.removed: set[str] = set()

    @classmethod
    def read(cls, playlist_id: str) -> OrderInMemory:
        """The playlist's order, read from the table as the edits need it."""
        return cls(_Stored(playlist_id))

    @classmethod
    def of(cls, order: list[tuple[str, str]]) -> OrderInMemory:
        """A whole order known already ((sk, pos) in order)."""
        return cls(_Stored(None, order))

    def copy(self) -> OrderInMemory:
        copied = OrderInMemory(self.stored)  # what was read stays true for the copy
        copied.new = {sk: TrackItem(**item.attribute_values) for sk, item in self.new.items()}
        copied.moved, copied.removed = dict(self.moved), set(self.removed)
        return copied

    def _now(self, stored: list[tuple[str, str]], keep: Callable[[str], bool]) -> list[tuple[str, str]]:
        """The stored items as this group has changed them, with the moved and new items `keep` admits."""
        current = [(sk, pos) for sk, pos in stored if sk not in self.removed and sk not in self.moved]
        changed = [*self.moved.items(), *((sk, str(item.pos)) for sk, item in self.new.items())]
        current += [(sk, pos) for sk, pos in changed if keep(pos)]
        current.sort(key=lambda entry: entry[1])
        return current

    def first(self, count: int) -> list[tuple[str, str]]:
        if count <= 0:
            return []
        # Every removed or moved item may be among those read: read that many more.
        stored, bound = self.stored.first(count + len(self.removed) + len(self.moved))
        return self._now(stored, lambda pos: bound is None or pos <= bound)[:count]

    def last(self, count: int) -> list[tuple[str, str]]:
        if count <= 0:
            return []
        stored, bound = self.stored.last(count + len(self.removed) + len(self.moved))
        return self._now(stored, lambda pos: bound is None or pos >= bound)[-count:]

    def present(self, sks: list[str]) -> set[str]:
        here = {sk for sk in sks if sk in self.new or sk in self.moved}
        return here | self.stored.present([sk for sk in sks if sk not in here and sk not in self.removed])

    def apply(self, changes: TrackChanges) -> None:
        for sk in changes.deletes:
            self.moved.pop(sk, None)
            if self.new.pop(sk, None) is None:
                self.removed.add(sk)
        for sk, pos in changes.rekeys:
            if sk in self.new:
                self.new[sk].pos = pos
            else:
                self.moved[sk] = pos
        for item in changes.puts:
            self.new[item.sk] = item

    def net(self) -> TrackChanges:
        return TrackChanges(list(self.new.values()), sorted(self.moved.items()), sorted(self.removed))
