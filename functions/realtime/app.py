"""WebSocket API routes: $connect (with ?token=<accessToken>), $disconnect, subscribe, resync, $default."""

import json
from typing import Annotated, Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from backbeat.config import RealtimeSettings
from backbeat.errors import BackbeatError, InvalidInput, Unauthorized
from backbeat.observability import WEBSOCKET_API, count, lambda_entry, logger
from backbeat.payloads import invalid_input, load_json
from backbeat.playlists.models import bind_playlists_table
from backbeat.ratelimit_routes import RequestLimiter
from backbeat.realtime import service
from backbeat.realtime.models import bind_connections_table

settings = RealtimeSettings()
bind_connections_table(settings.connections_table)
bind_playlists_table(settings.playlists_table)
sockets = service.Sockets(settings.websocket_endpoint)
limiter = RequestLimiter.from_settings()

PlaylistId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Subscribe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["subscribe", "unsubscribe"]
    playlistId: PlaylistId


class Resync(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["resync"]
    playlistId: PlaylistId
    fromVersion: Annotated[int, Field(ge=0)]


def _status(code: int, message: str = "") -> dict[str, Any]:
    return {"statusCode": code, "body": json.dumps({"message": message} if message else {})}


def _parse(model: type[BaseModel], body: str | None) -> Any:
    """The frame as `model`: bounded JSON, then validation, errors named as the HTTP API names them."""
    try:
        return model.model_validate(load_json(body or ""))
    except json.JSONDecodeError as error:
        raise invalid_input([{"type": "json_invalid", "loc": ("body",), "ctx": {"error": error.msg}}]) from None
    except ValidationError as error:
        raise invalid_input(error.errors()) from None


def _message(route: str, connection_id: str, body: str | None) -> None:
    if route in ("subscribe", "unsubscribe"):
        request = _parse(Subscribe, body)
        try:
            if route == "subscribe":
                service.subscribe(sockets, connection_id, request.playlistId)
            else:
                service.unsubscribe(connection_id, request.playlistId)
        except BackbeatError as error:
            sockets.post(connection_id, service.error_message(error, request.playlistId))
    elif route == "resync":
        resync = _parse(Resync, body)
        try:
            service.resync(sockets, connection_id, resync.playlistId, resync.fromVersion)
        except BackbeatError as error:
            sockets.post(connection_id, service.error_message(error, resync.playlistId))
    else:
        raise InvalidInput("action: must be subscribe, unsubscribe or resync", "action")


@lambda_entry(WEBSOCKET_API)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    route = str(request.get("routeKey", ""))
    connection_id = str(request.get("connectionId", ""))
    logger.append_keys(connectionId=connection_id, routeKey=route)
    if route == "$connect":
        token = (event.get("queryStringParameters") or {}).get("token")
        try:
            service.connect(connection_id, token)
        except Unauthorized as error:
            logger.info("connection refused", extra={"reason": error.message})
            return _status(401, "Unauthorized")
        count("SocketsConnected")
        return _status(200)
    if route == "$disconnect":
        service.forget_connection(connection_id)
        return _status(200)
    refusal = limiter.check_socket_message(connection_id)
    if refusal is not None:  # answered on the socket, which stays open: no reconnect storm
        sockets.post(connection_id, {**service.error_message(refusal), "retryAfter": refusal.retry_after})
        return _status(200)
    try:
        _message(route, connection_id, event.get("body"))
    except BackbeatError as error:
        sockets.post(connection_id, service.error_message(error))
    return _status(200)
