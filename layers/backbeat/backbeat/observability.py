"""One Logger, Tracer and Metrics for every function, configured from POWERTOOLS_* variables, and the
one decorator stack every handler wears (`lambda_entry`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# Where each kind of event carries a request id to correlate the logs with: the HTTP API and the
# WebSocket API both put it at requestContext.requestId. Streams, queues and state machines have none.
HTTP_API = correlation_paths.API_GATEWAY_HTTP
WEBSOCKET_API = correlation_paths.API_GATEWAY_REST

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
