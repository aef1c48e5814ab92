"""How long the local search engine takes to index the demo catalog, by mapping.

    .venv/bin/python bench/search_mapping.py

Builds the search documents of the whole demo catalog with the production code
(`backbeat.search.documents.document_for` over the seed's items), then, for each mapping below, starts
a fresh osmem-server, creates the song, album and artist indices and bulk-loads the documents in
chunks of 1,000 (what a devstack warm start does with its saved documents). Mappings:
- `production`: `backbeat.search.engine.MAPPINGS` (keyword and edge n-gram subfields on the naming
  field only);
- `subfields on every text field`: the keyword and edge n-gram subfields on every text field too
  (the mapping before 2026-12-03);
- `no subfields`: plain analysed text only (a floor: what indexing costs without exact or prefix
  matching, which search needs).
Prints documents per second for each; the ratio between them is the figure to read.
"""

from __future__ import annotations

import copy
import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from osmem_server import OsmemServer  # noqa: E402

from backbeat.search import engine  # noqa: E402
from backbeat.search.documents import document_for  # noqa: E402
from backbeat_ops.dataset import load_catalog  # noqa: E402
from backbeat_ops.seed import catalog_items  # noqa: E402
from tests.support import CATALOG_DIR  # noqa: E402

ENTITIES = ("song", "album", "artist")
CHUNK = 1000


def with_text_fields(mappings: dict[str, Any], text: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(mappings)
    for mapping in changed.values():
        for name, spec in mapping["properties"].items():
            if spec.get("type") == "text":
                mapping["properties"][name] = copy.deepcopy(text)
    return changed


def bulk_bodies() -> list[bytes]:
    lines: dict[str, list[bytes]] = {entity: [] for entity in ENTITIES}
    for item in catalog_items(load_catalog(CATALOG_DIR)):
        found = document_for(item)
        if found and found[0] in lines:
            entity, document_id, document = found
            action = json.dumps({"create": {"_index": f"bench-{entity}s", "_id": document_id}})
            lines[entity].append(f"{action}\n{json.dumps(document)}\n".encode())
    return [b"".join(rows[i : i + CHUNK]) for rows in lines.values() for i in range(0, len(rows), CHUNK)]


def _call(method: str, url: str, body: bytes, content_type: str) -> None:
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=600) as response:
        answer = json.loads(response.read() or b"{}")
    if answer.get("errors"):
        raise SystemExit(f"{url}: the engine refused documents")


def index_seconds(mappings: dict[str, Any], bodies: list[bytes]) -> float:
    server = OsmemServer.start(japanese=False)
    try:
        for entity in ENTITIES:
            body = json.dumps({"settings": engine.SETTINGS, "mappings": mappings[entity]}).encode()
            _call("PUT", f"{server.url}/bench-{entity}s", body, "application/json")
        started = time.perf_counter()
        for body in bodies:
            _call("POST", f"{server.url}/_bulk", body, "application/x-ndjson")
        return time.perf_counter() - started
    finally:
        server.close()


def main() -> None:
    bodies = bulk_bodies()
    documents = sum(body.count(b"\n") for body in bodies) // 2
    subfields = engine.MAPPINGS["song"]["properties"]["title"]
    plain = {key: value for key, value in subfields.items() if key != "fields"}
    mappings = {
        "production": engine.MAPPINGS,
        "subfields on every text field": with_text_fields(engine.MAPPINGS, subfields),
        "no subfields": with_text_fields(engine.MAPPINGS, plain),
    }
    print(f"indexing {documents:,} demo catalog documents (songs, albums, artists) in osmem-server")
    print("| mapping | seconds | documents/s |")
    print("|---|---|---|")
    for name, mapping in mappings.items():
        seconds = index_seconds(mapping, bodies)
        print(f"| {name} | {seconds:.1f} | {documents / seconds:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
