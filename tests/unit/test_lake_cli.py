"""`backbeat analytics sql` against the local lake: a header, a rule, the rows and a count, or one
JSON object a line; a bad query is a one-line error, not a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from backbeat.analytics.engines import QueryResult
from backbeat_ops.analytics_cli import format_table
from backbeat_ops.cli import main
from devstack.firehose import FirehoseHub, patch_moto_firehose, set_active_hub
from devstack.resources import Deployment
from tests.unit.test_lake_firehose import play


@pytest.fixture
def local_lake(aws: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    """Two plays in the lake (one billable, one not) and a devstack state file naming the stack."""
    patch_moto_firehose()
    hub = FirehoseHub(aws.delivery_streams, boto3.Session(region_name="us-east-1"))
    set_active_hub(hub)
    plays = [
        play("p-45s", 2, "2026-12-02T10:00:00.000Z", playedMs=45_000),
        play("p-10s", 2, "2026-12-02T10:05:00.000Z", playedMs=10_000, billable=False, reason="short"),
    ]
    hub.put(aws.ref("PlaysDelivery"), [json.dumps(record).encode() for record in plays])
    hub.flush_all()
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"outputs": aws.outputs, "environment": {}}), encoding="utf-8")
    monkeypatch.setenv("BACKBEAT_DEVSTACK_STATE", str(state))
    yield aws
    set_active_hub(None)


def test_analytics_sql_prints_a_table_of_the_lake(local_lake: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    query = "SELECT playId, playedMs, billable, reason FROM plays ORDER BY playedMs DESC"
    assert main(["analytics", "sql", query]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["playId", "playedMs", "billable", "reason"]
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split() == ["p-45s", "45000", "True", "billable"]
    assert lines[3].split() == ["p-10s", "10000", "False", "short"]
    assert lines[4] == "(2 rows)"


def test_analytics_sql_json_prints_one_object_a_line(
    local_lake: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analytics", "sql", "SELECT playId, billable FROM plays ORDER BY playId", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows == [{"playId": "p-10s", "billable": False}, {"playId": "p-45s", "billable": True}]


def test_a_bad_query_is_a_one_line_error(local_lake: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analytics", "sql", "SELECT nope FROM plays"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("backbeat: DuckDB:") and "nope" in error


def test_the_table_aligns_numbers_right_and_shows_nulls() -> None:
    table = format_table(QueryResult(["song", "plays"], [("a", 5), ("bb", 120), (None, None)]))
    assert table.splitlines() == ["song  plays", "----  -----", "a         5", "bb      120", "NULL   NULL", "(3 rows)"]
