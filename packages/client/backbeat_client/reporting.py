"""Playback reporting: what the player heard goes to `POST /events/playback`, and nothing is lost.

Three parts, each testable alone:

- `Outbox`: the events not yet settled, in a directory the caller gives (e.g.
  ``~/.cache/backbeat/outbox``). Every event is appended to ``events.jsonl`` and flushed to disk
  before anything else happens to it; settled eventIds are appended to ``settled.jsonl``. A restart
  reads both and carries on with what is left; a line torn by a crash mid-write is skipped (its
  event was never handed over). When everything is settled both files are emptied, and while events
  stay pending the events file is rewritten with only them once enough have settled.
  One reporter per directory: the files are not shared between processes.
- `PlaybackReporter`: flushes the outbox in batches of up to 100, when a batch is full or the
  oldest pending event has waited `flush_interval_seconds`. Network errors, 5xx and 429 back off
  exponentially with jitter (bounded by `max_backoff_seconds`); events answered `retry` stay and go
  again; `accepted`, `duplicate` and `rejected` (logged: resending cannot fix it) leave the outbox.
  An eventId is fixed when the event is made, so a batch resent after a lost answer comes back
  `duplicate`, never counted twice.
- `PlayTracker`: one play of one song. The player tells it how far playback got (`advance`), and the
  listener's actions are its methods (`pause`, `resume`, `seek`, `skip`, `end`); it sends `start`, a
  `progress` every 15 s of listening, and those actions, each with a fresh eventId, the play's playId,
  the position, the time listened so far (not the position: seeking does not add listening) and the
  current rung. Time comes from the player's clock, so a simulated player reports simulated time.
"""

from __future__ import annotations

import json
import logging
import os
import random
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from backbeat.plays.events import MAX_BATCH, PlaybackEvent

logger = logging.getLogger(__name__)

PROGRESS_EVERY_MS = 15_000
SETTLED_STATUSES = frozenset({"accepted", "duplicate", "rejected"})
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class Clock(Protocol):
    def now(self) -> float: ...


Send = Callable[[list[dict[str, Any]]], tuple[int, Mapping[str, Any]]]


class Outbox:
    """The durable queue of events not yet settled (see the module docstring)."""

    EVENTS = "events.jsonl"
    SETTLED = "settled.jsonl"

    def __init__(self, directory: str | Path, *, compact_after: int = 1_000) -> None:
        self.directory = Path(directory).expanduser()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.compact_after = compact_after
        self._pending: dict[str, dict[str, Any]] = {}
        self._settled_since_compaction = 0
        settled = {str(line.get("eventId")) for line in self._read(self.SETTLED)}
        for event in self._read(self.EVENTS):
            event_id = str(event.get("eventId"))
            if event_id not in settled:
                self._pending[event_id] = event
        self._settled_since_compaction = len(settled)

    def _read(self, name: str) -> list[dict[str, Any]]:
        path = self.directory / name
        if not path.exists():
            return []
        lines = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                value = json.loads(line)
            except ValueError:
                continue  # torn by a crash mid-append: never acknowledged to anyone
            if isinstance(value, dict):
                lines.append(value)
        return lines

    def _append(self, name: str, lines: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
        with open(self.directory / name, "a", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())

    def add(self, event: dict[str, Any]) -> None:
        """Keep `event` (on disk before this returns)."""
        self._append(self.EVENTS, [event])
        self._pending[str(event["eventId"])] = event

    def pending(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The events not settled yet, oldest first."""
        events = list(self._pending.values())
        return events if limit is None else events[:limit]

    def __len__(self) -> int:
        return len(self._pending)

    def settle(self, event_ids: list[str]) -> None:
        """Forget `event_ids` (answered for good)."""
        known = [event_id for event_id in event_ids if event_id in self._pending]
        if not known:
            return
        self._append(self.SETTLED, [{"eventId": event_id} for event_id in known])
        for event_id in known:
            del self._pending[event_id]
        self._settled_since_compaction += len(known)
        if not self._pending or self._settled_since_compaction >= self.compact_after:
            self._compact()

    def _compact(self) -> None:
        """Rewrite the events file with the pending events only, then empty the settled file. A crash
        between the two leaves settled ids of events no longer in the file: harmless."""
        events = self.directory / self.EVENTS
        staging = self.directory / (self.EVENTS + ".new")
        with open(staging, "w", encoding="utf-8") as file:
            file.write("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in self._pending.values()))
            file.flush()
            os.fsync(file.fileno())
        os.replace(staging, events)
        with open(self.directory / self.SETTLED, "w", encoding="utf-8"):
            pass
        self._settled_since_compaction = 0


@dataclass
class FlushResult:
    sent: int = 0
    settled: int = 0
    rejected: int = 0
    to_retry: int = 0
    failed: bool = False  # the request itself failed (network, 5xx, 429...): backing off


class PlaybackReporter:
    """Sends the outbox's events (see the module docstring). Call `report` for each event and `pump`
    now and then (the tracker does both); `flush` sends everything it can now."""

    def __init__(
        self,
        outbox: Outbox,
        send: Send,
        *,
        clock: Clock,
        batch_size: int = MAX_BATCH,
        flush_interval_seconds: float = 10.0,
        base_backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 300.0,
        rng: random.Random | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH}")
        self.outbox = outbox
        self.send = send
        self.clock = clock
        self.batch_size = batch_size
        self.flush_interval_seconds = flush_interval_seconds
        self.base_backoff_seconds = base_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.rng = rng or random.Random()
        self.failures = 0  # consecutive failed attempts
        self.next_attempt_at = float("-inf")
        self._waiting_since: float | None = clock.now() if len(outbox) else None

    def report(self, event: PlaybackEvent | Mapping[str, Any]) -> None:
        """Queue one event (validated here: a malformed event is the caller's bug, not the server's)."""
        checked = event if isinstance(event, PlaybackEvent) else PlaybackEvent.model_validate(event)
        self.outbox.add(checked.model_dump(mode="json"))
        if self._waiting_since is None:
            self._waiting_since = self.clock.now()
        self.pump()

    def backoff_seconds(self, failures: int) -> float:
        """The wait after `failures` consecutive failures: exponential, capped, half of it jittered
        ("equal jitter": it never shrinks to nothing, and clients that failed together spread out)."""
        ceiling = min(self.max_backoff_seconds, self.base_backoff_seconds * 2 ** max(failures - 1, 0))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def due(self) -> bool:
        if not len(self.outbox) or self.clock.now() < self.next_attempt_at:
            return False
        if len(self.outbox) >= self.batch_size:
            return True
        waited = self.clock.now() - (self._waiting_since if self._waiting_since is not None else self.clock.now())
        return waited >= self.flush_interval_seconds

    def pump(self) -> FlushResult | None:
        """Flush when a batch is full or the interval has passed (and no backoff is running)."""
        return self.flush() if self.due() else None

    def flush(self) -> FlushResult:
        """Send batches until the outbox is empty, a request fails (backoff starts) or only events the
        server asked to retry are left (they go on the next flush)."""
        total = FlushResult()
        attempted: set[str] = set()
        while True:
            batch = [e for e in self.outbox.pending() if str(e["eventId"]) not in attempted][: self.batch_size]
            if not batch:
                break
            attempted.update(str(e["eventId"]) for e in batch)
            result = self._send_batch(batch)
            total.sent += result.sent
            total.settled += result.settled
            total.rejected += result.rejected
            total.to_retry += result.to_retry
            if result.failed:
                total.failed = True
                break
        self._waiting_since = self.clock.now() if len(self.outbox) else None
        return total

    def _send_batch(self, batch: list[dict[str, Any]]) -> FlushResult:
        result = FlushResult(sent=len(batch))
        try:
            status, body = self.send(batch)
        except OSError as error:
            logger.info("playback events not sent (%s); will retry", error)
            return self._failed(result)
        results = body.get("results") if status == 202 else None
        if not isinstance(results, list) or len(results) != len(batch):
            if status not in RETRYABLE_STATUSES:
                logger.warning("playback events answered %s %s; kept for later", status, dict(body))
            return self._failed(result)
        settled: list[str] = []
        for event, answer in zip(batch, results, strict=True):
            state = answer.get("status") if isinstance(answer, Mapping) else None
            if state in SETTLED_STATUSES:
                settled.append(str(event["eventId"]))
                if state == "rejected":
                    result.rejected += 1
                    logger.warning(
                        "playback event %s rejected: %s: %s",
                        event["eventId"],
                        answer.get("field"),
                        answer.get("reason"),
                    )
            else:
                result.to_retry += 1
        self.outbox.settle(settled)
        result.settled = len(settled)
        self.failures = 0
        self.next_attempt_at = float("-inf")
        if result.to_retry and not settled:  # the service took nothing: give the stream time
            return self._failed(result)
        return result

    def _failed(self, result: FlushResult) -> FlushResult:
        self.failures += 1
        self.next_attempt_at = self.clock.now() + self.backoff_seconds(self.failures)
        result.failed = True
        return result


class ApiSender:
    """`send` over HTTP: POST {api}/events/playback with the caller's bearer token. Network failures
    raise OSError; every HTTP answer (2xx or not) is returned as (status, JSON body)."""

    def __init__(self, api_url: str, access_token: Callable[[], str], *, timeout: float = 10.0) -> None:
        if not api_url.startswith(("https://", "http://")):
            raise ValueError(f"the API URL must be http(s): {api_url!r}")
        self.url = api_url.rstrip("/") + "/events/playback"
        self.access_token = access_token
        self.timeout = timeout

    def __call__(self, batch: list[dict[str, Any]]) -> tuple[int, Mapping[str, Any]]:
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.url,
            data=json.dumps({"events": batch}).encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.access_token()}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - as above
                return response.status, _json_object(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _json_object(error.read())


def _json_object(data: bytes) -> Mapping[str, Any]:
    try:
        value = json.loads(data or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class PlayTracker:
    """One play of one song, reported through `reporter` (see the module docstring).

    `occurredAt` is `started_at` (the wall time of the first event; now by default) plus the player's
    clock since then. `playedMs` and `positionMs` are capped at the song's length when it is known."""

    def __init__(
        self,
        reporter: PlaybackReporter,
        song_id: str,
        *,
        device_id: str,
        device_type: str,
        context: Mapping[str, Any],
        clock: Clock,
        duration_ms: int | None = None,
        started_at: datetime | None = None,
    ) -> None:
        self.reporter = reporter
        self.song_id = song_id
        self.device_id = device_id
        self.device_type = device_type
        self.context = dict(context)
        self.clock = clock
        self.duration_ms = duration_ms
        self.play_id = str(uuid.uuid4())
        self._origin_wall = started_at or datetime.now(UTC)
        self._origin_clock = clock.now()
        self.played_ms = 0
        self.position_ms = 0
        self.bitrate_kbps = 0
        self.started = False
        self.paused = False
        self.finished = False
        self._next_progress_ms = PROGRESS_EVERY_MS
        self.sent: list[str] = []  # the types sent, in order

    def _cap(self, value_ms: float) -> int:
        value = max(0, int(value_ms))
        return min(value, self.duration_ms) if self.duration_ms is not None else value

    def _emit(self, event_type: str) -> None:
        occurred = self._origin_wall + timedelta(seconds=self.clock.now() - self._origin_clock)
        self.reporter.report(
            {
                "eventId": str(uuid.uuid4()),
                "playId": self.play_id,
                "type": event_type,
                "songId": self.song_id,
                "positionMs": self.position_ms,
                "playedMs": self.played_ms,
                "bitrateKbps": self.bitrate_kbps,
                "deviceId": self.device_id,
                "deviceType": self.device_type,
                "context": self.context,
                "occurredAt": occurred.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            }
        )
        self.sent.append(event_type)

    def start(self, *, bitrate_kbps: int, position_ms: int = 0) -> None:
        if self.started:
            return
        self.started = True
        self.bitrate_kbps, self.position_ms = bitrate_kbps, self._cap(position_ms)
        self._emit("start")

    def advance(self, *, played_ms: float, position_ms: float, bitrate_kbps: int) -> None:
        """Playback got this far: a `progress` each time another 15 s have been listened."""
        if not self.started or self.finished:
            return
        self.played_ms = max(self.played_ms, self._cap(played_ms))
        self.position_ms, self.bitrate_kbps = self._cap(position_ms), bitrate_kbps
        if self.played_ms >= self._next_progress_ms:
            self._emit("progress")
            self._next_progress_ms = (self.played_ms // PROGRESS_EVERY_MS + 1) * PROGRESS_EVERY_MS
        else:
            self.reporter.pump()

    def _action(self, event_type: str) -> None:
        if self.started and not self.finished:
            self._emit(event_type)

    def pause(self) -> None:
        if not self.paused:
            self.paused = True
            self._action("pause")

    def resume(self) -> None:
        if self.paused:
            self.paused = False
            self._action("resume")

    def seek(self, position_ms: int) -> None:
        """The listener moved the playhead (to `position_ms`); listening so far is unchanged."""
        self.position_ms = self._cap(position_ms)
        self._action("seek")

    def skip(self) -> None:
        """The listener moved on before the end: the play is over."""
        self._action("skip")
        self.finished = True

    def end(self) -> None:
        """Playback reached the end of the song: the play is over."""
        self._action("end")
        self.finished = True
