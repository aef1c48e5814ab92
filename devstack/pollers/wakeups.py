"""Stream pollers woken by moto the moment a record is stored.

A stream poller with nothing to read used to ask its source again every `IDLE_SECONDS`: with the
devstack's five DynamoDB streams and its Kinesis stream that was dozens of AWS calls a second through
moto while nothing happened (about a sixth of a core on an idle stack), and up to `IDLE_SECONDS` of
delay before a new record was read. Now moto's stores signal the source's ARN (`patch_moto_stream_wakeups`,
applied with the other moto patches), and an idle poller waits for that signal, asking again after
`QUIET_SECONDS` without one (a record stored by a path that does not signal, a snapshot restored under it).

Each poller has an event of its own: two functions fed by one stream (the plays table feeds the
counters and the lake) are woken together, and one clearing its event never hides a record from the
other.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

QUIET_SECONDS = 2.0  # an idle stream poller asks its source at least this often, signal or not


class Wakeups:
    """Events by source ARN, set when a record is stored in that source."""

    def __init__(self) -> None:
        self._events: dict[str, list[threading.Event]] = {}
        self._lock = threading.Lock()

    def register(self, arn: str) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._events.setdefault(arn, []).append(event)
        return event

    def unregister(self, arn: str, event: threading.Event) -> None:
        with self._lock:
            events = self._events.get(arn, [])
            if event in events:
                events.remove(event)

    def signal(self, arn: str) -> None:
        with self._lock:
            events = list(self._events.get(arn, ()))
        for event in events:
            event.set()

    def signal_all(self) -> None:
        """Wake every waiting poller (a stop: they see it at once instead of after QUIET_SECONDS)."""
        with self._lock:
            events = [event for events in self._events.values() for event in events]
        for event in events:
            event.set()


WAKEUPS = Wakeups()


def patch_moto_stream_wakeups() -> None:
    """moto's DynamoDB stream shards and Kinesis backend signal `WAKEUPS` after storing a record."""
    from moto.dynamodb.models.table import StreamShard
    from moto.kinesis.models import KinesisBackend

    if getattr(StreamShard, "_devstack_wakes", False):
        return
    add = StreamShard.add

    def add_and_wake(self: Any, old: Any, new: Any) -> None:
        add(self, old, new)
        table = self.table
        if table.latest_stream_label:
            WAKEUPS.signal(f"{table.table_arn}/stream/{table.latest_stream_label}")

    StreamShard.add = add_and_wake  # type: ignore[method-assign]
    StreamShard._devstack_wakes = True  # type: ignore[attr-defined]

    for name in ("put_record", "put_records"):
        original = getattr(KinesisBackend, name)
        signature = inspect.signature(original)

        def put_and_wake(
            self: Any, *args: Any, _original: Any = original, _signature: Any = signature, **kwargs: Any
        ) -> Any:
            answer = _original(self, *args, **kwargs)
            named = _signature.bind(self, *args, **kwargs).arguments
            stream = self.describe_stream(stream_arn=named.get("stream_arn"), stream_name=named.get("stream_name"))
            WAKEUPS.signal(stream.arn)
            return answer

        setattr(KinesisBackend, name, put_and_wake)
