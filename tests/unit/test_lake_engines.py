"""The Athena engine, against a recording stand-in for the Athena API: the query runs in the lake's
database and workgroup, results come back typed without the header row, a failed query is a
QueryFailed naming Athena's reason, and an unload is an UNLOAD of the same SQL as Parquet. And the
views are put in front of a query, its own CTEs after them."""

from __future__ import annotations

from typing import Any

import pytest

from backbeat.analytics import queries
from backbeat.analytics.engines import AthenaEngine, QueryFailed
from backbeat.analytics.glue_schema import duckdb_type, parse_glue_type


class FakeAthena:
    def __init__(self, states: list[str], pages: list[dict[str, Any]] | None = None) -> None:
        self.states = states
        self.pages = pages or []
        self.started: list[dict[str, Any]] = []

    def start_query_execution(self, **request: Any) -> dict[str, Any]:
        self.started.append(request)
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:
        state = self.states.pop(0)
        status = {"State": state} | ({"StateChangeReason": "COLUMN_NOT_FOUND: line 1:8"} if state == "FAILED" else {})
        return {"QueryExecution": {"Status": status}}

    def get_paginator(self, name: str) -> Any:
        assert name == "get_query_results"
        pages = self.pages

        class Paginator:
            def paginate(self, QueryExecutionId: str) -> list[dict[str, Any]]:
                return pages

        return Paginator()


def page(rows: list[list[str | None]], header: bool) -> dict[str, Any]:
    info = [{"Name": "day", "Type": "varchar"}, {"Name": "plays", "Type": "bigint"}, {"Name": "rate", "Type": "double"}]
    data = [[{"VarCharValue": name} for name in ("day", "plays", "rate")]] if header else []
    data += [[{} if value is None else {"VarCharValue": value} for value in row] for row in rows]
    return {"ResultSet": {"ResultSetMetadata": {"ColumnInfo": info}, "Rows": [{"Data": row} for row in data]}}


def test_athena_runs_in_the_lake_workgroup_and_types_the_rows() -> None:
    athena = FakeAthena(
        ["QUEUED", "RUNNING", "SUCCEEDED"],
        [page([["2026-12-02", "3", "0.5"]], header=True), page([["2026-12-03", None, "1.0"]], header=False)],
    )
    engine = AthenaEngine(athena, "backbeat_prod_lake", "backbeat-prod-lake", poll_seconds=0)
    result = engine.query("SELECT day, plays, rate FROM t")
    assert athena.started == [
        {
            "QueryString": "SELECT day, plays, rate FROM t",
            "QueryExecutionContext": {"Database": "backbeat_prod_lake"},
            "WorkGroup": "backbeat-prod-lake",
        }
    ]
    assert result.columns == ["day", "plays", "rate"]
    assert result.rows == [("2026-12-02", 3, 0.5), ("2026-12-03", None, 1.0)]


def test_a_failed_athena_query_names_the_reason() -> None:
    engine = AthenaEngine(FakeAthena(["RUNNING", "FAILED"]), "db", "wg", poll_seconds=0)
    with pytest.raises(QueryFailed, match="COLUMN_NOT_FOUND"):
        engine.query("SELECT nope FROM plays")


def test_an_athena_unload_writes_parquet_under_the_prefix() -> None:
    athena = FakeAthena(["SUCCEEDED"])
    AthenaEngine(athena, "db", "wg", poll_seconds=0).unload("SELECT 1 AS one", "lake", "aggregates/x/dt=2026-12-02/")
    assert athena.started[0]["QueryString"] == (
        "UNLOAD (SELECT 1 AS one) TO 's3://lake/aggregates/x/dt=2026-12-02/' "
        "WITH (format = 'PARQUET', compression = 'SNAPPY')"
    )


def test_the_views_go_in_front_of_a_query_and_its_own_ctes_after_them() -> None:
    plain = queries.with_views("SELECT count(*) FROM plays")
    assert plain.startswith("WITH events AS (") and plain.endswith("\nSELECT count(*) FROM plays")
    own = queries.with_views("with recent AS (SELECT * FROM plays) SELECT count(*) FROM recent;")
    assert own.count("WITH") == 1 and "),\nrecent AS (SELECT * FROM plays) SELECT count(*) FROM recent" in own
    assert set(queries.views()) == {"events", "plays"}
    assert set(queries.blocks("daily_aggregates.sql")) == {"daily_song", "daily_artist"}


@pytest.mark.parametrize(
    ("glue", "duckdb"),
    [
        ("bigint", "BIGINT"),
        ("array<string>", "VARCHAR[]"),
        ("struct<type:string,id:string>", 'STRUCT("type" VARCHAR, "id" VARCHAR)'),
        ("timestamp", "TIMESTAMP"),
    ],
)
def test_glue_types_become_duckdb_types(glue: str, duckdb: str) -> None:
    assert duckdb_type(parse_glue_type(glue)) == duckdb


def test_an_unknown_glue_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported Glue type"):
        parse_glue_type("map<string,int>")
