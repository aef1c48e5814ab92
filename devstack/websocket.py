"""The template's WebSocket API on the gateway's port, and its @connections management API.

Clients connect to ``ws://host:port/ws`` (or ``/<stage>``, the path of the stage URL). As in API
Gateway: the `$connect` route runs before the upgrade and a non-2xx answer refuses it; each text
frame is routed by the API's route selection expression (``$request.body.action``) to its route or
to `$default`; `$disconnect` runs when the socket closes. Functions reach the socket through
``POST/GET/DELETE /<stage>/@connections/<connectionId>``, which is what boto3's
``apigatewaymanagementapi`` calls with the stage URL (``ws://`` read as ``http://``) as its
endpoint; an unknown connection answers 410 GoneException. As in AWS, where that API is
IAM-authorized, only a call signed with SigV4 for `execute-api` with the devstack's credentials is
served (boto3 signs); anything else answers 403.

Route responses are not modelled: what a function returns for a message is not sent back (Backbeat's
functions answer with `post_to_connection`), as in API Gateway without a route response.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from aiohttp import WSMsgType, web
from botocore.exceptions import ReadTimeoutError

from devstack.lambdas import FunctionError, LambdaRuntime
from devstack.resources import WebSocketApi
from devstack.sigv4 import SignatureRejected, verify
from devstack.template import Resolver

IN_PROCESS_TIMEOUT_SECONDS = 5.0  # the read timeout of the functions' @connections client
MAX_FRAME_BYTES = 128 * 1024  # API Gateway's WebSocket frame limit (32 KB frames, 128 KB messages)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _connection_id() -> str:
    return uuid.uuid4().hex[:16]


def _error(status: int, code: str, message: str, error_type: str | None = None) -> web.Response:
    """API Gateway's `message`, plus Backbeat's error shape (as devstack/gateway.py answers)."""
    headers = {"x-amzn-ErrorType": error_type} if error_type else None
    return web.json_response(
        {"message": message, "error": {"code": code, "message": message}}, status=status, headers=headers
    )


def _gone(connection_id: str) -> web.Response:
    return _error(410, "Gone", f"connection {connection_id} is gone", "GoneException")


@dataclass
class _Connection:
    socket: web.WebSocketResponse
    source_ip: str
    user_agent: str
    connected_at: float = field(default_factory=time.time)
    last_active_at: float = field(default_factory=time.time)


class WebSocketGateway:
    def __init__(
        self,
        api: WebSocketApi,
        runtime: LambdaRuntime,
        executor: ThreadPoolExecutor,
        resolver: Resolver,
        signing_secrets: Mapping[str, str] | None = None,
    ) -> None:
        """`signing_secrets` (access key id -> secret key) are the credentials whose signed calls
        the @connections API serves; without any, it serves none."""
        self.api = api
        self.signing_secrets = dict(signing_secrets or {})
        self.runtime = runtime
        self.executor = executor
        self.account_id = resolver.account_id
        self.stage = api.stages[0] if api.stages else "$default"
        self.connections: dict[str, _Connection] = {}

    def routes(self, *, at_ws: bool) -> list[tuple[str, str, Callable[..., Any]]]:
        routes: list[tuple[str, str, Callable[..., Any]]] = []
        if at_ws:
            routes.append(("GET", "/ws", self.handle_socket))
        for stage in self.api.stages:
            routes.append(("GET", f"/{stage}", self.handle_socket))
            for method in ("POST", "GET", "DELETE"):
                routes.append((method, f"/{stage}/@connections/{{connectionId}}", self.manage))
        return routes

    # ------------------------------------------------------------------ events
    def _context(self, request: web.Request, route_key: str, event_type: str, connection_id: str) -> dict[str, Any]:
        now = time.time()
        connection = self.connections.get(connection_id)
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": uuid.uuid4().hex,
            "requestTime": datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": int((connection.connected_at if connection else now) * 1000),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": request.remote or "127.0.0.1", "userAgent": request.headers.get("User-Agent", "")},
            "requestId": uuid.uuid4().hex,
            "domainName": request.host,
            "connectionId": connection_id,
            "apiId": self.api.api_id,
            "accountId": self.account_id,
        }

    async def _invoke(self, function: str, event: dict[str, Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, self.runtime.invoke, function, event)

    def _route_key(self, body: str) -> str:
        """`$request.body.<field>`: the field of the JSON message, when a route has that key."""
        expression = self.api.route_selection_expression
        if expression.startswith("$request.body."):
            try:
                message = json.loads(body)
            except (ValueError, RecursionError):  # not JSON, or nested past the parser: `$default`
                message = None
            value: Any = message
            for part in expression.removeprefix("$request.body.").split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, str) and value in self.api.routes:
                return value
        return "$default"

    # ------------------------------------------------------------------ the socket
    async def handle_socket(self, request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, autoping=True)
        if not socket.can_prepare(request).ok:
            return _error(426, "UpgradeRequired", "expected a WebSocket upgrade")
        connection_id = _connection_id()
        connect = self.api.function_for("$connect")
        if connect is not None:
            headers = {key.lower(): value for key, value in request.headers.items()}
            query = {key: value for key, value in request.query.items()}
            event: dict[str, Any] = {
                "headers": headers,
                "multiValueHeaders": {key: [value] for key, value in headers.items()},
                "requestContext": self._context(request, "$connect", "CONNECT", connection_id),
                "isBase64Encoded": False,
            }
            if query:
                event["queryStringParameters"] = query
                event["multiValueQueryStringParameters"] = {key: request.query.getall(key) for key in query}
            try:
                result = await self._invoke(connect, event)
            except FunctionError:
                return _error(500, "InternalError", "Internal server error")
            status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
            if not 200 <= status < 300:
                refused = "Forbidden" if status == 403 else "Unauthorized"
                return _error(status, refused, refused)
        await socket.prepare(request)
        self.connections[connection_id] = _Connection(
            socket, request.remote or "127.0.0.1", request.headers.get("User-Agent", "")
        )
        try:
            async for frame in socket:
                if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                body = frame.data if frame.type == WSMsgType.TEXT else frame.data.decode("utf-8", "replace")
                self.connections[connection_id].last_active_at = time.time()
                await self._message(request, connection_id, body)
        finally:
            self.connections.pop(connection_id, None)
            disconnect = self.api.function_for("$disconnect")
            if disconnect is not None:
                event = {
                    "headers": {},
                    "requestContext": {
                        **self._context(request, "$disconnect", "DISCONNECT", connection_id),
                        "disconnectStatusCode": socket.close_code or 1005,
                        "disconnectReason": "",
                    },
                    "isBase64Encoded": False,
                }
                with contextlib.suppress(FunctionError):  # as in API Gateway: nobody is left to tell
                    await self._invoke(disconnect, event)
        return socket

    async def _message(self, request: web.Request, connection_id: str, body: str) -> None:
        route_key = self._route_key(body)
        function = self.api.function_for(route_key)
        connection = self.connections.get(connection_id)
        if connection is None:
            return
        if function is None:
            await connection.socket.send_json(
                {"message": "Forbidden", "connectionId": connection_id, "requestId": uuid.uuid4().hex}
            )
            return
        event = {
            "requestContext": {
                **self._context(request, route_key, "MESSAGE", connection_id),
                "messageId": uuid.uuid4().hex,
            },
            "body": body,
            "isBase64Encoded": False,
        }
        try:
            await self._invoke(function, event)
        except FunctionError:
            if not connection.socket.closed:
                await connection.socket.send_json(
                    {"message": "Internal server error", "connectionId": connection_id, "requestId": uuid.uuid4().hex}
                )

    # ------------------------------------------------------------------ @connections
    async def manage(self, request: web.Request) -> web.Response:
        url = f"{request.scheme}://{request.host}{request.raw_path}"
        data = await request.read()
        return await self.management(request.method, url, request.headers, data, request.match_info["connectionId"])

    def answer_in_process(
        self, loop: asyncio.AbstractEventLoop, method: str, url: str, headers: Mapping[str, str], data: bytes
    ) -> tuple[int, dict[str, str], bytes] | None:
        """A call of the @connections API made in this process (a function posting to a socket),
        answered on the gateway's event loop as the HTTP request would be, signature check included
        (devstack/in_process_aws.py): status, headers and body; None when called on that loop itself
        (it would wait on itself)."""
        if not loop.is_running():
            return None
        with contextlib.suppress(RuntimeError):
            if asyncio.get_running_loop() is loop:
                return None
        connection_id = unquote(urlsplit(url).path.rsplit("/@connections/", 1)[-1])
        call = self.management(method, url, headers, data, connection_id)
        try:
            future = asyncio.run_coroutine_threadsafe(call, loop)
        except RuntimeError:  # the loop closed meanwhile: over HTTP, which finds nobody listening
            call.close()
            return None
        try:
            response = future.result(timeout=IN_PROCESS_TIMEOUT_SECONDS)
        except concurrent.futures.TimeoutError:  # a socket that does not drain: what the HTTP call raises
            future.cancel()
            raise ReadTimeoutError(endpoint_url=url) from None
        except Exception:  # what the gateway answers for a failure of its own: a 500 botocore retries
            return 500, {"Content-Type": "application/json"}, b'{"message": "Internal server error"}'
        body = response.body if isinstance(response.body, bytes) else b""
        return response.status, {"Content-Type": response.content_type, **response.headers}, body

    async def management(
        self, method: str, url: str, headers: Mapping[str, str], data: bytes, connection_id: str
    ) -> web.Response:
        try:
            verify(
                method=method, url=url, headers=headers, body=data, service="execute-api", secrets=self.signing_secrets
            )
        except SignatureRejected as rejected:
            return _error(403, "Forbidden", str(rejected), "ForbiddenException")
        connection = self.connections.get(connection_id)
        if connection is None or connection.socket.closed:
            return _gone(connection_id)
        if method == "POST":
            if len(data) > MAX_FRAME_BYTES:
                return _error(413, "PayloadTooLarge", "payload too large", "PayloadTooLargeException")
            try:
                await connection.socket.send_str(data.decode("utf-8"))
            except UnicodeDecodeError:
                await connection.socket.send_bytes(data)
            except ConnectionError:
                return _gone(connection_id)
            return web.Response(status=200)
        if method == "DELETE":
            await connection.socket.close()
            return web.Response(status=204)
        return web.json_response(
            {
                "connectedAt": _iso(connection.connected_at),
                "lastActiveAt": _iso(connection.last_active_at),
                "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
            }
        )
