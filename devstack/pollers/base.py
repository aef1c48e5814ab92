"""What every poller shares: Lambda's event encodings, the invoke-and-judge step of a batch, and
the polling loop of one event source mapping."""

from __future__ import annotations

import base64
import logging
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from devstack.faults import FAULTS
from devstack.lambdas import FunctionError, LambdaRuntime
from devstack.resources import EventSourceMapping

log = logging.getLogger(__name__)

IDLE_SECONDS = 0.2  # wait between polls of a source that had nothing new (streams: while a batch waits on the clock)
SHARD_REFRESH_SECONDS = 2.0  # how often the shard list is re-read to find new shards
BACKOFF_BASE_SECONDS = 0.1  # first retry delay of a failed stream batch, doubled per attempt
BACKOFF_CAP_SECONDS = 2.0  # retry delays stop growing here (local latency over AWS's minutes)
SOURCE_ERROR_BACKOFF_SECONDS = 1.0  # after an API error talking to the source
SQS_WAIT_SECONDS = 1  # long poll; bounds how long stop() waits for an SQS poller
STOP_JOIN_SECONDS = 5.0


def epoch(value: Any) -> Any:
    return value.timestamp() if isinstance(value, datetime) else value


def iso(value: Any) -> str:
    moment = value if isinstance(value, datetime) else datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lambda_json(value: Any) -> Any:
    """What the Lambda service serializes: boto3 hands back binary values as bytes and times as
    datetimes, Lambda events carry base64 strings and epoch seconds."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {key: lambda_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [lambda_json(item) for item in value]
    return value


def region_of(arn: str) -> str:
    return arn.split(":")[3]


@dataclass(frozen=True)
class Outcome:
    """How an invocation went: `failed` holds the identifiers to retry (all of them when the
    function raised or answered a malformed batchItemFailures)."""

    failed: frozenset[str]
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.failed


class Poller(ABC):
    """One mapping's polling loop; subclasses know their source's API and event shape."""

    def __init__(
        self, mapping: EventSourceMapping, runtime: LambdaRuntime, session: Any, stopping: threading.Event
    ) -> None:
        self.mapping = mapping
        self.runtime = runtime
        self.session = session
        self.stopping = stopping
        self.failure: str | None = None
        self.invocations = 0
        self.name = f"poller:{mapping.function}:{mapping.kind}"

    def run(self) -> None:
        """Thread body: a source API error is retried (moto may be busy or restarting); anything
        else is a bug in the poller and ends the thread, which `status()` reports."""
        try:
            self.setup()
            while not self.stopping.is_set():
                try:
                    worked = self.poll_once()
                except (BotoCoreError, ClientError) as error:
                    if self.stopping.is_set():
                        break
                    log.warning("%s: source error, retrying: %s", self.name, error)
                    self.stopping.wait(SOURCE_ERROR_BACKOFF_SECONDS)
                    continue
                if not worked:
                    self.idle()
        except Exception as error:
            if not self.stopping.is_set():
                self.failure = f"{type(error).__name__}: {error}"
                log.exception("%s failed", self.name)
        finally:
            self.teardown()

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Runs once in the poller's thread before the first poll."""

    def teardown(self) -> None:  # noqa: B027 - optional hook
        """Runs once in the poller's thread after the last poll."""

    def idle(self) -> None:
        """The wait after a poll that found nothing to do."""
        self.stopping.wait(IDLE_SECONDS)

    @abstractmethod
    def poll_once(self) -> bool:
        """Poll the source once; True when something was fetched or delivered."""

    def invoke(self, records: list[dict[str, Any]], identifiers: list[str]) -> Outcome:
        """Invoke the function with `{"Records": records}` and read a partial batch response the
        way Lambda does: an empty, null or unknown itemIdentifier fails the whole batch."""
        everything = frozenset(identifiers)
        self.invocations += 1
        if FAULTS.take_crash(self.mapping.function, self.function_name()):
            return self._crash_half_way(records, everything)
        try:
            response = self.runtime.invoke(self.mapping.function, {"Records": records})
        except FunctionError as error:
            log.info("%s: function error: %s", self.name, error)
            return Outcome(everything, error.payload)
        except Exception as error:  # an init failure (import error, missing module) is a function error
            log.warning("%s: invocation failed: %s", self.name, error)
            return Outcome(everything, {"errorType": type(error).__name__, "errorMessage": str(error)})
        outcome = self._judge(response, everything)
        injected = FAULTS.failed_records(self.mapping.function, identifiers, self.function_name())
        if not injected:
            return outcome
        # Applied, yet reported failed: the duplicate delivery every consumer must absorb.
        if not self.mapping.report_batch_item_failures:
            return Outcome(everything, {"errorType": "Injected", "errorMessage": "injected record failure"})
        return Outcome(outcome.failed | frozenset(injected), outcome.error)

    def _judge(self, response: Any, everything: frozenset[str]) -> Outcome:
        if not self.mapping.report_batch_item_failures or not isinstance(response, dict):
            return Outcome(frozenset())
        failures = response.get("batchItemFailures")
        if failures is None:
            return Outcome(frozenset())
        if not isinstance(failures, list):
            return Outcome(everything)
        failed: set[str] = set()
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not identifier or str(identifier) not in everything:
                log.warning("%s: invalid batchItemFailures entry %r fails the batch", self.name, failure)
                return Outcome(everything)
            failed.add(str(identifier))
        return Outcome(frozenset(failed))

    def _crash_half_way(self, records: list[dict[str, Any]], everything: frozenset[str]) -> Outcome:
        """An injected crash: the function applies the first half of the batch, then its runtime
        dies, so Lambda reports the invocation failed and the whole batch comes again."""
        half = records[: len(records) // 2]
        if half:
            try:
                self.runtime.invoke(self.mapping.function, {"Records": half})
            except Exception as error:  # the crash below is the outcome either way
                log.info("%s: before the injected crash: %s", self.name, error)
        log.warning("%s: injected crash after %d of %d records", self.name, len(half), len(records))
        return Outcome(everything, {"errorType": "Runtime.ExitError", "errorMessage": "injected crash mid-batch"})

    def function_name(self) -> str:
        """The function's template logical id (what fault plans name)."""
        for spec in self.runtime.specs:
            if self.mapping.function in (spec.logical_id, spec.name, spec.arn):
                return spec.logical_id
        return self.mapping.function

    def function_arn(self) -> str:
        for spec in self.runtime.specs:
            if self.mapping.function in (spec.logical_id, spec.name, spec.arn):
                return spec.arn
        return self.mapping.function
