"""Corrections to moto, where moto behaves differently from AWS in ways the devstack depends on.
`Devstack._start_moto` applies them before the moto server starts; each is idempotent.

- `_patch_moto_lambda`: moto's Lambda invoke needs Docker. The handler runs in-process instead, in the
  runtime given to `set_active_runtime` (Step Functions Task states and `lambda:Invoke` both reach this).
- `_patch_moto_unnamed_executions`: Step Functions names an execution with a UUID when the caller
  gives none; moto's executing backend uses None, so a second unnamed execution would collide with
  the first. The patch gives an unnamed execution a UUID.
- `patch_moto_eventbridge_states_targets`: moto's S3 sends Object Created events of a bucket with
  EventBridge enabled to the event bus's rules, and the rules match them against their patterns, but
  a rule cannot deliver to a state machine (the target raises NotImplementedError, which S3 swallows).
  The patch starts an execution of each matching state machine target with the event as its input,
  as EventBridge does, and hands every other target to moto.
- `patch_moto_dynamodb_isolation`: DynamoDB applies a transaction atomically and isolates it from
  reads of its items; moto checks conditions and then writes without a lock, so two concurrent
  transactions conditioned on the same version could both commit. The patch serialises moto's item
  reads and writes with one re-entrant lock.
- `_keep_streams_on_rollback` (part of the previous one): moto backs up every table a transaction
  touches with a deep copy and swaps the copy in when the transaction fails, which costs time and
  memory in proportion to the table, and the copy carries another stream shard object, so stream
  readers holding iterators on the old one never saw another record. The patch rolls a failed
  transaction back item by item in place, as DynamoDB would, and takes the failed transaction's
  stream records back out (DynamoDB never streams them).
- `patch_moto_cognito_keys` (devstack/moto_cognito_keys.py): moto signs every user pool's tokens
  with one key whose private half ships in the moto package; each pool gets a key of its own.
- `patch_moto_index_queries` (devstack/moto_index_queries.py): a Query on a secondary index reads
  the items holding the queried hash key value, not the whole table.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

from devstack.faults import FAULTS
from devstack.lambdas import FunctionError, LambdaRuntime
from devstack.moto_cognito_keys import patch_moto_cognito_keys
from devstack.moto_index_queries import index_item, patch_moto_index_queries

__all__ = [
    "patch_moto_cognito_keys",
    "patch_moto_dynamodb_isolation",
    "patch_moto_eventbridge_states_targets",
    "patch_moto_index_queries",
    "set_active_runtime",
]

_active_runtime: LambdaRuntime | None = None


def set_active_runtime(runtime: LambdaRuntime | None) -> None:
    """The runtime that moto's Lambda invokes run in (None: no function is in the devstack)."""
    global _active_runtime
    _active_runtime = runtime


def _patch_moto_lambda() -> None:
    """moto's Lambda invoke needs Docker; run the handler in-process instead (Step Functions
    Task states and `lambda:Invoke` both reach this)."""
    from moto.awslambda.models import LambdaFunction

    def invoke_in_process(self: Any, event: Any = None) -> tuple[str, bool, str]:
        if _active_runtime is None or not _active_runtime.knows(self.function_name):
            return (
                json.dumps({"errorMessage": f"function {self.function_name} is not in the devstack"}),
                True,
                "",
            )
        if isinstance(event, (str, bytes)):
            event = json.loads(event or "{}")
        if FAULTS.take_crash(self.function_name, _active_runtime.logical_id(self.function_name)):
            # An injected crash: the work is done, then the runtime dies before answering, so the
            # caller (a Task's retry, a state machine's catch) must absorb a repeated step.
            with contextlib.suppress(Exception):
                _active_runtime.invoke(self.function_name, event or {})
            crash = {"errorType": "Runtime.ExitError", "errorMessage": "injected crash (devstack fault plan)"}
            return json.dumps(crash), True, ""
        try:
            return json.dumps(_active_runtime.invoke(self.function_name, event or {})), False, ""
        except FunctionError as error:
            payload = {k: v for k, v in error.payload.items() if k != "stackTrace"}
            return json.dumps(payload), True, ""

    LambdaFunction._invoke_lambda = invoke_in_process  # type: ignore[method-assign]


def _patch_moto_unnamed_executions() -> None:
    """Step Functions names an execution with a UUID when the caller gives none; moto's executing
    backend uses None, so a second unnamed execution would collide with the first."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution
    if getattr(original, "_devstack_patched", False):
        return

    def start_execution(self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
        return original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    start_execution._devstack_patched = True  # type: ignore[attr-defined]
    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]


def patch_moto_eventbridge_states_targets() -> None:
    """S3 -> EventBridge -> Step Functions. moto's S3 already sends Object Created events of a bucket
    with EventBridge enabled to the event bus's rules, and the rules match them against their
    patterns, but a rule cannot deliver to a state machine (the target raises NotImplementedError,
    which S3 swallows). Here a rule starts an execution of each matching state machine target with
    the event as its input, as EventBridge does, and hands every other target to moto."""
    from datetime import UTC, datetime

    from moto.events.models import Rule
    from moto.stepfunctions.responses import get_backend
    from moto.utilities.arns import parse_arn

    original = Rule.send_to_targets
    if getattr(original, "_devstack_patched", False):
        return
    lock = threading.Lock()

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        machines = [target for target in self.targets if parse_arn(target["Arn"]).service == "states"]
        others = [target for target in self.targets if target not in machines]
        if machines and self.event_pattern.matches_event(original_event):
            event = dict(original_event)
            if isinstance(event.get("time"), (int, float)):  # moto's S3 gives epoch seconds, AWS ISO 8601
                event["time"] = datetime.fromtimestamp(event["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            for target in machines:
                arn = target["Arn"]
                payload = target.get("Input") or json.dumps(event)
                try:
                    backend = get_backend(self.account_id, parse_arn(arn).region)
                    backend.start_execution(arn, str(uuid.uuid4()), payload)
                except Exception as error:  # EventBridge retries and then drops; say so rather than swallow
                    print(f"devstack: EventBridge rule {self.name} could not start {arn}: {error}", flush=True)
        if others:
            with lock:
                saved = self.targets
                self.targets = others
                try:
                    original(self, original_event, transform_input)
                finally:
                    self.targets = saved

    send_to_targets._devstack_patched = True  # type: ignore[attr-defined]
    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def patch_moto_dynamodb_isolation() -> None:
    """DynamoDB applies a transaction atomically and isolates it from reads of its items; moto checks
    conditions and then writes without a lock, so two concurrent transactions conditioned on the same
    version could both commit. Serialise moto's item reads and writes with one lock (re-entrant: a
    transaction calls the single-item methods)."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_devstack_isolated", False):
        return
    lock = threading.RLock()

    def isolated(method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)

        return wrapper

    for name in ("put_item", "update_item", "delete_item", "get_item", "query", "scan"):
        setattr(DynamoDBBackend, name, isolated(getattr(DynamoDBBackend, name)))
    # A stream reader never sees a failed transaction's records: moto streams each write as it goes and
    # takes them back out when the transaction fails, all under the lock (`_keep_streams_on_rollback`).
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    for name in ("get_records", "get_shard_iterator"):
        setattr(DynamoDBStreamsBackend, name, isolated(getattr(DynamoDBStreamsBackend, name)))
    transact = isolated(_keep_streams_on_rollback(DynamoDBBackend.transact_write_items))
    DynamoDBBackend.transact_write_items = transact  # type: ignore[method-assign]
    DynamoDBBackend._devstack_isolated = True  # type: ignore[attr-defined]


def patch_moto_kinesis_shards() -> None:
    """Kinesis numbers a shard's records in the order it stores them; moto's `Shard.put_record`
    reads the last sequence number and stores under the next one without a lock (its comment says
    so), so two concurrent PutRecords calls to one shard could take the same number and one record
    silently replaced the other. Serialise a shard's writes and reads with one lock; and number and
    read records in time independent of the shard's length (moto copies every key per put and walks
    the shard from its start per read, which slowed a 100,000-event stream to a crawl)."""
    from moto.kinesis.models import Shard

    if getattr(Shard, "_devstack_serialised", False):
        return
    lock = threading.RLock()

    from moto.kinesis.models import Record

    def last_number(shard: Any) -> int:
        last = shard.__dict__.get("_devstack_last")
        if last is None:  # a shard from before the patch (a restored snapshot): look once
            last = next(reversed(shard.records)) if shard.records else 0
        return int(last)

    def put_record(self: Any, partition_key: str, data: str, explicit_hash_key: str) -> str:
        # The next number from a counter, not from a copy of every key: moto's own put is O(records).
        with lock:
            number = last_number(self) + 1
            self.records[number] = Record(partition_key, data, number, explicit_hash_key)
            self._devstack_last = number
            return str(number)

    def get_records(self: Any, last_sequence_id: str, limit: int | None) -> tuple[list[Any], int, int]:
        # Records are numbered 1, 2, 3, ... per shard: read from the iterator's position by number
        # instead of walking the shard from its first record on every call, as moto does.
        with lock:
            position = int(last_sequence_id)
            top = last_number(self)
            results: list[Any] = []
            number = max(position, self.get_min_sequence_number() - 1) + 1
            while number <= top and (limit is None or len(results) < limit):
                record = self.records.get(number)
                if record is not None:
                    results.append(record)
                    position = number
                number += 1
            behind = self.records[top].created_at - results[-1].created_at if results else 0.0
            return results, position, int(behind * 1000)

    Shard.put_record = put_record  # type: ignore[method-assign]
    Shard.get_records = get_records  # type: ignore[method-assign]
    Shard._devstack_serialised = True  # type: ignore[attr-defined]


def _keep_streams_on_rollback(transact: Callable[..., Any]) -> Callable[..., Any]:
    """Roll a failed transaction back item by item, as DynamoDB would, instead of moto's way.

    moto backs up every table a transaction touches with a deep copy (every item, every stream
    record) and swaps the copy in when the transaction fails. That costs time and memory in
    proportion to the table, per transaction, and the swapped-in copy carries another stream shard
    object, so stream readers holding iterators on the old one never saw another record. Here the
    backup is the items the transaction names, restored in place, and the failed transaction's
    stream records are taken back out (DynamoDB never streams them)."""
    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    real_copy = dynamodb_models.copy

    class _TablesAreNotCopied:
        """Stands in for the `copy` module inside moto's DynamoDB backend: tables are backed up
        item by item below, everything else is copied as before."""

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else real_copy.deepcopy(value, memo)

    dynamodb_models.copy = _TablesAreNotCopied  # type: ignore[assignment]

    def transact_with_item_rollback(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        backups: list[tuple[Any, Any, Any, Any]] = []
        shards: dict[int, tuple[Any, int]] = {}
        for entry in transact_items:
            for operation in entry.values():
                table = self.tables.get(operation.get("TableName"))
                key = operation.get("Key") or operation.get("Item") or {}
                if table is None or table.hash_key_attr not in key:
                    continue
                hash_key = DynamoType(key[table.hash_key_attr])
                range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
                if table.has_range_key and range_key is None:
                    continue
                current = table.get_item(hash_key, range_key)
                backups.append((table, hash_key, range_key, real_copy.deepcopy(current) if current else None))
                if table.stream_shard is not None:
                    shards.setdefault(id(table.stream_shard), (table.stream_shard, len(table.stream_shard.items)))
        try:
            return transact(self, transact_items)
        except Exception:
            for table, hash_key, range_key, old in reversed(backups):
                bucket = table.items if range_key is None else table.items[hash_key]
                slot = hash_key if range_key is None else range_key
                if old is None:
                    bucket.pop(slot, None)
                else:
                    bucket[slot] = old
                    index_item(table, old)
            for shard, length in shards.values():
                del shard.items[length:]
            raise

    return transact_with_item_rollback


def patch_moto_update_expressions() -> None:
    """moto parses an UpdateExpression (a character-by-character tokenizer, then a parser) on every
    UpdateItem and every Update of a transaction: about half the CPU of a group commit's transaction.
    The same text always parses to the same tree, and moto never changes that tree (its validator
    works on a deep copy), so each distinct text is parsed once; an expression that fails to parse
    is not kept and fails again the next time. A client's expressions name their attributes and
    values through placeholders (`SET #0 = :0`), so a process meets few distinct texts."""
    import functools

    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    if getattr(UpdateExpressionParser, "_devstack_parsed_once", False):
        return
    make = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]

    @functools.lru_cache(maxsize=4096)
    def parsed(cls: Any, expression: str) -> Any:
        return make(cls, expression)

    UpdateExpressionParser.make = classmethod(parsed)  # type: ignore[method-assign,assignment,arg-type]
    UpdateExpressionParser._moto_make = classmethod(make)  # type: ignore[attr-defined]
    UpdateExpressionParser._devstack_parsed_once = True  # type: ignore[attr-defined]


def patch_moto_value_lookup() -> None:
    """moto's response serializer looks every member of a response's shape up in the result, an
    AttributeValue's ten members for each attribute of each item, and a plain dict without the member
    answers by raising KeyError, which moto catches. Ask a plain dict with `get` instead: the same
    answer without an exception, which was the largest single cost of serving a Query of a few
    hundred items (docs/decisions.md, 61)."""
    from moto.core import utils

    if getattr(utils, "_devstack_value_lookup", False):
        return
    lookup = utils._get_value_for_key

    def value_for_key(obj: Any, key: int | str, default: Any) -> Any:
        if type(obj) is dict:  # exactly dict: a defaultdict or a mapping class answers its own way
            return obj.get(key, default)
        return lookup(obj, key, default)

    utils._get_value_for_key = value_for_key
    utils._devstack_value_lookup = True  # type: ignore[attr-defined]


def patch_moto_action_lookup() -> None:
    """moto finds the method answering an action by listing every function of the handler's class
    (`inspect.getmembers`, a few hundred names sorted) on every call. A class's functions are what its
    definition and its bases made them, so each class is listed once."""
    import functools

    from moto.core import responses

    if getattr(responses, "_devstack_action_lookup", False):
        return
    listed = responses.method_names_from_class

    @functools.lru_cache(maxsize=512)
    def method_names(clazz: Any) -> frozenset[str]:
        return frozenset(listed(clazz))

    responses.method_names_from_class = method_names  # type: ignore[assignment]
    responses._moto_method_names_from_class = listed  # type: ignore[attr-defined]
    responses._devstack_action_lookup = True  # type: ignore[attr-defined]


def patch_moto_item_sizes() -> None:
    """moto sizes every item a Query or Scan considers (for the 1 MB page limit), twice for each item it
    answers, by asking each attribute's value which of nine kinds it is: a third of the CPU of reading
    a playlist's order. A string, a number, a boolean or a null is sized directly, as moto sizes it
    (the UTF-8 bytes of a string, the digits of a number, one byte for the others); any other value
    by moto's `size`."""
    from moto.dynamodb.models.dynamo_type import Item

    if getattr(Item, "_devstack_sizes", False):
        return
    original = Item.size

    def size(self: Any) -> int:
        total = 0
        for name, value in self.attrs.items():
            kind, held = value.type, value.value
            if kind == "S" and held.__class__ is str:
                total += len(held.encode("utf-8"))
            elif kind == "N":
                total += len(str(held))
            elif (kind == "BOOL" or kind == "NULL") and held.__class__ is bool:
                total += 1
            else:
                total += value.size()
            total += len(name.encode("utf-8")) if name.__class__ is str else len(name)
        return total

    Item.size = size  # type: ignore[method-assign]
    Item._moto_size = original  # type: ignore[attr-defined]
    Item._devstack_sizes = True  # type: ignore[attr-defined]


_PLAIN_VALUES = frozenset({str, int, float, bool, type(None)})  # what moto's conversion hands back as is


def patch_moto_result_conversion() -> None:
    """Before serializing a DynamoDB answer, moto turns it into plain dicts with `dynamo_to_dict`, a
    recursive walk that asks every value, down to each string of each item, whether it is a datetime,
    an AttributeValue or has a `to_json`: a third of the CPU a Query of a few hundred keys cost. The
    values a DynamoDB answer is made of (exactly dict, list, an AttributeValue holding no binary, str,
    numbers, booleans, None) are converted directly, to what moto makes of them; anything else (an
    item, a binary, a datetime, a subclass) goes to moto's own conversion, whose recursion comes back
    here. `tests/unit/test_devstack_moto_patches.py` compares the two on every kind of value."""
    from moto.dynamodb import responses
    from moto.dynamodb.models import utilities
    from moto.dynamodb.models.dynamo_type import DynamoType

    if getattr(utilities, "_devstack_result_conversion", False):
        return
    original = utilities.dynamo_to_dict

    def convert(obj: Any) -> Any:
        kind = obj.__class__
        if kind in _PLAIN_VALUES:
            return obj
        if kind is dict:
            return {key: convert(value) for key, value in obj.items()}
        if kind is list:
            return [convert(value) for value in obj]
        if kind is DynamoType and obj.type not in ("B", "BS"):
            return {obj.type: convert(obj.value)}
        return original(obj)

    utilities.dynamo_to_dict = responses.dynamo_to_dict = convert  # the original's recursion comes here too
    utilities._moto_dynamo_to_dict = original  # type: ignore[attr-defined]
    utilities._devstack_result_conversion = True  # type: ignore[attr-defined]


_PROJECTED_AS_STORED = frozenset({"S", "BOOL", "NULL"})  # a round trip through Python leaves these alike


def patch_moto_projection() -> None:
    """moto projects an item (a ProjectionExpression, or a KEYS_ONLY or INCLUDE index) by turning the
    whole item into Python values, picking the named ones and building a new item from them, whose
    size check adds up every attribute again for each attribute put: reading a playlist's track keys
    cost more in projection than in the query. Where every projected name is a top-level attribute
    whose value is a string, a boolean or null (what such a round trip gives back unchanged), the new
    item takes copies of those values directly, in the same order; the size check is skipped, as
    moto's own copy of an item skips it (a part of a stored item is no larger than the item). Any
    other projection is moto's."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    if getattr(Item, "_devstack_projection", False):
        return
    original = Item.project

    def project(self: Any, projection_expressions: list[list[str]]) -> Any:
        attrs = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.__init__(attrs)
        for expression in projection_expressions:
            if len(expression) != 1 or not isinstance(expression[0], str) or "[" in expression[0]:
                return original(self, projection_expressions)
            value = self.attrs.get(expression[0])
            if value is None:
                continue
            if value.type not in _PROJECTED_AS_STORED:
                return original(self, projection_expressions)
            copied = DynamoType.__new__(DynamoType)  # a string, boolean or null: its value is immutable
            copied.type, copied.value = value.type, value.value
            dict.__setitem__(attrs, expression[0], copied)
        projected: Any = Item.__new__(Item)
        projected.hash_key, projected.range_key, projected.attrs = self.hash_key, self.range_key, attrs
        return projected

    Item.project = project  # type: ignore[method-assign]
    Item._moto_project = original  # type: ignore[attr-defined]
    Item._devstack_projection = True  # type: ignore[attr-defined]


_ATTRIBUTE_VALUE_MEMBERS = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")
_DYNAMODB = ("dynamodb", "dynamodbstreams")  # the services whose answers hold AttributeValues


class _NotPlain(Exception):
    """An AttributeValue the short path does not take: moto's own serializer does."""


def _string(value: Any) -> Any:
    """What moto's JSON serializer makes of a string member."""
    from enum import Enum

    if isinstance(value, Enum):
        value = value.value
    return str(value) if value not in [None, {}, []] else value


def _attribute_value(serializer: Any, value: Any) -> dict[str, Any]:
    """An AttributeValue as moto's JSON serializer writes it, member by member in the shape's order;
    `_NotPlain` for anything but a plain dict of the shape's members."""
    if type(value) is not dict or not value.keys() <= set(_ATTRIBUTE_VALUE_MEMBERS):
        raise _NotPlain
    wire: dict[str, Any] = {}
    for member in _ATTRIBUTE_VALUE_MEMBERS:
        item = value.get(member)
        if item is None:
            continue
        if member in ("S", "N"):
            wire[member] = _string(item)
        elif member == "B":
            wire[member] = serializer._base64(item)
        elif member in ("SS", "NS"):
            wire[member] = [_string(entry) for entry in item]
        elif member == "BS":
            if any(entry is None for entry in item):
                raise _NotPlain
            wire[member] = [serializer._base64(entry) for entry in item]
        elif member == "M":
            if type(item) is not dict or "" in item:  # moto's path writes an empty key's value in place
                raise _NotPlain
            wire[member] = {k: _attribute_value(serializer, v) for k, v in item.items() if v is not None}
        elif member == "L":
            wire[member] = [None if entry is None else _attribute_value(serializer, entry) for entry in item]
        else:  # NULL, BOOL: booleans pass through
            wire[member] = item
    return wire


def _attribute_map(serializer: Any, value: Any) -> dict[str, Any]:
    """A map of AttributeValues as moto writes it: each entry as `_attribute_value`, null ones left out."""
    if type(value) is not dict or "" in value:  # moto's path writes an empty name's value in place
        raise _NotPlain
    return {name: _attribute_value(serializer, entry) for name, entry in value.items() if entry is not None}


def patch_moto_attribute_values() -> None:
    """moto's JSON serializer walks an AttributeValue's ten members one by one through its generic,
    shape-driven machinery (a context object and alias lookups per member), for every attribute of
    every item a DynamoDB call answers: most of the CPU a Query of a few hundred items cost. A plain
    AttributeValue dict is written directly, with the same rules member by member (strings as `str`,
    blobs in base64, absent and null members left out, the shape's member order); anything else goes
    through moto's own path. `tests/unit/test_devstack_moto_patches.py` checks the two write the
    same bytes (docs/decisions.md, 61)."""
    from moto.core.serialize import BaseJSONSerializer

    if getattr(BaseJSONSerializer, "_devstack_attribute_values", False):
        return
    structure = BaseJSONSerializer._serialize_type_structure

    def written(self: Any, serialized: Any, shape: Any, key: str, wire: Callable[[], Any]) -> bool:
        """Whether the short path wrote the value (`wire()` builds it, or raises _NotPlain)."""
        try:
            value = wire()
        except _NotPlain:
            return False
        self._default_serialize(serialized, value, shape, key)
        return True

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        ours = self.service_model.service_name in _DYNAMODB
        plain = ours and key and shape.name == "AttributeValue" and value is not None
        if plain and written(self, serialized, shape, key, lambda: _attribute_value(self, value)):
            return
        structure(self, serialized, value, shape, key)

    def serialize_map(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        """A map of AttributeValues (an item, a key) written whole: moto's path dispatched each entry
        through its machinery to the short path above."""
        plain = self.service_model.service_name in _DYNAMODB and shape.value.name == "AttributeValue"
        if plain and written(self, serialized, shape, key, lambda: _attribute_map(self, value)):
            return
        mapping(self, serialized, value, shape, key)

    def serialize_list(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        """A list of items (a Query's, a BatchGetItem's) written whole."""
        member = shape.member
        plain = (
            self.service_model.service_name in _DYNAMODB
            and member.type_name == "map"
            and member.value.name == "AttributeValue"
            and not member.serialization.get("name")
        )
        if plain and written(self, serialized, shape, key, lambda: [_attribute_map(self, item) for item in value]):
            return
        listing(self, serialized, value, shape, key)

    mapping, listing = BaseJSONSerializer._serialize_type_map, BaseJSONSerializer._serialize_type_list
    BaseJSONSerializer._serialize_type_structure = serialize_structure  # type: ignore[method-assign]
    BaseJSONSerializer._serialize_type_map = serialize_map  # type: ignore[method-assign]
    BaseJSONSerializer._serialize_type_list = serialize_list  # type: ignore[method-assign]
    BaseJSONSerializer._devstack_structure = structure  # type: ignore[attr-defined]
    BaseJSONSerializer._devstack_map = mapping  # type: ignore[attr-defined]
    BaseJSONSerializer._devstack_list = listing  # type: ignore[attr-defined]
    BaseJSONSerializer._devstack_attribute_values = True  # type: ignore[attr-defined]
