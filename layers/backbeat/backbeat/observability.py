"""One Logger, Tracer and Metrics for every function, configured from POWERTOOLS_* variables."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def count(name: str, value: float = 1) -> None:
    """Add to a Count metric. Skipped when metrics are disabled: Powertools would otherwise keep
    collecting and print every hundredth value even with POWERTOOLS_METRICS_DISABLED set."""
    if not is_metrics_disabled():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
