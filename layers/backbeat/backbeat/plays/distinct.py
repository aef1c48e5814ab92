"""Distinct members over sliding windows, exactly, by *latest bucket*.

Each member of a scope (a play of a song, a listener of an artist) remembers the latest bucket (a
minute, a day) it was seen in, and each bucket counts the members whose latest bucket it is. Seeing
a member in a later bucket moves it in one transaction (member P -> B, conditional on P; count[B]
+1; count[P] -1), so the distinct members seen in a window that ends now are exactly the sum of the
window's buckets: one Query of (buckets x shards) small items, whatever the audience. A member that
leaves (a play that ended) stops counting at once and never comes back.

Items: ``<scope>#M`` / member (seenIn, left) and ``<scope>#C`` / ``<bucket>#<shard>`` (members).
Buckets are strings that sort in time order (ISO dates and minutes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from backbeat.aws import client
from backbeat.plain import from_image
from backbeat.plays.counter_store import (
    add,
    cancellation_codes,
    counters_table,
    epoch,
    expression_values,
    key,
    query,
    shard,
)

MAX_ATTEMPTS = 6  # optimistic retries of a move that raced another writer

_UNCHANGED = "seenIn = :previous AND attribute_not_exists(#left)"  # as read, and still counted


def _member(scope: str, member: str) -> dict[str, Any]:
    answer = client("dynamodb").get_item(TableName=counters_table(), Key=key(f"{scope}#M", member), ConsistentRead=True)
    return from_image(answer.get("Item"))


def move_member(scope: str, member: str, bucket: str, *, member_expires: datetime, bucket_expires: datetime) -> bool:
    """Record that `member` of `scope` was seen in `bucket`; a no-op when it was already seen in this
    bucket or a later one, or has left. True when the counts changed."""
    for _ in range(MAX_ATTEMPTS):
        current = _member(scope, member)
        previous = current.get("seenIn")
        if current.get("left") or (previous is not None and str(previous) >= bucket):
            return False
        condition = "attribute_not_exists(pk)" if previous is None else _UNCHANGED
        attribute_values = expression_values(bucket=bucket, expiresAt=epoch(member_expires))
        if previous is not None:
            attribute_values.update(expression_values(previous=previous))
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": counters_table(),
                    "Key": key(f"{scope}#M", member),
                    "UpdateExpression": "SET seenIn = :bucket, expiresAt = :expiresAt",
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": attribute_values,
                    **({"ExpressionAttributeNames": {"#left": "left"}} if previous is not None else {}),
                }
            },
            add(f"{scope}#C", f"{bucket}#{shard(member)}", bucket_expires, members=1),
        ]
        if previous is not None:
            items.append(add(f"{scope}#C", f"{previous}#{shard(member)}", bucket_expires, members=-1))
        if _applied(items):
            return True
    raise RuntimeError(f"{scope}: {member} kept changing under {MAX_ATTEMPTS} attempts")


def leave(scope: str, member: str, *, member_expires: datetime) -> bool:
    """`member` is no longer counted (a play that ended); it does not come back. True when it left."""
    for _ in range(MAX_ATTEMPTS):
        current = _member(scope, member)
        if not current or current.get("left"):
            return False  # never counted (a play that ended before it was seen), or gone already
        previous = str(current["seenIn"])
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": counters_table(),
                    "Key": key(f"{scope}#M", member),
                    "UpdateExpression": "SET #left = :left, expiresAt = :expiresAt",
                    "ConditionExpression": _UNCHANGED,
                    "ExpressionAttributeNames": {"#left": "left"},
                    "ExpressionAttributeValues": expression_values(
                        left=True, expiresAt=epoch(member_expires), previous=previous
                    ),
                }
            },
            add(f"{scope}#C", f"{previous}#{shard(member)}", member_expires, members=-1),
        ]
        if _applied(items):
            return True
    raise RuntimeError(f"{scope}: {member} kept changing under {MAX_ATTEMPTS} attempts")


def _applied(items: list[dict[str, Any]]) -> bool:
    """Run a latest-bucket transaction; False when the member changed since it was read (retry)."""
    try:
        client("dynamodb").transact_write_items(TransactItems=items)
    except ClientError as error:
        codes = cancellation_codes(error)
        if "ConditionalCheckFailed" in codes or "TransactionConflict" in codes:
            return False
        raise
    return True


def count_members(scope: str, first_bucket: str, last_bucket: str) -> int:
    """Members of `scope` whose latest bucket is in [first_bucket, last_bucket]."""
    total = 0
    for item in query(f"{scope}#C", f"{first_bucket}#", f"{last_bucket}#~"):
        total += int(item.get("members", 0))
    return max(total, 0)
