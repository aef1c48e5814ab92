"""The catalog table's stream -> the search indices (bulk, idempotent, partial batch failures)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.config import SearchIndexerSettings
from backbeat.observability import count, lambda_entry, logger
from backbeat.search.engine import connect, ensure_indices
from backbeat.search.indexer import index_stream_records

settings = SearchIndexerSettings()
client = connect(settings.search_endpoint, settings.aws_region)
ensure_indices(client, settings.search_index_prefix)


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    try:
        failed = index_stream_records(client, settings.search_index_prefix, records)
    except Exception:
        # The engine did not answer: report the whole batch so the stream retries it.
        logger.exception("bulk indexing failed", extra={"records": len(records)})
        failed = [record["dynamodb"]["SequenceNumber"] for record in records]
    if failed:
        logger.warning("records not indexed", extra={"failed": len(failed), "records": len(records)})
    count("IndexedRecords", len(records) - len(failed))
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}
