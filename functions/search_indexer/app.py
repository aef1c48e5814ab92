"""The catalog table's stream -> the search indices (one bulk request per batch, idempotent, partial
batch failures through Powertools' BatchProcessor)."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.config import SearchIndexerSettings
from backbeat.observability import correlated, count, lambda_entry, logger, stream_correlation_id
from backbeat.search.engine import connect, ensure_indices
from backbeat.search.indexer import index_stream_records

settings = SearchIndexerSettings()
client = connect(settings.search_endpoint, settings.aws_region)
ensure_indices(client, settings.search_index_prefix)
# Every record failing (the engine is down) is reported like any partial failure, so the stream
# retries the batch and, after MaximumRetryAttempts, sends it to the on-failure queue.
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


class NotIndexed(Exception):
    """The bulk request did not apply this record; the stream delivers it again."""


def _bulk_failures(records: list[dict[str, Any]]) -> set[str]:
    """The whole batch in one bulk request; the sequence numbers of the records it did not apply."""
    try:
        return set(index_stream_records(client, settings.search_index_prefix, records))
    except Exception:
        logger.exception("bulk indexing failed", extra={"records": len(records)})
        return {str(record["dynamodb"]["SequenceNumber"]) for record in records}


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    failed = _bulk_failures(records)

    def report(record: DynamoDBRecord) -> None:
        sequence = record.dynamodb.sequence_number if record.dynamodb else None
        with correlated(stream_correlation_id(record.raw_event)):
            if sequence in failed:
                logger.warning("record not indexed; the stream delivers it again", extra={"sequenceNumber": sequence})
                raise NotIndexed(sequence)
            logger.debug(
                "record indexed", extra={"sequenceNumber": sequence, "eventName": record.raw_event.get("eventName")}
            )

    response = process_partial_response(event=event, record_handler=report, processor=processor, context=context)
    if failed:
        logger.warning("records not indexed", extra={"failed": len(failed), "records": len(records)})
    count("IndexedRecords", len(records) - len(failed))
    return dict(response)
