"""Play record changes (the plays table's stream) -> the plays delivery stream, one JSON line per
change. Every version of a play goes to the lake (the `plays` view keeps the latest), so a stream
retry that sends a change twice is harmless."""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

PLAY_PREFIX = "PLAY#"
PUT_BATCH_LIMIT = 500  # PutRecordBatch takes at most 500 records (and 4 MiB)
PUT_ATTEMPTS = 3
# Table bookkeeping that is not part of the play (the key's sort half and the TTL).
_NOT_IN_LAKE = frozenset({"sk", "expiresAt", "correlationId"})  # the lake's columns stay the plays' own

_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(_plain(item) for item in value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def lake_line(record: dict[str, Any]) -> bytes | None:
    """The JSON line for one stream record, or None when it is not a play's new state (another kind
    of item of the table, or a removal: TTL expiry does not erase history from the lake)."""
    change = record.get("dynamodb") or {}
    image = change.get("NewImage")
    if record.get("eventName") not in ("INSERT", "MODIFY") or not image:
        return None
    item = {key: _deserializer.deserialize(value) for key, value in image.items()}
    if not str(item.get("sk", "")).startswith(PLAY_PREFIX):
        return None
    play = {key: _plain(value) for key, value in item.items() if key not in _NOT_IN_LAKE}
    return json.dumps(play, separators=(",", ":")).encode("utf-8") + b"\n"


def deliver(firehose: Any, stream: str, lines: Iterable[tuple[str, bytes]]) -> set[str]:
    """Put (id, line) pairs on the delivery stream in batches, retrying the records Firehose
    refused; the ids of those still refused after `PUT_ATTEMPTS` (the caller reports them failed)."""
    pending = list(lines)
    failed: set[str] = set()
    for start in range(0, len(pending), PUT_BATCH_LIMIT):
        batch = pending[start : start + PUT_BATCH_LIMIT]
        for _attempt in range(PUT_ATTEMPTS):
            response = firehose.put_record_batch(
                DeliveryStreamName=stream, Records=[{"Data": line} for _, line in batch]
            )
            if not response.get("FailedPutCount"):
                batch = []
                break
            batch = [
                entry
                for entry, answer in zip(batch, response["RequestResponses"], strict=True)
                if answer.get("ErrorCode")
            ]
        failed.update(record_id for record_id, _ in batch)
    return failed
