"""The devstack with a meter: `python -m devstack` in this process, with every Lambda invocation timed
(wall and CPU milliseconds) and every AWS call it makes counted, by route.

    python bench/load/metered_devstack.py --meter-port PORT [--meter-units] -- <python -m devstack flags>

What is measured, per route key (`"PlaylistsFunction POST /playlists/{playlist_id}/tracks"`; stream and
queue consumers by function name):

- invocations, handler wall time, and handler CPU time (the invocation's thread plus the pool threads it
  hands work to), without waiting for the GIL, so it stays meaningful when the stack is loaded. With
  `--aws-over-http` (what the capacity model uses) it is what the handler itself computes, without the
  emulators' work; without it, the devstack answers the handler's AWS calls in the handler's thread
  (devstack/in_process_aws.py), so moto's work on them counts too;
- AWS calls by service and operation (`dynamodb.Query`, `kinesis.PutRecords`, ...);
- with `--meter-units`, DynamoDB read and write capacity units computed from the items read and written
  by DynamoDB's own sizing rules (moto reports a fixed 0.5 or 1 per call, so its ConsumedCapacity is not
  used), and Kinesis records and bytes. An UpdateItem's size is the item's size after the update, read
  back with an uncounted GetItem (DynamoDB charges the larger of before and after).

`GET http://127.0.0.1:PORT/stats` answers the meter as JSON, `POST /reset` zeroes it. Nothing in the
devstack is changed: its classes are wrapped from outside before it starts.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import os
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

UNATTRIBUTED = "(devstack: pollers, gateway, start-up)"


@dataclass
class RouteMeter:
    invocations: int = 0
    errors: int = 0
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0
    kinesis_records: int = 0
    kinesis_bytes: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "invocations": self.invocations,
            "errors": self.errors,
            "wallMs": self.wall_ms,
            "cpuMs": self.cpu_ms,
            "calls": dict(self.calls),
            "readUnits": self.read_units,
            "writeUnits": self.write_units,
            "kinesisRecords": self.kinesis_records,
            "kinesisBytes": self.kinesis_bytes,
        }


class Meter:
    def __init__(self, units: bool) -> None:
        self.units = units
        self.lock = threading.Lock()
        self.routes: dict[str, RouteMeter] = defaultdict(RouteMeter)
        self.started = time.time()
        self.memory_mb: dict[str, int] = {}

    def reset(self) -> None:
        with self.lock:
            self.routes = defaultdict(RouteMeter)
            self.started = time.time()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "seconds": time.time() - self.started,
                "units": self.units,
                "memoryMb": self.memory_mb,
                "routes": {key: meter.as_json() for key, meter in self.routes.items()},
            }


METER = Meter(units=False)
_CURRENT = threading.local()  # .key: the route key of the invocation this thread works for


def current_key() -> str:
    return getattr(_CURRENT, "key", None) or UNATTRIBUTED


def route_key(function: str, event: Any) -> str:
    if isinstance(event, dict):
        route = event.get("routeKey") or (event.get("requestContext") or {}).get("routeKey")
        if route:
            return f"{function} {route}"
    return function


# ---------------------------------------------------------------- DynamoDB sizes (developer guide rules)


def attribute_size(value: dict[str, Any]) -> int:
    """Bytes of one typed attribute value, as DynamoDB sizes items for capacity units."""
    (kind, inner), *_ = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = len(inner.strip("-").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(inner) if isinstance(inner, bytes | bytearray) else len(str(inner).encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(item.encode()) for item in inner)
    if kind == "NS":
        return sum(attribute_size({"N": item}) for item in inner)
    if kind == "BS":
        return sum(len(item) for item in inner)
    if kind == "L":
        return 3 + sum(1 + attribute_size(item) for item in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + attribute_size(item) for name, item in inner.items())
    return 0


def item_size(item: dict[str, Any] | None) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in (item or {}).items())


def read_units(size: int, consistent: bool) -> float:
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def write_units(size: int) -> float:
    return float(max(1, math.ceil(size / 1024)))


def _updated_item_size(client: Any, table: str, key: dict[str, Any]) -> int:
    previous = getattr(_CURRENT, "uncounted", False)
    _CURRENT.uncounted = True
    try:
        return item_size(client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item"))
    finally:
        _CURRENT.uncounted = previous


def dynamodb_units(client: Any, operation: str, params: dict[str, Any], answer: dict[str, Any]) -> tuple[float, float]:
    """(read units, write units) one DynamoDB call consumed."""
    consistent = bool(params.get("ConsistentRead"))
    if operation == "GetItem":
        return read_units(item_size(answer.get("Item")), consistent), 0.0
    if operation in ("Query", "Scan"):
        total = sum(item_size(item) for item in answer.get("Items", []))
        return read_units(total, consistent), 0.0
    if operation == "BatchGetItem":
        reads = 0.0
        for table, items in answer.get("Responses", {}).items():
            strong = bool(params.get("RequestItems", {}).get(table, {}).get("ConsistentRead"))
            reads += sum(read_units(item_size(item), strong) for item in items)
        return reads, 0.0
    if operation == "TransactGetItems":
        return sum(2 * read_units(item_size(entry.get("Item")), True) for entry in answer.get("Responses", [])), 0.0
    if operation == "PutItem":
        return 0.0, write_units(item_size(params.get("Item")))
    if operation == "DeleteItem":
        return 0.0, write_units(item_size(answer.get("Attributes")) or 1)
    if operation == "UpdateItem":
        return 0.0, write_units(_updated_item_size(client, params["TableName"], params["Key"]))
    if operation == "BatchWriteItem":
        writes = 0.0
        for requests in params.get("RequestItems", {}).values():
            for request in requests:
                writes += write_units(item_size(request.get("PutRequest", {}).get("Item")))
        return 0.0, writes
    if operation == "TransactWriteItems":
        writes = reads = 0.0
        for entry in params.get("TransactItems", []):
            if "Put" in entry:
                writes += 2 * write_units(item_size(entry["Put"].get("Item")))
            elif "Update" in entry:
                update = entry["Update"]
                writes += 2 * write_units(_updated_item_size(client, update["TableName"], update["Key"]))
            elif "Delete" in entry:
                writes += 2 * write_units(1)
            elif "ConditionCheck" in entry:
                reads += 2 * read_units(1, True)
        return reads, writes
    return 0.0, 0.0


# ---------------------------------------------------------------- wrapping the devstack from outside


def install() -> None:
    import botocore.client

    from devstack.lambdas import LambdaRuntime

    original_run = LambdaRuntime._run

    def metered_run(self: Any, pool: Any, env: Any, event: Any, request_id: str) -> Any:
        key = route_key(pool.spec.logical_id, event)
        METER.memory_mb[pool.spec.logical_id] = pool.spec.memory_mb
        _CURRENT.key = key
        _CURRENT.pool_cpu = pool_cpu = [0.0]  # CPU seconds pool threads spend for this invocation
        wall, cpu = time.perf_counter(), time.thread_time()
        failed = False
        try:
            return original_run(self, pool, env, event, request_id)
        except BaseException:
            failed = True
            raise
        finally:
            cpu_ms = (time.thread_time() - cpu + pool_cpu[0]) * 1000
            wall_ms = (time.perf_counter() - wall) * 1000
            _CURRENT.key = None
            with METER.lock:
                meter = METER.routes[key]
                meter.invocations += 1
                meter.errors += failed
                meter.wall_ms.append(wall_ms)
                meter.cpu_ms.append(cpu_ms)

    LambdaRuntime._run = metered_run  # type: ignore[method-assign]

    original_submit = concurrent.futures.ThreadPoolExecutor.submit

    def submit(self: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        key = getattr(_CURRENT, "key", None)
        if key is None:
            return original_submit(self, fn, *args, **kwargs)
        pool_cpu = _CURRENT.pool_cpu

        def attributed(*inner_args: Any, **inner_kwargs: Any) -> Any:
            _CURRENT.key = key
            cpu = time.thread_time()
            try:
                return fn(*inner_args, **inner_kwargs)
            finally:
                _CURRENT.key = None
                spent = time.thread_time() - cpu
                with METER.lock:
                    pool_cpu[0] += spent

        return original_submit(self, attributed, *args, **kwargs)

    concurrent.futures.ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]

    original_call = botocore.client.BaseClient._make_api_call

    def metered_call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        answer = original_call(self, operation, params)
        if getattr(_CURRENT, "uncounted", False):
            return answer
        service = self.meta.service_model.service_name
        units = (0.0, 0.0)
        if METER.units and service == "dynamodb":
            units = dynamodb_units(self, operation, params, answer)
        records = size = 0
        if METER.units and service == "kinesis" and operation in ("PutRecord", "PutRecords"):
            entries = params.get("Records", [params])
            records = len(entries)
            size = sum(len(entry.get("Data", b"")) + len(entry.get("PartitionKey", "").encode()) for entry in entries)
        with METER.lock:
            meter = METER.routes[current_key()]
            meter.calls[f"{service}.{operation}"] += 1
            meter.read_units += units[0]
            meter.write_units += units[1]
            meter.kinesis_records += records
            meter.kinesis_bytes += size
        return answer

    botocore.client.BaseClient._make_api_call = metered_call  # type: ignore[method-assign]


class _MeterHandler(BaseHTTPRequestHandler):
    def _answer(self, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        self._answer(METER.snapshot())

    def do_POST(self) -> None:
        METER.reset()
        self._answer({"reset": True})

    def log_message(self, format: str, *args: Any) -> None:  # no line per request
        return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meter-port", type=int, required=True)
    parser.add_argument("--meter-units", action="store_true", help="count DynamoDB units and Kinesis bytes too")
    parser.add_argument(
        "--aws-over-http",
        action="store_true",
        help="AWS calls through moto's server (DEVSTACK_AWS_IN_PROCESS=0): a handler's CPU then leaves out moto's work",
    )
    parser.add_argument("devstack", nargs=argparse.REMAINDER, help="-- then the `python -m devstack` flags")
    args = parser.parse_args()
    METER.units = args.meter_units
    if args.aws_over_http:  # moto answers in its server's threads, so a handler's CPU is its own
        os.environ["DEVSTACK_AWS_IN_PROCESS"] = "0"
    install()
    server = ThreadingHTTPServer(("127.0.0.1", args.meter_port), _MeterHandler)
    threading.Thread(target=server.serve_forever, name="meter", daemon=True).start()
    from devstack.__main__ import main as devstack_main

    flags = args.devstack[1:] if args.devstack[:1] == ["--"] else args.devstack
    return devstack_main(flags)


if __name__ == "__main__":
    sys.exit(main())
