"""The recommendations workflow's last step: read the training run's outcome and, when the new
version is not worse than the promoted one, promote it (conditional on the pointer not having moved)."""

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.aws import client
from backbeat.config import RecsPromoteSettings
from backbeat.observability import count, lambda_entry, logger
from backbeat.recs import registry

settings = RecsPromoteSettings()


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """`event`: ``{"run": <execution name>}``; answers what was promoted (None: nothing)."""
    run = str(event["run"])
    body = client("s3").get_object(Bucket=settings.recs_models_bucket, Key=f"training/{run}/outcome.json")["Body"]
    outcome = json.loads(body.read())
    version = outcome.get("version")
    if not outcome.get("promote") or not version:
        logger.info("not promoted", extra={"outcome": outcome})
        return {"run": run, "promoted": None, "version": version, "reason": outcome.get("reason", "worse")}
    try:
        registry.promote(settings.recs_registry_table, version, expected_current=outcome.get("comparedWith"))
    except registry.PromotionConflict as conflict:
        logger.warning(str(conflict))
        return {"run": run, "promoted": None, "version": version, "reason": "the promoted version moved"}
    count("RecsModelPromoted", 1)
    return {"run": run, "promoted": version, "version": version}
