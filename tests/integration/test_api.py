"""The HTTP API through the local gateway, against the devstack with the full demo catalog."""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import moto
import pytest

from tests.support import ROOT, http

pytestmark = pytest.mark.integration


def test_health_is_ok_when_every_component_answers(devstack) -> None:
    status, body, _ = http("GET", f"{devstack.url}/health")
    assert status == 200
    assert body["status"] == "ok"
    assert set(body["components"].values()) == {"ok"}


def test_demo_users_log_in_and_see_their_tiers(devstack, demo_tokens) -> None:
    for tier, token in demo_tokens.items():
        status, me, _ = http("GET", f"{devstack.url}/me", token=token)
        assert status == 200
        assert me["tier"] == tier
        assert me["email"] == f"{tier}@demo.backbeat.dev"


def test_25_random_catalog_songs_come_back_right(devstack, demo_tokens, catalog) -> None:
    sample = random.Random(2026).sample(catalog.songs, 25)
    for song in sample:
        status, body, _ = http("GET", f"{devstack.url}/songs/{song.id}", token=demo_tokens["free"])
        assert status == 200, body
        assert body["title"] == song.title
        assert body["artist"]["name"] == song.artist_name
        assert body["durationMs"] == song.duration_ms
        assert body["album"]["type"] == "single"


def test_artist_and_album_pages(devstack, demo_tokens, catalog) -> None:
    artist = max(catalog.artists, key=lambda a: len(a.song_ids))
    seen: list[str] = []
    for offset in range(0, len(artist.song_ids), 50):
        status, body, _ = http(
            "GET", f"{devstack.url}/artists/{artist.id}?limit=50&offset={offset}", token=demo_tokens["free"]
        )
        assert status == 200
        assert body["name"] == artist.name and body["songs"]["total"] == len(artist.song_ids)
        seen += [item["id"] for item in body["songs"]["items"]]
    assert sorted(seen) == sorted(artist.song_ids)
    song = catalog.songs[0]
    status, album, _ = http("GET", f"{devstack.url}/albums/{song.album_id}", token=demo_tokens["free"])
    assert status == 200 and album["tracks"]["items"][0]["id"] == song.id


def _expired_token(devstack) -> str:
    """A token signed with the key the local Cognito signs with, but expired an hour ago."""
    state = devstack.state
    pool_id = state["outputs"]["UserPoolId"]
    key_file = Path(moto.__file__).parent / "cognitoidp" / "resources" / "jwks-private.json.gz"
    private = jwt.PyJWK(json.loads(gzip.decompress(key_file.read_bytes())))
    now = int(time.time())
    claims = {
        "iss": f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}",
        "sub": str(uuid.uuid4()),
        "client_id": state["outputs"]["UserPoolClientId"],
        "token_use": "access",
        "iat": now - 7200,
        "exp": now - 3600,
    }
    return jwt.encode(claims, private.key, algorithm="RS256", headers={"kid": "dummy"})


@pytest.mark.parametrize("path", ["/me", "/songs/4GiXBCUF7H6YfNQsnBRIzl", "/artists/x", "/albums/y"])
def test_requests_without_a_valid_token_get_401(devstack, path) -> None:
    for token in (None, "bogus", "a.b.c", _expired_token(devstack)):
        status, body, _ = http("GET", f"{devstack.url}{path}", token=token)
        assert status == 401, (path, token)
        assert body["error"]["code"] == "Unauthorized"


def test_unknown_song_is_a_json_404(devstack, demo_tokens) -> None:
    status, body, headers = http("GET", f"{devstack.url}/songs/{'Z' * 22}", token=demo_tokens["free"])
    assert status == 404
    assert headers["Content-Type"].startswith("application/json")
    assert body["error"]["code"] == "NotFound"


def test_unknown_route_is_a_json_404(devstack, demo_tokens) -> None:
    status, body, _ = http("GET", f"{devstack.url}/no/such/route", token=demo_tokens["free"])
    assert status == 404 and body["error"]["code"] == "NotFound"


def test_signup_then_login_then_me(devstack) -> None:
    email = f"listener-{uuid.uuid4().hex[:8]}@example.com"
    status, user, _ = http("POST", f"{devstack.url}/auth/signup", {"email": email, "password": "a-long-password"})
    assert status == 201 and user["tier"] == "free"
    status, _, _ = http("POST", f"{devstack.url}/auth/login", {"email": email, "password": "wrong-password"})
    assert status == 401
    token = devstack.login(email, "a-long-password")
    status, me, _ = http("GET", f"{devstack.url}/me", token=token)
    assert me == {"userId": user["userId"], "email": email, "tier": "free"}


def test_bad_input_is_422_never_500(devstack) -> None:
    for raw in (b"", b"{", b"[]", b'{"email": 5, "password": []}', "\u00e9\u00e8".encode(), b"\xff\xfe"):
        status, body, _ = http("POST", f"{devstack.url}/auth/login", raw=raw)
        assert status == 422, (raw, body)
        assert body["error"]["code"] == "InvalidInput"


def test_ops_cli_sets_the_tier(devstack) -> None:
    email = f"upgrade-{uuid.uuid4().hex[:8]}@example.com"
    http("POST", f"{devstack.url}/auth/signup", {"email": email, "password": "a-long-password"})
    cli = Path(sys.executable).parent / "backbeat"
    env = {**os.environ, "BACKBEAT_DEVSTACK_STATE": str(devstack.state_file)}
    result = subprocess.run(
        [cli, "users", "set-tier", email, "premium"], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    token = devstack.login(email, "a-long-password")
    assert http("GET", f"{devstack.url}/me", token=token)[1]["tier"] == "premium"
    missing = subprocess.run(
        [cli, "users", "set-tier", "nobody@example.com", "premium"], env=env, capture_output=True, text=True
    )
    assert missing.returncode == 1 and "no user" in missing.stderr


def test_concurrent_requests_are_served(devstack, demo_tokens, catalog) -> None:
    songs = random.Random(7).sample(catalog.songs, 64)

    def fetch(song) -> tuple[int, str]:  # type: ignore[no-untyped-def]
        status, body, _ = http("GET", f"{devstack.url}/songs/{song.id}", token=demo_tokens["premium"])
        return status, body["title"]

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(fetch, songs))
    assert results == [(200, song.title) for song in songs]
