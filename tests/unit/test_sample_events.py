"""The sample events in events/ replayed in-process: each one is a well-formed HTTP API (payload 2.0)
event for a route template.yaml declares, and its function answers it with a documented status; the
event-source samples (streams, WebSocket, state-machine tasks) reach their functions too, and every
function in template.yaml has at least one sample.

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
    "health_openapi": {200},
    "identity_signup": {201, 422},
    "identity_login": {401},
    "identity_me": {404},
    "identity_refresh": {401},  # a refresh token the user pool did not issue
    "catalog_get_song": {404},
    "catalog_get_album": {404},
    "catalog_get_artist": {404},
    "charts_trending": {200},
    "stream_post": {404},
    "search_query": {200},
    "search_suggest": {200},
    "playlists_create": {201},
    "playlists_get": {404},
    "playlists_update": {404},
    "playlists_delete": {404},
    "playlists_mine": {200},
    "listening_recently_played": {200},
    "playlists_add_tracks": {404},
    "playlists_reorder_tracks": {404},
    "playlists_remove_track": {404},
    "playlists_add_collaborator": {404},
    "playlists_remove_collaborator": {404},
    "playlists_invitations": {404},  # the sample token names no account in the empty deployment
    "playlists_accept_invitation": {404},
    "playlists_decline_invitation": {404},
    "events_playback": {202},
    "downloads_register_device": {201},
    "downloads_list_devices": {200},
    "downloads_remove_device": {404},
    "downloads_request": {403},
    "downloads_list": {404},
    "downloads_sync": {404},
    "downloads_delete": {404},
    "licenses_issue": {403},
    "licenses_public_key": {200},
    "artist_analytics_get": {404},  # an operator asks for an artist the empty catalog does not have
    "artist_analytics_statements": {403},  # a listener not linked to the artist
    "recommendations_seeded": {404},
    "recommendations_home_feed": {200},
    "recommendations_discover_weekly": {200},
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
    assert path.stem.startswith(f"{route['code_dir']}_"), f"{path.name} is served by functions/{route['code_dir']}"

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


SOURCE_EVENT_DIRS = ("streams", "websocket", "state_machine")


def _functions_by_code_dir() -> set[str]:
    template = load_template(ROOT / "template.yaml")
    return {
        Path(merged_function_properties(template, r["Properties"])["CodeUri"]).name
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    }


def test_every_function_has_a_sample_event() -> None:
    covered = {route["code_dir"] for route in ROUTES.values()}
    for directory in SOURCE_EVENT_DIRS:
        for path in (EVENTS_DIR / directory).glob("*.json"):
            names = [name for name in _functions_by_code_dir() if path.stem.startswith(f"{name}_")]
            code_dir = max(names, key=len, default=None)  # search_indexer_..., not search
            assert code_dir, f"{directory}/{path.name} names no function (start it with the code directory)"
            covered.add(code_dir)
    missing = _functions_by_code_dir() - covered
    assert not missing, f"functions without a sample event under events/: {sorted(missing)}"


def test_the_fanout_sample_is_a_playlist_change_it_hands_out(aws, context) -> None:  # type: ignore[no-untyped-def]
    event = _load(EVENTS_DIR / "streams" / "fanout_playlist_changes.json")
    fanout = load_function("fanout", aws)
    (record,) = event["Records"]
    change = fanout.service._change_of(record)
    assert change is not None, "the sample is not a playlist change the fan-out would post"
    playlist_id, message, _, _ = change
    assert (
        message["type"] == "playlist.changed"
        and message["version"] == 1
        and playlist_id in record["dynamodb"]["Keys"]["pk"]["S"]
    )
    assert fanout.lambda_handler(event, context) == {"batchItemFailures": []}


@pytest.mark.parametrize(
    ("name", "status"),
    [("realtime_connect", 401), ("realtime_subscribe", 200), ("realtime_resync", 200), ("realtime_disconnect", 200)],
)
def test_the_websocket_samples_get_their_status(aws, context, name: str, status: int) -> None:  # type: ignore[no-untyped-def]
    """A fresh stack: the sample token is a placeholder (401), the connection is unknown, so the
    messages get an error frame (not a closed socket), and $disconnect always succeeds."""
    from backbeat.realtime import service

    service._management_client.cache_clear()
    realtime = load_function("realtime", aws)
    event = _load(EVENTS_DIR / "websocket" / f"{name}.json")
    response = realtime.lambda_handler(event, context)
    assert response["statusCode"] == status
    assert event["requestContext"]["routeKey"] in (
        "$connect",
        "$disconnect",
        json.loads(event.get("body") or "{}").get("action"),
    )


def test_the_encode_sample_marks_the_song_failed(aws, context) -> None:  # type: ignore[no-untyped-def]
    encode = load_function("encode", aws)
    result = encode.lambda_handler(_load(EVENTS_DIR / "state_machine" / "encode_mark_failed.json"), context)
    assert result["status"] == "failed" and result["reason"] == "the master has no audio stream"


def test_the_transcode_sample_writes_the_ladder(aws, context, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The sample CreateJob request, pointed at this stack's buckets, with a one-second master."""
    import subprocess

    import boto3

    from backbeat.media import ffmpeg

    try:
        binary = ffmpeg.ffmpeg_exe("")
    except Exception as error:
        pytest.skip(f"no ffmpeg: {error}")
    master = tmp_path / "master.wav"
    subprocess.run(
        [binary, "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", str(master)], check=True
    )
    job = _load(EVENTS_DIR / "state_machine" / "transcode_job.json")
    text = json.dumps(job)
    masters, media = aws.ref("MastersBucket"), aws.ref("MediaBucket")
    text = text.replace("backbeat-dev-mastersbucket-1a2b3c4d5e6f", masters).replace(
        "backbeat-dev-mediabucket-1a2b3c4d5e6f", media
    )
    job = json.loads(text)
    source_key = job["Settings"]["Inputs"][0]["FileInput"].split("/", 3)[3]
    boto3.client("s3").upload_file(str(master), masters, source_key)
    transcode = load_function("transcode", aws)
    transcode.lambda_handler(job, context)
    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=media)["Contents"]}
    assert "songs/5kQ2mB7xYz1LpR9tVw3sNc/master.m3u8" in keys
