"""The downloads queue -> each song prepared at its rung, encrypted once per rendition, and its
download marked ready or failed (Powertools BatchProcessor: partial batch failures; the queue's
redrive policy moves a job that keeps failing to the dead-letter queue)."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from backbeat.aws import client
from backbeat.catalog.models import bind_catalog_table
from backbeat.config import DownloadWorkerSettings
from backbeat.downloads.keys import bind_content_keys_table
from backbeat.downloads.preparation import DownloadJob, Preparer
from backbeat.observability import correlated, count, lambda_entry, logger, sqs_correlation_id

settings = DownloadWorkerSettings()
bind_catalog_table(settings.catalog_table)
bind_content_keys_table(settings.content_keys_table)
preparer = Preparer(
    dynamodb=client("dynamodb"),
    s3=client("s3"),
    kms=client("kms"),
    downloads_table=settings.downloads_table,
    media_bucket=settings.media_bucket,
    offline_bucket=settings.offline_bucket,
    master_key_arn=settings.offline_master_key_arn,
)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def prepare_record(record: SQSRecord) -> None:
    with correlated(sqs_correlation_id(record.raw_event)):
        _prepare(record)


def _prepare(record: SQSRecord) -> None:
    try:
        job = DownloadJob.model_validate_json(record.body)
    except ValidationError:
        # A message that is not a job can never become one: logged and dropped, not retried.
        logger.warning("unreadable download job skipped", extra={"messageId": record.message_id})
        count("UnreadableDownloadJobs")
        return
    try:
        prepared = preparer.prepare(job)
    except Exception as error:
        attempts = int(record.attributes.approximate_receive_count or 1)
        if attempts >= settings.max_receive_count:
            reason = f"preparation failed {attempts} times: {type(error).__name__}: {error}"
            preparer.mark_failed(job, reason, datetime.now(UTC))
        logger.exception("download job failed", extra={"jobId": job.job_id, "songId": job.song_id})
        raise
    count(f"Downloads{prepared.outcome.capitalize()}")
    if prepared.encrypted:
        count("OfflineRenditionsEncrypted")
    logger.info(
        "download job " + prepared.outcome,
        extra={"jobId": job.job_id, "songId": job.song_id, "reason": prepared.reason},
    )


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=prepare_record, processor=processor, context=context
    )
    return dict(response)
