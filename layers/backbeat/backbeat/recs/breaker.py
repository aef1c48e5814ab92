"""A circuit breaker per candidate source, and the deadline every source is called under.

A source that fails or answers late `failure_threshold` times in a row is *open*: it is not called
for `reset_seconds`, so a broken source costs nothing instead of its timeout on every request. Then
one request tries it (*half-open*): a success closes it again, a failure re-opens it.

Breakers live per execution environment (module state, like the model cache): each environment
learns on its own within a few requests, with no shared store on the request path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal["closed", "open", "half-open"]

# The devstack's fault switch (`recsSourceFailure` in devstack/faults.py) sets this to make a named
# source fail before it runs; it stays None everywhere else.
source_fault: Callable[[str], None] | None = None


@dataclass
class CircuitBreaker:
    failure_threshold: int = 3
    reset_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    _trial_running: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def state(self) -> State:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.reset_seconds else "open"

    def allow(self) -> bool:
        """May the source be called now? (Half-open lets one trial call through at a time.)"""
        with self._lock:
            state = self.state
            if state == "closed":
                return True
            if state == "half-open" and not self._trial_running:
                self._trial_running = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self.failures = 0
            self.opened_at = None
            self._trial_running = False

    def record_failure(self) -> None:
        with self._lock:
            self.failures += 1
            self._trial_running = False
            if self.failures >= self.failure_threshold or self.opened_at is not None:
                self.opened_at = self.clock()


@dataclass(frozen=True)
class Outcome:
    """What became of one source's call: its value, or why there is none."""

    value: Any = None
    error: str | None = None  # "open" (not called), "timeout", or the exception's type

    @property
    def ok(self) -> bool:
        return self.error is None


class Breakers:
    """The breakers of named sources, and `call_all`: every allowed source called at once, each
    bounded by one deadline."""

    def __init__(self, failure_threshold: int = 3, reset_seconds: float = 30.0, threads: int = 8) -> None:
        self._make = lambda: CircuitBreaker(failure_threshold, reset_seconds)
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="recs-source")

    def breaker(self, name: str) -> CircuitBreaker:
        with self._lock:
            if name not in self._breakers:
                self._breakers[name] = self._make()
            return self._breakers[name]

    def states(self) -> dict[str, State]:
        with self._lock:
            return {name: breaker.state for name, breaker in self._breakers.items()}

    def call_all(self, calls: Mapping[str, Callable[[], Any]], timeout_seconds: float) -> dict[str, Outcome]:
        """Run each allowed call on the pool; whatever has not answered by the deadline is a
        timeout (its thread finishes in the background and its answer is dropped)."""
        outcomes: dict[str, Outcome] = {}
        running: dict[str, Future[Any]] = {}
        for name, call in calls.items():
            if self.breaker(name).allow():
                running[name] = self._pool.submit(_faulted(name, call))
            else:
                outcomes[name] = Outcome(error="open")
        wait(running.values(), timeout=timeout_seconds)
        for name, future in running.items():
            breaker = self.breaker(name)
            if not future.done():
                future.cancel()
                breaker.record_failure()
                outcomes[name] = Outcome(error="timeout")
            elif (error := future.exception()) is not None:
                breaker.record_failure()
                outcomes[name] = Outcome(error=type(error).__name__)
            else:
                breaker.record_success()
                outcomes[name] = Outcome(value=future.result())
        return outcomes


def _faulted(name: str, call: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        fault = source_fault
        if fault is not None:
            fault(name)
        return call()

    return run
