"""Kinesis Data Firehose as the template declares it, for the event lake: moto has Firehose, but
no format conversion, no dynamic partitioning, no buffering and no Kinesis source (its PutRecordBatch
writes each call's bytes to S3 at once). Here each delivery stream of the template:

- buffers records per its BufferingHints (size or interval, whichever comes first; flushed at stop);
- partitions them by its MetadataExtraction query (the `{key: .field[a:b]}` JQ the lake uses) into
  the Prefix's `!{partitionKeyFromQuery:key}`, `!{timestamp:...}` and `!{firehose:...}` parts;
- converts them from JSON to Parquet (pyarrow) with the columns of the Glue table its
  SchemaConfiguration names, matching keys case-insensitively as the OpenX JSON SerDe does;
- writes records it cannot convert or partition under the ErrorOutputPrefix, as JSON lines;
- reads its Kinesis source (KinesisStreamAsSource) with iterators of its own, beside the Lambda
  consumers, from where the stream was when the devstack started.

DirectPut streams take PutRecordBatch/PutRecord through moto: `patch_moto_firehose` sends the
records of the streams this module delivers to it, so a function's firehose client is the same
boto3 call it is in AWS (the devstack changes no function code).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from backbeat.analytics.glue_schema import GlueType, parse_glue_type

log = logging.getLogger(__name__)

TICK_SECONDS = 0.2  # how often buffers are checked against their interval
_QUERY_KEY = re.compile(r"\s*(\w+)\s*:\s*\.(\w+)(?:\[(\d*):(\d*)\])?\s*")


@dataclass(frozen=True)
class DeliverySpec:
    """One AWS::KinesisFirehose::DeliveryStream of the template, resolved."""

    logical_id: str
    name: str
    arn: str
    bucket: str
    prefix: str
    error_prefix: str
    buffer_seconds: float
    buffer_bytes: int
    file_extension: str = ""
    source_stream_arn: str | None = None
    glue_database: str | None = None
    glue_table: str | None = None
    # key -> (JSON field, slice start, slice end): the MetadataExtraction query
    partition_keys: tuple[tuple[str, str, int | None, int | None], ...] = ()


def parse_partition_query(query: str) -> tuple[tuple[str, str, int | None, int | None], ...]:
    """`{dt: .receivedAt[0:10]}` -> (("dt", "receivedAt", 0, 10),); other JQ is refused loudly."""
    body = query.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise ValueError(f"unsupported MetadataExtractionQuery {query!r} (expected {{key: .field[a:b], ...}})")
    keys = []
    for part in body[1:-1].split(","):
        match = _QUERY_KEY.fullmatch(part)
        if not match:
            raise ValueError(f"unsupported MetadataExtractionQuery part {part!r} in {query!r}")
        name, source, start, end = match.groups()
        keys.append((name, source, int(start) if start else None, int(end) if end else None))
    return tuple(keys)


# ------------------------------------------------------------------------------ JSON -> Parquet
def arrow_type(glue: GlueType) -> Any:
    import pyarrow as pa

    if glue.kind == "array":
        assert glue.items is not None
        return pa.list_(arrow_type(glue.items))
    if glue.kind == "struct":
        return pa.struct([pa.field(name, arrow_type(kind)) for name, kind in glue.fields])
    base = glue.kind.split("(", 1)[0]
    return {
        "string": pa.string(),
        "varchar": pa.string(),
        "char": pa.string(),
        "bigint": pa.int64(),
        "int": pa.int32(),
        "integer": pa.int32(),
        "smallint": pa.int16(),
        "tinyint": pa.int8(),
        "double": pa.float64(),
        "float": pa.float32(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("ms"),
        "date": pa.date32(),
        "binary": pa.binary(),
    }[base]


def _timestamp(value: Any) -> datetime:
    """ISO-8601 (with Z or an offset) or epoch milliseconds, as UTC without a zone (Parquet's
    timestamp as Athena reads it)."""
    if isinstance(value, int | float):
        moment = datetime.fromtimestamp(value / 1000, tz=UTC)
    else:
        moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def convert(value: Any, glue: GlueType) -> Any:
    """One JSON value as the Glue type wants it (ValueError/TypeError when it cannot be)."""
    if value is None:
        return None
    if glue.kind == "array":
        assert glue.items is not None
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {value!r}")
        return [convert(item, glue.items) for item in value]
    if glue.kind == "struct":
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {value!r}")
        lowered = {str(key).lower(): item for key, item in value.items()}
        return {name: convert(lowered.get(name.lower()), kind) for name, kind in glue.fields}
    base = glue.kind.split("(", 1)[0]
    if base in ("string", "varchar", "char"):
        return value if isinstance(value, str) else json.dumps(value)
    if base in ("bigint", "int", "integer", "smallint", "tinyint"):
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise TypeError(f"expected an integer, got {value!r}")
        return int(value)
    if base in ("double", "float"):
        return float(value)
    if base == "boolean":
        if not isinstance(value, bool):
            raise TypeError(f"expected a boolean, got {value!r}")
        return value
    if base == "timestamp":
        return _timestamp(value)
    if base == "date":
        return datetime.fromisoformat(str(value)).date()
    raise TypeError(f"unsupported Glue type {glue.kind}")


@dataclass
class TableSchema:
    """The Glue table's data columns (partition keys live in the prefix, not in the files)."""

    columns: list[tuple[str, GlueType]]

    @classmethod
    def from_glue(cls, table: dict[str, Any]) -> TableSchema:
        columns = table["StorageDescriptor"]["Columns"]
        return cls([(column["Name"], parse_glue_type(column["Type"])) for column in columns])

    def row(self, document: dict[str, Any]) -> dict[str, Any]:
        lowered = {str(key).lower(): value for key, value in document.items()}
        return {name: convert(lowered.get(name.lower()), kind) for name, kind in self.columns}

    def parquet(self, rows: list[dict[str, Any]]) -> bytes:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema([pa.field(name, arrow_type(kind)) for name, kind in self.columns])
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), sink, compression="snappy")
        return sink.getvalue()


# ------------------------------------------------------------------------------ one delivery stream
@dataclass
class _Buffer:
    records: list[bytes] = field(default_factory=list)
    size: int = 0
    since: float = 0.0


class Delivery:
    """The buffer and writer of one delivery stream."""

    def __init__(self, spec: DeliverySpec, session: Any) -> None:
        self.spec = spec
        self.s3 = session.client("s3")
        self.glue = session.client("glue")
        self.kinesis = session.client("kinesis") if spec.source_stream_arn else None
        self._buffer = _Buffer()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._iterators: dict[str, str | None] = {}
        self.delivered = 0  # records written (to the data prefix or the error prefix)

    # -- input
    def put(self, records: list[bytes]) -> None:
        flush = False
        with self._lock:
            if not self._buffer.records:
                self._buffer.since = time.monotonic()
            self._buffer.records.extend(records)
            self._buffer.size += sum(len(record) for record in records)
            flush = self._buffer.size >= self.spec.buffer_bytes or self.spec.buffer_seconds <= 0
        if flush:
            self.flush()

    def due(self, now: float) -> bool:
        with self._lock:
            return bool(self._buffer.records) and now - self._buffer.since >= self.spec.buffer_seconds

    def flush(self) -> int:
        """Write what is buffered; the number of records written. When the write fails (S3 or Glue
        unavailable) the records go back to the front of the buffer for the next flush, as Firehose
        retries a delivery rather than dropping it."""
        with self._write_lock:
            with self._lock:
                buffered, self._buffer = self._buffer, _Buffer()
            if not buffered.records:
                return 0
            try:
                self._write(buffered.records)
            except Exception:
                with self._lock:
                    buffered.records.extend(self._buffer.records)
                    buffered.size += self._buffer.size
                    self._buffer = buffered
                raise
            return len(buffered.records)

    # -- output
    def _object_name(self, now: datetime) -> str:
        return f"{self.spec.name}-1-{now:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}{self.spec.file_extension}"

    @staticmethod
    def _render(prefix: str, now: datetime, keys: dict[str, str], error_type: str = "") -> str:
        def replace(match: re.Match[str]) -> str:
            namespace, _, argument = match.group(1).partition(":")
            if namespace == "partitionKeyFromQuery":
                return keys[argument]
            if namespace == "timestamp":
                pattern = argument.replace("yyyy", "%Y").replace("MM", "%m").replace("dd", "%d").replace("HH", "%H")
                return now.strftime(pattern)
            if namespace == "firehose" and argument == "error-output-type":
                return error_type
            if namespace == "firehose" and argument == "random-string":
                return uuid.uuid4().hex[:11]
            raise ValueError(f"unsupported prefix expression !{{{match.group(1)}}}")

        return re.sub(r"!\{([^}]+)\}", replace, prefix)

    def _partition(self, document: dict[str, Any]) -> dict[str, str]:
        keys: dict[str, str] = {}
        for name, source, start, end in self.spec.partition_keys:
            value = document.get(source)
            if not isinstance(value, str) or not value:
                raise ValueError(f"no {source} to partition by")
            keys[name] = value[start:end]
        return keys

    def _write(self, records: list[bytes]) -> None:
        now = datetime.now(UTC)
        assert self.spec.glue_database and self.spec.glue_table
        table = self.glue.get_table(DatabaseName=self.spec.glue_database, Name=self.spec.glue_table)["Table"]
        schema = TableSchema.from_glue(table)
        groups: dict[tuple[tuple[str, str], ...], list[dict[str, Any]]] = defaultdict(list)
        errors: dict[str, list[bytes]] = defaultdict(list)
        for record in records:
            try:
                document = json.loads(record)
                if not isinstance(document, dict):
                    raise ValueError("not a JSON object")
                keys = self._partition(document)
            except ValueError:
                errors["partitioning-failed" if self.spec.partition_keys else "format-conversion-failed"].append(record)
                continue
            try:
                groups[tuple(sorted(keys.items()))].append(schema.row(document))
            except (TypeError, ValueError, OverflowError):
                errors["format-conversion-failed"].append(record)
        for partition, rows in groups.items():
            key = self._render(self.spec.prefix, now, dict(partition)) + self._object_name(now)
            self.s3.put_object(Bucket=self.spec.bucket, Key=key, Body=schema.parquet(rows))
        for error_type, lines in errors.items():
            key = self._render(self.spec.error_prefix, now, {}, error_type) + self._object_name(now).removesuffix(
                self.spec.file_extension
            )
            self.s3.put_object(
                Bucket=self.spec.bucket, Key=key, Body=b"".join(line.rstrip(b"\n") + b"\n" for line in lines)
            )
            log.warning("%s: %d records to %s (%s)", self.spec.name, len(lines), key, error_type)
        self.delivered += len(records)

    # -- the Kinesis source
    def start_reading_source(self) -> None:
        """Iterators at LATEST on every shard: the stream from now on, as a new delivery stream sees it."""
        assert self.kinesis is not None
        for shard in self.kinesis.list_shards(StreamARN=self.spec.source_stream_arn)["Shards"]:
            if shard["ShardId"] not in self._iterators:
                self._iterators[shard["ShardId"]] = self.kinesis.get_shard_iterator(
                    StreamARN=self.spec.source_stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
                )["ShardIterator"]

    def read_source(self) -> int:
        """One pass over the source's shards; the number of records taken into the buffer."""
        assert self.kinesis is not None
        taken = 0
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            response = self.kinesis.get_records(
                StreamARN=self.spec.source_stream_arn, ShardIterator=iterator, Limit=10000
            )
            self._iterators[shard_id] = response.get("NextShardIterator")
            data = [record["Data"] for record in response.get("Records", [])]
            if data:
                self.put(data)
                taken += len(data)
        return taken


# ------------------------------------------------------------------------------ every delivery stream
class FirehoseHub:
    """The devstack's delivery streams, their interval flushes and their Kinesis readers."""

    def __init__(self, specs: list[DeliverySpec], session: Any) -> None:
        self.deliveries = {spec.name: Delivery(spec, session) for spec in specs}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def put(self, stream_name: str, records: list[bytes]) -> None:
        self.deliveries[stream_name].put(records)

    def flush_all(self) -> int:
        return sum(delivery.flush() for delivery in self.deliveries.values())

    def start(self) -> None:
        for delivery in self.deliveries.values():
            if delivery.kinesis is not None:
                delivery.start_reading_source()
                thread = threading.Thread(
                    target=self._read_loop, args=(delivery,), name=f"firehose-{delivery.spec.name}", daemon=True
                )
                self._threads.append(thread)
        self._threads.append(threading.Thread(target=self._flush_loop, name="firehose-flush", daemon=True))
        for thread in self._threads:
            thread.start()

    def _read_loop(self, delivery: Delivery) -> None:
        """Read the source whenever moto stores a record in it (devstack/pollers/wakeups.py), and at
        least every QUIET_SECONDS: an idle stream costs no call in between."""
        from devstack.pollers.wakeups import QUIET_SECONDS, WAKEUPS  # the pollers' package imports this one

        assert delivery.spec.source_stream_arn is not None
        source = delivery.spec.source_stream_arn
        wakeup = WAKEUPS.register(source)
        try:
            while not self._stopping.is_set():
                wakeup.clear()  # a record stored from here on wakes the wait after this read
                try:
                    if not delivery.read_source():
                        wakeup.wait(QUIET_SECONDS)
                except Exception:  # the source is unavailable for a moment (moto restarting, shutdown)
                    log.exception("%s: reading its Kinesis source failed", delivery.spec.name)
                    self._stopping.wait(1.0)
        finally:
            WAKEUPS.unregister(source, wakeup)

    def _flush_loop(self) -> None:
        while not self._stopping.wait(TICK_SECONDS):
            now = time.monotonic()
            for delivery in self.deliveries.values():
                try:
                    if delivery.due(now):
                        delivery.flush()
                except Exception:
                    log.exception("%s: writing to the lake failed", delivery.spec.name)

    def stop(self) -> None:
        """Stop reading and write what is buffered (Firehose flushes its buffers too)."""
        from devstack.pollers.wakeups import WAKEUPS

        self._stopping.set()
        for delivery in self.deliveries.values():  # a reader waiting for a record sees the stop at once
            if delivery.spec.source_stream_arn:
                WAKEUPS.signal(delivery.spec.source_stream_arn)
        for thread in self._threads:
            thread.join(5)
        self._threads = []
        for delivery in self.deliveries.values():
            if delivery.kinesis is not None:
                try:
                    delivery.read_source()
                except Exception:
                    log.exception("%s: last read of its Kinesis source failed", delivery.spec.name)
        self.flush_all()


# ------------------------------------------------------------------------------ moto's PutRecordBatch
_active_hub: FirehoseHub | None = None
_patched = False


def set_active_hub(hub: FirehoseHub | None) -> None:
    global _active_hub
    _active_hub = hub


def _record_bytes(record: dict[str, Any]) -> bytes:
    data = record["Data"]
    return data if isinstance(data, bytes) else base64.b64decode(data)


def patch_moto_firehose() -> None:
    """PutRecordBatch (and PutRecord, which moto routes through it) to a stream the active hub
    delivers goes to the hub; other streams keep moto's behaviour."""
    global _patched
    if _patched:
        return
    from moto.firehose.models import FirehoseBackend
    from moto.moto_api._internal import mock_random

    original = FirehoseBackend.put_record_batch

    def put_record_batch(self: Any, delivery_stream_name: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        hub = _active_hub
        if (
            hub is None
            or delivery_stream_name not in hub.deliveries
            or delivery_stream_name not in self.delivery_streams
        ):
            return original(self, delivery_stream_name, records)
        hub.put(delivery_stream_name, [_record_bytes(record) for record in records])
        return {
            "FailedPutCount": 0,
            "Encrypted": False,
            "RequestResponses": [{"RecordId": str(mock_random.uuid4())} for _ in records],
        }

    FirehoseBackend.put_record_batch = put_record_batch  # type: ignore[method-assign]
    _patched = True
