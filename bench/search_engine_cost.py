"""Where a `/search` spends its time in the engine: each clause of the candidates query, each type.

    .venv/bin/python bench/search_engine_cost.py [--queries 150] [--catalog-limit N]

Indexes the whole demo catalog (or its first N songs) into a fresh in-memory engine (osmem-server)
started and loaded as the devstack starts and loads its own (the same environment, the same bulk
size), with the production mapping, then sends `title artist` queries of
sampled songs straight to the engine (no gateway, no function): the `_msearch` `/search` sends, then
each type alone and each clause of the query alone, every variant over the same queries. Prints each
variant's p50/p95 wall time of the `_msearch` call and the hits it returned per query, then the
queries the whole `_msearch` spent longest on, and the engine's resident memory after indexing and
after the queries. The engine's own `took` is not used: osmem-server's top-level one is a constant.
Set `GOGC` or `GOMEMLIMIT` to measure the engine with other garbage-collection settings than the
devstack's (devstack/search_engine.py).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "backbeat"), str(ROOT / "packages" / "ops")]

from backbeat.search.engine import ENTITY_TYPES, connect, index_name  # noqa: E402
from backbeat.search.ranking import CANDIDATES, search_query  # noqa: E402
from backbeat_ops.dataset import load_catalog  # noqa: E402
from backbeat_ops.reindex import reindex  # noqa: E402
from backbeat_ops.seed import catalog_items  # noqa: E402
from bench.foundation import percentile  # noqa: E402
from devstack.search_engine import BULK_DOCUMENTS, engine_environment, start_search_engine  # noqa: E402
from tests.support import CATALOG_DIR  # noqa: E402

CLAUSES = ("words (most_fields)", "all words (cross_fields, and)", "phrase", "whole name (keyword)", "prefix")
Query = Callable[[str, str], dict[str, Any]]


def one_clause(position: int) -> Query:
    def query(entity: str, text: str) -> dict[str, Any]:
        body = search_query(entity, text, CANDIDATES)
        body["query"]["bool"]["should"] = [body["query"]["bool"]["should"][position]]
        return body

    return query


GO = ("GOGC", "GOMEMLIMIT")


def resident_mib(pid: int) -> int:
    """A process's resident memory (VmRSS), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=150)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--catalog-limit", type=int, default=None, help="index the first N songs only (quick)")
    args = parser.parse_args()
    catalog = load_catalog(CATALOG_DIR)
    if args.catalog_limit:
        catalog = catalog.first(args.catalog_limit)
    sampled = random.Random(args.seed).sample(catalog.songs, args.queries)
    texts = [f"{song.title} {song.artist_name}" for song in sampled]
    whole: Query = lambda entity, text: search_query(entity, text, CANDIDATES)  # noqa: E731
    variants: list[tuple[str, Query, tuple[str, ...]]] = [("the whole query, every type", whole, ENTITY_TYPES)]
    variants += [(f"the whole query, {entity}s only", whole, (entity,)) for entity in ENTITY_TYPES]
    variants += [(f"clause: {name}, every type", one_clause(n), ENTITY_TYPES) for n, name in enumerate(CLAUSES)]
    with start_search_engine() as server:
        client = connect(server.url, timeout=120)
        report = reindex(client, "", catalog_items(catalog), chunk_size=BULK_DOCUMENTS)
        settings = " ".join(f"{name}={value}" for name, value in sorted(engine_environment().items()) if name in GO)
        print(f"engine: {settings}")
        print(f"indexed {report.documents} documents in {report.seconds:.1f} s; {len(texts)} queries per variant")
        print(f"engine memory after indexing: {resident_mib(server.pid)} MiB")
        print()
        print("| variant | p50 | p95 | hits per query |")
        print("|---|---|---|---|")
        slowest: dict[str, float] = {}
        for name, query, entities in variants:
            seconds: list[float] = []
            hits = 0
            for text in texts:
                body: list[dict[str, Any]] = []
                for entity in entities:
                    body += [{"index": index_name("", entity)}, query(entity, text)]
                started = time.perf_counter()
                answer = client.msearch(body=body)
                seconds.append((time.perf_counter() - started) * 1000)
                hits += sum(len(r["hits"]["hits"]) for r in answer["responses"] if "hits" in r)
                if query is whole and entities == ENTITY_TYPES:
                    slowest[text] = seconds[-1]
            print(
                f"| {name} | {percentile(seconds, 50):.1f} ms | {percentile(seconds, 95):.1f} ms "
                f"| {hits / len(texts):.0f} |",
                flush=True,
            )
        print()
        print(f"engine memory after the queries: {resident_mib(server.pid)} MiB")
        print()
        print("the whole query's slowest:")
        for text, ms in sorted(slowest.items(), key=lambda kv: -kv[1])[:8]:
            print(f"  {ms:6.1f} ms  {text}")


if __name__ == "__main__":
    main()
