"""Event source mappings run locally: DynamoDB streams, Kinesis and SQS feed in-process Lambda handlers.

moto stores stream records and queue messages but its own event source mappings need Docker, so
the devstack polls the sources itself, the way Lambda's pollers do: one daemon thread per mapping
builds Lambda's event shapes, batches by `BatchSize` / `MaximumBatchingWindowInSeconds`, and
applies Lambda's failure semantics so that code which relies on them (partial batch responses,
retries, on-failure destinations, SQS redrive to a DLQ) behaves locally as it will in AWS:

- Streams (DynamoDB, Kinesis): records of a shard are delivered in order. A failed batch is
  retried with a capped exponential backoff; with `ReportBatchItemFailures` the shard is
  checkpointed before the lowest failed sequence number and retried from there. After
  `MaximumRetryAttempts` (-1 = forever) the batch is described to the `OnFailure` destination
  (SQS queue or SNS topic) and skipped. `BisectBatchOnFunctionError` halves the batch on error.
- SQS: messages that succeeded are deleted; failed ones stay on the queue, come back after the
  visibility timeout and reach the queue's DLQ through its RedrivePolicy (moto applies it).

Polling is short (a fraction of a second when idle) so that local latency stays low.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from devstack.lambdas import FunctionError, LambdaRuntime
from devstack.resources import EventSourceMapping

log = logging.getLogger(__name__)

IDLE_SECONDS = 0.2  # wait between polls of a source that had nothing new
SHARD_REFRESH_SECONDS = 2.0  # how often the shard list is re-read to find new shards
BACKOFF_BASE_SECONDS = 0.1  # first retry delay of a failed stream batch, doubled per attempt
BACKOFF_CAP_SECONDS = 2.0  # retry delays stop growing here (local latency over AWS's minutes)
SOURCE_ERROR_BACKOFF_SECONDS = 1.0  # after an API error talking to the source
SQS_WAIT_SECONDS = 1  # long poll; bounds how long stop() waits for an SQS poller
STOP_JOIN_SECONDS = 5.0


def _epoch(value: Any) -> Any:
    return value.timestamp() if isinstance(value, datetime) else value


def _iso(value: Any) -> str:
    moment = value if isinstance(value, datetime) else datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _lambda_json(value: Any) -> Any:
    """What the Lambda service serializes: boto3 hands back binary values as bytes and times as
    datetimes, Lambda events carry base64 strings and epoch seconds."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {key: _lambda_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_lambda_json(item) for item in value]
    return value


def _region_of(arn: str) -> str:
    return arn.split(":")[3]


@dataclass(frozen=True)
class _Outcome:
    """How an invocation went: `failed` holds the identifiers to retry (all of them when the
    function raised or answered a malformed batchItemFailures)."""

    failed: frozenset[str]
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.failed


class _Poller(ABC):
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
                    self.stopping.wait(IDLE_SECONDS)
        except Exception as error:
            if not self.stopping.is_set():
                self.failure = f"{type(error).__name__}: {error}"
                log.exception("%s failed", self.name)

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Runs once in the poller's thread before the first poll."""

    @abstractmethod
    def poll_once(self) -> bool:
        """Poll the source once; True when something was fetched or delivered."""

    def invoke(self, records: list[dict[str, Any]], identifiers: list[str]) -> _Outcome:
        """Invoke the function with `{"Records": records}` and read a partial batch response the
        way Lambda does: an empty, null or unknown itemIdentifier fails the whole batch."""
        everything = frozenset(identifiers)
        self.invocations += 1
        try:
            response = self.runtime.invoke(self.mapping.function, {"Records": records})
        except FunctionError as error:
            log.info("%s: function error: %s", self.name, error)
            return _Outcome(everything, error.payload)
        except Exception as error:  # an init failure (import error, missing module) is a function error
            log.warning("%s: invocation failed: %s", self.name, error)
            return _Outcome(everything, {"errorType": type(error).__name__, "errorMessage": str(error)})
        if not self.mapping.report_batch_item_failures or not isinstance(response, dict):
            return _Outcome(frozenset())
        failures = response.get("batchItemFailures")
        if failures is None:
            return _Outcome(frozenset())
        if not isinstance(failures, list):
            return _Outcome(everything)
        failed: set[str] = set()
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not identifier or str(identifier) not in everything:
                log.warning("%s: invalid batchItemFailures entry %r fails the batch", self.name, failure)
                return _Outcome(everything)
            failed.add(str(identifier))
        return _Outcome(frozenset(failed))

    def function_arn(self) -> str:
        for spec in self.runtime.specs:
            if self.mapping.function in (spec.logical_id, spec.name, spec.arn):
                return spec.arn
        return self.mapping.function


# ---------------------------------------------------------------------------------------- streams
@dataclass
class _Shard:
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


class _StreamPoller(_Poller):
    """Shared by DynamoDB streams and Kinesis: shard discovery, ordered delivery, retries."""

    batch_info_key = ""

    def __init__(
        self, mapping: EventSourceMapping, runtime: LambdaRuntime, session: Any, stopping: threading.Event
    ) -> None:
        super().__init__(mapping, runtime, session, stopping)
        self.shards: dict[str, _Shard] = {}
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
        self.refresh_shards()

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
            shard = _Shard(shard_id, parents, position, closed=closed, limit=self.mapping.batch_size)
            shard.iterator = self.shard_iterator(shard_id, position, None)
            self.shards[shard_id] = shard
        self._first_discovery = False
        self._refreshed_at = time.monotonic()

    def ready(self, shard: _Shard) -> bool:
        """Children wait until their parents are read to the end, so a key's records stay in order
        across a reshard."""
        return all(self.shards[parent].finished for parent in shard.parents if parent in self.shards)

    def poll_once(self) -> bool:
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

    def fetch(self, shard: _Shard) -> bool:
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

    def due(self, shard: _Shard) -> bool:
        """A batch goes when it is full, when the batching window has passed, or when the shard
        has nothing more to add to it right now (with no window)."""
        if not shard.buffer:
            return False
        if len(shard.buffer) >= shard.limit or shard.exhausted:
            return True
        return time.monotonic() - shard.buffered_since >= self.mapping.batching_window_seconds

    def deliver(self, shard: _Shard) -> None:
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

    def advance(self, shard: _Shard, count: int) -> None:
        """Move the checkpoint past `count` records that are done with (processed or discarded)."""
        del shard.buffer[:count]
        shard.attempts = 0
        shard.limit = shard.halves.pop() if shard.halves else self.mapping.batch_size
        shard.buffered_since = time.monotonic()

    def send_to_destination(
        self, shard: _Shard, records: list[dict[str, Any]], outcome: _Outcome, attempts: int
    ) -> None:
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
            "timestamp": _iso(None),
            self.batch_info_key: {
                "shardId": shard.shard_id,
                "startSequenceNumber": self.sequence_number(records[0]),
                "endSequenceNumber": self.sequence_number(records[-1]),
                "approximateArrivalOfFirstRecord": _iso(self.arrival(records[0])),
                "approximateArrivalOfLastRecord": _iso(self.arrival(records[-1])),
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


class _DynamoDBStreamPoller(_StreamPoller):
    batch_info_key = "DDBStreamBatchInfo"

    def setup(self) -> None:
        self.client = self.session.client("dynamodbstreams")
        super().setup()

    def list_shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamArn": self.mapping.source_arn}
        while True:
            description = self.client.describe_stream(**request)["StreamDescription"]
            shards.extend(description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return shards
            request["ExclusiveStartShardId"] = last

    def shard_iterator(self, shard_id: str, iterator_type: str, sequence_number: str | None) -> str:
        request = {
            "StreamArn": self.mapping.source_arn,
            "ShardId": shard_id,
            "ShardIteratorType": iterator_type,
        }
        if sequence_number is not None:
            request["SequenceNumber"] = sequence_number
        return str(self.client.get_shard_iterator(**request)["ShardIterator"])

    def get_records(self, iterator: str, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        response = self.client.get_records(ShardIterator=iterator, Limit=min(limit, 1000))
        return response.get("Records", []), response.get("NextShardIterator")

    def sequence_number(self, record: dict[str, Any]) -> str:
        return str(record["dynamodb"]["SequenceNumber"])

    def arrival(self, record: dict[str, Any]) -> Any:
        return record["dynamodb"].get("ApproximateCreationDateTime")

    def event_record(self, record: dict[str, Any], shard_id: str) -> dict[str, Any]:
        event = {
            "eventID": record.get("eventID") or uuid.uuid4().hex,
            "eventName": record["eventName"],
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": _region_of(self.mapping.source_arn),
            "dynamodb": _lambda_json(record["dynamodb"]),
            "eventSourceARN": self.mapping.source_arn,
        }
        if record.get("userIdentity"):
            event["userIdentity"] = record["userIdentity"]
        return event


class _KinesisPoller(_StreamPoller):
    batch_info_key = "KinesisBatchInfo"

    def setup(self) -> None:
        self.client = self.session.client("kinesis")
        super().setup()

    def list_shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        request: dict[str, Any] = {"StreamARN": self.mapping.source_arn}
        while True:
            response = self.client.list_shards(**request)
            shards.extend(response.get("Shards", []))
            token = response.get("NextToken")
            if not token:
                return shards
            request = {"NextToken": token}

    def shard_iterator(self, shard_id: str, iterator_type: str, sequence_number: str | None) -> str:
        request = {
            "StreamARN": self.mapping.source_arn,
            "ShardId": shard_id,
            "ShardIteratorType": iterator_type,
        }
        if sequence_number is not None:
            request["StartingSequenceNumber"] = sequence_number
        return str(self.client.get_shard_iterator(**request)["ShardIterator"])

    def get_records(self, iterator: str, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        response = self.client.get_records(
            StreamARN=self.mapping.source_arn, ShardIterator=iterator, Limit=min(limit, 10000)
        )
        return response.get("Records", []), response.get("NextShardIterator")

    def sequence_number(self, record: dict[str, Any]) -> str:
        return str(record["SequenceNumber"])

    def arrival(self, record: dict[str, Any]) -> Any:
        return record.get("ApproximateArrivalTimestamp")

    def event_record(self, record: dict[str, Any], shard_id: str) -> dict[str, Any]:
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": record["PartitionKey"],
                "sequenceNumber": record["SequenceNumber"],
                "data": base64.b64encode(record["Data"]).decode("ascii"),
                "approximateArrivalTimestamp": _epoch(record.get("ApproximateArrivalTimestamp")),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{record['SequenceNumber']}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": f"arn:aws:iam::{self.mapping.source_arn.split(':')[4]}:role/devstack",
            "awsRegion": _region_of(self.mapping.source_arn),
            "eventSourceARN": self.mapping.source_arn,
        }


# ---------------------------------------------------------------------------------------- SQS
def _message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """SQS API attribute values -> the camelCase shape of Lambda's SQS event."""
    converted: dict[str, Any] = {}
    for name, value in attributes.items():
        item: dict[str, Any] = {
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": [_lambda_json(v) for v in value.get("BinaryListValues", [])],
            "dataType": value.get("DataType", "String"),
        }
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            item["binaryValue"] = _lambda_json(value["BinaryValue"])
        converted[name] = item
    return converted


class _SqsPoller(_Poller):
    """Receives up to BatchSize messages (within the batching window), invokes, deletes the
    successes. Failures are left alone: the queue's visibility timeout and redrive policy decide
    what happens to them, as in AWS."""

    def setup(self) -> None:
        self.client = self.session.client("sqs")
        if not self.mapping.queue_url:
            name = self.mapping.source_arn.rsplit(":", 1)[-1]
            self.queue_url = str(self.client.get_queue_url(QueueName=name)["QueueUrl"])
        else:
            self.queue_url = self.mapping.queue_url

    def receive(self, count: int, wait: float) -> list[dict[str, Any]]:
        response = self.client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(10, count)),
            WaitTimeSeconds=int(wait),
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def collect(self) -> list[dict[str, Any]]:
        """One batch: a long poll for the first messages, then more until BatchSize or the end of
        the batching window (without a window, only what is immediately available)."""
        batch_size = self.mapping.batch_size
        messages: dict[str, dict[str, Any]] = {}
        for message in self.receive(batch_size, SQS_WAIT_SECONDS):
            messages[message["MessageId"]] = message
        if not messages:
            return []
        window_ends = time.monotonic() + self.mapping.batching_window_seconds
        while len(messages) < batch_size and not self.stopping.is_set():
            remaining = window_ends - time.monotonic()
            received = self.receive(batch_size - len(messages), min(SQS_WAIT_SECONDS, max(0.0, remaining)))
            for message in received:
                messages[message["MessageId"]] = message  # a redelivery carries the newer receipt handle
            if not received and remaining <= 0:
                break
        return list(messages.values())

    def event_record(self, message: dict[str, Any]) -> dict[str, Any]:
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": _message_attributes(message.get("MessageAttributes", {})),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.mapping.source_arn,
            "awsRegion": _region_of(self.mapping.source_arn),
        }
        if message.get("MD5OfMessageAttributes"):
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def poll_once(self) -> bool:
        messages = self.collect()
        if not messages:
            return False
        identifiers = [message["MessageId"] for message in messages]
        outcome = self.invoke([self.event_record(message) for message in messages], identifiers)
        done = [message for message in messages if message["MessageId"] not in outcome.failed]
        self.delete(done)
        if not outcome.ok:
            log.info("%s: %d of %d message(s) left on the queue", self.name, len(outcome.failed), len(messages))
        return True

    def delete(self, messages: Iterable[dict[str, Any]]) -> None:
        entries = [{"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(messages)]
        for start in range(0, len(entries), 10):
            response = self.client.delete_message_batch(QueueUrl=self.queue_url, Entries=entries[start : start + 10])
            for failure in response.get("Failed", []):
                log.warning("%s: could not delete a message: %s", self.name, failure)


_POLLERS: dict[str, type[_Poller]] = {
    "dynamodb": _DynamoDBStreamPoller,
    "kinesis": _KinesisPoller,
    "sqs": _SqsPoller,
}


class PollerGroup:
    """All event source mappings of a deployment, one daemon thread each."""

    def __init__(self, mappings: list[EventSourceMapping], runtime: LambdaRuntime, session: Any) -> None:
        self.mappings = mappings
        self.runtime = runtime
        self.session = session
        self._stopping = threading.Event()
        self.pollers: list[_Poller] = [
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
