"""Shard discovery, ordered delivery, retries, bisection and on-failure destinations, shared by the
DynamoDB streams and Kinesis pollers."""

from __future__ import annotations

import json
import threading
import time
import uuid
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from devstack.lambdas import LambdaRuntime
from devstack.pollers.base import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_CAP_SECONDS,
    IDLE_SECONDS,
    SHARD_REFRESH_SECONDS,
    Outcome,
    Poller,
    iso,
    log,
)
from devstack.pollers.wakeups import QUIET_SECONDS, WAKEUPS
from devstack.resources import EventSourceMapping


@dataclass
class Shard:
    """A shard's read position. `buffer` holds records fetched but not yet processed: its head is
    the checkpoint, so retries replay from there without re-reading the shard."""

    shard_id: str
    parents: tuple[str, ...]
    start: str  # iterator type the shard is first read with
    iterator: str | None = None
    last_fetched: str | None = None
    buffer: list[dict[str, Any]] = field(default_factory=list)
    buffered_since: float = 0.0
    closed: bool = False  # the shard list gives it an EndingSequenceNumber (split or merged)
    exhausted: bool = False  # closed and read to the end
    attempts: int = 0  # failed invocations of the records at the head of the buffer
    retry_at: float = 0.0
    limit: int = 0  # batch size in force (smaller while bisecting)
    halves: list[int] = field(default_factory=list)  # sizes of the second halves still to retry

    @property
    def finished(self) -> bool:
        return self.exhausted and not self.buffer


class StreamPoller(Poller):
    """Shared by DynamoDB streams and Kinesis: shard discovery, ordered delivery, retries."""

    batch_info_key = ""

    def __init__(
        self, mapping: EventSourceMapping, runtime: LambdaRuntime, session: Any, stopping: threading.Event
    ) -> None:
        super().__init__(mapping, runtime, session, stopping)
        self.shards: dict[str, Shard] = {}
        self._refreshed_at = 0.0
        self._first_discovery = True

    # source API, per stream type
    @abstractmethod
    def list_shards(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def shard_iterator(self, shard_id: str, iterator_type: str, sequence_number: str | None) -> str: ...

    @abstractmethod
    def get_records(self, iterator: str, limit: int) -> tuple[list[dict[str, Any]], str | None]: ...

    @abstractmethod
    def sequence_number(self, record: dict[str, Any]) -> str: ...

    @abstractmethod
    def event_record(self, record: dict[str, Any], shard_id: str) -> dict[str, Any]: ...

    @abstractmethod
    def arrival(self, record: dict[str, Any]) -> Any: ...

    # loop
    def setup(self) -> None:
        self.wakeup = WAKEUPS.register(self.mapping.source_arn)
        self.refresh_shards()

    def teardown(self) -> None:
        if hasattr(self, "wakeup"):
            WAKEUPS.unregister(self.mapping.source_arn, self.wakeup)

    def idle(self) -> None:
        """A batch held back by the clock (a retry's backoff, a batching window) is looked at again
        after IDLE_SECONDS; otherwise the poller sleeps until moto stores a record in its source, or
        QUIET_SECONDS pass."""
        if self.stopping.is_set():  # a stop's wake-up may have been cleared by the poll before this wait
            return
        if any(shard.buffer for shard in self.shards.values()):
            self.stopping.wait(IDLE_SECONDS)
        else:
            self.wakeup.wait(QUIET_SECONDS)

    def poll_once(self) -> bool:
        self.wakeup.clear()  # a record stored from here on wakes the wait after this poll
        return self._poll_shards()

    def refresh_shards(self) -> None:
        """New shards (from resharding, or a re-enabled stream) are read from their start; only
        the shards present when the mapping starts honour StartingPosition LATEST."""
        for description in self.list_shards():
            shard_id = description["ShardId"]
            closed = "EndingSequenceNumber" in description.get("SequenceNumberRange", {})
            if shard_id in self.shards:
                self.shards[shard_id].closed = closed
                continue
            parents = tuple(
                parent
                for parent in (description.get("ParentShardId"), description.get("AdjacentParentShardId"))
                if parent
            )
            position = self.mapping.starting_position if self._first_discovery else "TRIM_HORIZON"
            shard = Shard(shard_id, parents, position, closed=closed, limit=self.mapping.batch_size)
            shard.iterator = self.shard_iterator(shard_id, position, None)
            self.shards[shard_id] = shard
        self._first_discovery = False
        self._refreshed_at = time.monotonic()

    def ready(self, shard: Shard) -> bool:
        """Children wait until their parents are read to the end, so a key's records stay in order
        across a reshard."""
        return all(self.shards[parent].finished for parent in shard.parents if parent in self.shards)

    def _poll_shards(self) -> bool:
        if time.monotonic() - self._refreshed_at >= SHARD_REFRESH_SECONDS:
            self.refresh_shards()
        worked = False
        for shard in list(self.shards.values()):
            if self.stopping.is_set():
                break
            if shard.finished or not self.ready(shard) or time.monotonic() < shard.retry_at:
                continue
            worked = self.fetch(shard) or worked
            if self.due(shard):
                self.deliver(shard)
                worked = True
        return worked

    def fetch(self, shard: Shard) -> bool:
        if shard.exhausted or len(shard.buffer) >= shard.limit:
            return False
        if shard.iterator is None:
            position = "AFTER_SEQUENCE_NUMBER" if shard.last_fetched else shard.start
            shard.iterator = self.shard_iterator(shard.shard_id, position, shard.last_fetched)
        try:
            records, next_iterator = self.get_records(shard.iterator, self.mapping.batch_size)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExpiredIteratorException":
                raise
            shard.iterator = None  # re-read from the last fetched record next time
            return False
        shard.iterator = next_iterator
        # AWS ends a closed shard with a null iterator; moto keeps handing out iterators.
        shard.exhausted = next_iterator is None or (shard.closed and not records)
        if records:
            if not shard.buffer:
                shard.buffered_since = time.monotonic()
            shard.buffer.extend(records)
            shard.last_fetched = self.sequence_number(records[-1])
        return bool(records)

    def due(self, shard: Shard) -> bool:
        """A batch goes when it is full, when the batching window has passed, or when the shard
        has nothing more to add to it right now (with no window)."""
        if not shard.buffer:
            return False
        if len(shard.buffer) >= shard.limit or shard.exhausted:
            return True
        return time.monotonic() - shard.buffered_since >= self.mapping.batching_window_seconds

    def deliver(self, shard: Shard) -> None:
        batch = shard.buffer[: shard.limit]
        identifiers = [self.sequence_number(record) for record in batch]
        outcome = self.invoke([self.event_record(record, shard.shard_id) for record in batch], identifiers)
        if outcome.ok:
            self.advance(shard, len(batch))
            return
        if outcome.error is not None and self.mapping.bisect_on_error and len(batch) > 1:
            # Retry each half on its own, the first one now; a split is not a retry attempt.
            shard.halves.append(len(batch) - len(batch) // 2)
            shard.limit = len(batch) // 2
            return
        # Checkpoint before the lowest failed sequence number; replay from there.
        first_failed = next(index for index, seq in enumerate(identifiers) if seq in outcome.failed)
        del shard.buffer[:first_failed]
        shard.attempts = 1 if first_failed else shard.attempts + 1
        retries = shard.attempts - 1
        limit = self.mapping.maximum_retry_attempts
        if limit >= 0 and retries >= limit:
            failed = batch[first_failed:]
            self.send_to_destination(shard, failed, outcome, shard.attempts)
            self.advance(shard, len(failed))
            return
        delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (shard.attempts - 1))
        shard.retry_at = time.monotonic() + delay

    def advance(self, shard: Shard, count: int) -> None:
        """Move the checkpoint past `count` records that are done with (processed or discarded)."""
        del shard.buffer[:count]
        shard.attempts = 0
        shard.limit = shard.halves.pop() if shard.halves else self.mapping.batch_size
        shard.buffered_since = time.monotonic()

    def send_to_destination(self, shard: Shard, records: list[dict[str, Any]], outcome: Outcome, attempts: int) -> None:
        """Lambda's invocation record for a discarded stream batch: it describes the batch (shard
        and sequence numbers), it does not carry the records."""
        log.warning(
            "%s: discarding %d record(s) of %s after %d attempt(s)",
            self.name,
            len(records),
            shard.shard_id,
            attempts,
        )
        if not self.mapping.on_failure_arn:
            return
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if outcome.error is not None:
            response_context["functionError"] = "Unhandled"
        document = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function_arn(),
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": response_context,
            "version": "1.0",
            "timestamp": iso(None),
            self.batch_info_key: {
                "shardId": shard.shard_id,
                "startSequenceNumber": self.sequence_number(records[0]),
                "endSequenceNumber": self.sequence_number(records[-1]),
                "approximateArrivalOfFirstRecord": iso(self.arrival(records[0])),
                "approximateArrivalOfLastRecord": iso(self.arrival(records[-1])),
                "batchSize": len(records),
                "streamArn": self.mapping.source_arn,
            },
        }
        send_to_destination(self.session, self.mapping.on_failure_arn, document)


def send_to_destination(session: Any, arn: str, document: dict[str, Any]) -> None:
    """Deliver an on-failure record to an SQS queue or SNS topic ARN."""
    service = arn.split(":")[2]
    body = json.dumps(document)
    if service == "sqs":
        sqs = session.client("sqs")
        url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1], QueueOwnerAWSAccountId=arn.split(":")[4])
        sqs.send_message(QueueUrl=url["QueueUrl"], MessageBody=body)
    elif service == "sns":
        session.client("sns").publish(TopicArn=arn, Message=body)
    else:
        log.warning("on-failure destination %s is not supported locally; dropped %s", arn, body)
