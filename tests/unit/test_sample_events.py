"""The sample events in events/ replayed in-process: each one is a well-formed HTTP API (payload 2.0)
event for a route template.yaml declares, and its function answers it with a documented status.

The `aws` fixture is a fresh, empty moto account per test, so: nobody has signed up (login is 401),
the caller of /me has no profile (404), and no catalog id is seeded (404)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from devstack.template import load_template, merged_function_properties
from tests.support import ROOT
from tests.unit.conftest import load_function

EVENTS_DIR = ROOT / "events"
EVENT_FILES = sorted(EVENTS_DIR.glob("*.json"))

# The status each sample gets from a fresh, empty deployment (see the module docstring).
EXPECTED_STATUS: dict[str, set[int]] = {
    "health_get": {200},
    "identity_signup": {201, 422},
    "identity_login": {401},
    "identity_me": {404},
    "catalog_get_song": {404},
    "catalog_get_album": {404},
    "catalog_get_artist": {404},
    "stream_post": {404},
    "search_query": {200},
    "search_suggest": {200},
    "playlists_create": {201},
    "playlists_get": {404},
    "playlists_update": {404},
    "playlists_delete": {404},
    "playlists_mine": {200},
    "playlists_add_tracks": {404},
    "playlists_reorder_tracks": {404},
    "playlists_remove_track": {404},
    "playlists_add_collaborator": {404},
    "playlists_remove_collaborator": {404},
}


def _routes() -> dict[str, dict[str, Any]]:
    """'METHOD /path/{param}' -> the function serving it, its code directory and whether it is public."""
    template = load_template(ROOT / "template.yaml")
    routes: dict[str, dict[str, Any]] = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = merged_function_properties(template, resource["Properties"])
        for event in (props.get("Events") or {}).values():
            if event["Type"] != "HttpApi":
                continue
            p = event["Properties"]
            routes[f"{p['Method'].upper()} {p['Path']}"] = {
                "function": name,
                "code_dir": Path(props["CodeUri"]).name,
                "public": (p.get("Auth") or {}).get("Authorizer") == "NONE",
            }
    return routes


ROUTES = _routes()


def _load(path: Path) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return event


def test_every_route_has_a_sample_event() -> None:
    covered = {_load(path)["routeKey"] for path in EVENT_FILES}
    assert set(ROUTES) <= covered, f"routes without a sample event: {sorted(set(ROUTES) - covered)}"
    assert {path.stem for path in EVENT_FILES} == set(EXPECTED_STATUS), "events/ and EXPECTED_STATUS disagree"


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda path: path.stem)
def test_sample_event_is_a_template_route_in_payload_2_0_shape(path: Path) -> None:
    event = _load(path)
    route_key = event["routeKey"]
    assert route_key in ROUTES, f"{path.name}: {route_key!r} is not an HttpApi event in template.yaml"
    route = ROUTES[route_key]
    assert path.stem.split("_")[0] == route["code_dir"], f"{path.name} is served by functions/{route['code_dir']}"

    context = event["requestContext"]
    method, route_path = route_key.split(" ", 1)
    assert event["version"] == "2.0" and event["isBase64Encoded"] is False
    assert context["routeKey"] == route_key and context["stage"] == "$default"
    assert context["http"]["method"] == method and context["http"]["path"] == event["rawPath"]
    assert context["domainName"].startswith(f"{context['apiId']}.execute-api.")
    assert event["headers"]["host"] == context["domainName"]
    assert all(key == key.lower() for key in event["headers"]), "HTTP API lower-cases header names"

    # The path fills the route's {params}, and pathParameters names exactly those.
    names = re.findall(r"\{(\w+)\}", route_path)
    pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(route_path)) + "$"
    match = re.match(pattern, event["rawPath"])
    assert match, f"{event['rawPath']} does not match {route_path}"
    assert event.get("pathParameters", {}) == match.groupdict() and len(names) == len(match.groupdict())
    assert dict(parse_qsl(event["rawQueryString"])) == event.get("queryStringParameters", {})

    if "body" in event:
        json.loads(event["body"])
        assert event["headers"]["content-length"] == str(len(event["body"].encode()))

    # Public routes reach the function without claims; the rest carry a Cognito access token's claims,
    # which the JWT authorizer passes on as strings.
    if route["public"]:
        assert "authorizer" not in context
    else:
        claims = context["authorizer"]["jwt"]["claims"]
        assert all(isinstance(value, str) for value in claims.values())
        assert claims["token_use"] == "access" and claims["sub"] and "client_id" in claims
        assert event["headers"]["authorization"].startswith("Bearer ")


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda path: path.stem)
def test_sample_event_gets_its_documented_status(path: Path, aws, context) -> None:  # type: ignore[no-untyped-def]
    event = _load(path)
    module = load_function(ROUTES[event["routeKey"]]["code_dir"], aws)
    response = module.lambda_handler(event, context)

    assert isinstance(response, dict) and isinstance(response.get("statusCode"), int)
    assert response["headers"]["Content-Type"].startswith("application/json")
    assert response.get("isBase64Encoded") in (None, False)
    body = json.loads(response["body"])
    assert isinstance(body, dict)
    assert response["statusCode"] in EXPECTED_STATUS[path.stem], f"{path.name}: {response['statusCode']} {body}"
    if response["statusCode"] >= 400:
        assert set(body["error"]) >= {"code", "message"}
        # A 404 must come from the domain (unknown id/profile), not from the resolver missing the route.
        assert not body["error"]["message"].startswith("no route for"), f"{path.name} matched no resolver route"
