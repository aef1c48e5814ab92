"""SQS: Lambda's `aws:sqs` records; successes deleted, failures left to the queue's redrive policy."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from devstack.pollers.base import (
    SQS_WAIT_SECONDS,
    Poller,
    lambda_json,
    log,
    region_of,
)


def _message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """SQS API attribute values -> the camelCase shape of Lambda's SQS event."""
    converted: dict[str, Any] = {}
    for name, value in attributes.items():
        item: dict[str, Any] = {
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": [lambda_json(v) for v in value.get("BinaryListValues", [])],
            "dataType": value.get("DataType", "String"),
        }
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            item["binaryValue"] = lambda_json(value["BinaryValue"])
        converted[name] = item
    return converted


class SqsPoller(Poller):
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
            "awsRegion": region_of(self.mapping.source_arn),
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
