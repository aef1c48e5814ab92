"""GET /downloads/sync in-process (moto): after collaborators edit a downloaded playlist, sync answers
exactly the songs to add and delete and the detail changes, from the playlist change log, with a
cursor that makes the next sync answer only what changed since."""

# ruff: noqa: F811 - the fixtures dl and people are imported from downloads_support

from __future__ import annotations

from typing import Any

from backbeat.playlists import service as playlists
from tests.unit.downloads_support import SONGS, People, Stack, call, dl, people, register  # noqa: F401 - fixtures


def collaborative_playlist(owner: str, collaborator: str, songs: list[str]) -> tuple[str, dict[str, str]]:
    """A playlist with `songs` and a collaborator; returns its id and item id per song."""
    playlist_id = playlists.create_playlist(owner, "Road trip", "", False, True)["id"]
    playlists.invite(playlist_id, owner, f"{collaborator}@example.com")
    invitation = playlists.my_invitations(collaborator)["items"][0]
    playlists.accept(collaborator, invitation["invitationId"])
    added = playlists.add_tracks(playlist_id, owner, songs, None, None)
    return playlist_id, dict(zip(songs, added["itemIds"], strict=True))


def sync(dl: Stack, context: Any, user: str, device: str, since: str | None = None) -> dict[str, Any]:
    query = {"deviceId": device, **({"since": since} if since else {})}
    status, body = call(dl.module, context, "GET", "/downloads/sync", user, **query)
    assert status == 200, body
    return body


def test_sync_answers_exactly_what_collaborators_changed_since_the_download(
    dl: Stack, people: People, context: Any
) -> None:
    owner, friend = people.premium, people.other
    playlist_id, items = collaborative_playlist(owner, friend, SONGS[:4])
    device = register(dl.module, context, owner)
    status, answer = call(
        dl.module, context, "POST", "/downloads", owner, {"deviceId": device, "playlistId": playlist_id}
    )
    assert status == 202 and [a["songId"] for a in answer["accepted"]] == SONGS[:4]
    assert answer["playlist"] == {"playlistId": playlist_id, "version": 2}
    assert sync(dl, context, owner, device)["playlists"][0]["add"] == []

    # The collaborator edits: +S5, -S1, +S6 then -S6 (no net change), a second entry of S0 then its
    # first entry removed (S0 stays), a move, and a rename.
    playlists.add_tracks(playlist_id, friend, [SONGS[5]], 0, None)
    playlists.remove_track(playlist_id, friend, items[SONGS[1]], None)
    sixth = playlists.add_tracks(playlist_id, friend, [SONGS[6]], None, None)["itemId"]
    playlists.remove_track(playlist_id, friend, sixth, None)
    playlists.add_tracks(playlist_id, friend, [SONGS[0]], None, None)
    playlists.remove_track(playlist_id, friend, items[SONGS[0]], None)
    playlists.move_tracks(playlist_id, friend, 0, 3, 1, None)
    playlists.update_details(playlist_id, owner, {"name": "Road trip 2"}, None)

    first = sync(dl, context, owner, device)
    [changes] = first["playlists"]
    assert changes["playlistId"] == playlist_id and changes["fromVersion"] == 2 and changes["version"] == 10
    assert changes["add"] == [SONGS[5]] and changes["delete"] == [SONGS[1]]
    assert changes["metadata"] == {"name": "Road trip 2"} and changes["removed"] is False

    # From the new cursor: nothing, then only the next change.
    assert sync(dl, context, owner, device, first["cursor"])["playlists"][0]["add"] == []
    playlists.add_tracks(playlist_id, friend, [SONGS[7]], None, None)
    second = sync(dl, context, owner, device, first["cursor"])["playlists"][0]
    assert (second["fromVersion"], second["add"], second["delete"], second["metadata"]) == (10, [SONGS[7]], [], {})


def test_a_deleted_playlist_is_reported_once_with_all_its_songs_to_delete(
    dl: Stack, people: People, context: Any
) -> None:
    owner = people.premium
    playlist_id, _ = collaborative_playlist(owner, people.other, SONGS[:3])
    device = register(dl.module, context, owner)
    call(dl.module, context, "POST", "/downloads", owner, {"deviceId": device, "songIds": [SONGS[9]]})
    call(dl.module, context, "POST", "/downloads", owner, {"deviceId": device, "playlistId": playlist_id})
    playlists.delete_playlist(playlist_id, owner, None)

    first = sync(dl, context, owner, device)
    [gone] = first["playlists"]
    assert gone["removed"] is True and sorted(gone["delete"]) == sorted(SONGS[:3]) and gone["add"] == []
    assert sync(dl, context, owner, device, first["cursor"])["playlists"] == []


def test_sync_refuses_foreign_devices_and_cursors_and_private_playlists(
    dl: Stack, people: People, context: Any
) -> None:
    owner, stranger = people.premium, people.other
    playlist_id, _ = collaborative_playlist(owner, people.free, SONGS[:2])
    mine, theirs = register(dl.module, context, owner), register(dl.module, context, stranger)
    other_of_mine = register(dl.module, context, owner, name="Tablet")

    assert call(dl.module, context, "GET", "/downloads/sync", stranger, deviceId=mine)[0] == 404
    status, body = call(dl.module, context, "GET", "/downloads/sync", owner, deviceId=mine, since="garbage!")
    assert status == 422 and body["error"]["field"] == "since"
    cursor = sync(dl, context, owner, other_of_mine)["cursor"]
    status, body = call(dl.module, context, "GET", "/downloads/sync", owner, deviceId=mine, since=cursor)
    assert status == 422 and "another device" in body["error"]["message"]

    # A private playlist of someone else cannot be downloaded (nor is its existence revealed).
    status, body = call(
        dl.module, context, "POST", "/downloads", stranger, {"deviceId": theirs, "playlistId": playlist_id}
    )
    assert status == 404 and body["error"]["code"] == "NotFound"
    assert sync(dl, context, stranger, theirs)["playlists"] == []
