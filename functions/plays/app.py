"""The playback events stream -> play records with verdicts (idempotent by eventId, partial batch
failures through Powertools' BatchProcessor)."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from backbeat.config import PlaysSettings
from backbeat.observability import correlated, count, lambda_entry, logger
from backbeat.plays.consumer import PlaysStore, apply_events
from backbeat.plays.events import StreamedEvent
from backbeat.plays.verdicts import VerdictRules

settings = PlaysSettings()
store = PlaysStore(settings.plays_table)
rules = VerdictRules.from_settings(settings)
processor = BatchProcessor(event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False)


class NotApplied(Exception):
    """The record's listener could not be written; the stream delivers it again."""


def _readable(records: list[dict[str, Any]]) -> list[tuple[str, StreamedEvent]]:
    """The records that are playback events; one that is not can never become one, so it is logged
    and counted rather than retried."""
    events = []
    for raw in records:
        sequence = KinesisStreamRecord(raw).kinesis.sequence_number
        try:
            events.append((sequence, StreamedEvent.from_record(KinesisStreamRecord(raw).kinesis.data_as_bytes())))
        except (ValidationError, ValueError):
            logger.warning("unreadable playback event skipped", extra={"sequenceNumber": sequence})
            count("UnreadablePlaybackEvents")
    return events


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    readable = _readable(records)
    result = apply_events(store, readable, rules, settings.listener_threads)
    events = dict(readable)

    def report(record: KinesisStreamRecord) -> None:
        sequence = record.kinesis.sequence_number
        played = events.get(sequence)
        with correlated(played.correlationId if played else None):
            if sequence in result.failed:
                logger.warning(
                    "playback event not recorded; the stream delivers it again", extra={"sequenceNumber": sequence}
                )
                raise NotApplied(sequence)
            if played is not None:  # DEBUG: one line per play is the busiest log there is (decision 44)
                logger.debug(
                    "playback event recorded",
                    extra={"eventId": str(played.eventId), "playId": str(played.playId), "type": played.type},
                )

    response = process_partial_response(event=event, record_handler=report, processor=processor, context=context)
    count("PlaybackEventsApplied", result.applied)
    count("PlaybackEventsSeenBefore", result.seen_before)
    if result.failed:
        logger.warning("records not applied", extra={"failed": len(result.failed), "records": len(records)})
    return dict(response)
