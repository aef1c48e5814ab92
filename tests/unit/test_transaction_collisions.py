"""A transaction DynamoDB cancels because another request wrote one of its items at the same moment
(`TransactionConflict`) wrote nothing: creating a playlist tries it again, and any route still
caught by one answers a 409 naming the problem instead of a 500."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from backbeat.playlists.edits import connection
from backbeat.playlists.views import my_playlists
from tests.unit.test_playlists import OWNER, call, playlists  # noqa: F401


@pytest.fixture
def collide(playlists: Any) -> Iterator[Callable[[int], dict[str, int]]]:  # noqa: F811
    """`collide(times)` answers the next `times` TransactWriteItems calls as DynamoDB answers one
    that collided, before anything is written (botocore's `before-call` answers instead of the
    call); the answer stops with the test (the client outlives it)."""
    events = connection().client.meta.events
    registered: list[Callable[..., Any]] = []

    def start(times: int) -> dict[str, int]:
        seen, answer = _collisions(times)
        events.register_first("before-call.dynamodb.TransactWriteItems", answer)
        registered.append(answer)
        return seen

    yield start
    for answer in registered:
        events.unregister("before-call.dynamodb.TransactWriteItems", answer)


def _collisions(times: int) -> tuple[dict[str, int], Callable[..., Any]]:
    """What has collided so far, and the `before-call` handler answering the first `times` calls."""
    seen = {"collided": 0}

    def answer(params: dict[str, Any], **_: Any) -> Any:
        if seen["collided"] >= times:
            return None
        seen["collided"] += 1
        items = json.loads(params["body"])["TransactItems"] if isinstance(params.get("body"), (str, bytes)) else []
        reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
        parsed = {
            "Error": {
                "Code": "TransactionCanceledException",
                "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
                "[TransactionConflict]",
            },
            "CancellationReasons": reasons + [{"Code": "None"}] * max(0, len(items) - 1),
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return SimpleNamespace(status_code=400, headers={}), parsed

    return seen, answer


def test_a_playlist_created_while_other_writes_collide_is_created_once(
    playlists,  # noqa: F811
    context,
    collide,
) -> None:
    seen = collide(2)
    status, body = call(playlists, context, "POST", "/playlists", OWNER, {"name": "Road trip"})
    assert status == 201, body
    assert seen["collided"] == 2
    assert [p["name"] for p in my_playlists(OWNER, 10, 0)["items"]] == ["Road trip"]


def test_a_transaction_that_keeps_colliding_is_a_409_and_writes_nothing(
    playlists,  # noqa: F811
    context,
    collide,
) -> None:
    collide(10)
    status, body = call(playlists, context, "POST", "/playlists", OWNER, {"name": "Road trip"})
    assert status == 409, body
    assert body["error"]["code"] == "Conflict" and "try again" in body["error"]["message"]
    assert my_playlists(OWNER, 10, 0)["items"] == []
