"""One Logger, Tracer and Metrics for every function, configured from POWERTOOLS_* variables, the
one decorator stack every handler wears (`lambda_entry`), and the correlation id that follows a
request through streams, queues and state machines to the WebSocket message.

The correlation id (the `correlation_id` key of every log line; docs/decisions.md, 44): an HTTP
request's is its valid `x-correlation-id` header or else API Gateway's request id, and the response
echoes it in `x-correlation-id`. What a request writes carries it as `correlationId` (a field of a
stream record, a change-log item or a state machine input; an SQS message attribute), and each
consumer logs each record under the id the record carries (`correlated`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# Where each kind of event carries the id to correlate the logs with. The HTTP API: the caller's
# x-correlation-id header when it is valid, else the request id (`http_correlation_id`; the response
# echoes it). The WebSocket API: the request id. Streams and queues: each record's own
# (`correlated`). State machine tasks: their input's `correlationId`.
HTTP_API = 'headers."x-correlation-id" || requestContext.requestId'
WEBSOCKET_API = correlation_paths.API_GATEWAY_REST

# The correlation id on the wire: the HTTP header (asked for and echoed), the field of what producers
# write, the SQS message attribute. A caller's id is used only when it is short and plain.
CORRELATION_HEADER = "x-correlation-id"
CORRELATION_FIELD = "correlationId"
CORRELATION_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+-]{0,99}")

# Set on every handler `lambda_entry` wraps; tests/unit/test_handler_stack.py checks that every
# `Handler` in template.yaml carries it.
ENTRY_MARKER = "__backbeat_lambda_entry__"

Handler = TypeVar("Handler", bound=Callable[..., Any])


def lambda_entry(correlation_path: str | None = None) -> Callable[[Handler], Handler]:
    """The handler stack, outermost first: the logger injects the Lambda context (and the request's
    correlation id when the event has one), metrics are flushed once per invocation, and the tracer
    opens the handler's segment without recording the response (it may hold personal data)."""

    def wrap(handler: Handler) -> Handler:
        traced = tracer.capture_lambda_handler(handler, capture_response=False)
        measured = metrics.log_metrics(traced)
        if correlation_path == HTTP_API:
            logged = logger.inject_lambda_context(_http_correlated(measured), clear_state=True)
        elif correlation_path is None:
            logged = logger.inject_lambda_context(_input_correlated(measured), clear_state=True)
        else:
            logged = logger.inject_lambda_context(measured, correlation_id_path=correlation_path, clear_state=True)

        @functools.wraps(handler)
        def entry(event: Any, context: Any) -> Any:
            return logged(event, context)

        setattr(entry, ENTRY_MARKER, True)
        return entry  # type: ignore[return-value]

    return wrap


def count(name: str, value: float = 1) -> None:
    """Add to a Count metric. Skipped when metrics are disabled: Powertools would otherwise keep
    collecting and print every hundredth value even with POWERTOOLS_METRICS_DISABLED set."""
    if not is_metrics_disabled():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


# ------------------------------------------------------------------------------- correlation ids
def valid_correlation_id(value: Any) -> str | None:
    """`value` when it can serve as a correlation id (1-100 plain characters), else None."""
    if isinstance(value, str) and CORRELATION_ID_PATTERN.fullmatch(value):
        return value
    return None


def correlation_id() -> str | None:
    """The id the current request or record is logged under (None outside one)."""
    return logger.get_correlation_id()


def http_correlation_id(event: Mapping[str, Any]) -> str | None:
    """An HTTP API event's id: the caller's `x-correlation-id` when valid, else the request id."""
    headers = event.get("headers") or {}
    asked = next((value for name, value in headers.items() if str(name).lower() == CORRELATION_HEADER), None)
    request_id = (event.get("requestContext") or {}).get("requestId")
    return valid_correlation_id(asked) or (str(request_id) if request_id else None)


@contextmanager
def correlated(value: str | None) -> Iterator[None]:
    """Log under `value` (a record's correlation id) for the block, then under the previous id again.
    A missing or invalid id logs without one rather than under the previous record's."""
    previous = correlation_id()
    logger.set_correlation_id(valid_correlation_id(value))
    try:
        yield
    finally:
        logger.set_correlation_id(previous)


def correlation_message_attributes() -> dict[str, Any]:
    """SQS `MessageAttributes` carrying the current correlation id (none outside a request)."""
    current = correlation_id()
    return {CORRELATION_FIELD: {"DataType": "String", "StringValue": current}} if current else {}


def sqs_correlation_id(record: Mapping[str, Any]) -> str | None:
    """The correlation id an SQS record's message attributes carry (the Lambda event's shape)."""
    attribute = (record.get("messageAttributes") or {}).get(CORRELATION_FIELD) or {}
    return valid_correlation_id(attribute.get("stringValue"))


def stream_correlation_id(record: Mapping[str, Any]) -> str | None:
    """The correlation id a DynamoDB stream record's item carries (the Lambda event's shape): the
    request that wrote it, as `correlationId` (plays, songs) or `lastCorrelationId` (playlists)."""
    change = record.get("dynamodb") or {}
    image = change.get("NewImage") or change.get("OldImage") or {}
    attribute = image.get(CORRELATION_FIELD) or image.get("lastCorrelationId") or {}
    return valid_correlation_id(attribute.get("S"))


def _http_correlated(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Log the request under its correlation id and echo the id to the caller."""

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        value = http_correlation_id(event) if isinstance(event, Mapping) else None
        logger.set_correlation_id(value)
        response = handler(event, context)
        if value and isinstance(response, dict) and "statusCode" in response:
            response["headers"] = {**(response.get("headers") or {}), CORRELATION_HEADER: value}
        return response

    return run


def _input_correlated(handler: Callable[..., Any]) -> Callable[..., Any]:
    """A state machine task's (or a direct invocation's) input names its correlation id in
    `correlationId`; stream and queue batches have none here, their records do (`correlated`)."""

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        if isinstance(event, Mapping):
            logger.set_correlation_id(valid_correlation_id(event.get(CORRELATION_FIELD)))
        return handler(event, context)

    return run
