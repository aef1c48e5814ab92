"""The WebSocket API: connect with an access token, subscribe to playlists, resync from the log; and
the fan-out of the playlist table's stream to the subscribers through `post_to_connection`.

Messages to clients (JSON):
- ``{"type": "subscribed", "playlistId", "version", "snapshotId"}``
- ``{"type": "playlist.changed", "playlistId", "version", "snapshotId", "op", "by", "at", "correlationId"?}``
  (`correlationId`: the request that made the change, backbeat.observability)
- ``{"type": "playlist.changes", "playlistId", "changes": [{"version", "snapshotId", "op", "by", "at",
  "correlationId"?}, ...]}``: several versions in one message, in order (a group commit's, or a
  resync's), as many as fit in one WebSocket message
- ``{"type": "resynced", "playlistId", "version"}`` after the replayed changes
- ``{"type": "error", "code", "message", "field"?, "playlistId"?}``
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from backbeat.aws import client
from backbeat.errors import BackbeatError, InvalidInput, Unauthorized, error_fields
from backbeat.observability import CORRELATION_FIELD, correlated, logger
from backbeat.plain import json_default
from backbeat.playlists import service as playlists
from backbeat.playlists.models import PlaylistItem, playlist_from_image
from backbeat.realtime.models import (
    META,
    ConnectionItem,
    SubscriptionItem,
    connection_key,
    listeners_key,
    subscribed_playlist,
    subscription_key,
)

CONNECTION_TTL_SECONDS = 2 * 3600 + 600  # API Gateway's two-hour limit, plus a margin
MAX_RESYNC_CHANGES = 1000
# API Gateway carries at most 128 KB in one WebSocket message: changes beyond this go in the next one
MAX_CHANGES_BYTES = 96_000
POST_ATTEMPTS = 3
_MANAGEMENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=5)


def management_endpoint(websocket_endpoint: str) -> str:
    """The @connections endpoint of a WebSocket stage: `wss://host/stage` -> `https://host/stage`
    (`ws://` -> `http://` for the devstack's gateway)."""
    if websocket_endpoint.startswith("wss://"):
        return "https://" + websocket_endpoint.removeprefix("wss://")
    if websocket_endpoint.startswith("ws://"):
        return "http://" + websocket_endpoint.removeprefix("ws://")
    return websocket_endpoint


@cache
def _management_client(endpoint: str) -> Any:
    return boto3.session.Session().client("apigatewaymanagementapi", endpoint_url=endpoint, config=_MANAGEMENT_CONFIG)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _expiry() -> int:
    return int(time.time()) + CONNECTION_TTL_SECONDS


class Sockets:
    """Posts to connected clients; a connection that is gone is forgotten."""

    def __init__(self, websocket_endpoint: str) -> None:
        self.endpoint = management_endpoint(websocket_endpoint)

    def post(self, connection_id: str, message: dict[str, Any]) -> bool:
        """True when delivered; False when the connection is gone (its records are removed) or the
        post kept failing (the client notices the gap in versions and resyncs)."""
        return self.post_encoded(connection_id, encoded(message))

    def post_encoded(self, connection_id: str, data: bytes) -> bool:
        """`post` for a message already encoded (one message posted to many sockets is encoded once)."""
        for attempt in range(POST_ATTEMPTS):
            try:
                _management_client(self.endpoint).post_to_connection(ConnectionId=connection_id, Data=data)
                return True
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if code == "GoneException" or status == 410:
                    forget_connection(connection_id)
                    return False
                if attempt == POST_ATTEMPTS - 1:
                    logger.warning("post_to_connection failed", extra={"connectionId": connection_id, "error": code})
                    return False
                time.sleep(0.05 * (attempt + 1))
        return False


def encoded(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), default=json_default).encode()


# ---------------------------------------------------------------------------------------- connect
def authenticate(token: str | None) -> str:
    """The user (Cognito `sub`) an access token belongs to. Cognito's `GetUser` checks signature,
    expiry and revocation (global sign-out) for us; the function holds no keys."""
    if not token:
        raise Unauthorized("missing token")
    try:
        user = client("cognito-idp").get_user(AccessToken=token)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("NotAuthorizedException", "UserNotFoundException", "InvalidParameterException"):
            raise Unauthorized("invalid or expired token") from None
        raise
    attributes = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}
    sub = attributes.get("sub")
    if not sub:
        raise Unauthorized("the token names no user")
    return sub


def connect(connection_id: str, token: str | None) -> str:
    user_id = authenticate(token)
    ConnectionItem(
        pk=connection_key(connection_id),
        sk=META,
        connection_id=connection_id,
        user_id=user_id,
        connected_at=_now(),
        expires_at=_expiry(),
    ).save()
    return user_id


def forget_connection(connection_id: str) -> None:
    """$disconnect, or a post answered 410: remove the connection and its subscriptions."""
    records = list(ConnectionItem.query(connection_key(connection_id), attributes_to_get=["pk", "sk"]))
    with ConnectionItem.batch_write() as batch:
        for record in records:
            playlist_id = subscribed_playlist(record.sk)
            if playlist_id is not None:
                batch.delete(SubscriptionItem(pk=listeners_key(playlist_id), sk=connection_key(connection_id)))
            batch.delete(record)


def _caller(connection_id: str) -> str:
    try:
        connection = ConnectionItem.get(connection_key(connection_id), META, consistent_read=True)
    except ConnectionItem.DoesNotExist:
        raise Unauthorized("this connection is not known; reconnect") from None
    return str(connection.user_id)


# ---------------------------------------------------------------------------------------- messages
def error_message(error: BackbeatError, playlist_id: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "error", **error_fields(error)}
    if playlist_id:
        message["playlistId"] = playlist_id
    return message


def subscribe(sockets: Sockets, connection_id: str, playlist_id: str) -> None:
    """Only someone who may read the playlist subscribes (others get a NotFound error message).
    Changes after the version in the answer reach the socket in version order."""
    user_id = _caller(connection_id)
    playlist = playlists.load_readable(playlist_id, user_id)
    version = int(playlist.version)
    expires = _expiry()
    with SubscriptionItem.batch_write() as batch:
        for pk, sk in (
            (listeners_key(playlist_id), connection_key(connection_id)),
            (connection_key(connection_id), subscription_key(playlist_id)),
        ):
            batch.save(
                SubscriptionItem(
                    pk=pk,
                    sk=sk,
                    connection_id=connection_id,
                    playlist_id=playlist_id,
                    user_id=user_id,
                    since_version=version,
                    expires_at=expires,
                )
            )
    sockets.post(
        connection_id,
        {
            "type": "subscribed",
            "playlistId": playlist_id,
            "version": version,
            "snapshotId": playlists.snapshot_id(playlist_id, version),
        },
    )


def unsubscribe(connection_id: str, playlist_id: str) -> None:
    with SubscriptionItem.batch_write() as batch:
        batch.delete(SubscriptionItem(pk=listeners_key(playlist_id), sk=connection_key(connection_id)))
        batch.delete(SubscriptionItem(pk=connection_key(connection_id), sk=subscription_key(playlist_id)))


def changed_message(
    playlist_id: str, version: int, op: Any, by: Any, at: Any, correlation_id: str | None = None
) -> dict[str, Any]:
    message = {
        "type": "playlist.changed",
        "playlistId": playlist_id,
        "version": version,
        "snapshotId": playlists.snapshot_id(playlist_id, version),
        "op": op,
        "by": by,
        "at": at,
    }
    if correlation_id:
        message[CORRELATION_FIELD] = correlation_id
    return message


def resync(sockets: Sockets, connection_id: str, playlist_id: str, from_version: int) -> None:
    """Replay the changes from `from_version` on (at most MAX_RESYNC_CHANGES; ask again from the
    last one for more), then say which version the socket is at."""
    user_id = _caller(connection_id)
    playlist = playlists.load_readable(playlist_id, user_id)
    if from_version > int(playlist.version) + 1:  # a version the playlist never reached
        raise InvalidInput(f"fromVersion: the playlist is at version {int(playlist.version)}", "fromVersion")
    last = from_version - 1
    replayed = [
        changed_message(playlist_id, c["version"], c["op"], c["by"], c["at"], c.get("correlationId"))
        for c in playlists.changes(playlist_id, from_version, MAX_RESYNC_CHANGES)
    ]
    for message in in_messages(playlist_id, replayed):
        if not sockets.post(connection_id, message):
            return
        last = _last_version(message)
    sockets.post(
        connection_id,
        {"type": "resynced", "playlistId": playlist_id, "version": last, "latestVersion": int(playlist.version)},
    )


# ---------------------------------------------------------------------------------------- fan-out
def _change_of(record: dict[str, Any]) -> tuple[str, dict[str, Any], PlaylistItem | None, PlaylistItem] | None:
    """(playlistId, message, old playlist, new playlist) for a record that is a playlist change."""
    if record.get("eventName") != "MODIFY":
        return None
    dynamodb = record.get("dynamodb") or {}
    new, old = playlist_from_image(dynamodb.get("NewImage")), playlist_from_image(dynamodb.get("OldImage"))
    if new is None:
        return None
    version = int(new.version)
    if version <= (int(old.version) if old is not None else 0):
        return None
    message = changed_message(new.id, version, new.last_op, new.last_by, new.last_at, new.last_correlation_id)
    return new.id, message, old, new


def _messages_of(message: dict[str, Any], old: PlaylistItem | None, new: PlaylistItem) -> list[dict[str, Any]]:
    """Every version a record moves the playlist through, oldest first: a group commit
    (`backbeat.playlists.groups`) moves several at once and lists them in `lastChanges`."""
    before = int(old.version) if old is not None else 0
    group = [change for change in (new.last_changes or []) if int(change["version"]) > before]
    if [int(change["version"]) for change in group] != list(range(before + 1, message["version"] + 1)):
        return [message]
    return [
        changed_message(new.id, int(c["version"]), c["op"], c["by"], c["at"], c.get("correlationId")) for c in group
    ]


def in_messages(playlist_id: str, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`playlist.changed` messages (oldest first) as a socket gets them: one version alone as it is,
    several as `playlist.changes` messages of at most MAX_CHANGES_BYTES of changes each."""
    if len(changes) <= 1:
        return changes
    batches: list[list[dict[str, Any]]] = [[]]
    size = 0
    for message in changes:
        change = {key: value for key, value in message.items() if key not in ("type", "playlistId")}
        length = len(encoded(change))
        if batches[-1] and size + length > MAX_CHANGES_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(change)
        size += length
    return [
        {"type": "playlist.changes", "playlistId": playlist_id, "changes": batch}
        if len(batch) > 1
        else {"type": "playlist.changed", "playlistId": playlist_id, **batch[0]}
        for batch in batches
    ]


def _last_version(message: dict[str, Any]) -> int:
    return int(message["changes"][-1]["version"] if "changes" in message else message["version"])


def fan_out(sockets: Sockets, record: dict[str, Any], pool: ThreadPoolExecutor) -> None:
    """Post one stream record's changes to the playlist's subscribers (in parallel, one socket per
    thread): the versions a socket lacks, in as few messages as fit (a group commit's in one). Raises
    when the change cannot be handed out, so the stream delivers it again; the fan-out function stops
    at the first such record so every socket sees versions in order."""
    change = _change_of(record)
    if change is None:
        return
    playlist_id, message, old, new = change
    messages = _messages_of(message, old, new)
    prepared: dict[int, list[bytes]] = {}  # what a socket that has version `since` gets, encoded once

    def posts_for(since: int) -> list[bytes]:
        if since not in prepared:
            lacking = [each for each in messages if each["version"] > since]
            prepared[since] = [encoded(each) for each in in_messages(playlist_id, lacking)]
        return prepared[since]

    def post_in_order(connection_id: str, data: list[bytes]) -> bool:
        """Oldest first; stops at the first message the socket did not take."""
        return all(sockets.post_encoded(connection_id, each) for each in data)

    with correlated(message.get(CORRELATION_FIELD)):
        listeners = list(SubscriptionItem.query(listeners_key(playlist_id), consistent_read=True))
        deliver = [s for s in listeners if s.since_version < message["version"]]
        deliver = [s for s in deliver if playlists.may_read(new, s.user_id) or playlists.may_read(old, s.user_id)]
        posts = [pool.submit(post_in_order, s.connection_id, posts_for(int(s.since_version))) for s in deliver]
        delivered = sum(1 for post in posts if post.result())
        for listener in listeners:  # lost access (removed, made private, deleted): stop listening
            if not playlists.may_read(new, listener.user_id):
                unsubscribe(listener.connection_id, playlist_id)
        logger.info(
            "playlist change fanned out",
            extra={
                "playlistId": playlist_id,
                "version": message["version"],
                "versions": len(messages),
                "sockets": len(deliver),
                "delivered": delivered,
            },
        )
