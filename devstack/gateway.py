"""The local API Gateway: serves the template's HTTP API (payload format 2.0) on one port.

Routes come from the functions' `HttpApi` events; the JWT authorizer is applied before a route's
function runs; the function's response is translated the way API Gateway translates it. Other
parts of the devstack (the WebSocket API, media delivery) add their own routes to `app`.

Every error the gateway answers itself has Backbeat's JSON error shape (plus API Gateway's
`message`): those of its own routes, those aiohttp raises while routing or reading a request (404,
405, 413 over `client_max_size`, 400 for a body that cannot be decoded) through `json_errors`, and
those aiohttp's protocol layer writes for a request it cannot parse, through `GatewayRunner`. A
function that runs past its template `Timeout` is answered 503 as API Gateway answers a timed-out
integration (devstack/lambdas.py discards its late result).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import http_exceptions, web, web_protocol, web_server
from aiohttp.web_request import BaseRequest

from devstack.authorizer import AuthorizationFailed, JwksCache, authorize
from devstack.lambdas import FunctionError, FunctionTimedOut, LambdaRuntime
from devstack.resources import Deployment, HttpRoute

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
MAX_LINE_BYTES = 10240  # API Gateway's quota on the request line and header values (aiohttp's default: 8190)
_log = logging.getLogger("devstack.gateway")

ERROR_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    408: "RequestTimeout",
    411: "LengthRequired",
    413: "PayloadTooLarge",
    414: "UriTooLong",
    415: "UnsupportedMediaType",
    431: "RequestHeaderFieldsTooLarge",
    500: "InternalError",
    501: "NotImplemented",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def gateway_error(status: int, code: str, message: str) -> web.Response:
    """An error from the gateway itself: API Gateway's `message`, plus Backbeat's error shape."""
    body = {"message": message, "error": {"code": code, "message": message}}
    return web.json_response(body, status=status)


def _error_for(status: int, message: str) -> web.Response:
    return gateway_error(status, ERROR_CODES.get(status, "BadRequest" if status < 500 else "InternalError"), message)


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """aiohttp's own errors (routing, body limits, undecodable bodies) in the JSON error shape."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as error:
        if error.status < 400:
            raise
        if error.status == 413:
            return _error_for(413, f"request body too large: the limit is {MAX_BODY_BYTES} bytes")
        return _error_for(error.status, error.text or error.reason)
    except http_exceptions.HttpProcessingError as error:  # e.g. a gzip body that does not inflate
        return _error_for(error.code if 400 <= error.code < 500 else 400, f"malformed request: {error.message}")
    except (ConnectionError, asyncio.CancelledError):
        raise
    except Exception as error:
        if isinstance(error.__cause__ or error.__context__, http_exceptions.HttpProcessingError):
            return _error_for(400, f"malformed request body: {error}")
        _log.exception("gateway error on %s %s", request.method, request.path)
        return _error_for(500, "Internal Server Error")


class _JsonErrorRequestHandler(web_protocol.RequestHandler):
    """Requests aiohttp cannot parse (a bad request line, header or chunk) are answered in JSON."""

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            return super().handle_error(request, status, exc, message)
        if status >= 500:
            _log.error("gateway error for %s", request.remote, exc_info=exc)
        reason = message or (getattr(exc, "message", None) if exc else None) or "bad request"
        if isinstance(exc, http_exceptions.LineTooLong):
            status, reason = _too_long(exc)
        response = _error_for(status, reason if status < 500 else "Internal Server Error")
        response.force_close()
        return response


def _too_long(error: http_exceptions.LineTooLong) -> tuple[int, str]:
    """414 for a request line (method, path and query) over MAX_LINE_BYTES, 431 for a header line,
    without echoing the oversized line back."""
    line = error.args[0] if error.args else b""
    head = (bytes(line) if isinstance(line, bytes | bytearray) else str(line).encode())[:16]
    if head.startswith(b"/") or b" /" in head:
        return 414, f"the request line is over the {MAX_LINE_BYTES}-byte limit"
    return 431, f"a request header is over the {MAX_LINE_BYTES}-byte limit"


class _JsonErrorServer(web_server.Server):
    def __call__(self) -> web_protocol.RequestHandler:
        return _JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """An AppRunner whose connections answer unparseable requests in the JSON error shape, with API
    Gateway's line limits."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        kwargs.setdefault("max_line_size", MAX_LINE_BYTES)
        kwargs.setdefault("max_field_size", MAX_LINE_BYTES)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web_server.Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer
        return server


@dataclass(frozen=True)
class _CompiledRoute:
    route: HttpRoute
    pattern: re.Pattern[str]
    parameters: tuple[str, ...]
    specificity: tuple[int, int, int]

    @property
    def route_key(self) -> str:
        return f"{self.route.method} {self.route.path}"


def _compile(route: HttpRoute) -> _CompiledRoute:
    parameters: list[str] = []
    parts: list[str] = []
    literal = 0
    greedy = 0
    for segment in route.path.strip("/").split("/"):
        match = re.fullmatch(r"\{([A-Za-z0-9_]+)(\+?)\}", segment)
        if match:
            parameters.append(match.group(1))
            if match.group(2):
                greedy += 1
                parts.append(f"(?P<{match.group(1)}>.+)")
            else:
                parts.append(f"(?P<{match.group(1)}>[^/]+)")
        else:
            literal += 1
            parts.append(re.escape(segment))
    pattern = re.compile("^/" + "/".join(parts) + "/?$") if route.path != "/" else re.compile("^/$")
    # API Gateway prefers exact paths, then parameters, then greedy paths; a method over ANY.
    specificity = (-greedy, literal, 0 if route.method == "ANY" else 1)
    return _CompiledRoute(route, pattern, tuple(parameters), specificity)


class Gateway:
    def __init__(
        self,
        deployment: Deployment,
        runtime: LambdaRuntime,
        jwks: JwksCache,
        *,
        health_check: Callable[[], dict[str, str]] | None = None,
        max_workers: int = 64,
    ) -> None:
        self.deployment = deployment
        self.runtime = runtime
        self.jwks = jwks
        self.health_check = health_check
        self.routes = sorted(
            (_compile(route) for route in deployment.routes), key=lambda r: r.specificity, reverse=True
        )
        self.executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="lambda")
        self.app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[json_errors])
        self.extra_routes: list[tuple[str, str, Callable[..., Any]]] = []

    def build_app(self) -> web.Application:
        for method, path, handler in self.extra_routes:
            self.app.router.add_route(method, path, handler)
        self.app.router.add_route("*", "/{tail:.*}", self.handle)
        return self.app

    def match(self, method: str, path: str) -> tuple[_CompiledRoute, dict[str, str]] | None:
        for compiled in self.routes:
            found = compiled.pattern.match(path)
            if found and compiled.route.method in (method, "ANY"):
                return compiled, {k: v for k, v in found.groupdict().items() if v is not None}
        return None

    def _cors_headers(self, request: web.Request, api: str) -> dict[str, str]:
        cors = self.deployment.apis[api].cors if api in self.deployment.apis else None
        origin = request.headers.get("Origin")
        if not cors or not origin:
            return {}
        allowed = cors.get("AllowOrigins") or []
        if "*" not in allowed and origin not in allowed:
            return {}
        return {"Access-Control-Allow-Origin": "*" if "*" in allowed else origin}

    def _preflight(self, request: web.Request) -> web.Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        for api in self.deployment.apis.values():
            if api.cors:
                headers = self._cors_headers(request, api.logical_id)
                headers["Access-Control-Allow-Methods"] = ",".join(api.cors.get("AllowMethods") or ["*"])
                headers["Access-Control-Allow-Headers"] = ",".join(api.cors.get("AllowHeaders") or ["*"])
                headers["Access-Control-Max-Age"] = str(api.cors.get("MaxAge", 0))
                return web.Response(status=204, headers=headers)
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        preflight = self._preflight(request)
        if preflight is not None:
            return preflight
        matched = self.match(request.method, request.path)
        if matched is None:
            return gateway_error(404, "NotFound", f"no route for {request.method} {request.path}")
        compiled, path_parameters = matched
        route = compiled.route
        principal = None
        if route.authorizer:
            authorizer = self.deployment.apis[route.api].authorizers.get(route.authorizer)
            if authorizer is None:
                return gateway_error(500, "InternalError", f"authorizer {route.authorizer} is not defined")
            try:
                principal = await asyncio.get_running_loop().run_in_executor(
                    self.executor, authorize, request.headers.get("Authorization"), authorizer, self.jwks
                )
            except AuthorizationFailed as failure:
                return gateway_error(401, "Unauthorized", f"Unauthorized: {failure}")
        body = await request.read()
        event = self._event(request, compiled, path_parameters, body, principal)
        try:
            result = await asyncio.get_running_loop().run_in_executor(
                self.executor, self.runtime.invoke, route.function, event
            )
        except FunctionTimedOut:  # what an HTTP API answers when its Lambda integration times out
            return gateway_error(503, "ServiceUnavailable", "Service Unavailable")
        except FunctionError:
            return gateway_error(500, "InternalError", "Internal Server Error")
        response = self._response(result, self._cors_headers(request, route.api))
        if self.health_check and route.path == "/health" and response.status == 200:
            components = await asyncio.get_running_loop().run_in_executor(self.executor, self.health_check)
            if any(state != "ok" for state in components.values()):
                status = "starting" if components.get("startup") == "starting" else "degraded"  # not ready yet
                return web.json_response({"status": status, "components": components}, status=503)
        return response

    def _event(
        self,
        request: web.Request,
        compiled: _CompiledRoute,
        path_parameters: dict[str, str],
        body: bytes,
        principal: Any,
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        for key, value in request.headers.items():
            lower = key.lower()
            if lower == "cookie":
                continue
            headers[lower] = f"{headers[lower]},{value}" if lower in headers else value
        query: dict[str, str] = {}
        for key, value in request.query.items():
            query[key] = f"{query[key]},{value}" if key in query else value
        now = datetime.now(UTC)
        is_text = True
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            is_text = False
            text_body = base64.b64encode(body).decode("ascii")
        context: dict[str, Any] = {
            "accountId": self.deployment.resolver.account_id,
            "apiId": self.deployment.apis[compiled.route.api].api_id,
            "domainName": request.host,
            "domainPrefix": request.host.split(".")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": f"HTTP/{request.version.major}.{request.version.minor}",
                "sourceIp": request.remote or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": compiled.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(time.time() * 1000),
        }
        if principal is not None:
            context["authorizer"] = {"jwt": {"claims": principal.claims, "scopes": principal.scopes}}
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": compiled.route_key,
            "rawPath": request.path,
            "rawQueryString": request.query_string,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": bool(body) and not is_text,
        }
        cookies = request.headers.getall("Cookie", [])
        if cookies:
            event["cookies"] = [c.strip() for header in cookies for c in header.split(";") if c.strip()]
        if query:
            event["queryStringParameters"] = query
        if path_parameters:
            event["pathParameters"] = path_parameters
        if body:
            event["body"] = text_body
        return event

    @staticmethod
    def _response(result: Any, cors: dict[str, str]) -> web.Response:
        if not (isinstance(result, dict) and "statusCode" in result):
            # Payload 2.0: anything else is JSON with status 200.
            return web.json_response(result, headers=cors)
        raw = result.get("body") or ""
        payload = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
        response = web.Response(status=int(result["statusCode"]), body=payload)
        for key, value in (result.get("headers") or {}).items():
            response.headers[key] = str(value)
        for key, values in (result.get("multiValueHeaders") or {}).items():
            for value in values:
                response.headers.add(key, str(value))
        for cookie in result.get("cookies") or []:
            response.headers.add("Set-Cookie", cookie)
        if "Content-Type" not in response.headers and payload:
            response.headers["Content-Type"] = "application/json"
        response.headers.update(cors)
        return response
