"""HTTP plumbing shared by every API function: the resolver, the error table, the caller's identity.

Domain errors map to HTTP here, in one place, and every error body has the same shape:
``{"error": {"code": "...", "message": "..."}}``.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from backbeat.errors import BackbeatError, Unauthorized
from backbeat.observability import logger


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    body: dict[str, Any] = {"code": code, "message": message, **extra}
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body={"error": body})


def _describe_validation_error(error: dict[str, Any]) -> tuple[str, str]:
    """Turn one pydantic/powertools validation error into (field, message)."""
    if error.get("type") == "json_invalid":
        return "body", "body: not valid JSON"
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    field = ".".join(location) or "body"
    return field, f"{field}: {error.get('msg', 'invalid value')}"


def create_resolver() -> APIGatewayHttpResolver:
    """A resolver with request validation on and every error mapped to the JSON error shape."""
    app = APIGatewayHttpResolver(enable_validation=True)

    @app.exception_handler(BackbeatError)
    def _domain_error(exc: BackbeatError) -> Response:
        extra = {"field": exc.field} if getattr(exc, "field", None) else {}
        return error_response(exc.status, exc.code, exc.message, **extra)

    @app.exception_handler(RequestValidationError)
    def _validation_error(exc: RequestValidationError) -> Response:
        errors = list(exc.errors())
        if not errors:
            return error_response(422, "InvalidInput", "invalid request")
        field, message = _describe_validation_error(errors[0])
        return error_response(422, "InvalidInput", message, field=field)

    @app.exception_handler(UnicodeDecodeError)
    def _binary_body(exc: UnicodeDecodeError) -> Response:
        return error_response(422, "InvalidInput", "body: not UTF-8 JSON", field="body")

    @app.not_found
    def _route_not_found(exc: NotFoundError) -> Response:
        return error_response(404, "NotFound", f"no route for {app.current_event.path}")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
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
