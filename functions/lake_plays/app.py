"""The plays table's stream -> the plays delivery stream (Firehose -> plays/dt=<day>/ as Parquet in
the event lake). Partial batch failures through Powertools' BatchProcessor: a record Firehose
refuses is retried by the stream, and after MaximumRetryAttempts goes to the on-failure queue."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from backbeat.analytics.plays_export import deliver, lake_line
from backbeat.aws import client
from backbeat.config import LakePlaysSettings
from backbeat.observability import correlated, count, lambda_entry, logger, stream_correlation_id

settings = LakePlaysSettings()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


class NotDelivered(Exception):
    """Firehose did not take this record; the stream delivers it again."""


def _undelivered(records: list[dict[str, Any]]) -> set[str]:
    lines = [(str(record["dynamodb"]["SequenceNumber"]), lake_line(record)) for record in records]
    wanted = [(sequence, line) for sequence, line in lines if line is not None]
    try:
        return deliver(client("firehose"), settings.plays_delivery_stream, wanted)
    except (BotoCoreError, ClientError):
        logger.exception("the plays delivery stream refused the batch", extra={"records": len(wanted)})
        return {sequence for sequence, _ in wanted}


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    failed = _undelivered(records)

    def report(record: DynamoDBRecord) -> None:
        sequence = record.dynamodb.sequence_number if record.dynamodb else None
        with correlated(stream_correlation_id(record.raw_event)):  # the request behind the change
            if sequence in failed:
                logger.warning(
                    "play change not delivered; the stream delivers it again", extra={"sequenceNumber": sequence}
                )
                raise NotDelivered(sequence)

    response = process_partial_response(event=event, record_handler=report, processor=processor, context=context)
    count("PlayChangesDelivered", len(records) - len(failed))
    return dict(response)
