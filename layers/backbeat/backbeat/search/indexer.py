"""Keep the search indices in step with the catalog table.

`index_stream_records` is the change-data-capture path (the table's stream -> Lambda): one bulk
request per batch, in stream order, idempotent (documents are keyed by entity id, so a redelivered
record rewrites the same document; deleting a missing document is a success). It returns the
sequence numbers of the records whose action failed, for ReportBatchItemFailures.

`reindex` rebuilds every index from the table into fresh physical indices and swaps the aliases, so
searches never see a half-built index.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from opensearchpy import OpenSearch, helpers

from backbeat.search.documents import document_for, entity_of, from_stream_image, is_searchable
from backbeat.search.engine import CATALOG_ENTITIES, create_index, index_name

RETRYABLE_STATUSES = {429, 500, 502, 503, 504}


def _actions_for(record: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    change = record.get("dynamodb") or {}
    if record.get("eventName") == "REMOVE":
        old = from_stream_image(change.get("OldImage") or change.get("Keys") or {})
        found = document_for(old) if entity_of(old) else None
        if found is None:
            return None
        entity, doc_id, _ = found
        return {"_op_type": "delete", "_index": index_name(prefix, entity), "_id": doc_id}
    new = from_stream_image(change.get("NewImage") or {})
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


@dataclass(frozen=True)
class ReindexReport:
    documents: int
    seconds: float

    @property
    def documents_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds else float("inf")


def reindex(
    client: OpenSearch,
    prefix: str,
    items: Iterable[dict[str, Any]],
    *,
    total: int | None = None,
    progress: Callable[[int, int | None], Any] | None = None,
    chunk_size: int = 1000,
) -> ReindexReport:
    """Index `items` (plain catalog items) into new indices, then point the aliases at them."""
    started = time.perf_counter()
    generation = str(time.time_ns())
    physical = {
        entity: create_index(client, index_name(prefix, entity), entity, generation, with_alias=False)
        for entity in CATALOG_ENTITIES
    }

    def actions() -> Iterator[dict[str, Any]]:
        for item in items:
            found = document_for(item)
            if found is not None:
                entity, doc_id, document = found
                yield {"_op_type": "index", "_index": physical[entity], "_id": doc_id, "_source": document}

    done = 0
    for ok, outcome in helpers.streaming_bulk(
        client, actions(), chunk_size=chunk_size, raise_on_error=False, max_retries=3
    ):
        if not ok:
            raise RuntimeError(f"reindex failed on {outcome}")
        done += 1
        if progress and done % chunk_size == 0:
            progress(done, total)
    if progress:
        progress(done, total)
    swap = []
    for entity in CATALOG_ENTITIES:
        alias = index_name(prefix, entity)
        old = list(client.indices.get_alias(name=alias).keys()) if client.indices.exists_alias(name=alias) else []
        swap += [{"remove": {"index": name, "alias": alias}} for name in old]
        swap.append({"add": {"index": physical[entity], "alias": alias}})
    client.indices.update_aliases(body={"actions": swap})
    for entity in CATALOG_ENTITIES:  # drop the generations the aliases no longer point at
        alias = index_name(prefix, entity)
        for name in client.indices.get(index=f"{alias}-*"):
            if name != physical[entity]:
                client.indices.delete(index=name)
    return ReindexReport(documents=done, seconds=time.perf_counter() - started)
