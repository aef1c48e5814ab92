"""A new listener's first minutes: sign up, log in, see the profile, browse a song, its artist and album."""

from __future__ import annotations

import uuid

import pytest

from backbeat_ops.dataset import load_catalog
from tests.support import CATALOG_DIR, http, needs_demo_audio

pytestmark = pytest.mark.e2e


def test_new_listener_browses_the_catalog(devstack) -> None:
    url = devstack.url
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    assert http("GET", f"{url}/me")[0] == 401

    status, user, _ = http("POST", f"{url}/auth/signup", {"email": email, "password": "first-day-listening"})
    assert status == 201
    status, tokens, _ = http("POST", f"{url}/auth/login", {"email": email, "password": "first-day-listening"})
    assert status == 200 and tokens["expiresIn"] > 0
    token = tokens["accessToken"]

    assert http("GET", f"{url}/me", token=token)[1] == {"userId": user["userId"], "email": email, "tier": "free"}

    song = next(s for s in load_catalog(CATALOG_DIR).songs if s.title == "Lucky Man")
    status, body, _ = http("GET", f"{url}/songs/{song.id}", token=token)
    assert status == 200 and body["artist"]["name"] == "Montgomery Gentry"

    status, artist, _ = http("GET", f"{url}/artists/{body['artist']['id']}?limit=50", token=token)
    assert status == 200 and artist["songs"]["total"] <= 50
    assert song.id in {item["id"] for item in artist["songs"]["items"]}
    status, album, _ = http("GET", f"{url}/albums/{body['album']['id']}", token=token)
    assert status == 200 and album["tracks"]["items"][0]["title"] == "Lucky Man"

    # The id token works too (API Gateway accepts either when its audience matches).
    assert http("GET", f"{url}/me", token=tokens["idToken"])[0] == 200


@needs_demo_audio()
def test_any_catalog_song_plays(devstack, demo_tokens, catalog) -> None:  # type: ignore[no-untyped-def]
    """`make dev` links every demo catalog song to one of the encoded demo tracks: search for
    anything, press play, and the first audio arrives with a plain GET."""
    import random
    import urllib.request

    picked = random.Random(4).sample(catalog.songs, 12)
    heard: set[str] = set()
    for song in picked:
        status, manifest, _ = http(
            "POST", f"{devstack.url}/stream/{song.id}", {"quality": "very_high"}, token=demo_tokens["free"]
        )
        assert status == 200, (song.id, manifest)
        assert manifest["songId"] == song.id
        assert [r["bitrateKbps"] for r in manifest["renditions"]] == [96, 128, 160]  # free tier
        with urllib.request.urlopen(manifest["prebuffer"][1], timeout=30) as response:  # first media segment
            assert response.status == 200 and len(response.read()) > 50_000  # 10 s at 128 kbps ~ 160 kB
        heard.add(manifest["masterPlaylistUrl"].split("/songs/")[1].split("/")[0])
    assert len(heard) > 3  # the links spread over the demo tracks


@needs_demo_audio()
def test_the_demo_tracks_are_songs_of_their_own(devstack, demo_tokens) -> None:  # type: ignore[no-untyped-def]
    """The ten demo tracks are ingested like any master: searchable by their tags, and playable."""
    from urllib.parse import quote

    status, found, _ = http(
        "GET", f"{devstack.url}/search?q={quote('elvish theme doug kaufman')}&type=song", token=demo_tokens["premium"]
    )
    assert status == 200, found
    top = found["songs"]["items"][0]
    assert (top["title"], top["artist"]["name"]) == ("Elvish theme", "Doug Kaufman")
    status, manifest, _ = http(
        "POST", f"{devstack.url}/stream/{top['id']}", {"quality": "very_high"}, token=demo_tokens["premium"]
    )
    assert status == 200 and [r["bitrateKbps"] for r in manifest["renditions"]] == [96, 128, 160, 256, 320]
    assert abs(manifest["durationMs"] - 205_220) < 500  # elvish-theme.ogg is 3:25.22
