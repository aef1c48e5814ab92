"""The royalties state machine's steps: `prepare` (which month, under which model, and when it
closes), `compact` (every day of the month exactly-once over the plays it holds; the daily schedule
sends `compact` without a month: the days up to yesterday) and `run` (count the month's billable
plays over the compacted days, price and split them, write the statements and, unless provisional,
the payments)."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.analytics.engines import engine_for
from backbeat.aws import client
from backbeat.config import RoyaltiesSettings
from backbeat.observability import count, lambda_entry, logger
from backbeat.royalties.compaction import LakeDays, catch_up, ensure_month
from backbeat.royalties.monthly import Terms, prepare, run_month
from backbeat.royalties.store import RoyaltiesStore

settings = RoyaltiesSettings()
terms = Terms(
    pool_percent=Decimal(settings.royalty_pool_percent),
    publishing_percent=settings.royalty_publishing_percent,
    grace_days=settings.royalty_grace_days,
    currency=settings.royalty_currency,
)


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """`event`: ``{"step": "prepare", "input": {...}, "startedAt": ...}``, ``{"step": "compact",
    "run"?: <prepare's output>}`` or ``{"step": "run", "run": <prepare's output>}``."""
    if event.get("step") == "prepare":
        return prepare(event.get("input") or {}, event.get("startedAt"), terms)
    lake = LakeDays(client("s3"), settings.lake_bucket)
    engine = engine_for(settings.lake_query_engine, settings.lake_database, settings.lake_workgroup)
    try:
        if event.get("step") == "compact":
            month = (event.get("run") or {}).get("month")
            days = ensure_month(engine, lake, month) if month else catch_up(engine, lake, datetime.now(UTC).date())
            logger.info("days compacted", extra={"month": month, "days": days})
            count("RoyaltyDaysCompacted", len(days))
            return {"month": month, "daysCompacted": days}
        run = event["run"]
        logger.append_keys(month=run["month"], model=run["model"])
        store = RoyaltiesStore(client("dynamodb"), client("s3"), settings.royalties_table, settings.royalties_bucket)
        summary = run_month(
            engine,
            store,
            run["month"],
            run["model"],
            terms,
            lake,
            provisional=run["provisional"],
            restate=run["restate"],
        )
    finally:
        engine.close()
    count("RoyaltyPaymentsWritten", summary.get("payments", 0))
    return summary
