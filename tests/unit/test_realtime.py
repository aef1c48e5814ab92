"""The WebSocket routes and the fan-out in-process: moto plays Cognito and the @connections API."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

from backbeat.playlists import service as playlists
from backbeat.playlists.models import META, PlaylistItem, playlist_key
from backbeat.realtime import service
from backbeat.realtime.models import ConnectionItem, SubscriptionItem, connection_key, listeners_key
from tests.unit.conftest import load_function

PASSWORD = "listen-to-the-music"


@pytest.fixture
def realtime(aws) -> Any:  # type: ignore[no-untyped-def]
    service._management_client.cache_clear()
    return load_function("realtime", aws)


def token_for(aws: Any, email: str) -> tuple[str, str]:
    """Sign a user up in moto's Cognito; (user id, access token)."""
    cognito = boto3.client("cognito-idp")
    pool, client_id = aws.ref("UserPool"), aws.ref("UserPoolClient")
    user = cognito.sign_up(ClientId=client_id, Username=email, Password=PASSWORD)
    cognito.admin_confirm_sign_up(UserPoolId=pool, Username=email)
    auth = cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD}
    )
    return user["UserSub"], auth["AuthenticationResult"]["AccessToken"]


def event(route: str, connection_id: str, body: Any = None, query: dict[str, str] | None = None) -> dict[str, Any]:
    request = {"routeKey": route, "connectionId": connection_id, "eventType": "MESSAGE", "stage": "dev"}
    built: dict[str, Any] = {"requestContext": request, "isBase64Encoded": False}
    if query is not None:
        built["queryStringParameters"] = query
    if body is not None:
        built["body"] = json.dumps(body)
    return built


def sent_to(connection_id: str) -> list[dict[str, Any]]:
    """Messages moto's @connections API received for a connection (it concatenates them)."""
    data = apigatewaymanagementapi_backends["123456789012"]["us-east-1"].connections[connection_id].data
    decoder, text, messages, index = json.JSONDecoder(), data.decode(), [], 0
    while index < len(text):
        message, index = decoder.raw_decode(text, index)
        messages.append(message)
    return messages


def test_connect_needs_a_valid_access_token(aws, realtime, context) -> None:
    assert realtime.lambda_handler(event("$connect", "c0", query={}), context)["statusCode"] == 401
    assert realtime.lambda_handler(event("$connect", "c1", query={"token": "bogus"}), context)["statusCode"] == 401
    user_id, token = token_for(aws, "ann@example.com")
    assert realtime.lambda_handler(event("$connect", "c2", query={"token": token}), context)["statusCode"] == 200
    assert ConnectionItem.get(connection_key("c2"), "META").user_id == user_id
    assert ConnectionItem.get(connection_key("c2"), "META").expires_at > 0


def test_subscribe_only_to_what_one_may_read_and_changes_fan_out(aws, realtime, context) -> None:
    owner, owner_token = token_for(aws, "owner@example.com")
    stranger, stranger_token = token_for(aws, "stranger@example.com")
    playlist = playlists.create_playlist(owner, "Private", "", False, False)
    for connection_id, token in (("own", owner_token), ("str", stranger_token)):
        assert (
            realtime.lambda_handler(event("$connect", connection_id, query={"token": token}), context)["statusCode"]
            == 200
        )
        subscribe = {"action": "subscribe", "playlistId": playlist["id"]}
        realtime.lambda_handler(event("subscribe", connection_id, subscribe), context)
    assert sent_to("own") == [
        {"type": "subscribed", "playlistId": playlist["id"], "version": 0, "snapshotId": playlist["snapshotId"]}
    ]
    assert sent_to("str")[0]["type"] == "error" and sent_to("str")[0]["code"] == "NotFound"

    realtime.lambda_handler(event("subscribe", "own", {"action": "subscribe"}), context)
    assert sent_to("own")[-1]["field"] == "playlistId"
    realtime.lambda_handler(event("$default", "own", {"action": "dance"}), context)
    assert sent_to("own")[-1]["code"] == "InvalidInput"

    # A change as the table's stream carries it reaches the subscriber, not the stranger.
    old = PlaylistItem.get(playlist_key(playlist["id"]), META)
    old_image = old.serialize()
    playlists.update_details(playlist["id"], owner, {"name": "Renamed"}, None)
    new_image = PlaylistItem.get(playlist_key(playlist["id"]), META).serialize()
    record = {
        "eventName": "MODIFY",
        "dynamodb": {
            "Keys": {k: TypeSerializer().serialize(v) for k, v in (("pk", old.pk), ("sk", META))},
            "OldImage": old_image,
            "NewImage": new_image,
            "SequenceNumber": "1",
        },
    }
    fanout = load_function("fanout", aws)
    assert fanout.lambda_handler({"Records": [record]}, context) == {"batchItemFailures": []}
    changed = sent_to("own")[-1]
    assert changed["type"] == "playlist.changed" and changed["version"] == 1
    assert changed["op"] == {"type": "details.updated", "changes": {"name": "Renamed"}}
    assert all(message["type"] == "error" for message in sent_to("str"))

    realtime.lambda_handler(
        event("resync", "own", {"action": "resync", "playlistId": playlist["id"], "fromVersion": 0}), context
    )
    replayed = [m["version"] for m in sent_to("own")[-3:]]
    assert replayed[:2] == [0, 1] and sent_to("own")[-1]["type"] == "resynced"

    realtime.lambda_handler(event("$disconnect", "own"), context)
    assert not list(SubscriptionItem.query(listeners_key(playlist["id"])))
    with pytest.raises(ConnectionItem.DoesNotExist):
        ConnectionItem.get(connection_key("own"), "META")
    assert stranger and owner


def test_management_endpoint_follows_the_stage_url() -> None:
    assert service.management_endpoint("wss://abc.execute-api.eu-west-1.amazonaws.com/prod") == (
        "https://abc.execute-api.eu-west-1.amazonaws.com/prod"
    )
    assert service.management_endpoint("ws://127.0.0.1:3000/dev") == "http://127.0.0.1:3000/dev"
