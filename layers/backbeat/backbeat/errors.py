"""Domain errors. Domain code raises these; `error_fields` is the one error map: the HTTP API
(`backbeat.http`) answers ``{"error": error_fields(e)}`` with status ``e.status``, the WebSocket API
posts ``{"type": "error", **error_fields(e)}``."""

from __future__ import annotations

from typing import Any


class BackbeatError(Exception):
    """Base of every error the domain raises on purpose."""

    status = 500
    code = "InternalError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(BackbeatError):
    status = 422
    code = "InvalidInput"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnsupportedMediaType(BackbeatError):
    status = 415
    code = "UnsupportedMediaType"


class Unauthorized(BackbeatError):
    status = 401
    code = "Unauthorized"


class Forbidden(BackbeatError):
    status = 403
    code = "Forbidden"


class NotFound(BackbeatError):
    status = 404
    code = "NotFound"


class Conflict(BackbeatError):
    status = 409
    code = "Conflict"


class ServiceUnavailable(BackbeatError):
    """A dependency failed or was too slow; `retry_after` (seconds) becomes the `Retry-After` header."""

    status = 503
    code = "ServiceUnavailable"

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def error_fields(error: BackbeatError) -> dict[str, Any]:
    """The stable error body: ``{"code", "message"}`` plus ``field`` when one input is to blame."""
    fields: dict[str, Any] = {"code": error.code, "message": error.message}
    field = getattr(error, "field", None)
    if field:
        fields["field"] = field
    return fields
