"""Playback ingest: a client's batch of playback events -> the playback events stream, once each.

Every event is judged on its own (one bad event never rejects its neighbours): malformed, unknown
song, `occurredAt` outside the accepted window, or `playedMs`/`positionMs` past the song's length are
answered `rejected` with the field and the reason. Good events are enriched into `StreamedEvent`s
(listener, tier now, viewer country, receive time, the song's artist, length and genres) and put on
the stream.

Nothing is lost if the function dies at any point, because the steps run in this order:

1. read the eventId markers (`EventIdsTable`) of the batch: events already put are `duplicate`;
2. put the other events on the stream (PutRecords, partitioned by listener), retrying the entries a
   partial failure refused, with backoff; what is still refused is answered `retry` (the client
   sends it again) and, when nothing went at all, the whole request is a 503;
3. write the markers of what the stream accepted.

A crash between 2 and 3 leaves events on the stream without markers: the client, having had no
answer, resends them and they are put a second time. So the stream is at-least-once, and its
consumers drop what they have already applied by `eventId` (docs/decisions.md, 29). The markers make
the ordinary retry (an answer lost on the network, an outbox resent after a restart) cheap and keep
nearly all duplicates off the stream; they are not what makes the consumers exactly-once.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError
from pynamodb.exceptions import DoesNotExist, PynamoDBException

from backbeat.aws import client
from backbeat.catalog.service import SongFacts
from backbeat.errors import ServiceUnavailable
from backbeat.identity.models import UserItem
from backbeat.observability import correlation_id, count, logger
from backbeat.payloads import describe
from backbeat.plays.events import PlaybackEvent, StreamedEvent, Tier

Status = Literal["accepted", "duplicate", "rejected", "retry"]

UNKNOWN_COUNTRY = "unknown"
VIEWER_COUNTRY_HEADER = "cloudfront-viewer-country"
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_BATCH_WRITE_ITEMS = 25  # DynamoDB BatchWriteItem's limit per request
_BATCH_GET_KEYS = 100


@dataclass(frozen=True)
class IngestRules:
    """What an event must satisfy beyond its shape.

    `length_tolerance_ms`: the catalog length comes from the master's metadata, while a player counts
    what it played by its own clock over segments that end on whole AAC frames (and carry encoder
    padding), so a listen to the very end can read a second or so past the catalog length; 2 s
    absorbs that without letting through a play that could not have happened."""

    retention: timedelta = timedelta(days=30)
    max_ahead: timedelta = timedelta(minutes=5)
    length_tolerance_ms: int = 2_000
    # Markers outlive the window in which their event could still be accepted by this margin
    # (clock skew between the client's occurredAt and ours, and a day of slack).
    marker_margin: timedelta = timedelta(days=1)


@dataclass(frozen=True)
class Listener:
    """Who sent the batch, as the service knows them at receive time."""

    user_id: str
    tier: Tier
    country: str


@dataclass(frozen=True)
class EventResult:
    event_id: str | None
    status: Status
    field: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"eventId": self.event_id, "status": self.status}
        if self.field is not None:
            answer["field"] = self.field
        if self.reason is not None:
            answer["reason"] = self.reason
        return answer


@dataclass
class IngestAnswer:
    results: list[EventResult] = field(default_factory=list)

    def total(self, status: Status) -> int:
        return sum(1 for result in self.results if result.status == status)

    def as_dict(self) -> dict[str, Any]:
        return {
            "results": [result.as_dict() for result in self.results],
            "accepted": self.total("accepted"),
            "duplicates": self.total("duplicate"),
            "rejected": self.total("rejected"),
            "retry": self.total("retry"),
        }


def viewer_country(headers: Mapping[str, str] | None) -> str:
    """The ISO 3166 alpha-2 country CloudFront put in the request, else "unknown"."""
    for name, value in (headers or {}).items():
        if name.lower() == VIEWER_COUNTRY_HEADER:
            country = str(value).strip().upper()
            return country if _COUNTRY.match(country) else UNKNOWN_COUNTRY
    return UNKNOWN_COUNTRY


def listener_tier(user_id: str) -> Tier:
    """The listener's tier now (the users table); a user without a record yet listens as free."""
    try:
        tier = UserItem.get(user_id, attributes_to_get=["tier"]).tier
    except DoesNotExist:
        return "free"
    except PynamoDBException as error:
        raise ServiceUnavailable("the users table is unavailable; send the batch again") from error
    return "premium" if tier == "premium" else "free"


def _backoff(attempt: int, base_seconds: float) -> float:
    """Full jitter: a random delay up to base * 2^attempt, so retrying writers spread out."""
    return random.uniform(0, base_seconds * 2**attempt)


class EventIdMarkers:
    """The eventIds already put on the stream (`EventIdsTable`: hash `eventId`, TTL `expiresAt`)."""

    def __init__(self, table: str, *, attempts: int = 4, base_delay: float = 0.05) -> None:
        self.table = table
        self.attempts = attempts
        self.base_delay = base_delay

    def seen(self, event_ids: Sequence[str]) -> set[str]:
        """Which of `event_ids` have a marker (strongly consistent: a retry right after a put sees it)."""
        dynamodb = client("dynamodb")
        found: set[str] = set()
        unique = sorted(set(event_ids))
        try:
            for start in range(0, len(unique), _BATCH_GET_KEYS):
                keys = [{"eventId": {"S": event_id}} for event_id in unique[start : start + _BATCH_GET_KEYS]]
                request: dict[str, Any] = {
                    self.table: {"Keys": keys, "ProjectionExpression": "eventId", "ConsistentRead": True}
                }
                for attempt in range(self.attempts * 2):
                    answer = dynamodb.batch_get_item(RequestItems=request)
                    found.update(item["eventId"]["S"] for item in answer.get("Responses", {}).get(self.table, []))
                    request = answer.get("UnprocessedKeys") or {}
                    if not request:
                        break
                    time.sleep(_backoff(attempt, self.base_delay))
                if request:
                    raise ServiceUnavailable("the event id table is throttling; send the batch again")
        except (ClientError, BotoCoreError) as error:
            raise ServiceUnavailable("the event id table is unavailable; send the batch again") from error
        return found

    def remember(self, events: Sequence[StreamedEvent], expires_at: Callable[[StreamedEvent], int]) -> int:
        """Write the markers of `events`; the number that could not be written (their events are on the
        stream all the same: a resend would put them twice, which the consumers absorb)."""
        dynamodb = client("dynamodb")
        unwritten = 0
        for start in range(0, len(events), _BATCH_WRITE_ITEMS):
            chunk = events[start : start + _BATCH_WRITE_ITEMS]
            puts = [
                {"PutRequest": {"Item": {"eventId": {"S": str(e.eventId)}, "expiresAt": {"N": str(expires_at(e))}}}}
                for e in chunk
            ]
            request: dict[str, Any] = {self.table: puts}
            try:
                for attempt in range(self.attempts):
                    request = dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                    if not request:
                        break
                    time.sleep(_backoff(attempt, self.base_delay))
            except (ClientError, BotoCoreError):
                logger.exception("event id markers not written", extra={"events": len(chunk)})
                unwritten += len(chunk)
                continue
            unwritten += len(request.get(self.table, []))
        return unwritten


class PlaybackStream:
    """The playback events stream (Kinesis), written with PutRecords."""

    def __init__(self, stream_name: str, *, attempts: int = 4, base_delay: float = 0.05) -> None:
        self.stream_name = stream_name
        self.attempts = attempts
        self.base_delay = base_delay

    def put(self, events: Sequence[StreamedEvent]) -> set[str]:
        """Put `events` (each partitioned by its listener); the eventIds the stream accepted. The
        entries a partial failure refused (throttling, an internal error) are put again with backoff;
        a failed call puts them all again. What is still refused after the last attempt is left out."""
        kinesis = client("kinesis")
        pending = list(events)
        accepted: set[str] = set()
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(_backoff(attempt, self.base_delay))
            records = [{"Data": event.to_record(), "PartitionKey": event.partition_key()} for event in pending]
            try:
                answer = kinesis.put_records(StreamName=self.stream_name, Records=records)
            except (ClientError, BotoCoreError) as error:
                logger.warning("PutRecords failed", extra={"error": str(error), "attempt": attempt})
                continue
            refused = []
            for event, entry in zip(pending, answer["Records"], strict=True):
                if entry.get("ErrorCode"):
                    refused.append(event)
                else:
                    accepted.add(str(event.eventId))
            pending = refused
            if not pending:
                break
        return accepted


def _event_id_as_sent(raw: Any) -> str | None:
    value = raw.get("eventId") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def _judge(
    event: PlaybackEvent, event_id: str | None, facts: SongFacts | None, rules: IngestRules, now: datetime
) -> EventResult | None:
    """The rejection of a well-formed event (answered with its eventId as sent), or None when it may go
    on the stream."""

    def reject(field_name: str, reason: str) -> EventResult:
        return EventResult(event_id, "rejected", field_name, reason)

    if facts is None:
        return reject("songId", f"unknown song {event.songId}")
    if event.occurredAt > now + rules.max_ahead:
        minutes = int(rules.max_ahead.total_seconds() // 60)
        return reject("occurredAt", f"more than {minutes} minutes ahead of the server's clock")
    if event.occurredAt < now - rules.retention:
        return reject("occurredAt", f"older than the {rules.retention.days}-day retention")
    limit = facts.playable_ms + rules.length_tolerance_ms
    if event.playedMs > limit:
        return reject("playedMs", f"{event.playedMs} ms played is beyond the song's length ({facts.playable_ms} ms)")
    if event.positionMs > limit:
        return reject("positionMs", f"{event.positionMs} ms is beyond the song's length ({facts.playable_ms} ms)")
    return None


def ingest(
    raw_events: Sequence[Any],
    listener: Listener,
    *,
    rules: IngestRules,
    markers: EventIdMarkers,
    stream: PlaybackStream,
    song_facts: Callable[[Iterable[str]], Mapping[str, SongFacts]],
    now: datetime | None = None,
) -> IngestAnswer:
    """Judge, deduplicate, enrich and put one batch; a result per event, in input order."""
    now = now or datetime.now(UTC)
    results: list[EventResult | None] = [None] * len(raw_events)
    as_sent = [_event_id_as_sent(raw) for raw in raw_events]  # answered as sent (a UUID's case may differ)
    valid: list[tuple[int, PlaybackEvent]] = []
    for index, raw in enumerate(raw_events):
        if not isinstance(raw, dict):
            results[index] = EventResult(None, "rejected", "event", "an event is a JSON object")
            continue
        try:
            valid.append((index, PlaybackEvent.model_validate(raw)))
        except ValidationError as error:
            field_name, message = describe(dict(error.errors()[0]))
            results[index] = EventResult(as_sent[index], "rejected", field_name, message)

    try:
        facts = song_facts(event.songId for _, event in valid) if valid else {}
    except (ClientError, BotoCoreError) as error:
        raise ServiceUnavailable("the catalog is unavailable; send the batch again") from error
    candidates: list[tuple[int, StreamedEvent]] = []
    for index, event in valid:
        song = facts.get(event.songId)
        rejection = _judge(event, as_sent[index], song, rules, now)
        if rejection or song is None:
            results[index] = rejection
            continue
        streamed = StreamedEvent.model_validate(
            {
                **event.model_dump(),
                "userId": listener.user_id,
                "tier": listener.tier,
                "country": listener.country,
                "receivedAt": now,
                "artistId": song.artist_id,
                "durationMs": song.duration_ms,
                "genres": song.genres,
                "correlationId": correlation_id(),
            }
        )
        candidates.append((index, streamed))

    seen = markers.seen([str(event.eventId) for _, event in candidates]) if candidates else set()
    to_put: list[tuple[int, StreamedEvent]] = []
    for index, event in candidates:
        event_id = str(event.eventId)
        if event_id in seen:  # put before, or earlier in this batch
            results[index] = EventResult(as_sent[index], "duplicate")
            continue
        seen.add(event_id)
        to_put.append((index, event))

    accepted = stream.put([event for _, event in to_put]) if to_put else set()
    if to_put and not accepted:
        raise ServiceUnavailable("the playback events stream refused the batch; send it again")
    for index, event in to_put:
        results[index] = EventResult(as_sent[index], "accepted" if str(event.eventId) in accepted else "retry")

    put = [event for _, event in to_put if str(event.eventId) in accepted]
    if put:
        keep_for = rules.retention + rules.marker_margin
        unwritten = markers.remember(put, lambda e: int((e.occurredAt + keep_for).timestamp()))
        if unwritten:
            count("PlaybackEventMarkersUnwritten", unwritten)
            logger.warning("markers missing: a resend would put these events twice", extra={"events": unwritten})
    answered = [result for result in results if result is not None]
    assert len(answered) == len(raw_events), "every event has its result"
    return IngestAnswer(answered)
