"""The plays table's stream -> live counters, listening now and taste profiles (idempotent, partial
batch failures through Powertools' BatchProcessor; failed batches end in the counters DLQ)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.config import CountersSettings
from backbeat.observability import correlated, count, lambda_entry, logger, stream_correlation_id
from backbeat.plays import counters, taste
from backbeat.plays.counter_store import bind_counters_table

settings = CountersSettings()
bind_counters_table(settings.counters_table)
taste.bind_taste_table(settings.taste_table)
half_life = timedelta(days=settings.taste_half_life_days)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def apply_play_change(record: DynamoDBRecord) -> None:
    change = counters.play_change(record.raw_event)
    if change is None:  # not a play record (the devstack's pollers apply no filter)
        return
    with correlated(stream_correlation_id(record.raw_event)):  # the request whose event changed the play
        if change.turned_billable and change.new is not None:
            if counters.count_billable_play(change.new):
                count("BillablePlaysCounted")
                # DEBUG, as the plays consumer's line: one per billable play is too many for INFO
                logger.debug("billable play counted", extra={"playId": change.new.play_id})
            taste.fold_billable_play(change.new, half_life)
        counters.refresh_listening_now(change, datetime.now(UTC))


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dict(
        process_partial_response(event=event, record_handler=apply_play_change, processor=processor, context=context)
    )
