"""Fan-out: the playlist table's stream -> `post_to_connection` to every subscriber, in version order.

Powertools' BatchProcessor reports the partial failures. A DynamoDB stream resumes from the lowest
failed sequence number, so once one record fails every later record of the batch is reported too,
unposted: otherwise a socket would see version n+1 now and version n again on the retry.
"""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.config import FanoutSettings
from backbeat.observability import lambda_entry, logger
from backbeat.realtime import service
from backbeat.realtime.models import bind_connections_table

settings = FanoutSettings()
bind_connections_table(settings.connections_table)
sockets = service.Sockets(settings.websocket_endpoint)
pool = ThreadPoolExecutor(max_workers=settings.fanout_threads, thread_name_prefix="fanout")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


class AfterAFailedRecord(Exception):
    """Not posted: an earlier record of the batch failed, and this one must follow it."""


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failed_at: list[str] = []

    def post_change(record: DynamoDBRecord) -> None:
        sequence = record.dynamodb.sequence_number if record.dynamodb else None
        if failed_at:
            raise AfterAFailedRecord(sequence)
        try:
            service.fan_out(sockets, record.raw_event, pool)
        except Exception:
            logger.exception("cannot fan out a stream record", extra={"sequenceNumber": sequence})
            failed_at.append(str(sequence))
            raise

    return dict(process_partial_response(event=event, record_handler=post_change, processor=processor, context=context))
