"""Playlists in-process (moto in memory): edits, versions, the change log, access rules, bad input."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from backbeat.catalog.models import bind_catalog_table, new_song
from backbeat.identity.models import UserItem, bind_users_table
from backbeat.ids import base62_id
from backbeat.playlists import service
from backbeat.playlists.models import PlaylistItem, playlist_key
from backbeat_client.replay import replay
from tests.support import api_event
from tests.unit.conftest import load_function

OWNER, FRIEND, STRANGER = "owner-sub", "friend-sub", "stranger-sub"
SONGS = [base62_id("song", str(n)) for n in range(8)]


@pytest.fixture
def playlists(aws) -> Any:  # type: ignore[no-untyped-def]
    module = load_function("playlists", aws)
    bind_catalog_table(aws.tables["CatalogTable"])
    bind_users_table(aws.tables["UsersTable"])
    for index, song_id in enumerate(SONGS):
        new_song(
            song_id,
            title=f"Song {index}",
            artist_id="a",
            artist_name="A",
            album_id="b",
            album_title="B",
            album_type="single",
            duration_ms=1000,
        ).save()
    for user_id in (OWNER, FRIEND, STRANGER):
        UserItem(user_id=user_id, email=f"{user_id}@example.com").save()
    return module


def call(module: Any, context: Any, method: str, path: str, user: str | None, body: Any = None, **query: str):  # type: ignore[no-untyped-def]
    event = api_event(method, path, body=body, query=query or None, claims={"sub": user} if user else None)
    response = module.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def new_playlist(module: Any, context: Any, **details: Any) -> str:
    status, body = call(module, context, "POST", "/playlists", OWNER, {"name": "Mix", **details})
    assert status == 201, body
    return str(body["id"])


def add_concurrently(pid: str, editors: int, per_editor: int) -> tuple[list[dict[str, Any]], list[Exception]]:
    """`editors` threads each adding `per_editor` songs to the top of the playlist as its owner:
    every edit's answer, and every exception an edit raised."""
    results: list[dict[str, Any]] = []
    failures: list[Exception] = []
    lock = threading.Lock()

    def editor(index: int) -> None:
        for n in range(per_editor):
            try:
                result = service.add_tracks(pid, OWNER, [SONGS[(index + n) % len(SONGS)]], 0, None)
            except Exception as error:  # the caller's assertion reports it
                with lock:
                    failures.append(error)
                continue
            with lock:
                results.append(result)

    threads = [threading.Thread(target=editor, args=(index,)) for index in range(editors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, failures


def test_edits_bump_the_version_by_one_and_the_log_replays_to_the_same_list(playlists, context) -> None:
    pid = new_playlist(playlists, context)
    base = f"/playlists/{pid}/tracks"
    assert call(playlists, context, "POST", base, OWNER, {"songIds": SONGS[:4]})[1]["version"] == 1
    assert call(playlists, context, "POST", base, OWNER, {"songId": SONGS[4], "position": 0})[1]["version"] == 2
    status, added = call(playlists, context, "POST", base, OWNER, {"songId": SONGS[5], "position": 3})
    assert status == 201 and added["version"] == 3
    assert (
        call(playlists, context, "PUT", base, OWNER, {"rangeStart": 0, "insertBefore": 6, "rangeLength": 2})[0] == 200
    )
    assert call(playlists, context, "DELETE", f"{base}/{added['itemId']}", OWNER)[1]["version"] == 5

    status, playlist = call(playlists, context, "GET", f"/playlists/{pid}", OWNER)
    assert status == 200 and playlist["version"] == 5 and playlist["tracks"]["total"] == 5
    # S4 S0 S1 S5 S2 S3 -> move [S4 S0] to the end -> S1 S5 S2 S3 S4 S0 -> remove S5
    assert [item["songId"] for item in playlist["tracks"]["items"]] == [SONGS[i] for i in (1, 2, 3, 4, 0)]
    log = service.changes(pid, 0, 100)
    assert [change["version"] for change in log] == [0, 1, 2, 3, 4, 5]
    state = replay([(change["version"], change["op"]) for change in log])
    assert state["items"] == playlist["tracks"]["items"]

    status, page = call(playlists, context, "GET", f"/playlists/{pid}", OWNER, limit="2", offset="3")
    assert [item["songId"] for item in page["tracks"]["items"]] == [SONGS[4], SONGS[0]]


def test_a_write_against_an_old_version_is_a_409(playlists, context) -> None:
    pid = new_playlist(playlists, context)
    base = f"/playlists/{pid}/tracks"
    first = call(playlists, context, "POST", base, OWNER, {"songId": SONGS[0], "ifVersion": 0})[1]
    status, error = call(playlists, context, "POST", base, OWNER, {"songId": SONGS[1], "ifVersion": 0})
    assert status == 409 and error["error"]["code"] == "Conflict"
    assert (
        call(playlists, context, "POST", base, OWNER, {"songId": SONGS[1], "snapshotId": first["snapshotId"]})[0] == 201
    )
    status, _ = call(playlists, context, "DELETE", f"{base}/{first['itemId']}", OWNER, ifVersion="1")
    assert status == 409
    assert call(playlists, context, "GET", f"/playlists/{pid}", OWNER)[1]["version"] == 2


def test_who_may_read_edit_and_manage(playlists, context) -> None:
    pid = new_playlist(playlists, context, isCollaborative=True)
    path = f"/playlists/{pid}"
    for method, suffix, body in (
        ("GET", "", None),
        ("POST", "/tracks", {"songId": SONGS[0]}),
        ("PATCH", "", {"name": "mine now"}),
        ("DELETE", "", None),
    ):
        status, error = call(playlists, context, method, path + suffix, STRANGER, body)
        assert status == 404, (method, suffix)
        assert error["error"]["code"] == "NotFound"
    invite = {"email": f"{FRIEND}@example.com"}
    status, invited = call(playlists, context, "POST", f"{path}/collaborators", OWNER, invite)
    assert status == 202 and "userId" not in invited
    assert call(playlists, context, "POST", f"{path}/tracks", FRIEND, {"songId": SONGS[0]})[0] == 404  # not yet
    invitation = call(playlists, context, "GET", "/me/invitations", FRIEND)[1]["items"][0]
    status, accepted = call(playlists, context, "POST", f"/me/invitations/{invitation['invitationId']}/accept", FRIEND)
    assert status == 200 and accepted["userId"] == FRIEND
    assert call(playlists, context, "POST", f"{path}/tracks", FRIEND, {"songId": SONGS[0]})[0] == 201
    assert call(playlists, context, "DELETE", path, FRIEND)[0] == 403
    assert (
        call(playlists, context, "POST", f"{path}/collaborators", FRIEND, {"email": f"{STRANGER}@example.com"})[0]
        == 403
    )
    assert [p["id"] for p in call(playlists, context, "GET", "/me/playlists", FRIEND)[1]["items"]] == [pid]

    assert call(playlists, context, "PATCH", path, OWNER, {"isPublic": True})[0] == 200
    assert call(playlists, context, "GET", path, STRANGER)[0] == 200
    assert call(playlists, context, "POST", f"{path}/tracks", STRANGER, {"songId": SONGS[1]})[0] == 403

    assert call(playlists, context, "DELETE", f"{path}/collaborators/{FRIEND}", OWNER)[0] == 200
    assert call(playlists, context, "POST", f"{path}/tracks", FRIEND, {"songId": SONGS[1]})[0] == 403
    assert call(playlists, context, "DELETE", path, OWNER)[0] == 200
    assert call(playlists, context, "GET", path, OWNER)[0] == 404


@pytest.mark.parametrize(
    ("method", "suffix", "body", "status", "field"),
    [
        ("POST", "/tracks", {"songId": SONGS[0], "position": -1}, 422, "position"),
        ("POST", "/tracks", {"songId": SONGS[0], "position": 5}, 422, "position"),
        ("POST", "/tracks", {}, 422, "songId"),
        ("POST", "/tracks", {"songId": SONGS[0], "songIds": [SONGS[1]]}, 422, "songId"),
        ("POST", "/tracks", {"songIds": []}, 422, "songIds"),
        ("POST", "/tracks", {"songId": SONGS[0], "extra": 1}, 422, "extra"),
        ("POST", "/tracks", {"songId": "Z" * 22}, 404, None),
        ("POST", "/tracks", {"songId": "not a song"}, 404, None),
        ("POST", "/tracks", "{not json", 422, "body"),
        ("POST", "/tracks", {"songId": SONGS[0], "snapshotId": "zz"}, 422, "snapshotId"),
        ("PUT", "/tracks", {"rangeStart": 3, "insertBefore": 0}, 422, "rangeStart"),
        ("PUT", "/tracks", {"rangeStart": 0, "insertBefore": -2}, 422, "insertBefore"),
        ("PUT", "/tracks", {"insertBefore": 0}, 422, "rangeStart"),
        ("PUT", "/tracks", {"rangeStart": 0, "insertBefore": 0, "rangeLength": 0}, 422, "rangeLength"),
        ("PATCH", "", {}, 422, "body"),
        ("PATCH", "", {"name": ""}, 422, "name"),
        ("PATCH", "", {"isPublic": "yes"}, 422, "isPublic"),
        ("POST", "/collaborators", {"email": "nobody"}, 422, "email"),
        ("DELETE", "/tracks/" + "Q" * 22, None, 404, None),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(playlists, context, method, suffix, body, status, field) -> None:
    pid = new_playlist(playlists, context)
    got, error = call(playlists, context, method, f"/playlists/{pid}{suffix}", OWNER, body)
    assert got == status, error
    if field:
        assert error["error"]["field"] == field


def test_unknown_playlist_is_404_and_create_needs_a_name(playlists, context) -> None:
    for path in ("/playlists/" + "A" * 22, "/playlists/nope"):
        assert call(playlists, context, "GET", path, OWNER)[0] == 404
        assert call(playlists, context, "POST", path + "/tracks", OWNER, {"songId": SONGS[0]})[0] == 404
    status, error = call(playlists, context, "POST", "/playlists", OWNER, {"description": "x"})
    assert status == 422 and error["error"]["field"] == "name"
    assert call(playlists, context, "GET", "/playlists/" + "A" * 22, None)[0] == 401


def test_a_playlist_holds_at_most_10000_tracks(playlists, context) -> None:
    pid = new_playlist(playlists, context)
    PlaylistItem(pk=playlist_key(pid), sk="META").update(actions=[PlaylistItem.track_count.set(9_999)])
    status, error = call(playlists, context, "POST", f"/playlists/{pid}/tracks", OWNER, {"songIds": SONGS[:2]})
    assert status == 422 and "10000" in error["error"]["message"]


def test_my_playlists_pages_read_only_what_the_page_needs(playlists, context) -> None:
    """Seven playlists in pages of three: every playlist once, the same total on every page, and each
    page reads the memberships up to its own end (the total is counted, not read)."""
    from backbeat.playlists.models import MemberItem

    created = {new_playlist(playlists, context, name=f"Mix {n}") for n in range(7)}
    connection = MemberItem._get_connection().connection
    read: list[int] = []

    def answered(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "Query" and "Items" in parsed:
            read.append(len(parsed["Items"]))

    connection.client.meta.events.register("after-call.dynamodb.Query", answered)
    try:
        pages = [
            call(playlists, context, "GET", "/me/playlists", OWNER, limit="3", offset=str(o))[1] for o in (0, 3, 6)
        ]
    finally:
        connection.client.meta.events.unregister("after-call.dynamodb.Query", answered)
    assert [len(page["items"]) for page in pages] == [3, 3, 1]
    assert {item["id"] for page in pages for item in page["items"]} == created
    assert [page["total"] for page in pages] == [7, 7, 7]
    assert read == [3, 6, 7]  # the page's memberships up to its end; the counts read none
    past_the_end = call(playlists, context, "GET", "/me/playlists", OWNER, offset="7")[1]
    assert past_the_end["items"] == [] and past_the_end["total"] == 7
