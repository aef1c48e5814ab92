"""What runs the lake's SQL: Athena over the Glue tables in AWS, DuckDB over the same Parquet
locally (the devstack has no Athena). Both take the same SQL (`backbeat.analytics.queries`) and
offer the same two operations: a query whose rows come back, and an unload that writes a query's
result as Parquet under a prefix of the lake bucket.

The DuckDB engine reads the Glue catalog for the tables and their locations (moto's Glue in the
devstack), copies each table's Parquet files from S3 into a local cache (DuckDB's httpfs extension
is a download of its own), and registers each table as a view over them with Hive partitioning, so
`dt` is a column as it is in Athena.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from backbeat.analytics.glue_schema import duckdb_type, parse_glue_type
from backbeat.errors import BackbeatError


class QueryFailed(BackbeatError):
    """The engine refused or failed the query (a syntax error, an unknown column, a timeout)."""

    status = 400
    code = "QueryFailed"


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


class LakeEngine(Protocol):
    def query(self, sql: str) -> QueryResult:
        """The rows of a query, with its column names."""
        ...

    def unload(self, sql: str, bucket: str, prefix: str) -> None:
        """The result of `sql` as Parquet under s3://bucket/prefix (which the caller has emptied)."""
        ...

    def close(self) -> None:
        """Release what the engine holds (DuckDB's connection and file cache)."""
        ...


def _s3_location(location: str) -> tuple[str, str]:
    if not location.startswith("s3://"):
        raise ValueError(f"not an S3 location: {location!r}")
    bucket, _, prefix = location[len("s3://") :].partition("/")
    return bucket, prefix if not prefix or prefix.endswith("/") else prefix + "/"


# ---------------------------------------------------------------------------------------- Athena
_ATHENA_CASTS = {
    "bigint": int,
    "integer": int,
    "smallint": int,
    "tinyint": int,
    "double": float,
    "float": float,
    "real": float,
    "boolean": lambda value: value == "true",
}


class AthenaEngine:
    """Athena in one workgroup (its result location and byte limit), on one Glue database."""

    def __init__(self, athena: Any, database: str, workgroup: str, poll_seconds: float = 1.0) -> None:
        self.athena = athena
        self.database = database
        self.workgroup = workgroup
        self.poll_seconds = poll_seconds

    def _run(self, sql: str) -> str:
        execution = self.athena.start_query_execution(
            QueryString=sql, QueryExecutionContext={"Database": self.database}, WorkGroup=self.workgroup
        )["QueryExecutionId"]
        while True:
            status = self.athena.get_query_execution(QueryExecutionId=execution)["QueryExecution"]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                return str(execution)
            if state in ("FAILED", "CANCELLED"):
                raise QueryFailed(f"Athena query {state.lower()}: {status.get('StateChangeReason', 'no reason given')}")
            time.sleep(self.poll_seconds)

    def query(self, sql: str) -> QueryResult:
        execution = self._run(sql)
        columns: list[str] = []
        casts: list[Any] = []
        rows: list[tuple[Any, ...]] = []
        first_page = True
        for page in self.athena.get_paginator("get_query_results").paginate(QueryExecutionId=execution):
            result = page["ResultSet"]
            if not columns:
                info = result["ResultSetMetadata"]["ColumnInfo"]
                columns = [column["Name"] for column in info]
                casts = [_ATHENA_CASTS.get(column["Type"], str) for column in info]
            data = result["Rows"][1:] if first_page else result["Rows"]  # the first row is the header
            first_page = False
            for row in data:
                values = [cell.get("VarCharValue") for cell in row["Data"]]
                rows.append(tuple(None if v is None else cast(v) for v, cast in zip(values, casts, strict=True)))
        return QueryResult(columns, rows)

    def unload(self, sql: str, bucket: str, prefix: str) -> None:
        self._run(f"UNLOAD ({sql}) TO 's3://{bucket}/{prefix}' WITH (format = 'PARQUET', compression = 'SNAPPY')")

    def close(self) -> None:
        """Nothing to release: Athena keeps no session."""


# ---------------------------------------------------------------------------------------- DuckDB
class DuckDBEngine:
    """DuckDB over the Parquet of the Glue database's tables, copied from S3 into `cache_dir`."""

    def __init__(self, s3: Any, glue: Any, database: str, cache_dir: Path | None = None) -> None:
        import duckdb

        self.s3 = s3
        self.glue = glue
        self.database = database
        self._own_cache = cache_dir is None
        self.cache_dir = cache_dir or Path(tempfile.mkdtemp(prefix="backbeat-lake-"))
        self._etags: dict[str, str] = {}  # local path -> the ETag of the object it was copied from
        self._registered: dict[str, str] = {}  # table name -> VIEW (over files) or TABLE (empty)
        self.connection = duckdb.connect(":memory:")

    def _tables(self) -> list[dict[str, Any]]:
        tables: list[dict[str, Any]] = []
        for page in self.glue.get_paginator("get_tables").paginate(DatabaseName=self.database):
            tables.extend(page["TableList"])
        return tables

    def _sync(self, bucket: str, prefix: str) -> list[Path]:
        """The table's Parquet files, copied (when new or changed) into the cache; files that left
        the bucket (a re-run aggregate replaces its day) leave the cache too."""
        local_root = self.cache_dir / bucket
        wanted: list[Path] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if not item["Key"].endswith(".parquet"):
                    continue
                path = local_root / item["Key"]
                wanted.append(path)
                if self._etags.get(str(path)) != item["ETag"] or not path.exists():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    self.s3.download_file(bucket, item["Key"], str(path))
                    self._etags[str(path)] = item["ETag"]
        table_root = local_root / prefix
        if table_root.exists():
            for stale in set(table_root.rglob("*.parquet")) - set(wanted):
                stale.unlink()
                self._etags.pop(str(stale), None)
        return sorted(wanted)

    def refresh(self) -> None:
        """(Re)register every table of the database over the files its location holds now."""
        for table in self._tables():
            name = table["Name"]
            descriptor = table["StorageDescriptor"]
            bucket, prefix = _s3_location(descriptor["Location"])
            files = self._sync(bucket, prefix)
            partitions = [key["Name"] for key in table.get("PartitionKeys", [])]
            previous = self._registered.pop(name, None)
            if previous:
                self.connection.execute(f'DROP {previous} IF EXISTS "{name}"')
            if files:
                listing = ", ".join(f"'{path}'" for path in files)
                hive_types = ", ".join(f"'{key}': 'VARCHAR'" for key in partitions)
                # names and paths come from the Glue catalog and this cache, not from a query's author
                view = (
                    f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet([{listing}], '  # noqa: S608
                    f"hive_partitioning = true, union_by_name = true, hive_types = {{{hive_types}}})"
                )
                self.connection.execute(view)
                self._registered[name] = "VIEW"
            else:  # no data yet: an empty table of the declared shape, so queries still bind
                columns = [
                    f'"{column["Name"]}" {duckdb_type(parse_glue_type(column["Type"]))}'
                    for column in descriptor["Columns"]
                ] + [f'"{key}" VARCHAR' for key in partitions]
                self.connection.execute(f'CREATE TABLE "{name}" ({", ".join(columns)})')
                self._registered[name] = "TABLE"

    def query(self, sql: str) -> QueryResult:
        import duckdb

        self.refresh()
        try:
            cursor = self.connection.execute(sql)
            columns = [column[0] for column in cursor.description or []]
            return QueryResult(columns, [tuple(row) for row in cursor.fetchall()])
        except duckdb.Error as error:
            raise QueryFailed(f"DuckDB: {error}") from None

    def unload(self, sql: str, bucket: str, prefix: str) -> None:
        import duckdb

        self.refresh()
        target = Path(tempfile.mkdtemp(prefix="backbeat-unload-", dir=self.cache_dir)) / "part-00000.parquet"
        try:
            # lower-case column names, as Athena's UNLOAD writes them (and the Glue tables declare them)
            names = [row[0] for row in self.connection.execute(f"DESCRIBE ({sql})").fetchall()]
            renamed = ", ".join(f'"{name}" AS "{name.lower()}"' for name in names)
            self.connection.execute(
                f"COPY (SELECT {renamed} FROM ({sql}) result) TO '{target}' (FORMAT PARQUET, COMPRESSION SNAPPY)"  # noqa: S608
            )
        except duckdb.Error as error:
            raise QueryFailed(f"DuckDB: {error}") from None
        self.s3.upload_file(str(target), bucket, prefix + target.name)
        target.unlink()

    def close(self) -> None:
        self.connection.close()
        if self._own_cache:
            shutil.rmtree(self.cache_dir, ignore_errors=True)


def engine_for(kind: str, database: str, workgroup: str = "") -> LakeEngine:
    """The engine a deployment names (LakeQueryEngine): ``athena`` or ``duckdb``."""
    from backbeat.aws import client

    if kind == "athena":
        return AthenaEngine(client("athena"), database, workgroup)
    if kind == "duckdb":
        return DuckDBEngine(client("s3"), client("glue"), database)
    raise ValueError(f"unknown lake query engine {kind!r} (athena or duckdb)")
