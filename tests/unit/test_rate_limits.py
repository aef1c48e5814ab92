"""Per-caller rate limits (docs/decisions.md, 41): the fixed-window counters in the template's
RateLimitsTable (moto), the route classes every API function applies before its route runs, the
WebSocket message limit, and the template's grants."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from backbeat.ratelimit import FixedWindowCounters, Limit
from backbeat.ratelimit_routes import route_class
from devstack.moto_patches import patch_moto_dynamodb_isolation
from devstack.template import load_template, merged_function_properties
from tests.support import ROOT, api_event
from tests.unit.conftest import load_function


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def counters(aws) -> Iterator[tuple[FixedWindowCounters, Clock]]:  # type: ignore[no-untyped-def]
    clock = Clock(1_800_000_000.0)  # the start of a 60 s window
    yield FixedWindowCounters(aws.tables["RateLimitsTable"], clock=clock), clock


def test_a_window_admits_its_limit_then_refuses_until_it_ends_even_when_racing(counters) -> None:  # type: ignore[no-untyped-def]
    counter, clock = counters
    limit = Limit.parse("3/60")
    assert [counter.hit("search", "ann", limit).allowed for _ in range(3)] == [True, True, True]
    clock.now += 20
    refused = counter.hit("search", "ann", limit)
    assert not refused.allowed and refused.retry_after == 40
    assert counter.hit("search", "bob", limit).allowed  # another listener is not affected
    assert counter.hit("suggest", "ann", limit).allowed  # nor another route class
    clock.now += 40  # the next window
    assert counter.hit("search", "ann", limit).allowed

    # Threads racing on one counter never pass more than the limit (no read-modify-write).
    patch_moto_dynamodb_isolation()  # DynamoDB applies one item's conditional update atomically; moto needs the lock
    limit = Limit(25, 60)
    admitted: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def flood() -> None:
        start.wait()
        for _ in range(8):
            allowed = counter.hit("events", "flooder", limit).allowed
            with lock:
                admitted.append(allowed)

    threads = [threading.Thread(target=flood) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 96 and admitted.count(True) == 25


@pytest.mark.parametrize(
    ("route_key", "expected"),
    [
        ("GET /search", "search"),
        ("GET /search/suggest", "suggest"),
        ("POST /events/playback", "events"),
        ("POST /playlists", "playlist-edits"),
        ("PUT /playlists/{playlistId}/tracks", "playlist-edits"),
        ("DELETE /playlists/{playlistId}/collaborators/{userId}", "playlist-edits"),
        ("GET /playlists/{playlistId}", "default"),
        ("POST /stream/{songId}", "default"),
    ],
)
def test_route_classes(route_key: str, expected: str) -> None:
    assert route_class(route_key) == expected


def _call(module: Any, event: dict[str, Any], context: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
    response = module.lambda_handler(event, context)
    return response["statusCode"], response.get("headers") or {}, json.loads(response["body"])


def test_a_flooding_listener_or_socket_is_refused_and_another_listener_is_not(aws, context, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RATE_LIMIT_DEFAULT", "4/60")
    listening = load_function("listening", aws)
    flooder, other = {"sub": "flooder"}, {"sub": "other"}
    statuses = [_call(listening, api_event("GET", "/me/recently-played", claims=flooder), context)[0] for _ in range(6)]
    assert statuses[:4] == [200] * 4 and statuses[4:] == [429, 429]
    status, headers, body = _call(listening, api_event("GET", "/me/recently-played", claims=flooder), context)
    assert status == 429 and 1 <= int(headers["Retry-After"]) <= 60
    assert body["error"]["code"] == "TooManyRequests" and body["error"]["retryAfter"] == int(headers["Retry-After"])
    assert "4 per 60 s" in body["error"]["message"]
    assert [_call(listening, api_event("GET", "/me/recently-played", claims=other), context)[0] for _ in range(4)] == [
        200
    ] * 4

    # A flooding WebSocket connection gets an error message with retryAfter and stays open.
    from backbeat.realtime import service

    monkeypatch.setenv("RATE_LIMIT_SOCKET_MESSAGES", "2/60")
    service._management_client.cache_clear()
    realtime = load_function("realtime", aws)
    posted: list[dict[str, Any]] = []
    monkeypatch.setattr(realtime.sockets, "post", lambda connection, message: posted.append(message) or True)
    frame = {"requestContext": {"routeKey": "$default", "connectionId": "c1"}, "body": '{"action": "dance"}'}
    answers = [realtime.lambda_handler(frame, context)["statusCode"] for _ in range(3)]
    assert answers == [200, 200, 200]  # answered on the socket, never closed
    assert [message["code"] for message in posted] == ["InvalidInput", "InvalidInput", "TooManyRequests"]
    assert posted[2]["type"] == "error" and 1 <= posted[2]["retryAfter"] <= 60


def test_a_search_flood_reaches_the_engine_at_most_once_past_the_limit(aws, context, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Search is counted while it runs (its route writes nothing): a request over the limit answers 429
    # and its answer is dropped; once the environment knows the window is spent, it refuses at once.
    monkeypatch.setenv("RATE_LIMIT_SEARCH", "3/60")
    search = load_function("search", aws)
    engine = search.index.client
    searched: list[int] = []  # one per search that reached the engine (its typo pass not counted again)
    real_msearch = engine.msearch

    def msearch(**kwargs: Any) -> Any:
        if "fuzziness" not in str(kwargs["body"]):
            searched.append(1)
        return real_msearch(**kwargs)

    monkeypatch.setattr(engine, "msearch", msearch)
    flooder, other = {"sub": "flooder"}, {"sub": "other"}

    def status(claims: dict[str, str]) -> int:
        return _call(search, api_event("GET", "/search", query={"q": "love"}, claims=claims), context)[0]

    assert [status(flooder) for _ in range(3)] == [200, 200, 200] and len(searched) == 3
    assert status(flooder) == 429  # counted beside its search, which ran and was dropped
    assert len(searched) == 4
    assert [status(flooder) for _ in range(5)] == [429] * 5 and len(searched) == 4  # refused before searching
    assert [status(other) for _ in range(3)] == [200, 200, 200]  # another listener is not affected


def test_every_function_behind_an_api_route_may_update_the_counters() -> None:
    template = load_template(ROOT / "template.yaml")
    resources = template["Resources"]
    assert resources["RateLimitsTable"]["Properties"]["TimeToLiveSpecification"]["AttributeName"] == "expiresAt"
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = merged_function_properties(template, resource["Properties"])
        assert properties["Environment"]["Variables"]["RATE_LIMITS_TABLE"] == {"Ref": "RateLimitsTable"}
        events = (properties.get("Events") or {}).values()
        authenticated = [e for e in events if e["Type"] == "HttpApi" and (e["Properties"].get("Auth") or {}) == {}]
        public_signup = [e for e in events if e["Type"] == "HttpApi" and e["Properties"]["Path"] == "/auth/signup"]
        if not (authenticated or public_signup or name == "RealtimeFunction"):
            continue
        grants = [
            statement
            for policy in properties["Policies"]
            for statement in (policy.get("Statement") or [] if isinstance(policy, dict) else [])
            if statement.get("Resource") == {"Fn::GetAtt": ["RateLimitsTable", "Arn"]}
        ]
        assert grants and grants[0]["Action"] == "dynamodb:UpdateItem", name
