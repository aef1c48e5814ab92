"""The recommendations workflow's first step: the lake's plays of the training window, one row per
listener and song (listening time in full plays), unloaded as Parquet to training/<run>/interactions/."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.analytics.engines import engine_for
from backbeat.aws import client
from backbeat.config import RecsExportSettings
from backbeat.observability import lambda_entry, logger
from backbeat.recs.export import export_interactions

settings = RecsExportSettings()


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """`event`: ``{"run": <execution name>, "startedAt": <execution start>}``."""
    run = str(event["run"])
    started = datetime.fromisoformat(
        str(event.get("startedAt") or datetime.now(UTC).isoformat()).replace("Z", "+00:00")
    )
    logger.append_keys(run=run)
    engine = engine_for(settings.lake_query_engine, settings.lake_database, settings.lake_workgroup)
    try:
        prefix = export_interactions(engine, client("s3"), settings.recs_models_bucket, run, started)
    finally:
        engine.close()
    return {"run": run, "interactionsPrefix": prefix}
