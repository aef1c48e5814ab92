"""The daily aggregates state machine's step: one day's per-song and per-artist figures from the
event lake, written as Parquet under aggregates/ (Athena in AWS, DuckDB locally)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.analytics.aggregates import day_to_aggregate, write_daily_aggregates
from backbeat.analytics.engines import engine_for
from backbeat.aws import client
from backbeat.config import LakeAggregatesSettings
from backbeat.observability import count, lambda_entry, logger

settings = LakeAggregatesSettings()


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """`event`: ``{"input": {"day"?: "YYYY-MM-DD"}, "startedAt": <execution start>}``."""
    requested = (event.get("input") or {}).get("day")
    day = day_to_aggregate(requested, event.get("startedAt"))
    logger.append_keys(day=day.isoformat())
    engine = engine_for(settings.lake_query_engine, settings.lake_database, settings.lake_workgroup)
    try:
        written = write_daily_aggregates(engine, client("s3"), settings.lake_bucket, day)
    finally:
        engine.close()
    count("DailyAggregatesWritten", len(written))
    return {"day": day.isoformat(), "written": written}
