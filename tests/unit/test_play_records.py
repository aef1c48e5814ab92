"""The plays consumer in-process (moto in memory): playback events from the stream fold into one
record per play, idempotently by eventId, with a verdict (billable, short, duplicate), whatever
order the events come in; a listener whose write fails is reported as a partial batch failure."""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from backbeat.ids import base62_id
from backbeat.plays.events import StreamedEvent
from tests.support import ROOT
from tests.unit.conftest import load_function

LISTENER = "listener-sub-1"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
_SEQUENCE = itertools.count(1)


def song(name: str) -> str:
    return base62_id("song", name)


def event(
    play_id: str,
    kind: str,
    played_ms: int,
    at: datetime,
    *,
    song_id: str | None = None,
    user: str = LISTENER,
    device: str = "phone-1",
    duration_ms: int = 240_000,
) -> StreamedEvent:
    return StreamedEvent.model_validate(
        {
            "eventId": str(uuid.uuid4()),
            "playId": play_id,
            "type": kind,
            "songId": song_id or song("a"),
            "positionMs": played_ms,
            "playedMs": played_ms,
            "bitrateKbps": 160,
            "deviceId": device,
            "deviceType": "mobile",
            "context": {"type": "playlist", "id": "3cEYpjA9oz9GiPac4AsH4n"},
            "occurredAt": at,
            "userId": user,
            "tier": "premium",
            "country": "SE",
            "receivedAt": at + timedelta(seconds=1),
            "artistId": base62_id("artist", "a"),
            "durationMs": duration_ms,
            "genres": ["indie"],
        }
    )


def listen(seconds: float, at: datetime, *, ending: str = "end", **options: Any) -> list[StreamedEvent]:
    """A client's events for one play: start, progress every 15 s, then `ending` at `seconds`."""
    play_id = str(uuid.uuid4())
    played = int(seconds * 1000)
    events = [event(play_id, "start", 0, at, **options)]
    events += [
        event(play_id, "progress", ms, at + timedelta(milliseconds=ms), **options)
        for ms in range(15_000, played, 15_000)
    ]
    events.append(event(play_id, ending, played, at + timedelta(milliseconds=played), **options))
    return events


def kinesis_records(events: list[StreamedEvent]) -> list[dict[str, Any]]:
    return [
        {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": e.partition_key(),
                "sequenceNumber": f"{next(_SEQUENCE):056d}",
                "data": base64.b64encode(e.to_record()).decode(),
                "approximateArrivalTimestamp": e.receivedAt.timestamp(),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": "shardId-000000000000:1",
            "eventName": "aws:kinesis:record",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/plays",
        }
        for e in events
    ]


def deliver(consumer: Any, context: Any, events: list[StreamedEvent]) -> list[str]:
    """Hand the events to the consumer in stream batches; the sequence numbers it reports failed."""
    failed: list[str] = []
    for start in range(0, len(events), 500):
        response = consumer.lambda_handler({"Records": kinesis_records(events[start : start + 500])}, context)
        failed += [failure["itemIdentifier"] for failure in response["batchItemFailures"]]
    return failed


def by_time(*plays: list[StreamedEvent]) -> list[StreamedEvent]:
    """Several plays' events interleaved as a client would report them: in time order."""
    return sorted(itertools.chain(*plays), key=lambda e: e.occurredAt)


def play_record(table: str, play_id: Any, user: str = LISTENER) -> dict[str, Any]:
    item = boto3.resource("dynamodb").Table(table).get_item(Key={"userId": user, "sk": f"PLAY#{play_id}"})
    return dict(item["Item"])


def listener_state(table: str, user: str = LISTENER) -> dict[str, Any]:
    return dict(boto3.resource("dynamodb").Table(table).get_item(Key={"userId": user, "sk": "LISTENER"})["Item"])


@pytest.fixture
def consumer(aws) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    yield load_function("plays", aws)


@pytest.fixture
def table(aws) -> str:  # type: ignore[no-untyped-def]
    return str(aws.tables["PlaysTable"])


def test_a_45_second_listen_is_billable_and_completed(consumer, table, context) -> None:  # type: ignore[no-untyped-def]
    events = listen(45, T0)
    assert deliver(consumer, context, events) == []
    play = play_record(table, events[0].playId)
    assert play["billable"] is True and play["reason"] == "billable"
    assert play["ended"] == "completed" and play["playedMs"] == 45_000
    assert play["startedAt"] == "2026-11-26T09:00:00.000Z" and play["lastEventAt"] == "2026-11-26T09:00:45.000Z"
    assert play["events"] == play["version"] == len(events) == 4  # start, 15 s, 30 s, end
    assert play["songId"] == song("a") and play["tier"] == "premium" and play["contextType"] == "playlist"


def test_a_10_second_listen_is_short_and_not_billable(consumer, table, context) -> None:  # type: ignore[no-untyped-def]
    events = listen(10, T0, ending="skip")
    deliver(consumer, context, events)
    play = play_record(table, events[0].playId)
    assert play["billable"] is False and play["reason"] == "short" and play["ended"] == "skipped"
    assert play["playedMs"] == 10_000


def test_an_open_play_is_judged_the_moment_it_reaches_30_seconds(consumer, table, context) -> None:  # type: ignore[no-untyped-def]
    events = listen(60, T0)
    deliver(consumer, context, events[:2])  # start, 15 s
    assert play_record(table, events[0].playId)["reason"] == "open"
    deliver(consumer, context, events[2:3])  # 30 s
    play = play_record(table, events[0].playId)
    assert play["billable"] is True and play["ended"] is None


def test_a_replayed_batch_changes_nothing(consumer, table, context) -> None:  # type: ignore[no-untyped-def]
    events = listen(45, T0) + listen(20, T0 + timedelta(minutes=1), song_id=song("b"))
    deliver(consumer, context, events)
    plays = {e.playId: play_record(table, e.playId) for e in events}
    state = listener_state(table)

    assert deliver(consumer, context, events) == []  # the same records again (a retried batch)
    assert deliver(consumer, context, events[2:4]) == []  # and a part of it
    assert {e.playId: play_record(table, e.playId) for e in events} == plays
    assert listener_state(table) == state


def test_a_progress_after_end_does_not_reopen_the_play(consumer, table, context) -> None:  # type: ignore[no-untyped-def]
    events = listen(45, T0)
    late = event(str(events[0].playId), "progress", 90_000, T0 + timedelta(seconds=90))
    deliver(consumer, context, [*events, late])
    play = play_record(table, events[0].playId)
    assert play["ended"] == "completed" and play["playedMs"] == 45_000
    assert play["lastEventAt"] == "2026-11-26T09:00:45.000Z"
    assert play["events"] == len(events) + 1, "the late event is recorded as seen (so a replay skips it)"


def test_events_out_of_order_fold_to_the_same_record(consumer, table, context) -> None:  # type: ignore[no-untyped-def]
    events = listen(60, T0)
    deliver(consumer, context, list(reversed(events)))
    play = play_record(table, events[0].playId)
    assert play["startedAt"] == "2026-11-26T09:00:00.000Z" and play["playedMs"] == 60_000
    assert play["ended"] == "completed" and play["billable"] is True


def test_a_play_the_device_moves_on_from_is_abandoned(consumer, table, context) -> None:  # type: ignore[no-untyped-def]
    first = listen(50, T0)[:3]  # start, 15 s, 30 s: never ended
    second = listen(40, T0 + timedelta(seconds=50), song_id=song("b"))
    deliver(consumer, context, first + second)
    left = play_record(table, first[0].playId)
    assert left["ended"] == "abandoned" and left["billable"] is True and left["playedMs"] == 30_000
    assert play_record(table, second[0].playId)["ended"] == "completed"

    # Its own late `end` still says how it really ended.
    deliver(consumer, context, [event(str(first[0].playId), "end", 31_000, T0 + timedelta(seconds=31))])
    assert play_record(table, first[0].playId)["ended"] == "completed"


def test_an_open_play_silent_for_the_abandon_window_is_abandoned(consumer, table, context) -> None:  # type: ignore[no-untyped-def]
    first = listen(50, T0)[:2]
    later = listen(40, T0 + timedelta(minutes=45), song_id=song("b"), device="desktop-1")
    deliver(consumer, context, first + later)
    left = play_record(table, first[0].playId)
    assert left["ended"] == "abandoned" and left["reason"] == "short" and left["billable"] is False


def test_a_repeat_inside_the_dedupe_window_is_a_duplicate(consumer, table, context) -> None:  # type: ignore[no-untyped-def]
    plays = [
        listen(45, T0),  # counted
        listen(45, T0 + timedelta(minutes=5)),  # 5 min after the counted one: duplicate
        listen(45, T0 + timedelta(minutes=9)),  # 9 min: still inside the 10-minute window
        listen(45, T0 + timedelta(minutes=11)),  # 11 min: counted again
        listen(45, T0 + timedelta(minutes=12), song_id=song("b")),  # another song: counted
    ]
    deliver(consumer, context, by_time(*plays))
    verdicts = [play_record(table, events[0].playId)["reason"] for events in plays]
    assert verdicts == ["billable", "duplicate", "duplicate", "billable", "billable"]
    assert [play_record(table, events[0].playId)["billable"] for events in plays] == [True, False, False, True, True]


def test_a_failing_listener_is_a_partial_batch_failure_and_the_others_are_applied(
    consumer: Any, table: str, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = listen(45, T0)
    theirs = listen(45, T0, user="listener-sub-2")
    save = consumer.store.save

    def save_failing_for_listener_2(items: list[tuple[dict[str, Any], int | None]]) -> bool:
        if items[0][0]["userId"] == "listener-sub-2":
            raise ConnectionError("throttled")
        return bool(save(items))

    monkeypatch.setattr(consumer.store, "save", save_failing_for_listener_2)
    records = kinesis_records(by_time(mine, theirs))
    garbage = {**records[0], "kinesis": {**records[0]["kinesis"], "data": base64.b64encode(b"not json").decode()}}
    garbage["kinesis"]["sequenceNumber"] = f"{next(_SEQUENCE):056d}"
    response = consumer.lambda_handler({"Records": [*records, garbage]}, context)

    failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
    theirs_sequences = {
        r["kinesis"]["sequenceNumber"]
        for r in records
        if json.loads(base64.b64decode(r["kinesis"]["data"]))["userId"] == "listener-sub-2"
    }
    assert failed == theirs_sequences, "only listener 2's records fail; the unreadable one is skipped, not retried"
    assert play_record(table, mine[0].playId)["billable"] is True

    monkeypatch.setattr(consumer.store, "save", save)
    assert deliver(consumer, context, theirs) == []  # the stream delivers them again
    assert play_record(table, theirs[0].playId, user="listener-sub-2")["billable"] is True


def test_the_sample_stream_event_makes_one_billable_play(consumer, table, context) -> None:  # type: ignore[no-untyped-def]
    sample = json.loads((ROOT / "events" / "streams" / "plays_playback_events.json").read_text())
    assert consumer.lambda_handler(sample, context) == {"batchItemFailures": []}
    data = json.loads(base64.b64decode(sample["Records"][0]["kinesis"]["data"]))
    play = play_record(table, data["playId"], user=data["userId"])
    assert (play["billable"], play["ended"], play["playedMs"], play["version"]) == (True, "completed", 45_000, 3)
    consumer.lambda_handler(sample, context)
    assert play_record(table, data["playId"], user=data["userId"])["version"] == 3


def test_a_concurrent_writer_makes_the_listener_read_and_fold_again(
    consumer: Any, table: str, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another delivery of the same events lands between this one's read and write: the write's
    version condition fails, the events are read again, found applied, and nothing is counted twice."""
    events = listen(45, T0)
    save, raced = consumer.store.save, []

    def save_after_a_concurrent_delivery(items: list[tuple[dict[str, Any], int | None]]) -> bool:
        if not raced:
            raced.append(True)
            assert deliver(consumer, context, events) == []  # the other delivery wins the race
        return bool(save(items))

    monkeypatch.setattr(consumer.store, "save", save_after_a_concurrent_delivery)
    assert deliver(consumer, context, events) == []
    play = play_record(table, events[0].playId)
    assert raced and play["version"] == play["events"] == len(events) and play["billable"] is True
    assert listener_state(table)["version"] == 1


def test_a_transaction_conflict_is_retried_in_place(
    consumer: Any, table: str, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB cancels a transaction that meets another one on the same item (TransactionConflict):
    the listener's events are read and folded again, not failed back to the stream."""
    from botocore.exceptions import ClientError

    from backbeat.plays import consumer as plays_consumer

    real, conflicts = plays_consumer.client("dynamodb"), []

    class ConflictOnce:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def transact_write_items(self, **request: Any) -> Any:
            if not conflicts:
                conflicts.append(request)
                reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
                error = {"Code": "TransactionCanceledException", "Message": "cancelled"}
                raise ClientError({"Error": error, "CancellationReasons": reasons}, "TransactWriteItems")
            return real.transact_write_items(**request)

    monkeypatch.setattr(plays_consumer, "client", lambda service: ConflictOnce())
    events = listen(45, T0)
    assert deliver(consumer, context, events) == []
    assert conflicts and play_record(table, events[0].playId)["version"] == len(events)
