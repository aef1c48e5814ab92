"""Queries in moto's DynamoDB answered from the queried partition, not by walking the table.

moto answers a Query on the table's own key by listing and sorting every item of the table, so a
listener's play history costs as much as the plays of everyone. Here its candidates are the items
of the partition the query names (moto still checks the conditions, sorts, pages and filters).

moto answers a Query on a global or local secondary index by testing every item of the table, so
an artist page (a Query on `byArtist`) costs as much as the whole catalog. DynamoDB reads one
partition of the index. Here each table keeps, for every attribute that is the hash key of an
index that has been queried, a map from the attribute's value to the items holding it; a Query
names one value, so its candidates are that value's items.

Only the candidate list changes: moto's own `Table.query` still checks every key condition, sorts,
applies the start key, the limit, the 1 MB page, projections and filters, so the order and
pagination are moto's to the item. The candidates come in through `Table.all_items`, which that
query calls once to list what it will test.

The map is kept current where items change: `Table.put_item` (puts, batch writes and the creation
of an item by UpdateItem), `DynamoDBBackend.update_item` (UpdateItem changes an item in place), and
the rollback of a failed transaction (`index_item`). It may keep entries that are no longer true --
an item replaced, deleted, or updated to another value -- and those are dropped when a query meets
them: a candidate counts only while it is still the table's item under its key, and moto's
condition check drops one whose attribute has changed. The map lives on the table object (so it
travels with the table when moto's state is saved and restored) and is rebuilt whenever the
table's item store has been replaced.

A Query's candidates are also only the items meeting its range key condition (and, on a sparse
index, holding its range key), as DynamoDB reads them. moto's walk also counted the items failing the
condition towards a page's Limit check and 1 MB size, so where a page ends exactly at its Limit with
only non-matching items after it, moto answered a LastEvaluatedKey (to an empty page) and this answers
none, as moto already did when the partition itself ends there.

A Query with a ProjectionExpression copies the list of answered items only, not each whole item
before building its projection from it (`_CopyUnlessProjected`).
"""

from __future__ import annotations

import copy
import inspect
import threading
from dataclasses import dataclass, field
from typing import Any

_LOCK = threading.RLock()
# A query on a local index takes its candidates from the queried partition (no index map to keep,
# no check per item that it is still stored); off, from the index map as a global index does
# (bench/devstack_call_cost.py compares the two).
LOCAL_INDEX_FROM_PARTITION = True
_CANDIDATES = threading.local()  # the candidates of the query running on this thread, by table id
_PROJECTING = threading.local()  # `on` while this thread runs a Query with a ProjectionExpression


class _CopyUnlessProjected:
    """moto's table module's `copy`. A Query deep-copies every item it answers, so that what it hands
    on is not the stored item; a Query with a ProjectionExpression then builds a new item from each
    copy (moto's projection never changes the item it reads), so that first copy of whole items was
    work thrown away: there it copies the list only."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if getattr(_PROJECTING, "on", False) and type(value) is list:
            return list(value)
        return copy.deepcopy(value, memo)


@dataclass
class _IndexMaps:
    """For one table: attribute name -> attribute value -> primary key -> item."""

    items_store: Any
    by_attribute: dict[str, dict[Any, dict[tuple[Any, Any], Any]]] = field(default_factory=dict)


def _maps(table: Any) -> _IndexMaps:
    maps: _IndexMaps | None = table.__dict__.get("_devstack_index_maps")
    if maps is None or maps.items_store is not table.items:
        maps = _IndexMaps(items_store=table.items)
        table._devstack_index_maps = maps
    return maps


def _primary_key(item: Any) -> tuple[Any, Any]:
    return (item.hash_key, item.range_key)


def _stored(table: Any, item: Any) -> bool:
    """Whether `item` is still the table's item under its key (not replaced nor deleted)."""
    bucket = table.items.get(item.hash_key)
    if bucket is None:
        return False
    current = bucket.get(item.range_key) if table.range_key_attr else bucket
    return current is item


def index_item(table: Any, item: Any) -> None:
    """Record `item` under its current value of every mapped attribute."""
    if item is None:
        return
    with _LOCK:
        for attribute, by_value in _maps(table).by_attribute.items():
            value = item.attrs.get(attribute)
            if value is not None:
                by_value.setdefault(value, {})[_primary_key(item)] = item


def _items_with(table: Any, attribute: str, value: Any) -> list[Any]:
    with _LOCK:
        maps = _maps(table)
        by_value = maps.by_attribute.get(attribute)
        if by_value is None:  # first query on this attribute: one walk of the table builds its map
            by_value = {}
            for item in table.all_items():
                found = item.attrs.get(attribute)
                if found is not None:
                    by_value.setdefault(found, {})[_primary_key(item)] = item
            maps.by_attribute[attribute] = by_value
        entries = by_value.get(value, {})
        stale = [key for key, item in entries.items() if not _stored(table, item)]
        for key in stale:
            del entries[key]
        return list(entries.values())


def _partition(table: Any, hash_key: Any) -> list[Any]:
    """The items under one partition key: a Query on the table itself reads only those (moto lists
    and sorts every item of the table for each one)."""
    with _LOCK:
        bucket = table.items.get(hash_key)
        if bucket is None:
            return []
        return list(bucket.values()) if table.range_key_attr else [bucket]


def _index_keys(table: Any, index_name: str) -> tuple[str | None, list[str]]:
    """The index's one hash key attribute (None when it has several, or no such index) and its range
    key attributes."""
    for index in table.all_indexes():
        if index.name == index_name:
            hashes = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
            ranges = [key["AttributeName"] for key in index.schema if key["KeyType"] == "RANGE"]
            return (hashes[0] if len(hashes) == 1 else None), ranges
    return None, []


def _meeting_the_range_condition(
    items: list[Any], attribute: str, arguments: dict[str, Any], *, each: bool = False
) -> list[Any]:
    """The items whose `attribute` meets the query's range key condition, as DynamoDB reads only those
    (moto sorts every candidate, sizes it and only then tests the condition: a partition of a thousand
    log entries cost each queue read a thousand sizes). An item without the attribute is not in a
    sparse index; none is dropped when there is no condition, or one on several attributes, which
    moto's own test then decides."""
    from moto.dynamodb.comparisons import get_comparison_func

    conditions = arguments.get("range_key_conditions") or []
    comparison, operands = arguments.get("range_comparison"), arguments.get("range_objs") or []
    if len(conditions) > 1 or (conditions and conditions[-1][0] != attribute):
        return items
    test = get_comparison_func(comparison) if comparison else None
    if each or (comparison and test is None):  # `each`: moto's own test (bench/devstack_call_cost.py)
        return _each_compared(items, attribute, comparison, operands)
    # DynamoType.compare's test, with the operands cast once and a string key's value read as it
    # is (what `cast_value` gives for S) instead of cast per item: a queue read walks the partition
    operands = [operand.cast_value for operand in operands]
    kept = []
    for item in items:
        value = item.attrs.get(attribute)
        if value is None:
            continue
        if test is None or test(value.value if value.type == "S" else value.cast_value, *operands):
            kept.append(item)
    return kept


def _each_compared(items: list[Any], attribute: str, comparison: Any, operands: list[Any]) -> list[Any]:
    """The items whose `attribute` meets the condition by moto's own test, item by item."""
    kept = []
    for item in items:
        value = item.attrs.get(attribute)
        if value is not None and (not comparison or value.compare(comparison, operands)):
            kept.append(item)
    return kept


def patch_moto_index_queries() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models import table as table_module
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_devstack_index_queries", False):
        return
    original_query = Table.query
    original_all_items = Table.all_items
    original_put_item = Table.put_item
    original_update_item = DynamoDBBackend.update_item

    def all_items(self: Any) -> Any:
        candidates = getattr(_CANDIDATES, "by_table", {}).get(id(self))
        return candidates if candidates is not None else original_all_items(self)

    query_signature = inspect.signature(original_query)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        arguments = query_signature.bind(self, *args, **kwargs).arguments
        _PROJECTING.on = bool(arguments.get("projection_expressions"))
        try:
            return _query(self, arguments, *args, **kwargs)
        finally:
            _PROJECTING.on = False

    def _query(self: Any, arguments: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        index_name = arguments.get("index_name")
        if not index_name and arguments.get("hash_key") is not None:
            by_table = _CANDIDATES.__dict__.setdefault("by_table", {})
            candidates = _partition(self, arguments["hash_key"])
            if self.range_key_attr:
                candidates = _meeting_the_range_condition(candidates, self.range_key_attr, arguments)
            by_table[id(self)] = candidates
            try:
                return original_query(self, *args, **kwargs)
            finally:
                by_table.pop(id(self), None)
        attribute, ranges = _index_keys(self, index_name) if index_name else (None, [])
        conditions = dict(arguments.get("hash_key_conditions") or [])
        value = conditions.get(attribute) if attribute else None
        if attribute is None or value is None or len(conditions) != 1:
            return original_query(self, *args, **kwargs)
        by_table = _CANDIDATES.__dict__.setdefault("by_table", {})
        if attribute == self.hash_key_attr and LOCAL_INDEX_FROM_PARTITION:  # a local index: the partition's items
            candidates = _partition(self, value)
        else:
            candidates = _items_with(self, attribute, value)
        if len(ranges) == 1:
            candidates = _meeting_the_range_condition(candidates, ranges[0], arguments)
        by_table[id(self)] = candidates
        try:
            return original_query(self, *args, **kwargs)
        finally:
            by_table.pop(id(self), None)

    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original_put_item(self, *args, **kwargs)
        index_item(self, item)
        return item

    def update_item(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        item = original_update_item(self, table_name, *args, **kwargs)
        index_item(self.get_table(table_name), item)
        return item

    original_sorted_items = Table.sorted_items

    def sorted_items(self: Any, hash_key_attrs: Any, range_key_attrs: Any, items: list[Any]) -> list[Any]:
        """moto's order (each key attribute's value compared as moto compares them) with the values
        taken once per item instead of compared through DynamoType per comparison; moto's own sort
        where an attribute's values are not all of one key type (it raises where they differ)."""
        names = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        try:
            values = [tuple(item.attrs[name] for name in names) for item in items]
        except KeyError:
            return original_sorted_items(self, hash_key_attrs, range_key_attrs, items)
        for column in zip(*values, strict=True):
            kinds = {value.type for value in column}
            if len(kinds) != 1 or not kinds <= {"S", "N", "B"}:
                return original_sorted_items(self, hash_key_attrs, range_key_attrs, items)
        keys = {id(item): tuple(value.cast_value for value in row) for item, row in zip(items, values, strict=True)}
        items.sort(key=lambda item: keys[id(item)])
        return items

    table_module.copy = _CopyUnlessProjected()  # type: ignore[assignment]
    Table.sorted_items = sorted_items  # type: ignore[method-assign]
    Table._moto_sorted_items = original_sorted_items  # type: ignore[attr-defined]
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    Table.put_item = put_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    Table._devstack_index_queries = True  # type: ignore[attr-defined]
