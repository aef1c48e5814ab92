"""Search through the local gateway on the full demo catalog, and the catalog stream keeping the
index fresh (change data capture)."""

from __future__ import annotations

import uuid

import pytest

from tests.support import http, wait_for

pytestmark = pytest.mark.integration


def _get(devstack, path: str, token: str | None, **query: str):  # type: ignore[no-untyped-def]
    from urllib.parse import urlencode

    return http("GET", f"{devstack.url}{path}?{urlencode(query)}", token=token)


def test_search_needs_a_token(devstack) -> None:
    for path in ("/search", "/search/suggest"):
        status, body, _ = _get(devstack, path, None, q="love")
        assert status == 401 and body["error"]["code"] == "Unauthorized"
        assert _get(devstack, path, "bogus.token.here", q="love")[0] == 401


def test_exact_and_misspelt_title_artist_find_the_song(devstack, demo_tokens) -> None:
    for query in ("lucky man montgomery gentry", "lucky man montgomery gentyr", "lcky man montgomery gentry"):
        status, body, headers = _get(devstack, "/search", demo_tokens["free"], q=query, type="song", limit="5")
        assert status == 200
        top = body["songs"]["items"][0]
        assert (top["title"], top["artist"]["name"]) == ("Lucky Man", "Montgomery Gentry"), query
        assert "engine;dur=" in headers["Server-Timing"]


def test_suggestions_complete_what_is_typed(devstack, demo_tokens) -> None:
    status, body, headers = _get(devstack, "/search/suggest", demo_tokens["free"], q="love st", limit="10")
    assert status == 200
    assert "max-age=60" in headers["Cache-Control"]
    assert "Love Story" in [s["text"] for s in body["suggestions"] if s["type"] == "song"]


def test_bad_search_input_is_422_and_odd_text_is_searched(devstack, demo_tokens) -> None:
    token = demo_tokens["free"]
    for query, field in (
        ({"q": ""}, "q"),
        ({"q": "a" * 201}, "q"),
        ({"q": "x", "type": "video"}, "type"),
        ({"q": "x", "limit": "99"}, "limit"),
    ):
        status, body, _ = _get(devstack, "/search", token, **query)
        assert status == 422 and body["error"]["field"] == field, query
    for text in ('"', "\\", "OR (", '{"a":1}', "🎸", "<script>", "*:*"):
        assert _get(devstack, "/search", token, q=text)[0] == 200, text


def test_catalog_changes_reach_search_through_the_stream(devstack, demo_tokens) -> None:
    table = devstack.resource("dynamodb").Table(devstack.stack_output("CatalogTableName"))
    song_id = uuid.uuid4().hex[:22]
    title = f"Zyzzogeton Serenade {song_id[:6]}"
    item = {
        "pk": f"SONG#{song_id}",
        "sk": "META",
        "entity": "song",
        "id": song_id,
        "title": title,
        "artistId": "A" * 22,
        "artistName": "The Integration Band",
        "albumId": "B" * 22,
        "albumTitle": title,
        "albumType": "single",
        "trackNumber": 1,
        "durationMs": 180000,
        "popularity": 0,
        "audioFeatures": {},
        "gsi1pk": "ARTIST#" + "A" * 22,
        "gsi1sk": title.lower(),
        "gsi2pk": "ALBUM#" + "B" * 22,
        "gsi2sk": "0001",
    }
    table.put_item(Item=item)

    def song_ids(query: str) -> list[str]:
        body = _get(devstack, "/search", demo_tokens["free"], q=query, type="song")[1]
        return [found["id"] for found in body["songs"]["items"]]

    wait_for(lambda: song_ids(title)[:1] == [song_id], timeout=30)
    renamed = f"Renamed Quokka Nocturne {song_id[:6]}"
    table.update_item(
        Key={"pk": f"SONG#{song_id}", "sk": "META"},
        UpdateExpression="SET title = :t",
        ExpressionAttributeValues={":t": renamed},
    )
    wait_for(lambda: song_ids(renamed)[:1] == [song_id], timeout=30)
    table.delete_item(Key={"pk": f"SONG#{song_id}", "sk": "META"})
    wait_for(lambda: song_id not in song_ids(renamed), timeout=30)


def test_health_includes_the_search_engine(devstack) -> None:
    status, body, _ = http("GET", f"{devstack.url}/health")
    assert status == 200 and body["components"]["search"] == "ok"


def test_public_playlists_become_searchable_and_private_ones_leave(devstack, demo_tokens) -> None:
    owner = demo_tokens["premium"]
    name = f"Zanzibar Sunrise Mix {uuid.uuid4().hex[:6]}"
    status, playlist, _ = http("POST", f"{devstack.url}/playlists", {"name": name, "isPublic": True}, token=owner)
    assert status == 201

    def playlist_ids() -> list[str]:
        body = _get(devstack, "/search", demo_tokens["free"], q=name, type="playlist")[1]
        return [item["id"] for item in body["playlists"]["items"]]

    wait_for(lambda: playlist["id"] in playlist_ids(), timeout=30)
    status, _, _ = http("PATCH", f"{devstack.url}/playlists/{playlist['id']}", {"isPublic": False}, token=owner)
    assert status == 200
    wait_for(lambda: playlist["id"] not in playlist_ids(), timeout=30)
