"""Keep the search indices in step with the catalog and playlists tables.

`index_stream_records` is the change-data-capture path (the tables' streams -> Lambda): one bulk
request per batch, in stream order, idempotent (documents are keyed by entity id, so a redelivered
record rewrites the same document; deleting a missing document is a success). It returns the
sequence numbers of the records whose action failed, for ReportBatchItemFailures.

Rebuilding every index from the table is an operator's task (`backbeat search reindex`, in
`backbeat_ops.reindex`).
"""

from __future__ import annotations

from typing import Any

from opensearchpy import OpenSearch

from backbeat.plain import from_image
from backbeat.search.documents import document_for, entity_of, is_searchable
from backbeat.search.engine import index_name

RETRYABLE_STATUSES = {429, 500, 502, 503, 504}


def _actions_for(record: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    change = record.get("dynamodb") or {}
    if record.get("eventName") == "REMOVE":
        old = from_image(change.get("OldImage") or change.get("Keys") or {})
        found = document_for(old) if entity_of(old) else None
        if found is None:
            return None
        entity, doc_id, _ = found
        return {"_op_type": "delete", "_index": index_name(prefix, entity), "_id": doc_id}
    new = from_image(change.get("NewImage") or {})
    found = document_for(new)
    if found is None:
        return None
    entity, doc_id, document = found
    if not is_searchable(new):  # a playlist made private or deleted leaves the index
        return {"_op_type": "delete", "_index": index_name(prefix, entity), "_id": doc_id}
    return {"_op_type": "index", "_index": index_name(prefix, entity), "_id": doc_id, "_source": document}


def _bulk_body(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = []
    for action in actions:
        body.append({action["_op_type"]: {"_index": action["_index"], "_id": action["_id"]}})
        if action["_op_type"] == "index":
            body.append(action["_source"])
    return body


def _succeeded(op: str, outcome: dict[str, Any]) -> bool:
    status = int(outcome.get("status", 500))
    return status < 300 or (op == "delete" and status == 404)


def index_stream_records(client: OpenSearch, prefix: str, records: list[dict[str, Any]]) -> list[str]:
    """Apply a batch of catalog stream records; returns the failed records' sequence numbers."""
    pending: list[tuple[str, dict[str, Any]]] = []
    for record in records:
        action = _actions_for(record, prefix)
        if action is not None:
            pending.append((record["dynamodb"]["SequenceNumber"], action))
    if not pending:
        return []
    response = client.bulk(body=_bulk_body([action for _, action in pending]))
    failed: list[str] = []
    for (sequence, _action), item in zip(pending, response["items"], strict=True):
        op, outcome = next(iter(item.items()))
        if not _succeeded(op, outcome):
            failed.append(sequence)
    return failed
