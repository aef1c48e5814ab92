"""Client playback reporting as a listener (and the service) would notice it: nothing reported is lost
while offline or across a restart, nothing is counted twice, `retry` answers are sent again, backoff
grows but stays bounded, batches hold at most 100 events, and the player reports a play as heard."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from backbeat.plays.events import PlaybackEvent
from backbeat_client.player import Player
from backbeat_client.reporting import ApiSender, Outbox, PlaybackReporter, PlayTracker
from tests.support import api_event
from tests.unit.conftest import load_function
from tests.unit.test_abr import FakeNetwork, manifest
from tests.unit.test_playback_ingest import SONG, on_stream, seed_songs_and_listeners

START = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.time = 1_000.0

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.time += seconds


class FakeApi:
    """POST /events/playback as the service answers it: each eventId accepted once, then `duplicate`;
    `answer` may override an event's status; `offline` makes the request fail on the network, and
    `lose_answers` applies the batch and then drops the connection before the answer arrives."""

    def __init__(self) -> None:
        self.accepted: list[str] = []
        self.batches: list[list[dict[str, Any]]] = []
        self.offline = False
        self.lose_answers = False
        self.status: int | None = None
        self.answer: Callable[[dict[str, Any]], str | None] = lambda event: None

    def __call__(self, batch: list[dict[str, Any]]) -> tuple[int, Mapping[str, Any]]:
        if self.offline:
            raise ConnectionRefusedError("network unreachable")
        self.batches.append(batch)
        if self.status is not None:
            return self.status, {"error": {"code": "ServiceUnavailable", "message": "try later"}}
        results = []
        for event in batch:
            PlaybackEvent.model_validate(event)
            status = self.answer(event)
            if status is None:
                status = "duplicate" if event["eventId"] in self.accepted else "accepted"
            if status == "accepted":
                self.accepted.append(event["eventId"])
            results.append({"eventId": event["eventId"], "status": status})
        if self.lose_answers:
            raise TimeoutError("the answer never arrived")
        return 202, {"results": results}


def event(**changes: Any) -> dict[str, Any]:
    import uuid

    base = {
        "eventId": str(uuid.uuid4()),
        "playId": str(uuid.uuid4()),
        "type": "progress",
        "songId": SONG,
        "positionMs": 15_000,
        "playedMs": 15_000,
        "bitrateKbps": 128,
        "deviceId": "laptop-1",
        "deviceType": "desktop",
        "context": {"type": "search"},
        "occurredAt": "2026-12-01T20:00:15.000Z",
    }
    return {**base, **changes}


def reporter(directory: Path, api: Any, clock: FakeClock, **options: Any) -> PlaybackReporter:
    return PlaybackReporter(Outbox(directory), api, clock=clock, rng=random.Random(7), **options)


def test_offline_events_stay_on_disk_and_a_restarted_reporter_sends_them_once(tmp_path: Path) -> None:
    api, clock = FakeApi(), FakeClock()
    api.offline = True
    first = reporter(tmp_path, api, clock)
    sent = [event() for _ in range(5)]
    for item in sent:
        first.report(item)
    clock.sleep(60)
    assert first.pump() is not None and first.failures == 1 and len(first.outbox) == 5
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) == 5
    del first  # the app is closed while offline

    api.offline = False
    clock.sleep(3600)
    second = reporter(tmp_path, api, clock)  # the next start reads the outbox
    assert [e["eventId"] for e in second.outbox.pending()] == [e["eventId"] for e in sent]
    second.flush()
    assert api.accepted == [e["eventId"] for e in sent]
    assert len(second.outbox) == 0 and len(Outbox(tmp_path)) == 0
    assert (tmp_path / "events.jsonl").read_text() == ""  # compacted once all were settled


def test_a_lost_answer_is_resent_and_comes_back_duplicate(tmp_path: Path) -> None:
    api, clock = FakeApi(), FakeClock()
    sending = reporter(tmp_path, api, clock)
    for _ in range(3):
        sending.report(event())
    api.lose_answers = True
    assert sending.flush().failed and len(sending.outbox) == 3  # applied by the service, not known here
    api.lose_answers = False
    clock.sleep(sending.max_backoff_seconds)
    sending.pump()
    assert len(sending.outbox) == 0 and len(api.accepted) == 3  # once each
    assert len(api.batches) == 2


def test_retry_answers_are_sent_again_and_rejected_ones_leave_with_a_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api, clock = FakeApi(), FakeClock()
    sending = reporter(tmp_path, api, clock)
    stuck, bad, fine = event(), event(songId="SongZZZZZZZZZZZZZZZZZZ"), event()
    api.answer = lambda e: {stuck["eventId"]: "retry", bad["eventId"]: "rejected"}.get(e["eventId"])
    for item in (stuck, bad, fine):
        sending.outbox.add(item)
    with caplog.at_level(logging.WARNING, logger="backbeat_client.reporting"):
        result = sending.flush()
    assert (result.settled, result.rejected, result.to_retry) == (2, 1, 1)
    assert [e["eventId"] for e in sending.outbox.pending()] == [stuck["eventId"]]
    assert bad["eventId"] in caplog.text and "rejected" in caplog.text
    api.answer = lambda e: None  # the stream has room again
    clock.sleep(sending.flush_interval_seconds)
    sending.pump()
    assert len(sending.outbox) == 0 and api.accepted == [fine["eventId"], stuck["eventId"]]
    assert Outbox(tmp_path).pending() == []  # and so after a restart


def test_backoff_grows_with_each_failure_and_stays_bounded(tmp_path: Path) -> None:
    api, clock = FakeApi(), FakeClock()
    api.status = 503
    sending = reporter(tmp_path, api, clock, base_backoff_seconds=1.0, max_backoff_seconds=60.0)
    sending.outbox.add(event())
    waits = []
    for _ in range(12):
        assert sending.flush().failed
        wait = sending.next_attempt_at - clock.now()
        waits.append(wait)
        assert sending.pump() is None  # nothing is sent while backing off
        clock.sleep(wait)
    assert all(0.5 <= wait <= 60.0 for wait in waits)
    lower_bounds = [min(1.0 * 2**n, 60.0) / 2 for n in range(12)]
    assert all(wait >= bound for wait, bound in zip(waits, lower_bounds, strict=True))
    assert waits[-1] >= 30.0 and max(waits) <= 60.0
    assert len(api.batches) == 12
    api.status = None
    sending.pump()
    assert len(sending.outbox) == 0 and sending.failures == 0  # success resets the backoff


def test_429_and_network_errors_back_off_too(tmp_path: Path) -> None:
    api, clock = FakeApi(), FakeClock()
    sending = reporter(tmp_path, api, clock)
    sending.outbox.add(event())
    api.status = 429
    assert sending.flush().failed and sending.failures == 1
    api.status, api.offline = None, True
    clock.sleep(sending.next_attempt_at - clock.now())
    assert sending.flush().failed and sending.failures == 2 and len(sending.outbox) == 1


def test_batches_hold_at_most_100_and_go_when_full_or_when_the_interval_passes(tmp_path: Path) -> None:
    api, clock = FakeApi(), FakeClock()
    sending = reporter(tmp_path, api, clock, flush_interval_seconds=10.0)
    for _ in range(250):
        sending.report(event())
    assert [len(batch) for batch in api.batches] == [100, 100]  # full batches go at once
    clock.sleep(5)
    sending.pump()
    assert len(api.batches) == 2
    clock.sleep(5)
    sending.pump()
    assert [len(batch) for batch in api.batches] == [100, 100, 50]
    assert len(set(api.accepted)) == 250


def test_a_line_torn_by_a_crash_is_skipped(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path)
    kept = event()
    outbox.add(kept)
    with open(tmp_path / "events.jsonl", "a") as file:
        file.write(json.dumps(event())[:40])  # the process died mid-append
    assert [e["eventId"] for e in Outbox(tmp_path).pending()] == [kept["eventId"]]


def test_a_malformed_event_is_refused_before_it_reaches_the_outbox(tmp_path: Path) -> None:
    sending = reporter(tmp_path, FakeApi(), FakeClock())
    with pytest.raises(ValueError, match="deviceType"):
        sending.report(event(deviceType="toaster"))
    assert len(Outbox(tmp_path)) == 0


def test_the_sender_needs_an_http_url() -> None:
    with pytest.raises(ValueError, match="http"):
        ApiSender("file:///etc/passwd", lambda: "token")


def tracker(sending: PlaybackReporter, clock: FakeClock, duration_ms: int | None = 200_000) -> PlayTracker:
    return PlayTracker(
        sending,
        SONG,
        device_id="laptop-1",
        device_type="desktop",
        context={"type": "album", "id": "alb"},
        clock=clock,
        duration_ms=duration_ms,
        started_at=START,
    )


def test_the_player_reports_a_play_as_it_is_heard(tmp_path: Path) -> None:
    api, network = FakeApi(), FakeNetwork(link_kbps=2_000)  # 20 segments of 10 s: a 200 s song
    sending = PlaybackReporter(Outbox(tmp_path), api, clock=network, flush_interval_seconds=30.0)
    play = PlayTracker(
        sending,
        SONG,
        device_id="laptop-1",
        device_type="desktop",
        context={"type": "album", "id": "alb"},
        clock=network,
        duration_ms=200_000,
        started_at=START,
    )
    stats = Player(manifest(), network.fetch, clock=network, reporting=play).run()
    sending.flush()
    events = [e for batch in api.batches for e in batch]
    assert [e["type"] for e in events] == ["start"] + ["progress"] * 13 + ["end"]  # 15 s, 30 s, ..., 195 s
    progress = [e["playedMs"] for e in events if e["type"] == "progress"]
    assert all(n * 15_000 <= played < n * 15_000 + 3_000 for n, played in enumerate(progress, start=1))
    assert events[-1]["playedMs"] == events[-1]["positionMs"] == 200_000
    assert stats.rebuffer_seconds == 0
    assert {e["playId"] for e in events} == {play.play_id} and len({e["eventId"] for e in events}) == 15
    assert {e["bitrateKbps"] for e in events} <= set(stats.segment_bitrates_kbps)
    occurred = [datetime.fromisoformat(e["occurredAt"]) for e in events]
    assert occurred == sorted(occurred) and occurred[0] >= START
    assert (occurred[-1] - occurred[0]).total_seconds() == pytest.approx(200, abs=1)  # the player's clock
    assert len(sending.outbox) == 0


def test_a_stall_does_not_count_as_listening(tmp_path: Path) -> None:
    api, network = FakeApi(), FakeNetwork(link_kbps=60, segments=4)  # slower than the lowest rung
    sending = PlaybackReporter(Outbox(tmp_path), api, clock=network)
    play = tracker(sending, network, duration_ms=40_000)  # type: ignore[arg-type]
    stats = Player(manifest(start=96), network.fetch, clock=network, reporting=play).run()
    sending.flush()
    events = [e for batch in api.batches for e in batch]
    assert stats.rebuffer_seconds > 0
    assert events[-1]["type"] == "end" and events[-1]["playedMs"] == 40_000  # not the wall time it took
    assert (datetime.fromisoformat(events[-1]["occurredAt"]) - START).total_seconds() > 40 + stats.rebuffer_seconds - 1


def test_listener_actions_are_reported_and_seeking_adds_no_listening(tmp_path: Path) -> None:
    api, clock = FakeApi(), FakeClock()
    sending = reporter(tmp_path, api, clock, flush_interval_seconds=0.0)
    play = tracker(sending, clock)
    play.advance(played_ms=5_000, position_ms=5_000, bitrate_kbps=128)  # nothing before start
    play.start(bitrate_kbps=128)
    clock.sleep(10)
    play.advance(played_ms=10_000, position_ms=10_000, bitrate_kbps=128)
    play.pause()
    play.pause()  # already paused: nothing more
    clock.sleep(60)
    play.resume()
    play.seek(150_000)
    clock.sleep(8)
    play.advance(played_ms=18_000, position_ms=158_000, bitrate_kbps=160)
    play.skip()
    play.advance(played_ms=40_000, position_ms=180_000, bitrate_kbps=160)  # after the skip: ignored
    play.end()
    events = [e for batch in api.batches for e in batch]
    assert [(e["type"], e["playedMs"], e["positionMs"]) for e in events] == [
        ("start", 0, 0),
        ("pause", 10_000, 10_000),
        ("resume", 10_000, 10_000),
        ("seek", 10_000, 150_000),
        ("progress", 18_000, 158_000),
        ("skip", 18_000, 158_000),
    ]
    assert events[-1]["bitrateKbps"] == 160
    assert datetime.fromisoformat(events[1]["occurredAt"]) == datetime(2026, 12, 1, 20, 0, 10, tzinfo=UTC)


def test_listening_past_the_song_length_is_reported_as_its_length(tmp_path: Path) -> None:
    api, clock = FakeApi(), FakeClock()
    sending = reporter(tmp_path, api, clock, flush_interval_seconds=0.0)
    play = tracker(sending, clock, duration_ms=20_000)
    play.start(bitrate_kbps=96)
    play.advance(played_ms=20_700, position_ms=20_700, bitrate_kbps=96)
    play.end()
    assert [(e["type"], e["playedMs"]) for e in api.batches[-1]] == [("end", 20_000)]


def test_reported_events_reach_the_stream_once_through_the_events_function(
    aws: Any, context: Any, tmp_path: Path
) -> None:
    """The reporter against the real function (in-process, moto): a play's events land on the stream;
    the same outbox replayed after a restart puts nothing new."""

    seed_songs_and_listeners(aws)
    events_function = load_function("events", aws)

    def through_the_function(batch: list[dict[str, Any]]) -> tuple[int, Mapping[str, Any]]:
        request = api_event("POST", "/events/playback", body={"events": batch}, claims={"sub": "listener-1"})
        response = events_function.lambda_handler(request, context)
        return int(response["statusCode"]), json.loads(response["body"])

    clock = FakeClock()
    sending = reporter(tmp_path, through_the_function, clock)
    play = tracker(sending, clock)
    play._origin_wall = datetime.now(UTC)  # within the service's accepted window
    play.start(bitrate_kbps=128)
    for second in range(1, 46):
        clock.sleep(1)
        play.advance(played_ms=second * 1000, position_ms=second * 1000, bitrate_kbps=128)
    play.skip()
    sending.flush()
    streamed = [e for _, e in on_stream(aws)]
    assert [e.type for e in sorted(streamed, key=lambda e: e.occurredAt)] == [
        "start",
        "progress",
        "progress",
        "progress",
        "skip",
    ]
    assert {e.playedMs for e in streamed} == {0, 15_000, 30_000, 45_000}
    copy = Outbox(tmp_path / "replay")
    for item in streamed:
        client_event = PlaybackEvent.model_validate(item.model_dump(include=set(PlaybackEvent.model_fields)))
        copy.add(json.loads(client_event.model_dump_json()))
    assert reporter(tmp_path / "replay", through_the_function, clock).flush().settled == 5
    assert len(on_stream(aws)) == 5
