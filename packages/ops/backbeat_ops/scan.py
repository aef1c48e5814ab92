"""Read the whole catalog table as plain items (parallel scan), e.g. to rebuild the search index."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from queue import Queue
from typing import Any

import boto3
from botocore.config import Config

from backbeat.plain import from_image

_DONE = object()


@cache
def _dynamodb() -> Any:
    # Scans read 1 MB pages; give a slow page (a large table on a local emulator) time to come back.
    return boto3.session.Session().client("dynamodb", config=Config(read_timeout=300, retries={"mode": "standard"}))


def count_items(table_name: str) -> int:
    """The table's approximate item count (DescribeTable; refreshed by DynamoDB every ~6 hours)."""
    return int(_dynamodb().describe_table(TableName=table_name)["Table"].get("ItemCount", 0))


def scan_items(table_name: str, segments: int = 4) -> Iterator[dict[str, Any]]:
    """Every item of the table, from `segments` parallel scan workers, in no particular order."""
    queue: Queue[Any] = Queue(maxsize=segments * 4)

    def scan(segment: int) -> None:
        try:
            paginator = _dynamodb().get_paginator("scan")
            for page in paginator.paginate(TableName=table_name, Segment=segment, TotalSegments=segments):
                queue.put([from_image(item) for item in page.get("Items", [])])
        except Exception as error:  # handed to the consumer, which raises it
            queue.put(error)
        finally:
            queue.put(_DONE)

    with ThreadPoolExecutor(max_workers=segments, thread_name_prefix="scan") as pool:
        for segment in range(segments):
            pool.submit(scan, segment)
        finished = 0
        while finished < segments:
            chunk = queue.get()
            if chunk is _DONE:
                finished += 1
            elif isinstance(chunk, Exception):
                raise chunk
            else:
                yield from chunk
