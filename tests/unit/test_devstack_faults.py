"""Faults injected on demand (devstack/faults.py): AWS answers what AWS would answer, and consumers
see the duplicate deliveries and crashes they must absorb."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from devstack.faults import FaultPlan, Faults
from devstack.pollers.base import Poller
from devstack.resources import EventSourceMapping
from devstack.stack import free_port


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
def moto_url(faults: Faults, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    assert server._server is not None
    server._server.app = faults.wrap(server._server.app)
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _client(service: str, url: str) -> Any:
    no_retries = Config(retries={"max_attempts": 1, "mode": "standard"})
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", config=no_retries)


def test_dynamodb_writes_are_throttled_as_aws_throttles_them(faults: Faults, moto_url: str) -> None:
    dynamodb = _client("dynamodb", moto_url)
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    faults.use(FaultPlan(dynamodbThrottle=1.0))
    with pytest.raises(ClientError) as raised:
        dynamodb.put_item(TableName="t", Item={"k": {"S": "a"}})
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert dynamodb.scan(TableName="t")["Count"] == 0  # reads pass, and the write did not happen
    with pytest.raises(ClientError) as cancelled:
        faults.use(FaultPlan(dynamodbConflict=1.0))
        dynamodb.transact_write_items(
            TransactItems=[{"Put": {"TableName": "t", "Item": {"k": {"S": "b"}}}}],
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "TransactionConflict" in str(cancelled.value)
    faults.clear()
    dynamodb.put_item(TableName="t", Item={"k": {"S": "a"}})
    assert dynamodb.scan(TableName="t")["Count"] == 1


def test_kinesis_put_records_fails_entries_one_by_one(faults: Faults, moto_url: str) -> None:
    kinesis = _client("kinesis", moto_url)
    kinesis.create_stream(StreamName="s", ShardCount=1)
    faults.use(FaultPlan(kinesisPutFailures=0.3, seed=7))
    entries = [{"Data": f"record-{i}".encode(), "PartitionKey": "p"} for i in range(100)]
    answer = kinesis.put_records(StreamName="s", Records=entries)
    refused = [i for i, result in enumerate(answer["Records"]) if "ErrorCode" in result]
    assert 10 < answer["FailedRecordCount"] == len(refused) < 60
    assert all(answer["Records"][i]["ErrorCode"] == "ProvisionedThroughputExceededException" for i in refused)
    shard = kinesis.list_shards(StreamName="s")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName="s", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    stored = [r["Data"].decode() for r in kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]]
    assert stored == [f"record-{i}" for i in range(100) if i not in refused]  # in order, the refused absent


def test_s3_answers_slow_down(faults: Faults, moto_url: str) -> None:
    s3 = _client("s3", moto_url)
    s3.create_bucket(Bucket="fault-bucket")
    faults.use(FaultPlan(s3Errors=1.0))
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket="fault-bucket", Key="k", Body=b"x")
    assert raised.value.response["Error"]["Code"] == "SlowDown"
    assert faults.status()["injected"]["s3Errors"] >= 1


class _Runtime:
    """Records what each invocation received; the function applies every record it gets."""

    def __init__(self) -> None:
        self.applied: list[str] = []
        self.specs: list[Any] = []

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        self.applied.extend(record["id"] for record in event["Records"])
        return {"batchItemFailures": []}


class _Poller(Poller):
    def poll_once(self) -> bool:
        return False


def _poller(runtime: _Runtime, faults: Faults, monkeypatch: pytest.MonkeyPatch) -> _Poller:
    monkeypatch.setattr("devstack.pollers.base.FAULTS", faults)
    mapping = EventSourceMapping(
        "Consumer", "kinesis", "arn:aws:kinesis:us-east-1:1:stream/s", 10, report_batch_item_failures=True
    )
    return _Poller(mapping, runtime, None, threading.Event())  # type: ignore[arg-type]


def test_a_crash_mid_batch_applies_half_then_fails_the_whole_batch(
    faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = _Runtime()
    poller = _poller(runtime, faults, monkeypatch)
    faults.use(FaultPlan(crashes={"Consumer": 1}))
    records = [{"id": str(i)} for i in range(10)]
    ids = [r["id"] for r in records]
    crashed = poller.invoke(records, ids)
    assert crashed.failed == frozenset(ids) and crashed.error and crashed.error["errorType"] == "Runtime.ExitError"
    assert runtime.applied == ids[:5]
    again = poller.invoke(records, ids)  # one crash planned: the retry goes through
    assert again.ok and runtime.applied == ids[:5] + ids


def test_record_failures_are_reported_after_the_records_were_applied(
    faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = _Runtime()
    poller = _poller(runtime, faults, monkeypatch)
    faults.use(FaultPlan(recordFailures={"Consumer": 0.5}, seed=3))
    records = [{"id": str(i)} for i in range(40)]
    ids = [r["id"] for r in records]
    outcome = poller.invoke(records, ids)
    assert runtime.applied == ids  # everything applied ...
    assert 5 < len(outcome.failed) < 35  # ... yet some reported failed: they will come again
    assert faults.status()["injected"]["recordFailure:Consumer"] == len(outcome.failed)
