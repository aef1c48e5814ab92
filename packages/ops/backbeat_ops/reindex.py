"""Rebuild every search index from the catalog table into fresh physical indices, then swap the
aliases, so searches never see a half-built index (`backbeat search reindex`, the devstack's seeding)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from opensearchpy import OpenSearch, helpers

from backbeat.search.documents import document_for
from backbeat.search.engine import CATALOG_ENTITIES, create_index, index_name


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
