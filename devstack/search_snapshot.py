"""The search engine's indices as files and back: osmem-server keeps nothing on disk, so a snapshot
holds each index as `<index>.index.json` (settings, mappings, aliases) and `<index>.ndjson` (its
documents as bulk `create` actions, the layout osmem-server's `--seed` reads)."""

from __future__ import annotations

import json
import urllib.request
from itertools import islice
from pathlib import Path
from typing import Any

from devstack.search_engine import BULK_DOCUMENTS

SCROLL_PAGE = 5000


def _request(method: str, url: str, body: bytes | None = None, content_type: str = "application/json") -> Any:
    headers = {"Content-Type": content_type}
    request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        text = response.read()
    return json.loads(text) if text else {}


def dump_search(endpoint: str, target: Path) -> int:
    """Write each index of the engine at `endpoint` as osmem-server seeds it; returns the documents."""
    target.mkdir(parents=True, exist_ok=True)
    documents = 0
    for row in _request("GET", f"{endpoint}/_cat/indices?format=json"):
        index = row["index"]
        described = _request("GET", f"{endpoint}/{index}")[index]
        settings = described.get("settings", {}).get("index", {})
        kept = {key: settings[key] for key in ("analysis",) if key in settings}
        definition = {
            "settings": kept,
            "mappings": described.get("mappings", {}),
            "aliases": described.get("aliases", {}),
        }
        (target / f"{index}.index.json").write_text(json.dumps(definition), encoding="utf-8")
        documents += _dump_documents(endpoint, index, target / f"{index}.ndjson")
    return documents


def _dump_documents(endpoint: str, index: str, path: Path) -> int:
    """The index's documents as bulk actions (no file for an empty index: osmem rejects empty seeds)."""
    documents = 0
    with path.open("w", encoding="utf-8") as out:
        first = {"size": SCROLL_PAGE, "sort": ["_doc"]}
        page = _request("POST", f"{endpoint}/{index}/_search?scroll=1m", json.dumps(first).encode())
        while hits := page["hits"]["hits"]:
            for hit in hits:
                out.write(json.dumps({"create": {"_index": index, "_id": hit["_id"]}}) + "\n")
                out.write(json.dumps(hit["_source"]) + "\n")
            documents += len(hits)
            more = {"scroll": "1m", "scroll_id": page["_scroll_id"]}
            page = _request("POST", f"{endpoint}/_search/scroll", json.dumps(more).encode())
    if not documents:
        path.unlink()
    return documents


def create_indices(endpoint: str, dump: Path) -> list[Path]:
    """Create the dumped indices (settings, mappings, aliases) in the engine at `endpoint`: queries
    find every index at once. Returns the document files to load, smallest first."""
    for definition in sorted(dump.glob("*.index.json")):
        index = definition.name.removesuffix(".index.json")
        _request("PUT", f"{endpoint}/{index}", definition.read_bytes())
    return sorted(dump.glob("*.ndjson"), key=lambda path: path.stat().st_size)


def load_documents(endpoint: str, files: list[Path], chunk: int = BULK_DOCUMENTS) -> int:
    """Bulk-load dumped documents. Each is a `create`: a document the running stack has written
    meanwhile (its pollers run while this loads) is newer than the dump's and is kept."""
    loaded = 0
    for path in files:
        with path.open("rb") as lines:
            while body := b"".join(islice(lines, 2 * chunk)):
                answer = _request("POST", f"{endpoint}/_bulk", body, content_type="application/x-ndjson")
                for item in answer.get("items", []):
                    outcome = next(iter(item.values()))
                    if outcome.get("status", 500) >= 300 and outcome.get("status") != 409:
                        raise RuntimeError(f"search restore: {path.name}: {outcome}")
                loaded += len(answer.get("items", []))
    return loaded
