"""What one DynamoDB call costs the devstack's process, by the calls a playlist edit makes, and the
least CPU any design of the edit path can cost it per edit.

    .venv/bin/python bench/devstack_call_cost.py [--calls 200] [--rounds 3]

Runs moto as the devstack runs it (`devstack.stack.start_moto_server`), in this process alone: every
correction, the fault layer, and calls answered in the caller's thread by
`devstack.in_process_aws` (decision 61), through a boto3 client. The table is made as template.yaml's
PlaylistsTable, and its playlist holds 1,000 tracks and a change log of 1,000 versions, as the
ten-editor benchmark (`bench/playlists.py --editors 10 --edits 100`) ends with. Each call is one of
those an edit makes (the request names the same expressions, conditions and sizes), timed as the
CPU time of this thread per call (`time.thread_time`: not what else the machine is doing), the
median of `--rounds` rounds of `--calls` calls.

It then prints the floor: the calls an edit makes that no design of the edit path can drop (its
rate-limit count, its idempotency record written and completed, the edit written durably, its
outcome read back, and its share of one transaction and one queue read per group commit), added up
at the measured costs, against the 20 ms of one interpreter's CPU an edit that 50 edits a second
allows. The posts to listeners, the order read, the gateway, the authorizer and the handler come on
top of it.

Last, decision 65's corrections against moto's own paths, alternated round by round on the same
calls: the answer converted directly instead of through `dynamo_to_dict`, a handler's actions listed
once instead of on every call, a Query's range key condition tested with its operands cast once, an
item of strings, numbers and booleans sized directly, and a local index's candidates taken from the
partition instead of the index map (which checks each is still stored).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack.stack import LOCAL_ENVIRONMENT, free_port, start_moto_server  # noqa: E402
from devstack.template import load_template  # noqa: E402

TABLE = "PlaylistsTable"
PK = "PL#benchmark"
COMMITS = "PL#commits"  # the group commits' playlist: the one read keeps its size while they write
TRACKS = 1000
VERSIONS = 1000
GROUP = 3.6  # edits a group commit holds with ten editors (`bench/playlists.py --editors 10`)
BUDGET_MS = 1000 / 50  # one interpreter's CPU an edit at 50 edits a second


def start_moto() -> Any:
    """A boto3 DynamoDB client whose calls moto answers in this thread, as the devstack's functions'."""
    import boto3

    os.environ.update(LOCAL_ENVIRONMENT)
    port = free_port("127.0.0.1")
    start_moto_server("127.0.0.1", port)
    endpoint = f"http://127.0.0.1:{port}"
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=LOCAL_ENVIRONMENT["AWS_REGION"])


def create_table(client: Any) -> None:
    properties = load_template(ROOT / "template.yaml")["Resources"][TABLE]["Properties"]
    client.create_table(
        TableName=TABLE,
        KeySchema=properties["KeySchema"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        LocalSecondaryIndexes=properties["LocalSecondaryIndexes"],
        GlobalSecondaryIndexes=properties["GlobalSecondaryIndexes"],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def seed(client: Any) -> None:
    """The playlist as ten editors leave it: its head, turn, tracks and change log."""
    items: list[dict[str, Any]] = [
        {"pk": {"S": PK}, "sk": {"S": "META"}, "version": {"N": str(VERSIONS)}, "trackCount": {"N": str(TRACKS)}},
        {"pk": {"S": PK}, "sk": {"S": "TURN"}, "nextTicket": {"N": "0"}, "serving": {"N": "0"}},
        *(_queued(f"QUEUE#0000000000001#{n}") for n in range(4)),  # what a group finds queued
        {"pk": {"S": COMMITS}, "sk": {"S": "META"}, "version": {"N": str(VERSIONS)}, "trackCount": {"N": "0"}},
        {"pk": {"S": COMMITS}, "sk": {"S": "TURN"}, "nextTicket": {"N": "0"}, "serving": {"N": "0"}},
        *(_queued(f"QUEUE#9000000000000#{n}", pk=COMMITS) for n in range(3)),  # what `group_commit` answers
    ]
    for n in range(TRACKS):
        items.append(
            {
                "pk": {"S": PK},
                "sk": {"S": f"ITEM#{n:022d}"},
                "pos": {"S": f"a{n:06d}"},
                "itemId": {"S": f"{n:022d}"},
                "songId": {"S": f"song{n % 500:018d}"},
                "addedBy": {"S": "editor"},
                "addedAt": {"S": "2026-12-04T12:00:00.000Z"},
            }
        )
    for version in range(1, VERSIONS + 1):
        items.append(
            {
                "pk": {"S": PK},
                "sk": {"S": f"LOG#{version:010d}"},
                "version": {"N": str(version)},
                "op": {"S": '{"type": "tracks.added", "position": 3, "items": []}'},
                "by": {"S": "editor"},
                "at": {"S": "2026-12-04T12:00:00.000Z"},
            }
        )
    for start in range(0, len(items), 25):
        client.batch_write_item(
            RequestItems={TABLE: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]}
        )


def _queued(key: str, pk: str = PK) -> dict[str, Any]:
    return {
        "pk": {"S": pk},
        "sk": {"S": key},
        "request": {"S": '{"kind": "add", "args": {"songIds": ["song000000000000000001"], "position": 400}}'},
        "by": {"S": "editor"},
        "state": {"S": "queued"},
    }


def calls(client: Any) -> dict[str, Callable[[], Any]]:
    """One of each call an edit makes, as the deployed code makes it (same expressions and sizes)."""
    now = int(time.time())

    def rate_limit() -> Any:
        return client.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "RATE#editor#edits"}, "sk": {"S": str(now // 60)}},
            UpdateExpression="ADD #count :one SET #expires = if_not_exists(#expires, :expires)",
            ConditionExpression="attribute_not_exists(#count) OR #count < :limit",
            ExpressionAttributeNames={"#count": "count", "#expires": "expiresAt"},
            ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": "1000000000"}, ":expires": {"N": "1"}},
        )

    def idempotency_begun() -> Any:
        key = f"IDEM#{uuid.uuid4().hex}"
        return client.put_item(
            TableName=TABLE,
            Item={
                "pk": {"S": key},
                "sk": {"S": "-"},
                "status": {"S": "INPROGRESS"},
                "expiration": {"N": str(now + 3600)},
            },
            ConditionExpression="attribute_not_exists(#id) OR #expiry < :now",
            ExpressionAttributeNames={"#id": "pk", "#expiry": "expiration"},
            ExpressionAttributeValues={":now": {"N": str(now)}},
        )

    def idempotency_done() -> Any:
        return client.update_item(
            TableName=TABLE,
            Key={"pk": {"S": "IDEM#done"}, "sk": {"S": "-"}},
            UpdateExpression="SET #response_data = :response_data, #expiry = :expiry, #status = :status",
            ExpressionAttributeNames={"#response_data": "data", "#expiry": "expiration", "#status": "status"},
            ExpressionAttributeValues={
                ":response_data": {"S": '{"statusCode": 201, "body": "{\\"version\\": 1001}"}'},
                ":expiry": {"N": str(now + 3600)},
                ":status": {"S": "COMPLETED"},
            },
        )

    def queue_edit() -> Any:
        return client.put_item(
            TableName=TABLE,
            # another partition: the playlist's stays the size it has while the others are timed
            Item=_queued(f"QUEUE#{int(time.time() * 1000):013d}#{uuid.uuid4().hex[:22]}", pk=f"{PK}#queued"),
            ConditionExpression="attribute_not_exists(sk)",
        )

    def look() -> Any:
        keys = [{"pk": {"S": PK}, "sk": {"S": "QUEUE#0000000000001#0"}}, {"pk": {"S": PK}, "sk": {"S": "TURN"}}]
        return client.batch_get_item(RequestItems={TABLE: {"Keys": keys, "ConsistentRead": True}})

    def queue_read() -> Any:
        return client.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :queue)",
            ExpressionAttributeValues={":pk": {"S": PK}, ":queue": {"S": "QUEUE#0"}},
            ConsistentRead=True,
            Limit=100,
        )

    def head() -> Any:
        return client.get_item(TableName=TABLE, Key={"pk": {"S": PK}, "sk": {"S": "META"}}, ConsistentRead=True)

    def order_read() -> Any:
        return client.query(
            TableName=TABLE,
            IndexName="byPosition",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": PK}},
            ProjectionExpression="pk, sk, pos",
            ConsistentRead=True,
            Limit=500,
        )

    versions = [VERSIONS]

    def group_commit() -> Any:
        """A group of four edits, each entry conditional, as `backbeat.playlists.groups._write`: the
        head moved on four versions, the lease handed on, four log entries and four tracks put, three
        waiters' queued edits answered."""
        version = versions[0]
        versions[0] += 4
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": {"pk": {"S": COMMITS}, "sk": {"S": "META"}},
                    "UpdateExpression": "SET #v = :v, #c = :c ADD #n :four",
                    "ConditionExpression": "#v = :start",
                    "ExpressionAttributeNames": {"#v": "version", "#c": "lastChanges", "#n": "trackCount"},
                    "ExpressionAttributeValues": {
                        ":v": {"N": str(version + 4)},
                        ":start": {"N": str(version)},
                        ":four": {"N": "4"},
                        ":c": {"L": [{"M": {"version": {"N": str(version + i)}}} for i in range(1, 5)]},
                    },
                }
            },
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": {"pk": {"S": COMMITS}, "sk": {"S": "TURN"}},
                    "UpdateExpression": "REMOVE #h, #l",
                    "ExpressionAttributeNames": {"#h": "holder", "#l": "leaseUntil"},
                }
            },
        ]
        for i in range(1, 5):
            log = {"pk": {"S": COMMITS}, "sk": {"S": f"LOG#{version + i:010d}"}, "version": {"N": str(version + i)}}
            items.append({"Put": {"TableName": TABLE, "Item": log, "ConditionExpression": "attribute_not_exists(pk)"}})
            track = {
                "pk": {"S": COMMITS},
                "sk": {"S": f"ITEM#{uuid.uuid4().hex[:22]}"},
                "pos": {"S": f"a000400{uuid.uuid4().hex[:4]}"},
            }
            items.append(
                {"Put": {"TableName": TABLE, "Item": track, "ConditionExpression": "attribute_not_exists(sk)"}}
            )
        for n in range(3):
            items.append(
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": COMMITS}, "sk": {"S": f"QUEUE#9000000000000#{n}"}},
                        "UpdateExpression": "SET #s = :done, #a = :answer",
                        "ConditionExpression": "attribute_exists(#s)",  # as `state = queued` tests one
                        "ExpressionAttributeNames": {"#s": "state", "#a": "answer"},
                        "ExpressionAttributeValues": {
                            ":done": {"S": "done"},
                            ":answer": {"M": {"ok": {"M": {"version": {"N": str(version + 1)}}}}},
                        },
                    }
                }
            )
        return client.transact_write_items(TransactItems=items)

    return {
        "rate limit (UpdateItem)": rate_limit,
        "idempotency begun (PutItem)": idempotency_begun,
        "idempotency completed (UpdateItem)": idempotency_done,
        "edit queued (PutItem)": queue_edit,
        "outcome looked at (BatchGetItem, 2 keys)": look,
        "queue read (Query)": queue_read,
        "head read (GetItem)": head,
        "order read (Query, 500 keys)": order_read,
        "group commit (TransactWriteItems of 13)": group_commit,
    }


def cpu_ms(call: Callable[[], Any], count: int) -> float:
    started = time.thread_time()
    for _ in range(count):
        call()
    return (time.thread_time() - started) * 1000 / count


def measure(kinds: dict[str, Callable[[], Any]], count: int, rounds: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    for round_ in range(rounds):
        for name, call in kinds.items():
            samples[name].append(cpu_ms(call, count))
        print(f"  round {round_ + 1} of {rounds} done", file=sys.stderr)
    return {name: statistics.median(values) for name, values in samples.items()}


def corrections(on: bool) -> None:
    """Decision 65's corrections in place (on), or moto's own paths and the index maps (off)."""
    import functools

    from moto.core import responses as core_responses
    from moto.dynamodb import responses
    from moto.dynamodb.models import utilities

    ours = vars(utilities).setdefault("_devstack_dynamo_to_dict", utilities.dynamo_to_dict)
    listed = vars(core_responses).setdefault("_devstack_method_names", core_responses.method_names_from_class)
    utilities.dynamo_to_dict = responses.dynamo_to_dict = ours if on else utilities._moto_dynamo_to_dict  # type: ignore[attr-defined]
    core_responses.method_names_from_class = listed if on else core_responses._moto_method_names_from_class  # type: ignore[attr-defined]
    from moto.dynamodb.models.dynamo_type import Item

    from devstack import moto_index_queries

    sizes = vars(Item).get("_devstack_size") or Item.size
    Item._devstack_size = sizes  # type: ignore[attr-defined]
    Item.size = sizes if on else Item._moto_size  # type: ignore[attr-defined,method-assign]
    moto_index_queries.LOCAL_INDEX_FROM_PARTITION = on
    meeting = vars(moto_index_queries).setdefault("_devstack_meeting", moto_index_queries._meeting_the_range_condition)
    moto_index_queries._meeting_the_range_condition = meeting if on else functools.partial(meeting, each=True)  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="calls of each kind a round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    client = start_moto()
    create_table(client)
    started = time.monotonic()
    seed(client)
    print(f"table seeded in {time.monotonic() - started:.1f} s", file=sys.stderr)
    kinds = calls(client)
    for call in kinds.values():  # warm: first calls import and parse
        call()
    costs = measure(kinds, args.calls, args.rounds)

    command = f"`.venv/bin/python bench/devstack_call_cost.py --calls {args.calls} --rounds {args.rounds}`"
    print(f"{command} (CPU of one thread a call, median of {args.rounds} rounds of {args.calls} calls):\n")
    print("| call an edit makes | devstack CPU a call (ms) |")
    print("|---|---|")
    for name, ms in costs.items():
        print(f"| {name} | {ms:.2f} |")

    per_edit = [
        "rate limit (UpdateItem)",
        "idempotency begun (PutItem)",
        "idempotency completed (UpdateItem)",
        "edit queued (PutItem)",
        "outcome looked at (BatchGetItem, 2 keys)",
    ]
    own = sum(costs[name] for name in per_edit)
    commit = costs["queue read (Query)"] + costs["group commit (TransactWriteItems of 13)"]
    print("\nThe floor: the calls no design of the edit path drops (one of each above an edit, and one queue")
    print("read and one transaction a group commit), at the costs measured:\n")
    print("| edits a group commit | DynamoDB CPU an edit (ms) | share of the 20 ms an edit 50 edits/s allows |")
    print("|---|---|---|")
    for group in (1.0, GROUP, 10.0, float("inf")):
        floor = own + (commit / group if group != float("inf") else 0.0)
        label = "unbounded" if group == float("inf") else f"{group:g}"
        print(f"| {label} | {floor:.1f} | {100 * floor / BUDGET_MS:.0f}% |")

    print("\nDecision 65's corrections against moto's own paths, alternated, the same calls:\n")
    compared = [
        "outcome looked at (BatchGetItem, 2 keys)",
        "head read (GetItem)",
        "queue read (Query)",
        "order read (Query, 500 keys)",
    ]
    subset = {name: kinds[name] for name in compared}
    results: dict[bool, dict[str, list[float]]] = {True: {n: [] for n in compared}, False: {n: [] for n in compared}}
    for _ in range(args.rounds):
        for on in (False, True):
            corrections(on)
            for name, call in subset.items():
                results[on][name].append(cpu_ms(call, args.calls))
    corrections(True)
    print("| call | moto's own paths (ms) | with the corrections (ms) | ratio |")
    print("|---|---|---|---|")
    for name in compared:
        before, after = statistics.median(results[False][name]), statistics.median(results[True][name])
        print(f"| {name} | {before:.2f} | {after:.2f} | {after / before:.2f} |")


if __name__ == "__main__":
    main()
