"""Domain errors. Domain code raises these; `backbeat.http` maps them to HTTP in one place."""

from __future__ import annotations


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
    status = 503
    code = "ServiceUnavailable"
