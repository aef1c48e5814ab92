"""The play record: one item per play (sk ``PLAY#<playId>``) that a play's events fold into.

Folding is idempotent and order-tolerant: an event whose eventId the record already holds changes
nothing; `playedMs` is the largest reported, `startedAt` the earliest `occurredAt`, `lastEventAt` the
latest. A play that the client ended (`end` -> completed, `skip` -> skipped) is closed at that
event's time: an event that occurred later (a `progress` sent after `end`) is recorded as seen but
does not reopen it or change what was listened. A play can also be closed as `abandoned` by the
listener's other activity (`backbeat.plays.verdicts`); a late `end` or `skip` still says how it
really ended.

These functions are plain Python over the item as a dict (camelCase, as stored); the verdict
(`billable`, `reason`) is set by `backbeat.plays.verdicts`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from backbeat.plays.events import BILLABLE_MS, StreamedEvent

PLAY_PREFIX = "PLAY#"
CLIENT_ENDINGS = {"end": "completed", "skip": "skipped"}
ABANDONED = "abandoned"
# Reasons before the verdict: still open under 30 s, or ended under 30 s.
OPEN, SHORT = "open", "short"
PlayRecord = dict[str, Any]


def play_key(play_id: str) -> str:
    return f"{PLAY_PREFIX}{play_id}"


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso_ms(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and "Z": sorts as text in time order (the byStartedAt index)."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc(moment).microsecond // 1000:03d}Z"


def epoch_ms(moment: datetime | str) -> int:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return int(utc(moment).timestamp() * 1000)


def new_play_record(event: StreamedEvent, retention_days: int) -> PlayRecord:
    """An empty record for the event's play, before the event is folded in."""
    at = iso_ms(event.occurredAt)
    return {
        "userId": event.userId,
        "sk": play_key(str(event.playId)),
        "playId": str(event.playId),
        "songId": event.songId,
        "artistId": event.artistId,
        "genres": list(event.genres),
        "tier": event.tier,
        "country": event.country,
        "deviceId": event.deviceId,
        "deviceType": event.deviceType,
        "contextType": event.context.type,
        "contextId": event.context.id,
        "startedAt": at,
        "lastEventAt": at,
        "receivedAt": iso_ms(event.receivedAt),
        "playedMs": 0,
        "durationMs": event.durationMs,
        "bitrateKbps": event.bitrateKbps,
        "ended": None,
        "endedAt": None,
        "billable": False,
        "reason": OPEN,
        "events": 0,
        "version": 0,
        "eventIds": set(),
        "expiresAt": expiry(at, retention_days),
    }


def expiry(last_event_at: str, retention_days: int) -> int:
    return epoch_ms(last_event_at) // 1000 + retention_days * 86_400


def is_closed_by_client(record: PlayRecord) -> bool:
    return record["ended"] in CLIENT_ENDINGS.values()


def fold_event(record: PlayRecord, event: StreamedEvent, retention_days: int) -> bool:
    """Apply one event to its play's record; False (and no change) when it was applied before."""
    event_id = str(event.eventId)
    if event_id in record["eventIds"]:
        return False
    record["eventIds"] = {*record["eventIds"], event_id}
    record["events"] += 1
    record["version"] += 1
    changed_for(record, event)
    at = iso_ms(event.occurredAt)
    record["receivedAt"] = max(record["receivedAt"], iso_ms(event.receivedAt))
    if is_closed_by_client(record) and at > record["endedAt"]:
        return True  # seen, but it happened after the play ended: it does not reopen it
    if at < record["startedAt"]:
        record["startedAt"] = at
    if at >= record["lastEventAt"]:
        record["lastEventAt"] = at
        record["bitrateKbps"] = event.bitrateKbps
        record["expiresAt"] = expiry(at, retention_days)
    record["playedMs"] = max(int(record["playedMs"]), event.playedMs)
    ending = CLIENT_ENDINGS.get(event.type)
    if ending and not is_closed_by_client(record):
        record["ended"], record["endedAt"] = ending, at
    if record["ended"] and record["reason"] == OPEN:
        record["reason"] = SHORT
    return True


def changed_for(record: PlayRecord, event: StreamedEvent) -> None:
    """`event` changed the record: its request's correlation id, or none, is the record's now (the
    table's stream hands it to the consumers, which log the change under it; decision 44)."""
    if event.correlationId:
        record["correlationId"] = event.correlationId
    else:
        record.pop("correlationId", None)


def abandon(record: PlayRecord) -> bool:
    """Close an open play that its device or listener left without ending it."""
    if record["ended"] is not None:
        return False
    record["ended"] = ABANDONED
    record["version"] += 1
    if record["reason"] == OPEN:
        record["reason"] = SHORT
    return True


def awaits_verdict(record: PlayRecord) -> bool:
    """Listened 30 s or more and not judged yet (the moment a play turns billable, or not)."""
    return record["reason"] in (OPEN, SHORT) and int(record["playedMs"]) >= BILLABLE_MS
