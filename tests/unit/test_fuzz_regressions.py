"""What fuzzing the API (tests/e2e/test_api_fuzz.py, `make fuzz`) and probing it with hostile
requests found, each kept as a fast, deterministic test: the function called in-process on the
template's resources (`aws`, `load_function`), or the local gateway on loopback.

Findings in code that is being reworked elsewhere are kept as expected failures naming the fix; they
turn into passes (and `strict` makes that loud) when the fix lands."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from devstack.authorizer import AuthorizationFailed, JwksCache, authorize
from devstack.gateway import MAX_LINE_BYTES
from devstack.resources.model import JwtAuthorizer
from scripts import openapi
from tests.support import api_event, http
from tests.unit.conftest import load_function
from tests.unit.test_devstack_gateway import Served, served  # noqa: F401 - the loopback gateway fixture

CLAIMS = {"sub": "u-fuzz", "token_use": "access", "client_id": "c"}


def _document() -> dict[str, Any]:
    return dict(json.loads(openapi.DOCUMENT.read_text()))


def _call(aws: Any, context: Any, function: str, method: str, path: str, **event: Any) -> tuple[int, Any]:
    module = load_function(function, aws)
    response = module.lambda_handler(api_event(method, path, claims=CLAIMS, **event), context)
    return response["statusCode"], json.loads(response["body"])


# ------------------------------------------------------------ the document and what the routes answer
def test_get_openapi_json_answers_the_object_its_document_declares(aws: Any, context: Any) -> None:
    """Found: GET /openapi.json declared a string (`Response[str]`) and answered a JSON object."""
    declared = _document()["paths"]["/openapi.json"]["get"]["responses"]["200"]["content"]["application/json"]
    assert declared["schema"].get("type") == "object", declared
    status, body = _call(aws, context, "health", "GET", "/openapi.json")
    assert status == 200 and isinstance(body, dict) and body["paths"], body


def test_every_operation_declares_what_the_gateway_itself_answers() -> None:
    """Found: a request line over the gateway's limit was answered with a status the operation did not
    declare; every body can be over the payload limit (413), every path or query over the line (414)."""
    for path, item in _document()["paths"].items():
        for method, operation in item.items():
            declared = set(operation["responses"])
            if "requestBody" in operation:
                assert "413" in declared, f"{method} {path}"
            if any(p["in"] in ("path", "query") for p in operation.get("parameters", [])):
                assert "414" in declared, f"{method} {path}"


def test_playlist_links_lead_from_the_new_playlist_to_its_edits() -> None:
    links = _document()["paths"]["/playlists"]["post"]["responses"]["201"]["links"]
    operations = {link["operationId"] for link in links.values()}
    assert {"update_playlist_playlists__playlist_id__patch", "delete_playlist_playlists__playlist_id__delete"} <= (
        operations
    )
    assert all(link["parameters"] == {"playlist_id": "$response.body#/id"} for link in links.values())


# ------------------------------------------------------------------------------- downloads sync cursor
def test_a_sync_cursor_in_another_alphabet_is_a_422_naming_since(aws: Any, context: Any) -> None:
    """Found: `since` took any 8,192 characters, which percent-encode far past the request line quota;
    the API only issues URL-safe base64 cursors."""
    status, body = _call(
        aws, context, "downloads", "GET", "/downloads/sync", query={"deviceId": "d-1", "since": "çñ%20+/="}
    )
    assert status == 422 and body["error"]["field"] == "since", body


# ------------------------------------------------------------------------------------ the gateway
def _raw(served: Served, request: bytes) -> tuple[int, dict[str, Any]]:  # noqa: F811
    port = int(served.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and answer.endswith(b"}"):
                break
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(payload)


def test_a_query_under_api_gateways_line_quota_reaches_the_function(served: Served) -> None:  # noqa: F811
    """Found: a 9 KB request line (a long sync cursor) was refused 400; API Gateway takes 10,240 bytes."""
    status, body, _ = http("GET", f"{served.url}/echo?since={'a' * 9000}")
    assert status == 200, body


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (b"GET /echo?q=" + b"a" * (MAX_LINE_BYTES + 100) + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "UriTooLong"),
        (b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (MAX_LINE_BYTES + 100) + b"\r\n\r\n", 431, None),
    ],
    ids=["request-line", "header"],
)
def test_a_line_over_the_quota_is_a_json_4xx_that_does_not_echo_it(
    served: Served,  # noqa: F811
    request_bytes: bytes,
    status: int,
    code: str | None,
) -> None:
    answered, body = _raw(served, request_bytes)
    assert answered == status, body
    assert body["error"]["code"] == (code or "RequestHeaderFieldsTooLarge")
    assert str(MAX_LINE_BYTES) in body["error"]["message"] and "aaaa" not in body["error"]["message"]


# ------------------------------------------------- findings in playlists and the authorizer
def test_a_playlist_name_with_a_nul_byte_is_refused(aws: Any, context: Any) -> None:
    status, body = _call(aws, context, "playlists", "POST", "/playlists", body={"name": "Road\x00trip"})
    assert status == 422 and body["error"]["field"] == "name", body


def test_a_boolean_position_is_refused(aws: Any, context: Any) -> None:
    status, created = _call(aws, context, "playlists", "POST", "/playlists", body={"name": "Road trip"})
    assert status == 201, created
    status, body = _call(
        aws,
        context,
        "playlists",
        "POST",
        f"/playlists/{created['id']}/tracks",
        body={"songId": "s-1", "position": True},
        route_key="POST /playlists/{playlist_id}/tracks",
    )
    assert status == 422 and body["error"]["field"] == "position", body


def test_a_garbled_token_is_refused_without_parser_internals() -> None:
    authorizer = JwtAuthorizer("Cognito", "https://cognito-idp.us-east-1.amazonaws.com/pool", ("c",))
    with pytest.raises(AuthorizationFailed) as refused:
        authorize("Bearer a.b.c", authorizer, JwksCache(lambda issuer: {"keys": []}))
    assert "padding" not in str(refused.value).lower() and "jwt" not in str(refused.value).lower()
