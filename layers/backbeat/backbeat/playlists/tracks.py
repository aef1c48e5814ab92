"""The track order an edit plans against, and the track writes it plans, as data.

A track edit reads the order through a `Tracks` (the first or last keys, whether an item is there) and
states its writes as a `TrackChanges` (items put, items given a new position, items deleted). One
edit at a time reads DynamoDB (`StoredTracks`); a group commit (`backbeat.playlists.groups`) plans
several edits in a row against one read of the order kept in memory (`OrderInMemory`), each edit
seeing the ones before it, and writes each touched item once, in its final state.
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
        query = TrackItem.by_position.query(
            playlist_key(self.playlist_id),
            consistent_read=True,
            scan_index_forward=False,
            limit=count,
            attributes_to_get=["pk", "sk", "pos"],
        )
        return [(item.sk, item.pos) for item in reversed(list(query))]

    def present(self, sks: list[str]) -> set[str]:
        pk = playlist_key(self.playlist_id)
        keys = [(pk, sk) for sk in dict.fromkeys(sks)]
        if len(keys) == 1:
            found = TrackItem.query(pk, TrackItem.sk == keys[0][1], consistent_read=True, attributes_to_get=["sk"])
            return {item.sk for item in found}
        return {item.sk for item in TrackItem.batch_get(keys, consistent_read=True, attributes_to_get=["pk", "sk"])}


class OrderInMemory:
    """The whole order read once, then changed in memory edit by edit; `net()` is what to write."""

    def __init__(self, order: list[tuple[str, str]]) -> None:
        self.order = order
        self.new: dict[str, TrackItem] = {}
        self.moved: dict[str, str] = {}
        self.removed: set[str] = set()

    @classmethod
    def read(cls, playlist_id: str) -> OrderInMemory:
        return cls([(item.sk, item.pos) for item in ordered(playlist_id, None, keys_only=True)])

    def copy(self) -> OrderInMemory:
        copied = OrderInMemory(list(self.order))
        copied.new = {sk: TrackItem(**item.attribute_values) for sk, item in self.new.items()}
        copied.moved, copied.removed = dict(self.moved), set(self.removed)
        return copied

    def first(self, count: int) -> list[tuple[str, str]]:
        return self.order[:count]

    def last(self, count: int) -> list[tuple[str, str]]:
        return self.order[-count:] if count else []

    def present(self, sks: list[str]) -> set[str]:
        wanted = set(sks)
        return {sk for sk, _ in self.order if sk in wanted}

    def apply(self, changes: TrackChanges) -> None:
        positions = dict(self.order)
        for sk in changes.deletes:
            positions.pop(sk, None)
            self.moved.pop(sk, None)
            if self.new.pop(sk, None) is None:
                self.removed.add(sk)
        for sk, pos in changes.rekeys:
            positions[sk] = pos
            if sk in self.new:
                self.new[sk].pos = pos
            else:
                self.moved[sk] = pos
        for item in changes.puts:
            positions[item.sk] = item.pos
            self.new[item.sk] = item
        self.order = sorted(positions.items(), key=lambda entry: entry[1])

    def net(self) -> TrackChanges:
        return TrackChanges(list(self.new.values()), sorted(self.moved.items()), sorted(self.removed))
