"""The devstack's event source mappings and Step Functions run the fixture application's real handlers.

One devstack (moto, pollers, in-process Lambda) serves the whole module; every test waits for an
effect with a deadline instead of sleeping, because delivery is asynchronous.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from devstack.pollers import PollerGroup
from devstack.stack import Devstack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "tests" / "fixtures" / "devstack" / "template.yaml"
DEADLINE_SECONDS = 20.0

T = TypeVar("T")


def eventually(check: Callable[[], T | None], timeout: float = DEADLINE_SECONDS, what: str = "") -> T:
    """Poll `check` until it returns something truthy (or stops raising AssertionError)."""
    deadline = time.monotonic() + timeout
    last_error: AssertionError | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except AssertionError as error:
            last_error = error
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout} s: {what} {last_error or ''}".strip())
        time.sleep(0.1)


@pytest.fixture(scope="module")
def stack() -> Iterator[Devstack]:
    saved_environment = dict(os.environ)  # the devstack points AWS_* variables at its moto server
    devstack = Devstack(root=ROOT, template=TEMPLATE, port=0)
    try:
        devstack.start()
        yield devstack
    finally:
        devstack.stop()
        os.environ.clear()
        os.environ.update(saved_environment)


def client(stack: Devstack, service: str) -> Any:
    session: Any = stack.session
    return session.client(service)


def at_least(count: int, fetch: Callable[[], list[T]]) -> Callable[[], list[T] | None]:
    """A check for `eventually`: what `fetch` returns once it holds `count` items."""

    def check() -> list[T] | None:
        items = fetch()
        return items if len(items) >= count else None

    return check


def finished_execution(stack: Devstack, execution_arn: str) -> dict[str, Any]:
    stepfunctions = client(stack, "stepfunctions")

    def check() -> dict[str, Any] | None:
        described: dict[str, Any] = stepfunctions.describe_execution(executionArn=execution_arn)
        return described if described["status"] != "RUNNING" else None

    return eventually(check, what=f"{execution_arn} to finish")


def sink_items(stack: Devstack, partition: str) -> list[dict[str, Any]]:
    table = stack.output("SinkTableName")
    response = client(stack, "dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": partition}},
        ConsistentRead=True,
    )
    return list(response["Items"])


def stream_records(stack: Devstack, key: str) -> list[tuple[dict[str, Any], int]]:
    """The DynamoDB stream records the recorder function received for one source item, in
    sequence order, with how many times each was delivered."""
    received = []
    for item in sink_items(stack, "ddb"):
        record = json.loads(item["record"]["S"])
        if record["dynamodb"]["Keys"]["id"]["S"] == key:
            received.append((record, int(item["attempts"]["N"])))
    return sorted(received, key=lambda pair: int(pair[0]["dynamodb"]["SequenceNumber"]))


def queue_depth(stack: Devstack, url: str) -> int:
    attributes = client(stack, "sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_every_mapping_has_a_running_poller(stack: Devstack) -> None:
    assert stack.pollers is not None
    assert stack.pollers.status() == {
        "poller:StreamRecorderFunction:dynamodb": "ok",
        "poller:KinesisRecorderFunction:kinesis": "ok",
        "poller:QueueWorkerFunction:sqs": "ok",
        "poller:SleeperFunction:sqs": "ok",
    }


def test_dynamodb_changes_reach_the_stream_consumer_as_lambda_events(stack: Devstack) -> None:
    dynamodb = client(stack, "dynamodb")
    table = stack.deployment.tables["SourceTable"] if stack.deployment else ""
    stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    key = f"track-{uuid.uuid4().hex[:8]}"

    dynamodb.put_item(TableName=table, Item={"id": {"S": key}, "title": {"S": "Intro"}, "plays": {"N": "1"}})
    dynamodb.update_item(
        TableName=table,
        Key={"id": {"S": key}},
        UpdateExpression="SET title = :title",
        ExpressionAttributeValues={":title": {"S": "Intro (remastered)"}},
    )
    dynamodb.delete_item(TableName=table, Key={"id": {"S": key}})

    received = eventually(at_least(3, lambda: stream_records(stack, key)), what=key)
    (insert, _), (modify, _), (remove, _) = received
    assert [record["eventName"] for record, _ in received] == ["INSERT", "MODIFY", "REMOVE"]
    assert [attempts for _, attempts in received] == [1, 1, 1]
    for record, _ in received:
        assert record["eventSource"] == "aws:dynamodb"
        assert record["eventSourceARN"] == stream_arn
        assert record["awsRegion"] == "us-east-1"
        assert record["eventID"]
        assert record["dynamodb"]["Keys"] == {"id": {"S": key}}
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int | float)
    assert insert["dynamodb"]["NewImage"] == {"id": {"S": key}, "title": {"S": "Intro"}, "plays": {"N": "1"}}
    assert "OldImage" not in insert["dynamodb"]
    assert modify["dynamodb"]["OldImage"]["title"] == {"S": "Intro"}
    assert modify["dynamodb"]["NewImage"]["title"] == {"S": "Intro (remastered)"}
    assert remove["dynamodb"]["OldImage"]["title"] == {"S": "Intro (remastered)"}
    assert "NewImage" not in remove["dynamodb"]


def test_a_failing_stream_record_is_retried_then_sent_to_the_on_failure_queue(stack: Devstack) -> None:
    dynamodb = client(stack, "dynamodb")
    sqs = client(stack, "sqs")
    table = stack.deployment.tables["SourceTable"] if stack.deployment else ""
    stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    poison = f"poison-{uuid.uuid4().hex[:8]}"

    dynamodb.put_item(TableName=table, Item={"id": {"S": poison}, "poison": {"BOOL": True}})

    def failure_record() -> dict[str, Any] | None:
        messages = sqs.receive_message(QueueUrl=stack.output("StreamFailureQueueUrl"), WaitTimeSeconds=1)
        return json.loads(messages["Messages"][0]["Body"]) if messages.get("Messages") else None

    document = eventually(failure_record, what="on-failure record")
    [(record, attempts)] = stream_records(stack, poison)
    sequence = record["dynamodb"]["SequenceNumber"]
    assert attempts == 2  # the first try and MaximumRetryAttempts: 1
    assert document["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert document["requestContext"]["approximateInvokeCount"] == 2
    assert document["requestContext"]["functionArn"].endswith(":function:backbeat-local-StreamRecorderFunction")
    batch = document["DDBStreamBatchInfo"]
    assert batch["streamArn"] == stream_arn
    assert batch["startSequenceNumber"] == batch["endSequenceNumber"] == sequence
    assert batch["batchSize"] == 1

    # The shard moved past the discarded record: later changes are delivered once.
    following = f"after-{poison}"
    dynamodb.put_item(TableName=table, Item={"id": {"S": following}})
    [(record, attempts)] = eventually(at_least(1, lambda: stream_records(stack, following)), what=following)
    assert attempts == 1
    assert int(record["dynamodb"]["SequenceNumber"]) > int(sequence)
    assert stream_records(stack, poison)[0][1] == 2


def _keys_on_both_shards(prefix: str) -> list[str]:
    """Four partition keys, two in each half of the 128-bit hash-key space (Kinesis hashes a key with
    MD5; the fixture's two shards split that space in half), so both shards get records every run."""
    halves: dict[bool, list[str]] = {False: [], True: []}
    number = 0
    while min(len(keys) for keys in halves.values()) < 2:
        key = f"{prefix}-{number}"
        upper = int(hashlib.md5(key.encode()).hexdigest(), 16) >= 2**127
        if len(halves[upper]) < 2:
            halves[upper].append(key)
        number += 1
    return halves[False] + halves[True]


def test_kinesis_records_arrive_in_order_per_partition_key_with_their_data(stack: Devstack) -> None:
    kinesis = client(stack, "kinesis")
    stream = stack.output("PlayStreamName")
    run = uuid.uuid4().hex[:8]
    keys = _keys_on_both_shards(f"artist-{run}")
    count = 7
    for number in range(count):  # interleaved keys, spread over both shards, more than one batch each
        for key in keys:
            payload = {"key": key, "n": number, "title": "Café ☕ \u00e9"}
            kinesis.put_record(StreamName=stream, PartitionKey=key, Data=json.dumps(payload).encode("utf-8"))

    def received(key: str) -> list[dict[str, Any]]:
        items = [item for item in sink_items(stack, "kinesis") if item["sk"]["S"] == key]
        return [entry["M"] for entry in items[0]["received"]["L"]] if items else []

    for key in keys:
        entries = eventually(at_least(count, functools.partial(received, key)), what=key)
        payloads = [entry["payload"]["M"] for entry in entries]
        assert [int(payload["n"]["N"]) for payload in payloads] == list(range(count))
        assert {payload["title"]["S"] for payload in payloads} == {"Café ☕ é"}
        assert {entry["source"]["S"] for entry in entries} == {"aws:kinesis"}
        assert all(entry["eventID"]["S"].startswith("shardId-") for entry in entries)
    shards = {entry["eventID"]["S"].split(":")[0] for key in keys for entry in received(key)}
    assert len(shards) == 2, "the keys should have been spread over both shards"


def test_an_idle_stream_poller_is_woken_by_a_new_record(stack: Devstack, monkeypatch: pytest.MonkeyPatch) -> None:
    """An idle stream poller sleeps until moto stores a record in its source instead of asking again
    every fraction of a second: with the fallback poll a minute away, a DynamoDB change and a Kinesis
    record still reach their consumers within seconds."""
    from devstack.pollers import streams

    monkeypatch.setattr(streams, "QUIET_SECONDS", 60.0)
    time.sleep(streams.IDLE_SECONDS + 2.5)  # every stream poller is now in an idle wait of a minute
    dynamodb, kinesis = client(stack, "dynamodb"), client(stack, "kinesis")
    table = stack.deployment.tables["SourceTable"] if stack.deployment else ""
    key = f"woken-{uuid.uuid4().hex[:8]}"
    dynamodb.put_item(TableName=table, Item={"id": {"S": key}})
    kinesis.put_record(
        StreamName=stack.output("PlayStreamName"), PartitionKey=key, Data=json.dumps({"key": key}).encode()
    )

    eventually(at_least(1, lambda: stream_records(stack, key)), timeout=10, what=key)
    eventually(lambda: [item for item in sink_items(stack, "kinesis") if item["sk"]["S"] == key], timeout=10, what=key)


def test_sqs_messages_are_delivered_and_deleted_and_a_failing_one_ends_in_the_dlq(stack: Devstack) -> None:
    sqs = client(stack, "sqs")
    queue = stack.output("WorkQueueUrl")
    dead_letters = stack.output("WorkDeadLetterQueueUrl")
    run = uuid.uuid4().hex[:8]
    bodies = [{"id": f"{run}-ok-{n}"} for n in range(4)] + [{"id": f"{run}-bad", "fail": True}]
    sent = sqs.send_message_batch(
        QueueUrl=queue, Entries=[{"Id": str(n), "MessageBody": json.dumps(body)} for n, body in enumerate(bodies)]
    )
    message_ids = {bodies[int(entry["Id"])]["id"]: entry["MessageId"] for entry in sent["Successful"]}

    def dead_letter() -> dict[str, Any] | None:
        messages = sqs.receive_message(QueueUrl=dead_letters, WaitTimeSeconds=1).get("Messages", [])
        return messages[0] if messages else None

    dead = eventually(dead_letter, what="the failing message in the DLQ")
    assert json.loads(dead["Body"]) == {"id": f"{run}-bad", "fail": True}
    assert dead["MessageId"] == message_ids[f"{run}-bad"]

    attempts = {
        item["sk"]["S"]: (int(item["attempts"]["N"]), item["messageId"]["S"], item["source"]["S"])
        for item in sink_items(stack, "sqs")
        if item["sk"]["S"].startswith(run)
    }
    assert attempts == {
        **{f"{run}-ok-{n}": (1, message_ids[f"{run}-ok-{n}"], "aws:sqs") for n in range(4)},
        f"{run}-bad": (2, message_ids[f"{run}-bad"], "aws:sqs"),  # maxReceiveCount: 2
    }
    eventually(lambda: queue_depth(stack, queue) == 0 or None, what="the work queue to be empty")


def test_the_state_machine_runs_the_in_process_functions_in_sequence(stack: Devstack) -> None:
    # Executions are named: moto's executing Step Functions does not generate a name when it is
    # omitted, so a second unnamed execution would collide with the first.
    assert stack.deployment is not None
    stepfunctions = client(stack, "stepfunctions")
    arn = stack.deployment.state_machines["RoyaltyStateMachine"]
    statement = {"artist": "artist-1", "plays": [{"seconds": 30}, {"seconds": 200}, {"seconds": 12}]}

    execution = stepfunctions.start_execution(
        stateMachineArn=arn, name=f"royalty-{uuid.uuid4().hex}", input=json.dumps(statement)
    )
    described = finished_execution(stack, execution["executionArn"])

    royalty = next(spec for spec in stack.deployment.functions if spec.logical_id == "RoyaltyFunction")
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {
        "artist": "artist-1",
        "plays": 3,
        "amountMicros": 242 * 250,
        "pricedBy": royalty.name,
    }


def test_a_failing_task_fails_the_execution(stack: Devstack) -> None:
    assert stack.deployment is not None
    stepfunctions = client(stack, "stepfunctions")
    arn = stack.deployment.state_machines["RoyaltyStateMachine"]

    execution = stepfunctions.start_execution(
        stateMachineArn=arn, name=f"royalty-{uuid.uuid4().hex}", input=json.dumps({"artist": "a", "plays": []})
    )
    described = finished_execution(stack, execution["executionArn"])

    assert described["status"] == "FAILED", described
    history = stepfunctions.get_execution_history(executionArn=execution["executionArn"])["events"]
    failed = [event for event in history if event["type"] == "ExecutionFailed"]
    assert failed, history
    assert "a statement needs at least one play" in json.dumps(failed[0]["executionFailedEventDetails"])


def test_a_task_past_its_function_timeout_fails_the_execution_with_the_timeout(stack: Devstack) -> None:
    assert stack.deployment is not None
    stepfunctions = client(stack, "stepfunctions")
    arn = stack.deployment.state_machines["SlowStateMachine"]

    execution = stepfunctions.start_execution(
        stateMachineArn=arn, name=f"slow-{uuid.uuid4().hex}", input=json.dumps({"seconds": 3})
    )
    described = finished_execution(stack, execution["executionArn"])

    assert described["status"] == "FAILED", described
    history = stepfunctions.get_execution_history(executionArn=execution["executionArn"])["events"]
    failed = [event for event in history if event["type"] == "ExecutionFailed"]
    assert "Task timed out after 1.00 seconds" in json.dumps(failed[0]["executionFailedEventDetails"])
    quick = stepfunctions.start_execution(
        stateMachineArn=arn, name=f"slow-{uuid.uuid4().hex}", input=json.dumps({"seconds": 0})
    )
    assert finished_execution(stack, quick["executionArn"])["status"] == "SUCCEEDED"


def test_a_message_whose_invocation_times_out_is_not_deleted_and_ends_in_the_dlq(stack: Devstack) -> None:
    """The poller sees the timeout as the invocation's error: the message stays on the queue and
    its redrive policy (maxReceiveCount 1) moves it to the dead-letter queue."""
    sqs = client(stack, "sqs")
    body = {"seconds": 3, "run": uuid.uuid4().hex}
    sqs.send_message(QueueUrl=stack.output("SlowQueueUrl"), MessageBody=json.dumps(body))
    dead_letters = stack.output("SlowDeadLetterQueueUrl")

    def dead_letter() -> dict[str, Any] | None:
        messages = sqs.receive_message(QueueUrl=dead_letters, WaitTimeSeconds=1).get("Messages", [])
        return messages[0] if messages else None

    assert json.loads(eventually(dead_letter, what="the timed-out message in the DLQ")["Body"]) == body


def test_stop_joins_every_poller_thread(stack: Devstack) -> None:
    """A second group over the same mappings (from LATEST, so nothing is delivered twice) starts,
    reports ok, and leaves no thread behind when stopped."""
    assert stack.deployment is not None and stack.runtime is not None
    mappings = [
        dataclasses.replace(mapping, starting_position="LATEST") if mapping.kind != "sqs" else mapping
        for mapping in stack.deployment.mappings
    ]
    group = PollerGroup(mappings, stack.runtime, stack.session)
    group.start()
    try:
        assert set(group.status().values()) == {"ok"}
        assert len(group.status()) == len(mappings)
    finally:
        group.stop()
    assert [thread.name for thread in group.threads() if thread.is_alive()] == []
    assert set(group.status().values()) == {"stopped"}
