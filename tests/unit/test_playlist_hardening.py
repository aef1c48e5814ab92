"""Playlist weaknesses found when probed, kept fixed: strict numbers, no control characters, resync
within the log, invitations instead of silent collaborators, and concurrent editors taking turns."""

from __future__ import annotations

import time

import pytest

from backbeat.config import PlaylistEditSettings
from backbeat.playlists import edits, service, turns
from backbeat.playlists.models import TURN, TurnItem, playlist_key
from backbeat.playlists.views import changes
from devstack.moto_patches import patch_moto_dynamodb_isolation
from tests.unit.test_playlists import FRIEND, OWNER, SONGS, STRANGER, add_concurrently, call, new_playlist, playlists  # noqa: F401
from tests.unit.test_realtime import event, realtime, sent_to, token_for  # noqa: F401

NOT_NUMBERS = [
    ("POST", "/tracks", {"songId": SONGS[0], "position": True}, "position"),
    ("POST", "/tracks", {"songId": SONGS[0], "position": "0"}, "position"),
    ("POST", "/tracks", {"songId": SONGS[0], "position": 0.0}, "position"),
    ("POST", "/tracks", {"songId": SONGS[0], "ifVersion": True}, "ifVersion"),
    ("PUT", "/tracks", {"rangeStart": False, "insertBefore": 1}, "rangeStart"),
    ("PUT", "/tracks", {"rangeStart": 0, "insertBefore": True}, "insertBefore"),
    ("PUT", "/tracks", {"rangeStart": 0, "insertBefore": 1, "rangeLength": True}, "rangeLength"),
]

UNPRINTABLE = [
    ({"name": "Mix\x00tape"}, "name"),
    ({"name": "Mix\x1b[31mtape"}, "name"),
    ({"name": "Mix\ntape"}, "name"),
    ({"name": "Mix\ud800"}, "name"),
    ({"name": "Mix", "description": "bad\x00byte"}, "description"),
    ({"name": "Mix", "description": "bell\x07"}, "description"),
]


def test_booleans_and_strings_are_not_numbers(playlists, context) -> None:  # noqa: F811
    pid = new_playlist(playlists, context)
    call(playlists, context, "POST", f"/playlists/{pid}/tracks", OWNER, {"songIds": SONGS[:3]})
    for method, suffix, body, field in NOT_NUMBERS:
        status, error = call(playlists, context, method, f"/playlists/{pid}{suffix}", OWNER, body)
        assert status == 422, (body, error)
        assert error["error"]["field"] == field, (body, error)
    assert call(playlists, context, "GET", f"/playlists/{pid}", OWNER)[1]["version"] == 1  # nothing else written


def test_control_characters_in_names_and_descriptions_are_refused(playlists, context) -> None:  # noqa: F811
    pid = new_playlist(playlists, context)
    for body, field in UNPRINTABLE:
        status, error = call(playlists, context, "POST", "/playlists", OWNER, body)
        assert status == 422 and error["error"]["field"] == field, (body, error)
        assert "control characters" in error["error"]["message"] or "unicode" in error["error"]["message"], error
        status, error = call(playlists, context, "PATCH", f"/playlists/{pid}", OWNER, body)
        assert status == 422 and error["error"]["field"] == field, (body, error)
    assert call(playlists, context, "GET", f"/playlists/{pid}", OWNER)[1]["name"] == "Mix"
    assert [p["name"] for p in call(playlists, context, "GET", "/me/playlists", OWNER)[1]["items"]] == ["Mix"]


def test_a_description_keeps_its_line_breaks_and_a_name_its_emoji(playlists, context) -> None:  # noqa: F811
    body = {"name": "Road trip 🚗‍💨", "description": "Side A\nSide B\tbonus"}
    status, created = call(playlists, context, "POST", "/playlists", OWNER, body)
    assert status == 201 and created["name"] == body["name"] and created["description"] == body["description"]


def test_resync_from_a_version_never_reached_is_an_error_naming_the_head(aws, realtime, context) -> None:  # noqa: F811
    owner, token = token_for(aws, "resync@example.com")
    playlist = service.create_playlist(owner, "Mine", "", False, False)
    service.update_details(playlist["id"], owner, {"name": "Renamed"}, None)
    realtime.lambda_handler(event("$connect", "re", query={"token": token}), context)
    for huge in (10**30, 10**10, 3):
        resync = {"action": "resync", "playlistId": playlist["id"], "fromVersion": huge}
        assert realtime.lambda_handler(event("resync", "re", resync), context)["statusCode"] == 200
        answer = sent_to("re")[-1]
        assert answer["type"] == "error" and answer["field"] == "fromVersion", answer
        assert "version 1" in answer["message"]
    resync = {"action": "resync", "playlistId": playlist["id"], "fromVersion": 2}  # up to date: nothing to replay
    realtime.lambda_handler(event("resync", "re", resync), context)
    assert sent_to("re")[-1] == {"type": "resynced", "playlistId": playlist["id"], "version": 1, "latestVersion": 1}
    assert changes(playlist["id"], 10**30, 10) == []


def test_inviting_reveals_nothing_and_needs_consent(playlists, context) -> None:  # noqa: F811
    pid = new_playlist(playlists, context, isCollaborative=True)
    path = f"/playlists/{pid}/collaborators"
    known = call(playlists, context, "POST", path, OWNER, {"email": f"{FRIEND}@example.com"})
    unknown = call(playlists, context, "POST", path, OWNER, {"email": "nobody-at-all@example.com"})
    assert known[0] == unknown[0] == 202
    assert set(known[1]) == set(unknown[1]) and "userId" not in known[1]
    # No collaborator yet: the playlist is not in the friend's list, nor editable, nor a change in the log.
    assert call(playlists, context, "GET", "/me/playlists", FRIEND)[1]["items"] == []
    assert call(playlists, context, "GET", f"/playlists/{pid}", OWNER)[1]["collaborators"] == []
    assert call(playlists, context, "GET", f"/playlists/{pid}", OWNER)[1]["version"] == 0
    assert call(playlists, context, "POST", f"/playlists/{pid}/tracks", FRIEND, {"songId": SONGS[0]})[0] == 404

    invitations = call(playlists, context, "GET", "/me/invitations", FRIEND)[1]["items"]
    assert [(i["playlistId"], i["playlistName"], i["ownerId"]) for i in invitations] == [(pid, "Mix", OWNER)]
    invitation_id = invitations[0]["invitationId"]
    assert call(playlists, context, "GET", "/me/invitations", STRANGER)[1]["items"] == []
    assert call(playlists, context, "POST", f"/me/invitations/{invitation_id}/accept", STRANGER)[0] == 404

    status, accepted = call(playlists, context, "POST", f"/me/invitations/{invitation_id}/accept", FRIEND)
    assert status == 200 and accepted["version"] == 1 and accepted["userId"] == FRIEND
    assert call(playlists, context, "POST", f"/me/invitations/{invitation_id}/accept", FRIEND)[0] == 404  # used
    assert call(playlists, context, "GET", "/me/invitations", FRIEND)[1]["items"] == []
    assert [p["id"] for p in call(playlists, context, "GET", "/me/playlists", FRIEND)[1]["items"]] == [pid]
    assert call(playlists, context, "POST", f"/playlists/{pid}/tracks", FRIEND, {"songId": SONGS[0]})[0] == 201
    log = changes(pid, 0, 10)
    assert [c["op"]["type"] for c in log] == ["playlist.created", "collaborator.added", "tracks.added"]
    assert log[1]["op"] == {"type": "collaborator.added", "userId": FRIEND} and log[1]["by"] == FRIEND


def test_a_declined_invitation_is_gone_and_only_the_owner_invites(playlists, context) -> None:  # noqa: F811
    pid = new_playlist(playlists, context, isCollaborative=True)
    path = f"/playlists/{pid}/collaborators"
    assert call(playlists, context, "POST", path, FRIEND, {"email": f"{STRANGER}@example.com"})[0] == 404
    assert call(playlists, context, "POST", path, OWNER, {"email": f"{STRANGER}@example.com"})[0] == 202
    invitation_id = call(playlists, context, "GET", "/me/invitations", STRANGER)[1]["items"][0]["invitationId"]
    status, declined = call(playlists, context, "POST", f"/me/invitations/{invitation_id}/decline", STRANGER)
    assert status == 200 and declined["status"] == "declined"
    assert call(playlists, context, "POST", f"/me/invitations/{invitation_id}/accept", STRANGER)[0] == 404
    assert call(playlists, context, "GET", f"/playlists/{pid}", OWNER)[1]["collaborators"] == []
    assert call(playlists, context, "GET", f"/playlists/{pid}", OWNER)[1]["version"] == 0


def test_concurrent_editors_take_turns_with_gapless_versions_and_no_lost_edit(playlists, context, monkeypatch) -> None:  # noqa: F811
    patch_moto_dynamodb_isolation()  # DynamoDB's isolation, which moto's in-memory backend lacks alone
    # Generous limits: this test is about order and completeness, never about speed on a busy machine.
    monkeypatch.setattr(edits, "EDIT_DEADLINE_SECONDS", 300.0)
    monkeypatch.setattr(turns, "TURN_LEASE_SECONDS", 300.0)
    monkeypatch.setattr(edits, "settings", PlaylistEditSettings(playlist_edit_mode="turns"))
    pid = new_playlist(playlists, context)
    editors, per_editor = 6, 5
    results, failures = add_concurrently(pid, editors, per_editor)
    assert failures == []
    versions = sorted(result["version"] for result in results)
    assert versions == list(range(1, editors * per_editor + 1))  # each edit its own version, no gap
    log = {change["version"]: change["op"] for change in changes(pid, 1, 100)}
    assert all(log[result["version"]]["items"][0]["itemId"] == result["itemId"] for result in results)
    playlist = service.get_playlist(pid, OWNER, limit=100, offset=0)
    assert {item["itemId"] for item in playlist["tracks"]["items"]} == {result["itemId"] for result in results}
    turn = TurnItem.get(playlist_key(pid), TURN)
    assert int(turn.serving) == int(turn.next_ticket) == editors * per_editor  # every turn was handed on


def test_a_turn_whose_holder_went_silent_is_skipped(playlists, context, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setattr(edits, "settings", PlaylistEditSettings(playlist_edit_mode="turns"))
    pid = new_playlist(playlists, context)
    stalled = turns.take_turn(pid, time.monotonic() + 5)  # drawn and never handed on (a crashed edit)
    monkeypatch.setattr(turns, "TURN_LEASE_SECONDS", 0.2)
    result = service.add_tracks(pid, OWNER, [SONGS[0]], None, None)
    assert result["version"] == 1
    turn = TurnItem.get(playlist_key(pid), TURN)
    assert int(turn.serving) == stalled.ticket + 2
    stalled.release()  # too late: the queue moved on, and nothing changes
    assert int(TurnItem.get(playlist_key(pid), TURN).serving) == stalled.ticket + 2


def test_an_edit_of_a_deleted_playlist_waits_for_no_turn(playlists, context) -> None:  # noqa: F811
    pid = new_playlist(playlists, context)
    assert call(playlists, context, "DELETE", f"/playlists/{pid}", OWNER)[0] == 200
    status, error = call(playlists, context, "POST", f"/playlists/{pid}/tracks", OWNER, {"songId": SONGS[0]})
    assert status == 404, error
    with pytest.raises(TurnItem.DoesNotExist):
        TurnItem.get(playlist_key(pid), TURN)
