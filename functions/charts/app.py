"""Charts API: GET /charts/trending (JWT)."""

import threading
import time
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.catalog.models import bind_catalog_table
from backbeat.config import ChartsSettings
from backbeat.http import create_resolver
from backbeat.observability import HTTP_API, lambda_entry, tracer
from backbeat.plays.counter_store import bind_counters_table
from backbeat.plays.trending import MAX_CHART, trending_chart

settings = ChartsSettings()
bind_catalog_table(settings.catalog_table)
bind_counters_table(settings.counters_table)
app = create_resolver()

CHART_SECONDS = 60  # one chart per minute per execution environment: every caller sees the same one
_chart_lock = threading.Lock()
_chart: tuple[float, dict[str, Any]] | None = None


def _current_chart() -> dict[str, Any]:
    global _chart
    with _chart_lock:
        if _chart is None or _chart[0] <= time.monotonic():
            _chart = (time.monotonic() + CHART_SECONDS, trending_chart(MAX_CHART))
        return _chart[1]


@app.get("/charts/trending")
@tracer.capture_method
def get_trending(limit: Annotated[int, Query(ge=1, le=MAX_CHART)] = 20) -> dict[str, Any]:
    chart = _current_chart()
    items = chart["items"][:limit]
    return {**chart, "items": items, "total": len(items), "limit": limit}


@lambda_entry(HTTP_API)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
