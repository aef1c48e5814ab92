"""Data access for the counters table (hash `pk`, range `sk`, TTL `expiresAt`): the table's name
bound at cold start, and the few low-level requests every counter is made of. A counter update is a
TransactWriteItems whose first item is a conditional marker put (`once`): a marker already there
cancels the whole transaction, which is how every count is applied exactly once."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from backbeat.aws import client
from backbeat.plain import from_image

COUNTER_SHARDS = 8  # bucket counts and the day index are spread over this many items (hot keys)

_SERIALIZER = TypeSerializer()
_table_name = "unbound"  # set by bind_counters_table() at cold start


def bind_counters_table(table_name: str) -> None:
    global _table_name
    _table_name = table_name


def counters_table() -> str:
    return _table_name


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def shard(member: str) -> int:
    return zlib.crc32(member.encode("utf-8")) % COUNTER_SHARDS


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def expression_values(**values: Any) -> dict[str, Any]:
    return {f":{name}": _SERIALIZER.serialize(value) for name, value in values.items()}


def marker(pk: str, sk: str, expires_at: datetime) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": _table_name,
            "Item": {**key(pk, sk), "expiresAt": {"N": str(epoch(expires_at))}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def add(
    pk: str, sk: str, expires_at: datetime, also_set: dict[str, str] | None = None, **amounts: int
) -> dict[str, Any]:
    """ADD `amounts` to an item (created on first use, with its expiry); SET `also_set` too."""
    adds = ", ".join(f"{name} :{name}" for name in amounts)
    sets = "".join(f", {name} = :{name}" for name in also_set or {})
    return {
        "Update": {
            "TableName": _table_name,
            "Key": key(pk, sk),
            "UpdateExpression": f"ADD {adds} SET expiresAt = if_not_exists(expiresAt, :expiresAt){sets}",
            "ExpressionAttributeValues": expression_values(expiresAt=epoch(expires_at), **amounts, **(also_set or {})),
        }
    }


def cancellation_codes(error: ClientError) -> list[str]:
    """The per-item reasons of a cancelled transaction ("ConditionalCheckFailed", "None", ...)."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        raise error
    return [str(reason.get("Code")) for reason in error.response.get("CancellationReasons") or []]


def once(items: list[dict[str, Any]]) -> bool:
    """Run a transaction whose first item is a marker put; False when the marker was already there."""
    try:
        client("dynamodb").transact_write_items(TransactItems=items)
    except ClientError as error:
        codes = cancellation_codes(error)
        if codes and codes[0] == "ConditionalCheckFailed":
            return False
        raise  # a conflict with another transaction or throttling: the stream retries the record
    return True


def query(pk: str, first_sk: str, last_sk: str) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {
        "TableName": _table_name,
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
        "ExpressionAttributeValues": expression_values(pk=pk, first=first_sk, last=last_sk),
    }
    while True:
        page = client("dynamodb").query(**request)
        for item in page.get("Items", []):
            yield from_image(item)
        if not page.get("LastEvaluatedKey"):
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
