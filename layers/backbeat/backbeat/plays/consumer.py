"""The plays consumer: streamed playback events -> play records and the listener's state.

A batch is applied listener by listener (the stream is partitioned by listener, so each one's events
arrive in order). For one listener: read their state item and the records of the plays the events
name (and of the plays open on their devices), fold the events in memory (`backbeat.plays.records`,
`backbeat.plays.verdicts`), and write every changed item in one transaction, each put conditioned on
the version it was read at. An event already folded in (a retried batch) changes nothing and writes
nothing; a concurrent writer makes the transaction fail its condition, and the listener's events are
read and folded again. A failure for one listener leaves the others applied. Listeners are
independent, so a batch's listeners are applied on a few threads side by side.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from backbeat.aws import client
from backbeat.errors import Conflict
from backbeat.observability import logger
from backbeat.plain import from_image
from backbeat.plays.events import StreamedEvent
from backbeat.plays.records import PlayRecord, changed_for, epoch_ms, fold_event, new_play_record, play_key
from backbeat.plays.verdicts import LISTENER_KEY, ListenerState, VerdictRules, settle

# A transaction holds at most 100 items: the plays of a chunk of events, the plays open on the
# listener's devices (at most VerdictRules.devices_kept) and the state item.
PLAYS_PER_TRANSACTION = 40
ATTEMPTS = 5
LOST_RACE = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
_SERIALIZER = TypeSerializer()


class PlaysStore:
    """Reads and conditional writes of one listener's items in the plays table."""

    def __init__(self, table: str) -> None:
        self.table = table

    def load_state(self, user_id: str) -> dict[str, Any] | None:
        response = client("dynamodb").get_item(
            TableName=self.table, Key=self._key(user_id, LISTENER_KEY), ConsistentRead=True
        )
        return from_image(response["Item"]) if "Item" in response else None

    def load_plays(self, user_id: str, play_ids: Iterable[str]) -> dict[str, PlayRecord]:
        keys = [self._key(user_id, play_key(play_id)) for play_id in sorted(set(play_ids))]
        found: dict[str, PlayRecord] = {}
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {self.table: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            while request:
                response = client("dynamodb").batch_get_item(RequestItems=request)
                for image in response["Responses"].get(self.table, []):
                    record = from_image(image)
                    record["eventIds"] = set(record.get("eventIds") or ())
                    found[record["playId"]] = record
                request = response.get("UnprocessedKeys") or {}
        return found

    def save(self, items: list[tuple[dict[str, Any], int | None]]) -> bool:
        """Put every item, each only if it still has the version it was read at (None: new);
        False when another writer got there first, or a concurrent transaction on one of the items
        cancelled this one (nothing is written then: read, fold and try again)."""
        actions = []
        for item, version in items:
            put: dict[str, Any] = {
                "TableName": self.table,
                "Item": {name: _SERIALIZER.serialize(value) for name, value in item.items()},
            }
            if version is None:
                put["ConditionExpression"] = "attribute_not_exists(sk)"
            else:
                put["ConditionExpression"] = "version = :read"
                put["ExpressionAttributeValues"] = {":read": {"N": str(version)}}
            actions.append({"Put": put})
        try:
            client("dynamodb").transact_write_items(TransactItems=actions)
        except ClientError as error:
            reasons = error.response.get("CancellationReasons") or []
            if any(reason.get("Code") in LOST_RACE for reason in reasons):
                return False
            raise
        return True

    @staticmethod
    def _key(user_id: str, sk: str) -> dict[str, Any]:
        return {"userId": {"S": user_id}, "sk": {"S": sk}}


@dataclass(frozen=True)
class Applied:
    """What a batch did: events folded in, events seen before, and the failed records' ids."""

    applied: int
    seen_before: int
    failed: frozenset[str]


def _chunks(events: list[StreamedEvent]) -> Iterator[list[StreamedEvent]]:
    chunk: list[StreamedEvent] = []
    plays: set[str] = set()
    for event in events:
        if str(event.playId) not in plays and len(plays) == PLAYS_PER_TRANSACTION:
            yield chunk
            chunk, plays = [], set()
        chunk.append(event)
        plays.add(str(event.playId))
    if chunk:
        yield chunk


def _apply_once(store: PlaysStore, user_id: str, events: list[StreamedEvent], rules: VerdictRules) -> int | None:
    """Read, fold, write one chunk; the number of events applied, or None on a write conflict."""
    state_item = store.load_state(user_id)
    state = ListenerState.from_item(user_id, state_item)
    wanted = {str(event.playId) for event in events} | {str(entry["playId"]) for entry in state.devices.values()}
    plays = store.load_plays(user_id, wanted)
    read_versions = {play_id: int(record["version"]) for play_id, record in plays.items()}
    changed: dict[str, PlayRecord] = {}
    applied = 0
    for event in events:
        play_id = str(event.playId)
        record = plays.setdefault(play_id, new_play_record(event, rules.retention_days))
        played_before = int(record["playedMs"])
        if not fold_event(record, event, rules.retention_days):
            continue
        applied += 1
        changed[play_id] = record
        for other in settle(state, record, played_before, epoch_ms(event.occurredAt), plays, rules):
            changed_for(other, event)  # closed because of this event
            changed[other["playId"]] = other
    if not changed:
        return 0
    state.version += 1
    items: list[tuple[dict[str, Any], int | None]] = [
        (record, read_versions.get(play_id)) for play_id, record in changed.items()
    ]
    items.append((state.to_item(rules.retention_days), int(state_item["version"]) if state_item else None))
    return applied if store.save(items) else None


def apply_listener_events(store: PlaysStore, user_id: str, events: list[StreamedEvent], rules: VerdictRules) -> int:
    """Fold one listener's events (in stream order) into their plays; the number newly applied."""
    applied = 0
    for chunk in _chunks(events):
        for attempt in range(ATTEMPTS):
            result = _apply_once(store, user_id, chunk, rules)
            if result is not None:
                applied += result
                break
            time.sleep(random.uniform(0, 0.01 * 2**attempt))  # let the other writer finish
        else:
            raise Conflict(f"listener {user_id}: the plays changed under every one of {ATTEMPTS} attempts")
    return applied


def apply_events(
    store: PlaysStore, records: list[tuple[str, StreamedEvent]], rules: VerdictRules, threads: int = 1
) -> Applied:
    """Apply a batch of (record id, event), listeners side by side on `threads` threads (each
    listener's events in order on one); a listener whose write fails has all their records in
    `failed` (the stream delivers them again; what was applied is skipped by eventId)."""
    by_listener: dict[str, list[tuple[str, StreamedEvent]]] = {}
    for record_id, event in records:
        by_listener.setdefault(event.userId, []).append((record_id, event))

    def apply(user_id: str, listener_records: list[tuple[str, StreamedEvent]]) -> int | None:
        try:
            return apply_listener_events(store, user_id, [event for _, event in listener_records], rules)
        except Exception:
            logger.exception("play records not written", extra={"userId": user_id, "events": len(listener_records)})
            return None

    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(by_listener)))) as pool:
        results = list(pool.map(apply, by_listener, by_listener.values()))
    failed = {
        record_id
        for result, listener_records in zip(results, by_listener.values(), strict=True)
        if result is None
        for record_id, _ in listener_records
    }
    applied = sum(result for result in results if result is not None)
    return Applied(applied=applied, seen_before=len(records) - len(failed) - applied, failed=frozenset(failed))
