"""A write retried with the same Idempotency-Key is applied once and answered as the first time."""

from __future__ import annotations

import json
from typing import Any

import pytest

from backbeat.playlists import service
from tests.support import api_event
from tests.unit.conftest import load_function

ANN = {"sub": "ann", "token_use": "access", "client_id": "c"}
BOB = {"sub": "bob", "token_use": "access", "client_id": "c"}


@pytest.fixture
def playlists(aws: Any) -> Any:
    return load_function("playlists", aws)


def _post(module: Any, context: Any, path: str, body: Any, claims: dict[str, str], key: str | None) -> tuple[int, Any]:
    event = api_event("POST", path, body=body, claims=claims)
    if key is not None:
        event["headers"]["idempotency-key"] = key
    response = module.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def _mine(user: str) -> list[dict[str, Any]]:
    return list(service.my_playlists(user, limit=50, offset=0)["items"])


def test_a_retried_create_with_the_same_key_creates_one_playlist(playlists: Any, context: Any) -> None:
    first = _post(playlists, context, "/playlists", {"name": "Road trip"}, ANN, "k-1")
    retry = _post(playlists, context, "/playlists", {"name": "Road trip"}, ANN, "k-1")
    assert first[0] == retry[0] == 201
    assert retry[1]["id"] == first[1]["id"]
    assert [p["id"] for p in _mine("ann")] == [first[1]["id"]]

    # Another key, another user with the same key, or no key at all: each is a new playlist.
    assert _post(playlists, context, "/playlists", {"name": "Road trip"}, ANN, "k-2")[1]["id"] != first[1]["id"]
    assert _post(playlists, context, "/playlists", {"name": "Road trip"}, BOB, "k-1")[1]["id"] != first[1]["id"]
    assert _post(playlists, context, "/playlists", {"name": "Road trip"}, ANN, None)[0] == 201
    assert len(_mine("ann")) == 3 and len(_mine("bob")) == 1


def test_a_key_reused_for_a_different_request_is_refused(playlists: Any, context: Any) -> None:
    assert _post(playlists, context, "/playlists", {"name": "One"}, ANN, "k-9")[0] == 201
    status, body = _post(playlists, context, "/playlists", {"name": "Two"}, ANN, "k-9")
    assert status == 422 and body["error"]["field"] == "Idempotency-Key"
    assert [p["name"] for p in _mine("ann")] == ["One"]
    status, body = _post(playlists, context, "/playlists", {"name": "Three"}, ANN, "has space")
    assert status == 422 and body["error"]["field"] == "Idempotency-Key"


def test_a_retried_add_tracks_adds_them_once(playlists: Any, context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    created = _post(playlists, context, "/playlists", {"name": "Mix"}, ANN, None)[1]
    added: list[list[str]] = []

    def add_tracks(playlist_id: str, caller: str, song_ids: list[str], position: Any, expected: Any) -> dict[str, Any]:
        added.append(song_ids)
        return {"playlistId": playlist_id, "version": len(added), "added": song_ids}

    monkeypatch.setattr(playlists.service, "add_tracks", add_tracks)  # the catalog is empty in unit tests
    path = f"/playlists/{created['id']}/tracks"
    first = _post(playlists, context, path, {"songIds": ["s1", "s2"]}, ANN, "add-1")
    retry = _post(playlists, context, path, {"songIds": ["s1", "s2"]}, ANN, "add-1")
    assert first == retry == (201, {"playlistId": created["id"], "version": 1, "added": ["s1", "s2"]})
    assert added == [["s1", "s2"]]


def _send(module: Any, context: Any, method: str, path: str, body: Any, key: str) -> tuple[int, Any]:
    event = api_event(method, path, body=body, claims=ANN)
    event["headers"]["idempotency-key"] = key
    response = module.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_a_retried_remove_or_move_is_applied_once(
    playlists: Any, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit answered 503 (the function timed out after its commit) is retried with the same key:
    the retry gets the first answer, not a second version (nor a 404 for the item already removed)."""
    created = _post(playlists, context, "/playlists", {"name": "Mix"}, ANN, None)[1]
    edits: list[tuple[str, Any]] = []

    def remove_track(playlist_id: str, caller: str, item_id: str, expected: Any) -> dict[str, Any]:
        edits.append(("remove", item_id))
        return {"playlistId": playlist_id, "version": len(edits)}

    def move_tracks(playlist_id: str, caller: str, start: int, before: int, length: int, expected: Any) -> Any:
        edits.append(("move", (start, before, length)))
        return {"playlistId": playlist_id, "version": len(edits)}

    monkeypatch.setattr(playlists.service, "remove_track", remove_track)  # the catalog is empty in unit tests
    monkeypatch.setattr(playlists.service, "move_tracks", move_tracks)
    tracks = f"/playlists/{created['id']}/tracks"
    removed = _send(playlists, context, "DELETE", f"{tracks}/item-1", None, "rm-1")
    assert _send(playlists, context, "DELETE", f"{tracks}/item-1", None, "rm-1") == removed
    assert removed == (200, {"playlistId": created["id"], "version": 1})
    move = {"rangeStart": 0, "insertBefore": 2}
    moved = _send(playlists, context, "PUT", tracks, move, "mv-1")
    assert _send(playlists, context, "PUT", tracks, move, "mv-1") == moved
    assert moved == (200, {"playlistId": created["id"], "version": 2})
    assert edits == [("remove", "item-1"), ("move", (0, 2, 1))]
    # The same key for another item is refused, not answered with the first removal.
    status, body = _send(playlists, context, "DELETE", f"{tracks}/item-2", None, "rm-1")
    assert status == 422 and body["error"]["field"] == "Idempotency-Key"
