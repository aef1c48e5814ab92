"""Index queries in the emulator read the queried partition, and answer exactly as a walk of the
table would: the same items, in the same order, with the same pages, while items are put, updated,
replaced, deleted and rolled back."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.moto_patches import patch_moto_dynamodb_isolation, patch_moto_index_queries


@pytest.fixture
def table() -> Iterator[Any]:
    patch_moto_dynamodb_isolation()
    patch_moto_index_queries()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="catalog",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "gsi1pk", "gsi1sk", "pos")
            ],
            LocalSecondaryIndexes=[  # as a playlist's track order
                {
                    "IndexName": "byPosition",
                    "KeySchema": [
                        {"AttributeName": "pk", "KeyType": "HASH"},
                        {"AttributeName": "pos", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "byArtist",
                    "KeySchema": [
                        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield dynamodb


def _put(dynamodb: Any, song: str, artist: str, title: str) -> None:
    dynamodb.put_item(
        TableName="catalog",
        Item={
            "pk": {"S": f"SONG#{song}"},
            "sk": {"S": "META"},
            "gsi1pk": {"S": f"ARTIST#{artist}"},
            "gsi1sk": {"S": f"{title}#{song}"},
        },
    )


def _by_artist(dynamodb: Any, artist: str, *, page: int = 2, forward: bool = True, **extra: Any) -> list[str]:
    """Every page of the artist's songs, following LastEvaluatedKey as a client does."""
    songs: list[str] = []
    arguments: dict[str, Any] = {
        "TableName": "catalog",
        "IndexName": "byArtist",
        "KeyConditionExpression": "gsi1pk = :artist",
        "ExpressionAttributeValues": {":artist": {"S": f"ARTIST#{artist}"}},
        "Limit": page,
        "ScanIndexForward": forward,
    }
    for key, value in extra.items():
        if key == "ExpressionAttributeValues":
            arguments[key] = {**arguments[key], **value}
        else:
            arguments[key] = value
    while True:
        answer = dynamodb.query(**arguments)
        songs.extend(item["pk"]["S"].removeprefix("SONG#") for item in answer["Items"])
        if "LastEvaluatedKey" not in answer:
            return songs
        arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


@contextlib.contextmanager
def _candidates_counted() -> Iterator[list[int]]:
    """While in the block, how many items each moto Query lists as the ones it will test."""
    from moto.dynamodb.models.table import Table

    tested: list[int] = []
    original = Table.all_items

    def counting(self: Any) -> Any:
        items = original(self)
        tested.append(len(items))
        return items

    Table.all_items = counting  # type: ignore[method-assign]
    try:
        yield tested
    finally:
        Table.all_items = original  # type: ignore[method-assign]


def _sk_pages(dynamodb: Any, request: dict[str, Any]) -> list[list[str]]:
    """The sort keys of every page of a Query, following LastEvaluatedKey as a client does."""
    pages: list[list[str]] = []
    while True:
        answer = dynamodb.query(**request)
        pages.append([item["sk"]["S"] for item in answer["Items"]])
        if "LastEvaluatedKey" not in answer:
            return pages
        request = {**request, "ExclusiveStartKey": answer["LastEvaluatedKey"]}


def test_an_index_query_answers_in_index_order_page_by_page(table: Any) -> None:
    songs = [("s1", "a", "b"), ("s2", "b", "a"), ("s3", "a", "a"), ("s4", "a", "c"), ("s5", "a", "a")]
    for song, artist, title in songs:
        _put(table, song, artist, title)
    assert _by_artist(table, "a") == ["s3", "s5", "s1", "s4"]
    assert _by_artist(table, "a", forward=False) == ["s4", "s1", "s5", "s3"]
    assert _by_artist(table, "b", page=10) == ["s2"]
    assert _by_artist(table, "nobody") == []
    range_condition = {
        "KeyConditionExpression": "gsi1pk = :artist AND begins_with(gsi1sk, :a)",
        "ExpressionAttributeValues": {":a": {"S": "a#"}},
    }
    assert _by_artist(table, "a", page=1, **range_condition) == ["s3", "s5"]


def test_an_index_query_sees_every_change_made_after_the_first_query(table: Any) -> None:
    _put(table, "s1", "a", "one")
    _put(table, "s2", "a", "two")
    assert _by_artist(table, "a") == ["s1", "s2"]  # the first query maps the index

    _put(table, "s3", "a", "three")  # a new item
    _put(table, "s1", "b", "one")  # replaced under another artist
    table.update_item(  # changed in place to another artist
        TableName="catalog",
        Key={"pk": {"S": "SONG#s2"}, "sk": {"S": "META"}},
        UpdateExpression="SET gsi1pk = :b",
        ExpressionAttributeValues={":b": {"S": "ARTIST#b"}},
    )
    table.update_item(  # created by an update
        TableName="catalog",
        Key={"pk": {"S": "SONG#s4"}, "sk": {"S": "META"}},
        UpdateExpression="SET gsi1pk = :a, gsi1sk = :t",
        ExpressionAttributeValues={":a": {"S": "ARTIST#a"}, ":t": {"S": "four#s4"}},
    )
    assert _by_artist(table, "a") == ["s4", "s3"]
    assert _by_artist(table, "b") == ["s1", "s2"]

    table.delete_item(TableName="catalog", Key={"pk": {"S": "SONG#s3"}, "sk": {"S": "META"}})
    table.batch_write_item(
        RequestItems={
            "catalog": [
                {
                    "PutRequest": {
                        "Item": {
                            "pk": {"S": "SONG#s5"},
                            "sk": {"S": "META"},
                            "gsi1pk": {"S": "ARTIST#a"},
                            "gsi1sk": {"S": "five#s5"},
                        }
                    }
                }
            ]
        }
    )
    assert _by_artist(table, "a") == ["s5", "s4"]


def test_an_index_query_sees_an_item_a_failed_transaction_restored(table: Any) -> None:
    _put(table, "s1", "a", "one")
    assert _by_artist(table, "a") == ["s1"]
    with pytest.raises(table.exceptions.TransactionCanceledException):
        table.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "catalog",
                        "Key": {"pk": {"S": "SONG#s1"}, "sk": {"S": "META"}},
                        "UpdateExpression": "SET gsi1pk = :b",
                        "ExpressionAttributeValues": {":b": {"S": "ARTIST#b"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "catalog",
                        "Key": {"pk": {"S": "SONG#missing"}, "sk": {"S": "META"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert _by_artist(table, "a") == ["s1"]
    assert _by_artist(table, "b") == []


def test_an_index_query_reads_only_the_queried_partition(table: Any) -> None:
    """The artist's songs are the query's candidates, not every item of the table."""
    from moto.dynamodb.models import dynamodb_backends

    for number in range(50):
        _put(table, f"s{number}", "other", f"t{number}")
    _put(table, "mine", "a", "one")
    model = dynamodb_backends["123456789012"]["us-east-1"].get_table("catalog")
    assert len(model.all_items()) == 51
    assert _by_artist(table, "a") == ["mine"]  # the first query on the index maps it: one walk
    _put(table, "later", "a", "two")
    with _candidates_counted() as tested:
        assert _by_artist(table, "a") == ["mine", "later"]
    assert tested == [2]


def test_a_table_query_reads_only_the_queried_partition(table: Any) -> None:
    """A Query on the table's own key tests the partition's items, in key order, page by page."""
    for number in range(30):
        _put(table, f"s{number:02}", "other", f"t{number}")
    for sk in ("c", "a", "b"):
        table.put_item(TableName="catalog", Item={"pk": {"S": "PL#1"}, "sk": {"S": sk}})
    with _candidates_counted() as tested:
        request = {"TableName": "catalog", "KeyConditionExpression": "pk = :pk", "Limit": 2}
        pages = _sk_pages(table, {**request, "ExpressionAttributeValues": {":pk": {"S": "PL#1"}}})
        backwards = table.query(
            TableName="catalog",
            KeyConditionExpression="pk = :pk AND sk > :a",
            ExpressionAttributeValues={":pk": {"S": "PL#1"}, ":a": {"S": "a"}},
            ScanIndexForward=False,
        )
        absent = table.query(
            TableName="catalog", KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "none"}}
        )
    assert pages == [["a", "b"], ["c"]]
    assert [item["sk"]["S"] for item in backwards["Items"]] == ["c", "b"]
    assert absent["Items"] == []
    assert max(tested) <= 3  # never the table's 33 items


def test_a_query_tests_only_the_items_meeting_its_range_condition(table: Any) -> None:
    """A queue read (`begins_with(sk, QUEUE#)`) in a partition of a thousand log entries sizes and sorts
    the queue, not the log; a sparse index's items without its range key are never candidates; the
    answers and pages are moto's."""
    for version in range(200):
        table.put_item(TableName="catalog", Item={"pk": {"S": "PL#1"}, "sk": {"S": f"LOG#{version:010d}"}})
    for queued in ("QUEUE#3", "QUEUE#1", "QUEUE#2"):
        table.put_item(TableName="catalog", Item={"pk": {"S": "PL#1"}, "sk": {"S": queued}})
    for song in ("x", "y"):
        _put(table, song, "sparse", song)
    table.put_item(
        TableName="catalog", Item={"pk": {"S": "SONG#z"}, "sk": {"S": "META"}, "gsi1pk": {"S": "ARTIST#sparse"}}
    )
    assert _by_artist(table, "nobody") == []  # the index's map is built by its first query: one walk
    with _candidates_counted() as tested:
        request = {"TableName": "catalog", "Limit": 2, "ConsistentRead": True}
        request["KeyConditionExpression"] = "pk = :pk AND begins_with(sk, :queue)"
        pages = _sk_pages(
            table, {**request, "ExpressionAttributeValues": {":pk": {"S": "PL#1"}, ":queue": {"S": "QUEUE#"}}}
        )
        between = table.query(
            TableName="catalog",
            KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={
                ":pk": {"S": "PL#1"},
                ":a": {"S": "LOG#0000000005"},
                ":b": {"S": "LOG#0000000007"},
            },
            ScanIndexForward=False,
        )
        sparse = _by_artist(table, "sparse")
    assert pages == [["QUEUE#1", "QUEUE#2"], ["QUEUE#3"]]
    assert [item["sk"]["S"] for item in between["Items"]] == [f"LOG#{v:010d}" for v in (7, 6, 5)]
    assert sparse == ["x", "y"]  # z has no gsi1sk: not in the index
    assert max(tested) <= 3, tested  # never the partition's 203 items


def test_a_projected_query_answers_the_named_attributes_and_leaves_the_items_whole(table: Any) -> None:
    for sk, pos in (("ITEM#b", "a2"), ("ITEM#a", "a1")):
        table.put_item(
            TableName="catalog", Item={"pk": {"S": "PL#1"}, "sk": {"S": sk}, "pos": {"S": pos}, "by": {"S": "me"}}
        )
    projected = table.query(
        TableName="catalog",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "PL#1"}},
        ProjectionExpression="sk, pos",
        ConsistentRead=True,
    )["Items"]
    assert projected == [{"sk": {"S": "ITEM#a"}, "pos": {"S": "a1"}}, {"sk": {"S": "ITEM#b"}, "pos": {"S": "a2"}}]
    whole = table.query(
        TableName="catalog", KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "PL#1"}}
    )["Items"]
    assert [sorted(item) for item in whole] == [["by", "pk", "pos", "sk"]] * 2


@pytest.mark.parametrize("kind", ["S", "N", "B"])
def test_a_range_condition_keeps_the_items_moto_would_keep(kind: str) -> None:
    """The range condition tested with its operands cast once (and a string key read as it is) keeps
    the same items, in the same order, as moto's own `compare` item by item: for every comparison a
    key condition can make, on strings, numbers and binaries, with items lacking the key left out."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from devstack.moto_index_queries import _meeting_the_range_condition

    def value(n: int) -> dict[str, str]:  # numbers below zero too: they sort apart from their text
        return {kind: {"S": f"LOG#{n:03d}", "N": str(n - 20), "B": f"{n:03d}"}[kind]}

    items = [
        Item(hash_key=DynamoType({"S": "PL#1"}), range_key=None, attrs={"pk": {"S": "PL#1"}, "sk": value(n)})
        for n in (7, 3, 12, 40, 5, 5, 31)
    ]
    items.append(Item(hash_key=DynamoType({"S": "PL#1"}), range_key=None, attrs={"pk": {"S": "PL#1"}}))
    conditions = [
        (None, []),
        ("EQ", [value(5)]),
        ("LT", [value(12)]),
        ("LE", [value(12)]),
        ("GT", [value(7)]),
        ("GE", [value(7)]),
        ("BETWEEN", [value(4), value(31)]),
    ]
    if kind != "N":
        conditions.append(("BEGINS_WITH", [{kind: value(30)[kind][:-1]}]))
    for comparison, operands in conditions:
        arguments = {
            "range_key_conditions": [("sk", comparison)] if comparison else [],
            "range_comparison": comparison,
            "range_objs": [DynamoType(operand) for operand in operands],
        }
        fast = _meeting_the_range_condition(items, "sk", arguments)
        each = _meeting_the_range_condition(items, "sk", arguments, each=True)
        assert [id(item) for item in fast] == [id(item) for item in each], comparison
        assert len(each) < len(items), comparison  # the condition (or the missing key) leaves some out


def test_a_local_index_query_reads_the_partition_and_answers_in_index_order(table: Any) -> None:
    """A local index (a playlist's `byPosition`) shares its table's partition key: its candidates are
    the queried partition's items holding the index's range key, whatever was put, moved, replaced or
    deleted since, paged forward and backward in index order; the other partitions are never read."""

    def put(pk: str, sk: str, pos: str | None) -> None:
        item = {"pk": {"S": pk}, "sk": {"S": sk}} | ({"pos": {"S": pos}} if pos else {})
        table.put_item(TableName="catalog", Item=item)

    expected: dict[str, str] = {}
    for n in range(30):
        put("PL#1", f"ITEM#{n:02d}", f"a{(n * 7) % 30:02d}")
        expected[f"ITEM#{n:02d}"] = f"a{(n * 7) % 30:02d}"
        put("PL#2", f"ITEM#{n:02d}", f"a{n:02d}")  # another playlist: never among the answers
    put("PL#1", "META", None)  # no position: not in the index
    for n in range(0, 30, 4):  # moved
        table.update_item(
            TableName="catalog",
            Key={"pk": {"S": "PL#1"}, "sk": {"S": f"ITEM#{n:02d}"}},
            UpdateExpression="SET pos = :pos",
            ExpressionAttributeValues={":pos": {"S": f"b{n:02d}"}},
        )
        expected[f"ITEM#{n:02d}"] = f"b{n:02d}"
    for n in range(1, 30, 5):  # removed
        table.delete_item(TableName="catalog", Key={"pk": {"S": "PL#1"}, "sk": {"S": f"ITEM#{n:02d}"}})
        del expected[f"ITEM#{n:02d}"]
    put("PL#1", "ITEM#02", "c00")  # replaced whole
    expected["ITEM#02"] = "c00"
    in_order = sorted(expected, key=lambda sk: expected[sk])
    request = {
        "TableName": "catalog",
        "IndexName": "byPosition",
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "PL#1"}},
        "ConsistentRead": True,
        "Limit": 4,
    }
    with _candidates_counted() as tested:
        forward = _sk_pages(table, request)
        backward = _sk_pages(table, {**request, "ScanIndexForward": False})
        after = table.query(
            **{
                **request,
                "Limit": 100,
                "KeyConditionExpression": "pk = :pk AND pos > :pos",
                "ExpressionAttributeValues": {":pk": {"S": "PL#1"}, ":pos": {"S": "b"}},
            }
        )
    assert [sk for page in forward for sk in page] == in_order
    assert [sk for page in backward for sk in page] == in_order[::-1]
    assert [item["sk"]["S"] for item in after["Items"]] == [sk for sk in in_order if expected[sk] > "b"]
    assert max(tested) <= 31, tested  # the partition's 31 items at most, never the table's 61
