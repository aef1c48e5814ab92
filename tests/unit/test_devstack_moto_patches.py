"""The devstack's corrections to moto, where moto's DynamoDB differs from DynamoDB in ways the
product depends on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.moto_patches import (
    patch_moto_attribute_values,
    patch_moto_dynamodb_isolation,
    patch_moto_value_lookup,
)


@pytest.fixture
def streamed_table() -> Iterator[tuple[object, object, str]]:
    patch_moto_dynamodb_isolation()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        streams = boto3.client("dynamodbstreams", region_name="us-east-1")
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        arn = dynamodb.describe_table(TableName="t")["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        yield dynamodb, streams, iterator["ShardIterator"]


def _titles(records: list[dict]) -> list[tuple[str, str]]:
    return [(r["dynamodb"]["Keys"]["id"]["S"], r["dynamodb"]["NewImage"]["title"]["S"]) for r in records]


def test_a_failed_transaction_neither_streams_nor_stops_the_stream(streamed_table) -> None:  # type: ignore[no-untyped-def]
    """moto restored a deep copy of the table, stream shard included, when a transaction failed: a
    reader kept an iterator on the old shard, saw the failed transaction's writes and never a later one."""
    dynamodb, streams, iterator = streamed_table
    dynamodb.put_item(TableName="t", Item={"id": {"S": "k"}, "title": {"S": "v1"}})
    dynamodb.put_item(TableName="t", Item={"id": {"S": "other"}, "title": {"S": "before"}})
    first = streams.get_records(ShardIterator=iterator)
    assert _titles(first["Records"]) == [("k", "v1"), ("other", "before")]
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t", "Item": {"id": {"S": "other"}, "title": {"S": "never"}}}},
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"id": {"S": "k"}},
                        "UpdateExpression": "SET title = :t",
                        "ConditionExpression": "title = :expected",
                        "ExpressionAttributeValues": {":t": {"S": "lost"}, ":expected": {"S": "not v1"}},
                    }
                },
            ]
        )
    dynamodb.update_item(
        TableName="t",
        Key={"id": {"S": "k"}},
        UpdateExpression="SET title = :t",
        ExpressionAttributeValues={":t": {"S": "v2"}},
    )
    later = streams.get_records(ShardIterator=first["NextShardIterator"])
    assert _titles(later["Records"]) == [("k", "v2")]
    # the failed transaction's put of `other` is undone: the item is as it was before
    items = {item["id"]["S"]: item["title"]["S"] for item in dynamodb.scan(TableName="t")["Items"]}
    assert items == {"k": "v2", "other": "before"}


def test_concurrent_puts_to_one_shard_all_stay_on_the_stream() -> None:
    """Eight writers putting to one shard at once: every record is stored, each under its own
    sequence number (two concurrent puts used to take the same number, one replacing the other)."""
    import threading

    from devstack.moto_patches import patch_moto_kinesis_shards

    patch_moto_kinesis_shards()
    with mock_aws():
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        kinesis.create_stream(StreamName="plays", ShardCount=1)
        from moto.kinesis.models import kinesis_backends

        stream = kinesis_backends["123456789012"]["us-east-1"].describe_stream(stream_arn=None, stream_name="plays")
        start = threading.Barrier(8)

        def writer(index: int) -> None:
            start.wait(5)
            for n in range(200):
                stream.put_record(partition_key="listener", explicit_hash_key="", data=f"{index}-{n}")

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        (shard,) = stream.shards.values()
        assert len(shard.records) == 1600
        assert sorted(record.data for record in shard.records.values()) == sorted(
            f"{i}-{n}" for i in range(8) for n in range(200)
        )


def test_reading_a_shard_pages_in_order_from_every_kind_of_iterator() -> None:
    from devstack.moto_patches import patch_moto_kinesis_shards

    patch_moto_kinesis_shards()
    with mock_aws():
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        kinesis.create_stream(StreamName="s", ShardCount=1)
        shard = kinesis.list_shards(StreamName="s")["Shards"][0]["ShardId"]

        def iterator(kind: str, **extra: str) -> str:
            answer = kinesis.get_shard_iterator(StreamName="s", ShardId=shard, ShardIteratorType=kind, **extra)
            return str(answer["ShardIterator"])

        latest = iterator("LATEST")
        numbers = [
            kinesis.put_record(StreamName="s", Data=f"r{i}".encode(), PartitionKey="k")["SequenceNumber"]
            for i in range(5)
        ]
        first = kinesis.get_records(ShardIterator=iterator("TRIM_HORIZON"), Limit=2)
        assert [r["Data"] for r in first["Records"]] == [b"r0", b"r1"]
        rest = kinesis.get_records(ShardIterator=first["NextShardIterator"], Limit=10)
        assert [r["Data"] for r in rest["Records"]] == [b"r2", b"r3", b"r4"]
        assert kinesis.get_records(ShardIterator=rest["NextShardIterator"])["Records"] == []
        assert [r["Data"] for r in kinesis.get_records(ShardIterator=latest)["Records"]] == [
            b"r0",
            b"r1",
            b"r2",
            b"r3",
            b"r4",
        ]
        after = iterator("AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=numbers[2])
        assert [r["Data"] for r in kinesis.get_records(ShardIterator=after)["Records"]] == [b"r3", b"r4"]
        at = iterator("AT_SEQUENCE_NUMBER", StartingSequenceNumber=numbers[4])
        assert [r["Data"] for r in kinesis.get_records(ShardIterator=at)["Records"]] == [b"r4"]


def test_attribute_values_are_written_byte_for_byte_as_moto_writes_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The devstack writes a plain AttributeValue directly instead of through moto's shape-driven
    serializer (most of the CPU of a Query of a few hundred items); what it writes is what moto wrote,
    whatever the members, their nesting, their order, and the values moto leaves out."""
    from moto.core.serialize import BaseJSONSerializer, XFormedAttributePicker, get_serializer_class
    from moto.core.utils import get_service_model

    patch_moto_value_lookup()
    patch_moto_attribute_values()
    every_kind = {
        "id": {"S": "playlist#1"},
        "empty": {"S": ""},
        "version": {"N": "42"},
        "ratio": {"N": "0.5"},
        "blob": {"B": b"\x00\xffbytes"},
        "tags": {"SS": ["b", "a"]},
        "counts": {"NS": ["1", "2.5"]},
        "blobs": {"BS": [b"x", b"y"]},
        "flag": {"BOOL": False},
        "nothing": {"NULL": True},
        "view": {"M": {"title": {"S": "Caf\u00e9"}, "plays": {"N": "3"}, "gone": None, "deep": {"L": [{"M": {}}]}}},
        "order": {"L": [{"S": "a"}, None, {"N": "1"}, {"L": []}, {"M": {"k": {"BOOL": True}}}]},
        "members in another order": {"BOOL": True, "S": "both"},
        "not plain": {"M": {"odd": "a bare string"}},
    }
    key = {"pk": {"S": "PL#1"}, "sk": {"S": "ITEM#2"}}
    results = {
        "Query": {"Items": [every_kind, {"id": {"S": "2"}}], "Count": 2, "ScannedCount": 2, "LastEvaluatedKey": key},
        "GetItem": {"Item": every_kind},
        "BatchGetItem": {"Responses": {"t": [every_kind, key]}, "UnprocessedKeys": {"t": {"Keys": [key]}}},
        "UpdateItem": {"Attributes": {"version": {"N": "3"}, "gone": None}},
        "Scan": {"Items": [], "Count": 0, "ScannedCount": 0},
        "TransactGetItems": {"Responses": [{"Item": key}, {}]},
    }
    model = get_service_model("dynamodb")
    serializer = get_serializer_class("dynamodb", "json")

    def written() -> list[str]:
        return [
            serializer(
                operation_model=model.operation_model(operation), value_picker=XFormedAttributePicker()
            ).serialize(result)["body"]
            for operation, result in results.items()
        ]

    assert BaseJSONSerializer._serialize_type_structure is not BaseJSONSerializer._devstack_structure
    short = written()
    monkeypatch.setattr(BaseJSONSerializer, "_serialize_type_structure", BaseJSONSerializer._devstack_structure)
    monkeypatch.setattr(BaseJSONSerializer, "_serialize_type_map", BaseJSONSerializer._devstack_map)
    monkeypatch.setattr(BaseJSONSerializer, "_serialize_type_list", BaseJSONSerializer._devstack_list)
    assert short == written()
    assert '"odd": {}' in short[1]  # what moto makes of a bare string where an AttributeValue belongs


def test_a_projection_taken_directly_gives_the_item_moto_would_build() -> None:
    """`patch_moto_projection` against moto's own projection: the same attributes, values and order
    for every kind of value and path (the short path takes only top-level strings, booleans and
    nulls; everything else is left to moto)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from devstack.moto_patches import patch_moto_projection

    stored = Item(
        hash_key=DynamoType({"S": "PL#1"}),
        range_key=DynamoType({"S": "ITEM#a"}),
        attrs={
            "pk": {"S": "PL#1"},
            "sk": {"S": "ITEM#a"},
            "pos": {"S": "a0V"},
            "note": {"S": "ünïcode ✓"},
            "public": {"BOOL": False},
            "gone": {"NULL": True},
            "count": {"N": "1.50"},
            "cover": {"B": "AP8="},
            "tags": {"SS": ["b", "a", "c"]},
            "sizes": {"NS": ["3", "1"]},
            "op": {"M": {"type": {"S": "tracks.added"}, "at": {"N": "2"}}},
            "items": {"L": [{"S": "x"}, {"N": "7"}]},
        },
    )
    projections = [
        [["pk"], ["sk"], ["pos"]],
        [["pos"], ["pk"]],
        [["note"], ["public"], ["gone"], ["missing"]],
        [["pk"], ["count"]],
        [["cover"]],
        [["tags"], ["sizes"]],
        [["op", "type"]],
        [["items"]],
        [["op"]],
        [],
    ]
    patch_moto_projection()
    moto_own = Item._moto_project  # type: ignore[attr-defined]
    expected = [moto_own(stored, projection).to_json() for projection in projections]
    got = [stored.project(projection).to_json() for projection in projections]
    fast = stored.project([["pk"], ["pos"]])
    fast.attrs["pos"].value = "changed"  # the projected item is a copy
    assert [list(item["Attributes"]) for item in got] == [list(item["Attributes"]) for item in expected]
    assert got == expected
    assert stored.attrs["pos"].value == "a0V"


def test_query_answers_are_sorted_as_moto_sorts_them() -> None:
    """`Table.sorted_items` takes each key value once instead of comparing DynamoTypes pairwise:
    the same order as moto's for strings, numbers and binary keys, ties kept in place, and moto's own
    sort where a key attribute's values are of different types."""
    import random

    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import Table

    from devstack.moto_index_queries import patch_moto_index_queries

    patch_moto_index_queries()
    rng = random.Random(7)
    table = Table.__new__(Table)

    def item(index: int) -> Item:
        attrs = {
            "pk": {"S": rng.choice(["PL#1", "PL#2", "pl#1", "Ü", ""])},
            "sk": {"S": f"ITEM#{rng.randint(0, 30)}"},
            "pos": {"S": rng.choice(["a0", "a0V", "a1", "Zz", "b", "é", "a0V"])},
            "n": {"N": rng.choice(["1", "1.0", "-2", "10", "0.5", "3e2"])},
            "b": {"B": rng.choice(["AA==", "AP8=", "/w==", "AQ=="])},
            "i": {"N": str(index)},
        }
        return Item(hash_key=DynamoType(attrs["pk"]), range_key=DynamoType(attrs["sk"]), attrs=attrs)

    items = [item(index) for index in range(300)]
    for hashes, ranges in ((["pk"], ["sk"]), (["pos", "pk"], [None, "sk"]), (["n", "pk"], ["b", "sk"])):
        ours = table.sorted_items(hashes, ranges, list(items))
        moto = Table._moto_sorted_items(table, hashes, ranges, list(items))  # type: ignore[attr-defined]
        assert [i.attrs["i"].value for i in ours] == [i.attrs["i"].value for i in moto]
    mixed = [item(0), item(1)]
    mixed[1].attrs["pos"] = DynamoType({"N": "1"})
    with pytest.raises(TypeError):  # as moto does: a string and a number do not compare
        table.sorted_items(["pos"], [None], mixed)


def test_an_update_expression_parsed_once_updates_as_moto_does_each_time(streamed_table) -> None:  # type: ignore[no-untyped-def]
    """`patch_moto_update_expressions` parses each distinct UpdateExpression once: the same text used
    on many items (and in transactions) with different values still updates each as moto would, the
    tree moto keeps is never changed by an update, and an expression that does not parse fails every
    time."""
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    from devstack.moto_patches import patch_moto_update_expressions

    patch_moto_update_expressions()
    expression = "SET #n = :n, #l = list_append(if_not_exists(#l, :empty), :l) ADD #c :one REMOVE #gone"
    dynamodb, _, _ = streamed_table  # the table "t", keyed by "id"
    names = {"#n": "name", "#l": "list", "#c": "count", "#gone": "gone"}
    for round_ in range(3):
        for key in ("a", "b"):
            values = {":n": {"S": f"{key}{round_}"}, ":l": {"L": [{"N": str(round_)}]}}
            values |= {":empty": {"L": []}, ":one": {"N": "1"}}
            dynamodb.update_item(
                TableName="t",
                Key={"id": {"S": key}},
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
    dynamodb.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": "t",
                    "Key": {"id": {"S": "a"}},
                    "UpdateExpression": expression,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {
                        ":n": {"S": "in a transaction"},
                        ":l": {"L": [{"N": "9"}]},
                        ":empty": {"L": []},
                        ":one": {"N": "1"},
                    },
                }
            }
        ]
    )
    items = {item["id"]["S"]: item for item in dynamodb.scan(TableName="t", ConsistentRead=True)["Items"]}
    assert items["a"] == {
        "id": {"S": "a"},
        "name": {"S": "in a transaction"},
        "list": {"L": [{"N": "0"}, {"N": "1"}, {"N": "2"}, {"N": "9"}]},
        "count": {"N": "4"},
    }
    assert items["b"]["name"] == {"S": "b2"} and items["b"]["count"] == {"N": "3"}
    kept = UpdateExpressionParser.make(expression)

    def tree(node: Any) -> Any:
        children = getattr(node, "children", None)
        return (type(node).__name__, [tree(child) for child in children]) if children is not None else node

    assert tree(kept) == tree(UpdateExpressionParser._moto_make(expression))  # type: ignore[attr-defined]
    assert UpdateExpressionParser.make(expression) is kept  # parsed once
    for _ in range(2):
        with pytest.raises(dynamodb.exceptions.ClientError, match="Invalid UpdateExpression"):
            dynamodb.update_item(
                TableName="t",
                Key={"id": {"S": "a"}},
                UpdateExpression="SET #n = = :n",
                ExpressionAttributeNames={"#n": "name"},
                ExpressionAttributeValues={":n": {"S": "x"}},
            )


# An item as stored holding every kind of value, nested ones and names and strings beyond ASCII
# included: what the conversion and size corrections are compared with moto on.
EVERY_KIND_OF_VALUE: dict[str, Any] = {
    "pk": {"S": "PL#1"},
    "sk": {"S": "ITEM#a"},
    "empty": {"S": ""},
    "café ✓": {"S": "ünïcode ✓ 🎵"},
    "count": {"N": "-12.50"},
    "big": {"N": "123456789012345678901234567890"},
    "public": {"BOOL": False},
    "gone": {"NULL": True},
    "cover": {"B": "AP8="},
    "covers": {"BS": ["AP8=", "eA=="]},
    "tags": {"SS": ["b", "aé"]},
    "sizes": {"NS": ["3", "1.5"]},
    "op": {"M": {"type": {"S": "tracks.added"}, "blob": {"B": "eA=="}, "at": {"L": [{"N": "2"}, {"NULL": True}]}}},
    "items": {"L": [{"S": "x"}, {"BOOL": True}]},
}


def test_a_dynamodb_answer_is_converted_as_moto_converts_it() -> None:
    """`patch_moto_result_conversion` against moto's own `dynamo_to_dict`, on answers holding every kind
    of value: stored items (with binaries and sets), nested maps and lists, a datetime, numbers, None,
    and dicts and lists that are not plain. The same Python values come out, keys in the same order."""
    from datetime import datetime

    from moto.dynamodb.models import utilities
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    from devstack.moto_patches import patch_moto_result_conversion

    patch_moto_result_conversion()
    moto_own = utilities._moto_dynamo_to_dict  # type: ignore[attr-defined]
    attrs = EVERY_KIND_OF_VALUE
    item = Item(hash_key=DynamoType({"S": "PL#1"}), range_key=DynamoType({"S": "ITEM#a"}), attrs=attrs)
    typed = {name: DynamoType(value) for name, value in attrs.items()}
    limited = LimitedSizeDict(pk=DynamoType({"S": "x"}))
    answers = [
        {"Items": [typed, typed], "Count": 2, "ScannedCount": 2, "LastEvaluatedKey": {"pk": typed["pk"]}},
        {"Item": item},
        {"Responses": {"t": [item.to_json()["Attributes"], typed]}, "UnprocessedKeys": {}},
        {"Attributes": limited, "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 0.5}},
        {"Table": {"CreationDateTime": datetime(2026, 12, 4, tzinfo=UTC), "ItemCount": 3, "Ok": True}},
        [None, 1, 2.5, "s", [typed["op"]], (typed["pk"],)],
    ]
    for answer in answers:
        ours = utilities.dynamo_to_dict(answer)
        theirs = moto_own(answer)
        assert ours == theirs
        assert repr(ours) == repr(theirs)  # the same keys in the same order, the same types


def test_an_action_is_found_on_its_handler_once_listed(streamed_table) -> None:  # type: ignore[no-untyped-def]
    """`patch_moto_action_lookup` lists a handler class's functions once: the same names moto lists,
    a subclass's own included, and the DynamoDB calls still answer."""
    from moto.core import responses
    from moto.dynamodb.responses import DynamoHandler

    from devstack.moto_patches import patch_moto_action_lookup

    patch_moto_action_lookup()

    class Handler(DynamoHandler):
        def own_action(self) -> str:
            return "answered"

    listed = responses._moto_method_names_from_class  # type: ignore[attr-defined]
    for clazz in (DynamoHandler, Handler):
        assert responses.method_names_from_class(clazz) == frozenset(listed(clazz))
    assert "own_action" in responses.method_names_from_class(Handler)
    assert "query" in responses.method_names_from_class(DynamoHandler)
    dynamodb, _, _ = streamed_table  # the table "t", keyed by "id"
    dynamodb.put_item(TableName="t", Item={"id": {"S": "a"}, "n": {"N": "1"}})
    assert dynamodb.get_item(TableName="t", Key={"id": {"S": "a"}})["Item"] == {"id": {"S": "a"}, "n": {"N": "1"}}


def test_an_item_is_sized_as_moto_sizes_it() -> None:
    """`patch_moto_item_sizes` against moto's own `size` (what its 1 MB page limit adds up), for
    items holding every kind of value, names and strings beyond ASCII included."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from devstack.moto_patches import patch_moto_item_sizes

    patch_moto_item_sizes()
    items = {
        name: Item(hash_key=DynamoType({"S": "PL#1"}), range_key=None, attrs={name: value})
        for name, value in EVERY_KIND_OF_VALUE.items()
    }
    items["whole"] = Item(hash_key=DynamoType({"S": "PL#1"}), range_key=None, attrs=EVERY_KIND_OF_VALUE)
    sizes = {name: item.size() for name, item in items.items()}
    assert sizes == {name: Item._moto_size(item) for name, item in items.items()}  # type: ignore[attr-defined]
    assert sizes["café ✓"] == len("café ✓".encode()) + len("ünïcode ✓ 🎵".encode())  # bytes, not characters
