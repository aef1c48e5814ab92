"""Bodies a careless client or an attacker sends get a JSON 4xx naming the problem, never a 500:
over-nested or malformed JSON (422), a body that is not JSON at all (415), on the public routes too,
and over the WebSocket API an error message instead of a closed socket."""

from __future__ import annotations

import json
from typing import Any

import pytest

from backbeat.payloads import MAX_JSON_DEPTH, json_depth_exceeds, load_json
from tests.support import api_event
from tests.unit.conftest import load_function
from tests.unit.test_realtime import event as ws_event
from tests.unit.test_realtime import realtime, sent_to, token_for  # noqa: F401 - fixture

NESTED = "[" * 2000 + "]" * 2000
CLAIMS = {"sub": "u-1", "token_use": "access", "client_id": "c"}

# (function, method, path, claims): one public and one authorised JSON route per body-taking function.
JSON_ROUTES = [
    ("identity", "POST", "/auth/signup", None),
    ("identity", "POST", "/auth/login", None),
    ("playlists", "POST", "/playlists", CLAIMS),
    ("stream", "POST", "/stream/s1", CLAIMS),
]


def _call(aws: Any, context: Any, function: str, method: str, path: str, claims: Any, body: str, content_type: str):  # type: ignore[no-untyped-def]
    module = load_function(function, aws)
    event = api_event(method, path, body=body, claims=claims)
    event["headers"]["content-type"] = content_type
    response = module.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(("function", "method", "path", "claims"), JSON_ROUTES, ids=lambda v: str(v))
def test_over_nested_json_is_a_422_naming_the_body(aws, context, function, method, path, claims) -> None:  # type: ignore[no-untyped-def]
    status, body = _call(aws, context, function, method, path, claims, NESTED, "application/json")
    assert status == 422, body
    assert body["error"]["code"] == "InvalidInput" and body["error"]["field"] == "body"
    assert f"nested deeper than {MAX_JSON_DEPTH}" in body["error"]["message"]


@pytest.mark.parametrize(
    "content_type", ["text/plain;charset=UTF-8", "application/xml", "application/x-www-form-urlencoded"]
)
@pytest.mark.parametrize(("function", "method", "path", "claims"), JSON_ROUTES[1:3], ids=lambda v: str(v))
def test_a_body_that_is_not_json_is_a_415(aws, context, function, method, path, claims, content_type) -> None:  # type: ignore[no-untyped-def]
    status, body = _call(aws, context, function, method, path, claims, '{"name": "x"}', content_type)
    assert status == 415, body
    assert body["error"]["code"] == "UnsupportedMediaType" and "application/json" in body["error"]["message"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("{", "not valid JSON"), ('{"email": ' + "9" * 5000 + "}", "not valid JSON"), ("[1, 2", "not valid JSON")],
)
def test_malformed_json_is_a_422(aws, context, raw: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    status, body = _call(aws, context, "identity", "POST", "/auth/login", None, raw, "application/json")
    assert status == 422 and reason in body["error"]["message"], body


def test_json_with_a_charset_is_read(aws, context) -> None:  # type: ignore[no-untyped-def]
    good = json.dumps({"name": "Road trip"})
    status, body = _call(
        aws, context, "playlists", "POST", "/playlists", CLAIMS, good, "Application/JSON; charset=utf-8"
    )
    assert status == 201, body


def test_the_depth_bound_counts_brackets_outside_strings_only() -> None:
    assert not json_depth_exceeds(json.dumps({"a": "[" * 100}))
    assert not json_depth_exceeds("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    assert json_depth_exceeds("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    assert json_depth_exceeds('{"a": "\\"", "b": ' + "[" * 40 + "]" * 40 + "}")
    assert load_json('{"a": ["x", {"b": 1}]}') == {"a": ["x", {"b": 1}]}
    with pytest.raises(json.JSONDecodeError):
        load_json(NESTED)


@pytest.mark.parametrize("route", ["subscribe", "resync", "$default"])
def test_a_nested_websocket_frame_gets_an_error_message(aws, realtime, context, route: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _, token = token_for(aws, "nest@example.com")
    assert realtime.lambda_handler(ws_event("$connect", "c-n", query={"token": token}), context)["statusCode"] == 200
    frame = ws_event(route, "c-n")
    frame["body"] = NESTED
    assert realtime.lambda_handler(frame, context)["statusCode"] == 200
    (message,) = sent_to("c-n")
    assert message["type"] == "error" and message["code"] == "InvalidInput"
    if route != "$default":
        assert message["field"] == "body" and "nested deeper" in message["message"]
