"""HTTP plumbing shared by every API function: the resolver, the error table, the caller's identity.

Domain errors map to HTTP here, in one place, and every error body has the same shape:
``{"error": {"code": "...", "message": "..."}}`` (`backbeat.errors.error_fields`). Bodies are read
by `backbeat.payloads` (bounded JSON), the same reader the WebSocket API uses.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from backbeat.errors import BackbeatError, Conflict, InvalidInput, Unauthorized, UnsupportedMediaType, error_fields
from backbeat.observability import logger
from backbeat.payloads import invalid_input, load_json
from backbeat.ratelimit import RateLimited
from backbeat.ratelimit_routes import RequestLimiter
from backbeat.tables import collided

# Every error status a route of this API can answer, with what it means (the OpenAPI document lists
# them on every operation with the error schema); 413 and 414 come from API Gateway itself.
ERROR_STATUSES = {
    400: "The request cannot be read",
    401: "No valid access token, or wrong credentials",
    403: "The caller may not do this",
    404: "No such resource, or no route",
    409: "The resource changed since the version the request named",
    413: "The body is over API Gateway's 10 MB payload limit",
    414: "The request line is over API Gateway's 10,240-byte limit (the query is too long)",
    415: "The body is not application/json",
    422: "A field is missing or invalid; `field` names it",
    429: "Too many requests from this caller; retry after `Retry-After` seconds (also `retryAfter`)",
    500: "Unexpected error",
    503: "A dependency is unavailable",
}


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. NotFound, InvalidInput, Conflict")
    message: str = Field(description="What went wrong, naming the field or resource")
    field: str | None = Field(default=None, description="The input to blame, when there is one")
    retryAfter: int | None = Field(default=None, description="429 only: seconds until the caller may retry")


class ErrorBody(BaseModel):
    """The shape of every error answer (HTTP; WebSocket error messages carry the same fields)."""

    error: ErrorDetail


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    body: dict[str, Any] = {"code": code, "message": message, **extra}
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body={"error": body})


def domain_error_response(error: BackbeatError) -> Response:
    retry_after = getattr(error, "retry_after", None)
    fields = rate_limited_fields(error) if isinstance(error, RateLimited) else error_fields(error)
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": fields},
        headers={"Retry-After": str(retry_after)} if retry_after is not None else None,
    )


def rate_limited_fields(error: RateLimited) -> dict[str, Any]:
    return {**error_fields(error), "retryAfter": error.retry_after}


def is_json_media_type(content_type: str) -> bool:
    """application/json (any parameters, e.g. a charset); a missing Content-Type is read as JSON."""
    return content_type.split(";", 1)[0].strip().lower() in ("", "application/json")


def _content_type(event: Mapping[str, Any]) -> str:
    headers = event.get("headers") or {}
    return next((str(value) for name, value in headers.items() if str(name).lower() == "content-type"), "")


class JsonApiResolver(APIGatewayHttpResolver):
    """The HTTP API resolver: per-caller rate limits (429 with Retry-After, `backbeat.ratelimit_routes`),
    then JSON bodies only (415 otherwise), parsed with bounded nesting.

    A body in a type the API does not read (a browser's `fetch` sends a string body as text/plain;
    forms are urlencoded) is refused before routing, so no route can misread it."""

    limiter: RequestLimiter | None = None

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        limiter = self.limiter
        counted = limiter.counted_alongside(event) if limiter is not None else None
        if limiter is not None and counted is not None:  # a read-only route
            refusal = limiter.known_refusal(counted)
            if refusal is None:
                counting = _COUNTING.submit(limiter.count, counted)
                answer = self._resolve_json(event, context)
                refusal = counting.result()
                if refusal is None:
                    return answer
            return _rate_limited(refusal)
        refusal_for_rate = limiter.check_http(event) if limiter is not None else None
        if refusal_for_rate is not None:
            return _rate_limited(refusal_for_rate)
        return self._resolve_json(event, context)

    def _resolve_json(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        content_type = _content_type(event)
        if event.get("body") and not is_json_media_type(content_type):
            refusal = UnsupportedMediaType(f"Content-Type {content_type!r} is not supported; send application/json")
            return {
                "statusCode": refusal.status,
                "headers": {"Content-Type": content_types.APPLICATION_JSON},
                "cookies": [],
                "body": json.dumps({"error": error_fields(refusal)}),
                "isBase64Encoded": False,
            }
        if content_type and not content_type.startswith(content_types.APPLICATION_JSON):
            # Media types are case-insensitive; Powertools' body reader compares them as written.
            headers = {name: value for name, value in event["headers"].items() if name.lower() != "content-type"}
            event = {**event, "headers": {**headers, "content-type": content_types.APPLICATION_JSON}}
        return super().resolve(event, context)


# Counts of read-only requests, made while their routes run (`JsonApiResolver.resolve`). A Lambda
# environment runs one request at a time; the devstack runs every environment in one process.
_COUNTING = ThreadPoolExecutor(max_workers=16, thread_name_prefix="rate-limit")


def _rate_limited(refusal: RateLimited) -> dict[str, Any]:
    return {
        "statusCode": refusal.status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON, "Retry-After": str(refusal.retry_after)},
        "cookies": [],
        "body": json.dumps({"error": rate_limited_fields(refusal)}),
        "isBase64Encoded": False,
    }


def create_resolver() -> JsonApiResolver:
    """A resolver with request validation on, every error mapped to the JSON error shape, and the
    rate limits of the function's routes (their settings read now, at cold start)."""
    app = JsonApiResolver(enable_validation=True, json_body_deserializer=load_json)
    app.limiter = RequestLimiter.from_settings()

    @app.exception_handler(BackbeatError)
    def _domain_error(exc: BackbeatError) -> Response:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    def _validation_error(exc: RequestValidationError) -> Response:
        return domain_error_response(invalid_input(list(exc.errors())))

    @app.exception_handler(UnicodeDecodeError)
    def _binary_body(exc: UnicodeDecodeError) -> Response:
        return domain_error_response(InvalidInput("body: not UTF-8 JSON", "body"))

    @app.exception_handler(binascii.Error)
    def _bad_base64(exc: binascii.Error) -> Response:
        return domain_error_response(InvalidInput("body: not valid base64", "body"))

    @app.not_found
    def _route_not_found(exc: NotFoundError) -> Response:
        return error_response(404, "NotFound", f"no route for {app.current_event.path}")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if collided(exc):  # nothing was written; the client may send it again
            logger.warning("transaction collided with another write", extra={"error": str(exc)})
            return domain_error_response(Conflict("another change to the same data got in the way; try again"))
        logger.exception("unhandled error")
        return error_response(500, "InternalError", "internal error")

    return app


def caller_id(app: APIGatewayHttpResolver) -> str:
    """The user id (Cognito `sub`) from the JWT the authorizer verified; never from the query."""
    authorizer = app.current_event.request_context.authorizer
    claims = authorizer.jwt_claim if authorizer else None
    sub = (claims or {}).get("sub")
    if not sub:
        raise Unauthorized("a valid access token is required")
    return str(sub)
