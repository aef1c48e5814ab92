"""All event source mappings of a deployment, one daemon thread each."""

from __future__ import annotations

import threading
import time
from typing import Any

from devstack.lambdas import LambdaRuntime
from devstack.pollers.base import (
    STOP_JOIN_SECONDS,
    Poller,
    log,
)
from devstack.pollers.dynamodb_streams import DynamoDBStreamPoller
from devstack.pollers.kinesis import KinesisPoller
from devstack.pollers.sqs import SqsPoller
from devstack.pollers.wakeups import WAKEUPS
from devstack.resources import EventSourceMapping

_POLLERS: dict[str, type[Poller]] = {
    "dynamodb": DynamoDBStreamPoller,
    "kinesis": KinesisPoller,
    "sqs": SqsPoller,
}


class PollerGroup:
    """All event source mappings of a deployment, one daemon thread each."""

    def __init__(self, mappings: list[EventSourceMapping], runtime: LambdaRuntime, session: Any) -> None:
        self.mappings = mappings
        self.runtime = runtime
        self.session = session
        self._stopping = threading.Event()
        self.pollers: list[Poller] = [
            _POLLERS[mapping.kind](mapping, runtime, session, self._stopping) for mapping in mappings
        ]
        names = [poller.name for poller in self.pollers]
        for poller in self.pollers:
            if names.count(poller.name) > 1:  # one function fed by two sources of a kind
                poller.name += ":" + poller.mapping.source_arn.split(":", 5)[-1]
        self._threads: dict[str, threading.Thread] = {}

    def start(self) -> None:
        self._stopping.clear()
        for poller in self.pollers:
            if not self.runtime.knows(poller.mapping.function):
                poller.failure = f"function {poller.mapping.function} is not in the devstack"
                continue
            poller.failure = None
            thread = threading.Thread(target=poller.run, name=poller.name, daemon=True)
            self._threads[poller.name] = thread
            thread.start()

    def stop(self) -> None:
        """Signal every poller and join them; a poller in a long poll or an invocation finishes it."""
        self._stopping.set()
        WAKEUPS.signal_all()  # idle stream pollers wait for a record, not for the stop
        deadline = time.monotonic() + STOP_JOIN_SECONDS
        for name, thread in self._threads.items():
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("%s did not stop within %s s", name, STOP_JOIN_SECONDS)

    def status(self) -> dict[str, str]:
        statuses: dict[str, str] = {}
        for poller in self.pollers:
            thread = self._threads.get(poller.name)
            if thread is not None and thread.is_alive():
                statuses[poller.name] = "ok"
            elif poller.failure:
                statuses[poller.name] = f"failed: {poller.failure}"
            else:
                statuses[poller.name] = "stopped"
        return statuses

    def threads(self) -> list[threading.Thread]:
        return list(self._threads.values())
