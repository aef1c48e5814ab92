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
    replayed, resynced = sent_to("own")[-2:]  # the two versions in one message, then where it stands
    assert replayed["type"] == "playlist.changes" and replayed["playlistId"] == playlist["id"]
    assert [c["version"] for c in replayed["changes"]] == [0, 1]
    assert replayed["changes"][1]["op"] == {"type": "details.updated", "changes": {"name": "Renamed"}}
    assert resynced == {"type": "resynced", "playlistId": playlist["id"], "version": 1, "latestVersion": 1}

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


def test_a_group_commit_reaches_each_socket_in_one_message_from_the_version_it_has(aws, realtime, context) -> None:
    owner, token = token_for(aws, "owner@example.com")
    playlist = playlists.create_playlist(owner, "Shared", "", False, False)
    pid = playlist["id"]
    fanout = load_function("fanout", aws)
    realtime.lambda_handler(event("$connect", "early", query={"token": token}), context)
    realtime.lambda_handler(event("subscribe", "early", {"action": "subscribe", "playlistId": pid}), context)
    before = PlaylistItem.get(playlist_key(pid), META).serialize()
    for name in ("One", "Two"):
        playlists.update_details(pid, owner, {"name": name}, None)
    realtime.lambda_handler(event("$connect", "late", query={"token": token}), context)  # subscribes at 2
    realtime.lambda_handler(event("subscribe", "late", {"action": "subscribe", "playlistId": pid}), context)
    playlists.update_details(pid, owner, {"name": "Three"}, None)
    after = PlaylistItem.get(playlist_key(pid), META)
    # one record moving the playlist 0 -> 3, as a group commit's does, listing its changes
    after.last_changes = [
        {"version": c["version"], "op": c["op"], "by": c["by"], "at": c["at"]} for c in playlists.changes(pid, 1, 10)
    ]
    record = {"eventName": "MODIFY", "dynamodb": {"OldImage": before, "NewImage": after.serialize()}}
    assert fanout.lambda_handler({"Records": [record]}, context) == {"batchItemFailures": []}

    (group,) = sent_to("early")[1:]  # one message after "subscribed", with all three versions in order
    assert group["type"] == "playlist.changes" and group["playlistId"] == pid
    assert [(c["version"], c["op"]["changes"]["name"]) for c in group["changes"]] == [
        (1, "One"),
        (2, "Two"),
        (3, "Three"),
    ]
    assert group["changes"][2]["snapshotId"] == playlists.snapshot_id(pid, 3)
    (only,) = sent_to("late")[1:]  # it had version 2: the one version it lacks, as a single change
    assert only["type"] == "playlist.changed" and only["version"] == 3


def test_changes_beyond_one_websocket_message_go_in_the_next(monkeypatch) -> None:
    changes_of = [
        service.changed_message("p1", version, {"type": "details.updated", "changes": {"name": "x" * 300}}, "u", "t")
        for version in range(1, 8)
    ]
    one = len(service.encoded({k: v for k, v in changes_of[0].items() if k not in ("type", "playlistId")}))
    monkeypatch.setattr(service, "MAX_CHANGES_BYTES", 3 * one + 10)  # three such changes to a message
    messages = service.in_messages("p1", changes_of)
    assert [m["type"] for m in messages] == ["playlist.changes", "playlist.changes", "playlist.changed"]
    assert [[c["version"] for c in m["changes"]] for m in messages[:2]] == [[1, 2, 3], [4, 5, 6]]
    assert messages[2]["version"] == 7 and messages[2]["playlistId"] == "p1"
    assert all(len(service.encoded(m)) < 3 * one + 100 for m in messages)
    assert service.in_messages("p1", changes_of[:1]) == changes_of[:1]
