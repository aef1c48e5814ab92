"""GET /me/recently-played in-process: the caller's plays (from the JWT's `sub`, never the query),
newest first, with their songs as GET /songs/{id} shows them, cursor-paged; and `backbeat plays
list`, the operators' view of the same records with their verdicts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from backbeat.catalog.models import bind_catalog_table, new_song
from backbeat.catalog.service import get_song
from backbeat.identity.models import UserItem, bind_users_table
from backbeat.ids import base62_id
from tests.support import api_event
from tests.unit.conftest import load_function
from tests.unit.test_play_records import LISTENER, T0, consumer, deliver, listen, song, table

__all__ = ["consumer", "table"]  # fixtures
SONGS = [song(name) for name in "abcd"]


@pytest.fixture
def listening(aws, consumer, context) -> Any:  # type: ignore[no-untyped-def]
    bind_catalog_table(aws.tables["CatalogTable"])
    for index, song_id in enumerate(SONGS[:3]):  # the fourth song is not (or no longer) in the catalog
        new_song(
            song_id,
            title=f"Song {index}",
            artist_id=base62_id("artist", "a"),
            artist_name="The Band",
            album_id=base62_id("album", "x"),
            album_title="Album",
            album_type="album",
            track_number=index + 1,
            duration_ms=240_000,
        ).save()
    plays = [
        listen(45, T0, song_id=SONGS[0]),
        listen(10, T0 + timedelta(minutes=1), ending="skip", song_id=SONGS[1]),
        listen(200, T0 + timedelta(minutes=2), song_id=SONGS[2]),
        listen(60, T0 + timedelta(minutes=6), song_id=SONGS[3]),
    ]
    deliver(consumer, context, [e for events in plays for e in events])
    deliver(consumer, context, listen(50, T0, song_id=SONGS[0], user="someone-else"))
    return load_function("listening", aws), [str(events[0].playId) for events in plays]


def call(module: Any, context: Any, user: str | None, **query: str) -> tuple[int, Any]:
    event = api_event("GET", "/me/recently-played", query=query or None, claims={"sub": user} if user else None)
    response = module.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_the_last_plays_newest_first_with_their_songs_and_verdicts(listening, context) -> None:  # type: ignore[no-untyped-def]
    module, play_ids = listening
    status, body = call(module, context, LISTENER)
    assert status == 200, body
    assert [item["playId"] for item in body["items"]] == play_ids[::-1]
    newest, third, short, first = body["items"]
    assert newest["track"] is None, "a song no longer in the catalog still shows its play"
    assert third["track"] == get_song(SONGS[2]) and third["track"]["title"] == "Song 2"
    assert third["playedAt"] == "2026-11-26T09:02:00.000Z" and third["playedMs"] == 200_000
    assert third["context"] == {"type": "playlist", "id": "3cEYpjA9oz9GiPac4AsH4n"}
    assert (short["billable"], short["reason"], short["ended"]) == (False, "short", "skipped")
    assert (first["billable"], first["reason"]) == (True, "billable")
    assert body["cursors"] == {"before": None} and body["next"] is None


def test_pages_follow_the_cursor_to_the_end(listening, context) -> None:  # type: ignore[no-untyped-def]
    module, play_ids = listening
    seen: list[str] = []
    status, page = call(module, context, LISTENER, limit="3")
    assert (
        status == 200
        and len(page["items"]) == 3
        and page["next"] == f"/me/recently-played?limit=3&before={page['cursors']['before']}"
    )
    seen += [item["playId"] for item in page["items"]]
    status, page = call(module, context, LISTENER, limit="3", before=page["cursors"]["before"])
    assert status == 200
    seen += [item["playId"] for item in page["items"]]
    assert seen == play_ids[::-1] and page["cursors"]["before"] is None


def test_each_listener_sees_only_their_own_plays(listening, context) -> None:  # type: ignore[no-untyped-def]
    module, _ = listening
    status, body = call(module, context, "someone-else")
    assert status == 200 and [item["track"]["id"] for item in body["items"]] == [SONGS[0]]
    assert call(module, context, "nobody-yet") == (
        200,
        {"items": [], "limit": 20, "cursors": {"before": None}, "next": None},
    )


def test_bad_requests_name_the_problem(listening, context) -> None:  # type: ignore[no-untyped-def]
    module, _ = listening
    assert call(module, context, None)[0] == 401
    for query in ({"limit": "0"}, {"limit": "51"}, {"limit": "many"}):
        status, body = call(module, context, LISTENER, **query)
        assert status == 422 and body["error"]["code"] == "InvalidInput", body
    status, body = call(module, context, LISTENER, before="not-a-cursor")
    assert (status, body["error"]["field"]) == (422, "before")


def test_plays_list_prints_a_listeners_plays_with_their_verdicts(
    aws: Any, listening: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from backbeat_ops import cli

    bind_users_table(aws.tables["UsersTable"])
    UserItem(user_id=LISTENER, email="listener@example.com").save()
    outputs = {"UsersTableName": aws.tables["UsersTable"], "PlaysTableName": aws.tables["PlaysTable"]}
    monkeypatch.setattr(cli, "stack_outputs", lambda stack: outputs)
    _, play_ids = listening

    assert cli.main(["plays", "list", "--user", "Listener@example.com", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["playId"] for line in lines] == play_ids[::-1]
    assert [(line["songId"], line["playedMs"], line["billable"], line["reason"]) for line in lines][2:] == [
        (SONGS[1], 10_000, False, "short"),
        (SONGS[0], 45_000, True, "billable"),
    ]

    assert cli.main(["plays", "list", "--user", "listener@example.com", "--limit", "1"]) == 0
    (text,) = capsys.readouterr().out.splitlines()
    assert play_ids[3] in text and "billable (billable)" in text

    assert cli.main(["plays", "list", "--user", "stranger@example.com"]) == 1
    assert "no user with email stranger@example.com" in capsys.readouterr().err
