"""The recommendations workflow's training step, in-process (the devstack; AWS runs the same job as a
SageMaker Processing container, docs/decisions.md 36): train on the exported plays, compare with the
promoted model, publish the artefacts and the registry record, write the outcome for the promote step."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.config import RecsTrainingSettings
from backbeat.observability import lambda_entry, logger

settings = RecsTrainingSettings()


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """`event`: ``{"run": <execution name>, "interactionsPrefix": "training/<run>/interactions/"}``."""
    from backbeat_recs.job import run  # the training package: numpy, scipy, implicit (not in the layer)

    logger.append_keys(run=event["run"])
    outcome = run(
        str(event["run"]),
        str(event["interactionsPrefix"]),
        settings.recs_models_bucket,
        settings.recs_registry_table,
        settings.catalog_table,
    )
    return {key: outcome.get(key) for key in ("run", "version", "promote", "metrics", "comparedWith", "reason")}
