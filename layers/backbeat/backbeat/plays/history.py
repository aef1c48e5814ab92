"""History: a listener's plays newest first (the byStartedAt index of the plays table), cursor-paged,
in the shape of Spotify's recently-played endpoint.

The cursor is opaque to clients: the last item's place in the index (startedAt and sort key),
base64url JSON; the listener always comes from the token, never from the cursor.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from backbeat.aws import client
from backbeat.errors import InvalidInput
from backbeat.plain import from_image
from backbeat.plays.records import PLAY_PREFIX, PlayRecord

BY_STARTED_AT = "byStartedAt"
MAX_LIMIT = 50


def encode_cursor(record: PlayRecord) -> str:
    place = json.dumps({"startedAt": record["startedAt"], "sk": record["sk"]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(place.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, str]:
    try:
        place = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        started_at, sk = place["startedAt"], place["sk"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidInput("before: not a cursor this endpoint returned", "before") from None
    if not (isinstance(started_at, str) and isinstance(sk, str) and sk.startswith(PLAY_PREFIX)):
        raise InvalidInput("before: not a cursor this endpoint returned", "before")
    return {"startedAt": started_at, "sk": sk}


def play_records(
    table: str, user_id: str, limit: int, before: str | None = None
) -> tuple[list[PlayRecord], str | None]:
    """Up to `limit` play records of the listener, newest first, older than the cursor `before`;
    and the cursor of the next page (None at the end)."""
    request: dict[str, Any] = {
        "TableName": table,
        "IndexName": BY_STARTED_AT,
        "KeyConditionExpression": "userId = :user",
        "ExpressionAttributeValues": {":user": {"S": user_id}},
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if before:
        place = decode_cursor(before)
        request["ExclusiveStartKey"] = {
            "userId": {"S": user_id},
            "sk": {"S": place["sk"]},
            "startedAt": {"S": place["startedAt"]},
        }
    records: list[PlayRecord] = []
    while len(records) < limit:
        response = client("dynamodb").query(**{**request, "Limit": limit - len(records)})
        records += [from_image(item) for item in response.get("Items", [])]
        if "LastEvaluatedKey" not in response:
            return records, None
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return records, encode_cursor(records[-1])


def play_item_view(record: PlayRecord, track: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "track": track,
        "playedAt": record["startedAt"],
        "context": {"type": record.get("contextType"), "id": record.get("contextId")},
        "playId": record["playId"],
        "playedMs": int(record["playedMs"]),
        "ended": record.get("ended"),
        "billable": bool(record["billable"]),
        "reason": record["reason"],
    }


def recently_played(
    table: str,
    user_id: str,
    limit: int,
    before: str | None,
    song_views: Callable[[list[str]], dict[str, dict[str, Any]]],
) -> dict[str, Any]:
    """GET /me/recently-played: each play with its song's catalog view (`track`; null for a song no
    longer in the catalog), when it started (`playedAt`), its context and verdict."""
    records, next_cursor = play_records(table, user_id, limit, before)
    tracks = song_views([record["songId"] for record in records])
    return {
        "items": [play_item_view(record, tracks.get(record["songId"])) for record in records],
        "limit": limit,
        "cursors": {"before": next_cursor},
        "next": f"/me/recently-played?limit={limit}&before={next_cursor}" if next_cursor else None,
    }
