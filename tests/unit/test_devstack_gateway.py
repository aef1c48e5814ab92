"""The local gateway answers as API Gateway does: a signed-only @connections API, every error of its
own in the JSON error shape, WebSocket frames that are not JSON delivered rather than fatal, and a
function past its timeout answered 503 with its late result discarded.

The gateway serves a hand-built deployment of the fixture functions under
tests/fixtures/devstack/functions on loopback (no moto: none of these paths reach AWS)."""

from __future__ import annotations

import json
import socket
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from devstack.authorizer import JwksCache
from devstack.gateway import MAX_BODY_BYTES, Gateway
from devstack.in_process_aws import InProcessAws
from devstack.lambdas import FunctionSpec, FunctionTimedOut, LambdaRuntime
from devstack.moto_patches import _patch_moto_lambda, set_active_runtime
from devstack.resources import Deployment, HttpApi, HttpRoute, WebSocketApi
from devstack.stack import LOCAL_ENVIRONMENT, Devstack, free_port
from devstack.template import Resolver
from tests.support import ROOT, http, wait_for

FUNCTIONS = ROOT / "tests" / "fixtures" / "devstack" / "functions"
SIGNING = {
    "AWS_ACCESS_KEY_ID": LOCAL_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
    "AWS_SECRET_ACCESS_KEY": LOCAL_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
    "AWS_REGION": "us-east-1",
}


@dataclass
class Served:
    url: str
    runtime: LambdaRuntime
    sockets: Any  # the WebSocketGateway
    loop: Any  # the gateway's event loop

    @property
    def stage_url(self) -> str:
        return f"{self.url}/dev"

    def management(self, secret: str = LOCAL_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"]) -> Any:
        return boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=self.stage_url,
            region_name="us-east-1",
            aws_access_key_id=LOCAL_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=secret,
        )


def _spec(name: str, code: str, timeout: int = 10, environment: dict[str, str] | None = None) -> FunctionSpec:
    return FunctionSpec(
        logical_id=name,
        name=name,
        code_dir=FUNCTIONS / code,
        handler="app.lambda_handler",
        environment=environment or {},
        timeout_seconds=timeout,
    )


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    from devstack.websocket import WebSocketGateway

    port = free_port()
    stack = Devstack(root=ROOT, template=Path("unused"), port=port)
    specs = [
        _spec("Echo", "gateway_echo"),
        _spec("Sleeper", "sleeper", timeout=1),
        _spec("SocketEcho", "socket_echo", environment={**SIGNING, "CONNECTIONS_URL": f"http://127.0.0.1:{port}/dev"}),
    ]
    resolver = Resolver(region="us-east-1", account_id="123456789012", stack_name="gateway-test")
    deployment = Deployment(
        resolver=resolver,
        functions=specs,
        apis={"Api": HttpApi("Api", "api0001", {}, None)},
        routes=[
            HttpRoute("Api", "POST", "/echo", "Echo", None),
            HttpRoute("Api", "GET", "/echo", "Echo", None),
            HttpRoute("Api", "GET", "/sleep", "Sleeper", None),
        ],
        websocket_apis={
            "Sockets": WebSocketApi(
                "Sockets",
                "ws0001",
                "$request.body.action",
                f"ws://127.0.0.1:{port}",
                integrations={"echo": "SocketEcho"},
                routes={"$default": "echo", "ping": "echo"},
                stages=["dev"],
            )
        },
    )
    runtime = LambdaRuntime(specs)
    gateway = Gateway(deployment, runtime, JwksCache(lambda issuer: {"keys": []}))
    sockets = WebSocketGateway(
        deployment.websocket_apis["Sockets"],
        runtime,
        gateway.executor,
        resolver,
        signing_secrets={SIGNING["AWS_ACCESS_KEY_ID"]: SIGNING["AWS_SECRET_ACCESS_KEY"]},
    )
    gateway.extra_routes.extend(sockets.routes(at_ws=True))
    stack.gateway = gateway
    stack._start_gateway()
    try:
        yield Served(stack.url, runtime, sockets, stack._loop)
    finally:
        stack.stop()


@pytest.fixture
def connected(served: Served) -> Iterator[tuple[ClientConnection, str]]:
    """A client socket and its connection id."""
    known = set(served.sockets.connections)
    with connect(f"{served.url.replace('http', 'ws')}/ws", open_timeout=10) as client:
        connection_id = wait_for(lambda: next(iter(set(served.sockets.connections) - known), None))
        yield client, connection_id


# ---------------------------------------------------------------- @connections
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_an_unsigned_management_call_is_refused_and_the_socket_stays(
    served: Served, connected: Any, method: str
) -> None:
    client, connection_id = connected
    status, body, _ = http(method, f"{served.stage_url}/@connections/{connection_id}", raw=b'{"forged": true}')
    assert status == 403
    assert body["error"]["code"] == "Forbidden"
    assert body["message"] == "Missing Authentication Token"
    client.send(json.dumps({"action": "ping"}))
    assert json.loads(client.recv(timeout=10)) == {"route": "ping", "received": 18}  # nothing forged arrived


def test_a_call_signed_with_another_secret_or_a_bare_scheme_is_refused(served: Served, connected: Any) -> None:
    client, connection_id = connected
    forged = served.management(secret="not-the-devstack-secret")
    with pytest.raises(forged.exceptions.ForbiddenException):
        forged.post_to_connection(ConnectionId=connection_id, Data=b'{"type": "playlist.changed"}')
    status, body, _ = http(
        "POST",
        f"{served.stage_url}/@connections/{connection_id}",
        raw=b"{}",
        headers={"Authorization": "AWS4-HMAC-SHA256 Credential=devstack/20260101/us-east-1/execute-api/aws4_request"},
    )
    assert (status, body["error"]["code"]) == (403, "Forbidden")
    client.send(json.dumps({"action": "ping"}))
    assert json.loads(client.recv(timeout=10)) == {"route": "ping", "received": 18}


def _post_read_close_and_find_gone(management: Any, client: ClientConnection, connection_id: str) -> None:
    """A post reaches the socket, the connection is described, deleted (the socket closes), and a post
    after that is answered 410 Gone."""
    management.post_to_connection(ConnectionId=connection_id, Data=b'{"type": "playlist.changed"}')
    assert json.loads(client.recv(timeout=10)) == {"type": "playlist.changed"}
    assert management.get_connection(ConnectionId=connection_id)["Identity"]["SourceIp"] == "127.0.0.1"
    management.delete_connection(ConnectionId=connection_id)
    with pytest.raises(ConnectionClosed):
        client.recv(timeout=10)
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=connection_id, Data=b"{}")


def test_a_signed_management_call_reaches_the_socket(served: Served, connected: Any) -> None:
    client, connection_id = connected
    _post_read_close_and_find_gone(served.management(), client, connection_id)


def test_management_calls_made_in_the_devstacks_process_are_answered_there_alike(
    served: Served, connected: Any
) -> None:
    """A function's `post_to_connection` skips the HTTP round trip (devstack/in_process_aws.py) and
    gets the same answers: a forged signature refused, the post delivered, a gone socket a 410."""
    client, connection_id = connected
    answered: list[tuple[str, str]] = []

    def answer(method: str, url: str, headers: Any, body: bytes) -> Any:
        answered.append((method, url.rsplit("/", 1)[-1]))
        return served.sockets.answer_in_process(served.loop, method, url, headers, body)

    local = InProcessAws()
    local.serve_local(f"{served.stage_url}/@connections/", answer)
    management, forged = served.management(), served.management(secret="not-the-devstack-secret")
    for calls in (management, forged):
        calls.meta.events.register("before-send", local)
    with pytest.raises(forged.exceptions.ForbiddenException):
        forged.post_to_connection(ConnectionId=connection_id, Data=b'{"forged": true}')
    _post_read_close_and_find_gone(management, client, connection_id)  # the first message read: nothing forged
    assert [method for method, _ in answered] == ["POST", "POST", "GET", "DELETE", "POST"]
    assert {target for _, target in answered} == {connection_id}
    local.stop_local()
    assert local(_prepared(f"{served.stage_url}/@connections/{connection_id}")) is None


def test_a_post_in_process_that_the_socket_does_not_take_times_out_as_over_http(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from botocore.exceptions import ReadTimeoutError

    from devstack import websocket

    async def never_drains(*_: Any) -> None:
        await asyncio.sleep(60)

    monkeypatch.setattr(websocket, "IN_PROCESS_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(served.sockets, "management", never_drains)
    with pytest.raises(ReadTimeoutError):  # botocore retries it, then raises it, as a read timeout
        served.sockets.answer_in_process(served.loop, "POST", f"{served.stage_url}/@connections/x", {}, b"{}")


def _prepared(url: str) -> Any:
    from botocore.awsrequest import AWSPreparedRequest

    return AWSPreparedRequest(method="POST", url=url, headers={}, body=b"{}", stream_output=False)


# ---------------------------------------------------------------- WebSocket frames
@pytest.mark.parametrize(
    "frame",
    ["[" * 5000 + "]" * 5000, '{"action":' * 3000 + "1" + "}" * 3000, "not json at all", "{", ""],
    ids=["nested-array", "nested-object", "text", "truncated", "empty"],
)
def test_a_frame_that_is_not_usable_json_reaches_the_default_route(served: Served, connected: Any, frame: str) -> None:
    """Its function answers through the signed @connections API, so the socket stayed open."""
    client, _ = connected
    client.send(frame)
    assert json.loads(client.recv(timeout=10)) == {"route": "$default", "received": len(frame)}
    client.send(json.dumps({"action": "ping"}))
    assert json.loads(client.recv(timeout=10))["route"] == "ping"


# ---------------------------------------------------------------- gateway errors
def _assert_json_error(status: int, body: Any, expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert isinstance(body, dict), f"not JSON: {body!r}"
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["message"]


def test_an_unknown_route_or_method_is_a_json_404(served: Served) -> None:
    _assert_json_error(*http("GET", f"{served.url}/nowhere")[:2], 404, "NotFound")
    _assert_json_error(*http("PUT", f"{served.url}/echo", {})[:2], 404, "NotFound")


def test_a_body_over_the_limit_is_a_json_413(served: Served) -> None:
    status, body, _ = http("POST", f"{served.url}/echo", raw=b"x" * (MAX_BODY_BYTES + 1))
    _assert_json_error(status, body, 413, "PayloadTooLarge")
    assert http("POST", f"{served.url}/echo", raw=b"x" * 1000)[:2] == (200, {"route": "POST /echo", "bodyLength": 1000})


def test_a_gzip_body_that_does_not_inflate_is_a_json_400(served: Served) -> None:
    status, body, _ = http(
        "POST", f"{served.url}/echo", raw=b"\x1f\x8b this is not gzip", headers={"Content-Encoding": "gzip"}
    )
    _assert_json_error(status, body, 400, "BadRequest")
    compressor = zlib.compressobj(wbits=31)
    good = compressor.compress(b'{"a": 1}') + compressor.flush()
    assert http("POST", f"{served.url}/echo", raw=good, headers={"Content-Encoding": "gzip"})[0] == 200


@pytest.mark.parametrize(
    "request_bytes",
    [b"GET /echo HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n", b"GET /echo HTTP/9.9\r\nHost: x\r\n\r\n"],
    ids=["bad-header", "bad-version"],
)
def test_a_request_that_does_not_parse_is_a_json_400(served: Served, request_bytes: bytes) -> None:
    port = int(served.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(request_bytes)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"400", head
    assert b"application/json" in head.lower()
    assert json.loads(payload)["error"]["code"] == "BadRequest"


# ---------------------------------------------------------------- timeouts
def test_a_function_past_its_timeout_is_a_503_and_its_late_result_is_discarded(served: Served) -> None:
    started = served.runtime.stats("Sleeper").timeouts
    status, body, _ = http("GET", f"{served.url}/sleep?seconds=3")
    assert status == 503
    assert body["message"] == "Service Unavailable"
    assert body["error"] == {"code": "ServiceUnavailable", "message": "Service Unavailable"}
    assert served.runtime.stats("Sleeper").timeouts == started + 1
    status, body, _ = http("GET", f"{served.url}/sleep?seconds=0")
    assert (status, body["slept"]) == (200, 0.0)


def test_a_timed_out_environment_is_never_reused() -> None:
    runtime = LambdaRuntime([_spec("Sleeper", "sleeper", timeout=1)])
    with pytest.raises(FunctionTimedOut) as timed_out:
        runtime.invoke("Sleeper", {"seconds": 2})
    assert timed_out.value.payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in timed_out.value.payload["errorMessage"]
    while_busy = runtime.invoke("Sleeper", {"seconds": 0})["environment"]
    wait_for(lambda: runtime.busy_environments("Sleeper") == 0, timeout=10)  # the abandoned run ends
    environments = {runtime.invoke("Sleeper", {"seconds": 0})["environment"] for _ in range(3)}
    assert environments == {while_busy}  # only the one healthy environment serves; the timed-out one is gone
    assert runtime.stats("Sleeper").cold_starts == 2


def test_step_functions_and_pollers_see_the_timeout_as_the_invocation_error() -> None:
    """moto's Lambda invoke (what Step Functions Task states and `lambda:Invoke` reach)."""
    from moto.awslambda.models import LambdaFunction

    _patch_moto_lambda()
    runtime = LambdaRuntime([_spec("Sleeper", "sleeper", timeout=1)])
    set_active_runtime(runtime)
    try:
        payload, failed, _ = LambdaFunction._invoke_lambda(SimpleNamespace(function_name="Sleeper"), {"seconds": 2})
    finally:
        set_active_runtime(None)
    assert failed is True
    assert json.loads(payload)["errorType"] == "Sandbox.Timedout"


def test_a_timed_out_run_frees_its_concurrency_at_once() -> None:
    """Lambda ends a timed-out sandbox, so the function's concurrency is free again at the timeout,
    even though the abandoned run here goes on until it ends."""
    runtime = LambdaRuntime([_spec("Sleeper", "sleeper", timeout=1)], max_concurrency=1)
    with pytest.raises(FunctionTimedOut):
        runtime.invoke("Sleeper", {"seconds": 4})
    assert runtime.busy_environments("Sleeper") == 1  # the abandoned run still goes on
    assert runtime.invoke("Sleeper", {"seconds": 0})["slept"] == 0.0
    assert runtime.busy_environments("Sleeper") == 1  # served beside the abandoned run, not after it
    wait_for(lambda: runtime.busy_environments("Sleeper") == 0, timeout=10)
