"""The stream consumers report partial batch failures through Powertools' BatchProcessor: the indexer
only the records its one bulk request did not apply, the fan-out the first record it could not hand
out and every record after it (so sockets see versions in order)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.conftest import load_function
from tests.unit.test_search import _FlakyEngine, _records


def _failures(response: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def test_the_indexer_reports_only_the_records_the_bulk_request_rejected(aws, context) -> None:  # type: ignore[no-untyped-def]
    indexer = load_function("search_indexer", aws)
    indexer.client = _FlakyEngine()  # answers 429 for the second action of each bulk request
    records = _records()
    assert _failures(indexer.lambda_handler({"Records": records}, context)) == [
        records[1]["dynamodb"]["SequenceNumber"]
    ]


def test_the_fanout_stops_at_the_first_record_it_cannot_hand_out(
    aws: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fanout = load_function("fanout", aws)
    attempted: list[str] = []

    def fan_out(sockets: Any, record: dict[str, Any], pool: Any) -> None:
        sequence = record["dynamodb"]["SequenceNumber"]
        attempted.append(sequence)
        if sequence == "2":
            raise ConnectionError("the @connections endpoint did not answer")

    monkeypatch.setattr(fanout.service, "fan_out", fan_out)
    records = [
        {"eventName": "MODIFY", "eventSource": "aws:dynamodb", "dynamodb": {"SequenceNumber": n}} for n in "1234"
    ]
    response = fanout.lambda_handler({"Records": records}, context)
    assert _failures(response) == ["2", "3", "4"]
    assert attempted == ["1", "2"], "records after a failed one must not be posted before it"

    assert _failures(fanout.lambda_handler({"Records": records[:1]}, context)) == []
