"""The Discover Weekly state machine's first step: the active listeners (a play in the last
`active_days`, from the event lake), in batches, written to S3 for the distributed map to read."""

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.analytics.engines import engine_for
from backbeat.aws import client
from backbeat.config import DiscoverWeeklyListenersSettings
from backbeat.observability import count, lambda_entry, logger
from backbeat.recs.discover import active_listeners, listener_batches, monday_of, write_manifest

settings = DiscoverWeeklyListenersSettings()


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """`event`: ``{"startedAt": <execution start>, "execution": <execution name>}``; answers where the
    batches are (``bucket``, ``key``), the week they are for and how many listeners and batches."""
    started = datetime.fromisoformat(str(event.get("startedAt") or datetime.now(UTC).isoformat()))
    week = monday_of(started if started.tzinfo else started.replace(tzinfo=UTC))
    since = (started - timedelta(days=settings.active_days)).date()
    engine = engine_for(settings.lake_query_engine, settings.lake_database, settings.lake_workgroup)
    try:
        listeners = active_listeners(engine, since)
    finally:
        engine.close()
    batches = listener_batches(listeners, settings.batch_size)
    execution = str(event.get("execution") or context.aws_request_id)
    key = write_manifest(client("s3"), settings.manifests_bucket, week, execution, batches)
    logger.info("discover weekly listeners", extra={"listeners": len(listeners), "week": week.isoformat()})
    count("DiscoverWeeklyListeners", len(listeners))
    return {
        "bucket": settings.manifests_bucket,
        "key": key,
        "week": week.isoformat(),
        "listeners": len(listeners),
        "batches": len(batches),
    }
