"""Fan-out: the playlist table's stream -> `post_to_connection` to every subscriber, in version order."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.config import FanoutSettings
from backbeat.observability import lambda_entry
from backbeat.realtime import service
from backbeat.realtime.models import bind_connections_table

settings = FanoutSettings()
bind_connections_table(settings.connections_table)
sockets = service.Sockets(settings.websocket_endpoint)
pool = ThreadPoolExecutor(max_workers=settings.fanout_threads, thread_name_prefix="fanout")


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    failures = service.fan_out(sockets, records, pool)
    return {"batchItemFailures": failures}
