"""POST /stream and signed delivery on the session devstack: a free and a premium listener get their
manifests for a demo track (encoded by the same ingest path `backbeat ingest` takes; the ingest itself
is tested in test_encode_pipeline), and every URL in them (and in the playlists they lead to) is
fetched with a plain GET; forged, expired and foreign URLs are refused."""

from __future__ import annotations

import re
import sys
import time
from typing import Any
from urllib.parse import urljoin

import pytest

from tests.conftest import RunningStack
from tests.support import demo_song_id, http, needs_demo_audio, plain_get

pytestmark = [pytest.mark.integration, needs_demo_audio()]


@pytest.fixture(scope="module")
def stack(devstack: RunningStack) -> RunningStack:
    return devstack


@pytest.fixture(scope="module")
def song_id(stack: RunningStack, tokens: dict[str, str]) -> str:
    """The demo track's song, ready to play (the devstack encodes the demo tracks before it is ready)."""
    song = demo_song_id()
    status, body, _ = http("GET", f"{stack.url}/songs/{song}", token=tokens["free"])
    assert status == 200, body
    return song


@pytest.fixture(scope="module")
def tokens(demo_tokens: dict[str, str]) -> dict[str, str]:
    """The demo listeners, one per tier (no test changes their tiers)."""
    return {tier: demo_tokens[tier] for tier in ("free", "premium")}


def stream(stack: RunningStack, song: str, token: str | None, body: Any) -> tuple[int, Any]:
    status, answer, _ = http("POST", f"{stack.url}/stream/{song}", body, token=token)
    return status, answer


def playlist_uris(text: str) -> list[str]:
    uris = [line for line in text.splitlines() if line and not line.startswith("#")]
    return uris + re.findall(r'URI="([^"]+)"', text)


def test_free_and_premium_manifests_play_with_plain_gets(
    stack: RunningStack, song_id: str, tokens: dict[str, str]
) -> None:
    ceilings = {"free": 160, "premium": 320}
    for tier, token in tokens.items():
        started = time.perf_counter()
        status, manifest = stream(stack, song_id, token, {"quality": "very_high"})
        elapsed_ms = (time.perf_counter() - started) * 1000
        assert status == 200, manifest
        print(f"\n{tier} manifest through the gateway: {elapsed_ms:.1f} ms", file=sys.stderr)
        rungs = [r["bitrateKbps"] for r in manifest["renditions"]]
        assert max(rungs) == ceilings[tier] and all(rate <= ceilings[tier] for rate in rungs)
        assert manifest["codec"] == "mp4a.40.2" and manifest["segmentSeconds"] == 10
        assert manifest["loudness"]["gainDb"] <= -1 - manifest["loudness"]["truePeakDb"] + 1e-6

        status, master, headers = plain_get(manifest["masterPlaylistUrl"])
        assert status == 200 and "immutable" not in headers["Cache-Control"]
        listed = [int(rate) for rate in re.findall(r"^master_(\d+)k\.m3u8$", master.decode(), re.MULTILINE)]
        assert listed == rungs, master.decode()

        # Every URI in the master and in one media playlist resolves against the signed URL and plays.
        media_url = urljoin(manifest["masterPlaylistUrl"], f"master_{ceilings[tier]}k.m3u8")
        status, media, _ = plain_get(media_url)
        assert status == 200
        uris = playlist_uris(media.decode())
        for uri in uris[:2] + uris[-1:]:
            status, data, headers = plain_get(urljoin(media_url, uri))
            assert status == 200 and data, uri
            assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        for url in manifest["prebuffer"]:
            status, data, _ = plain_get(url)
            assert status == 200 and len(data) > 0
        assert manifest["prebuffer"][0].endswith(".mp4") and len(manifest["prebuffer"]) == 4

    # A free listener's token does not open a premium rung, even typed in by hand.
    _, free = stream(stack, song_id, tokens["free"], {"quality": "very_high"})
    assert plain_get(urljoin(free["masterPlaylistUrl"], "master_320k.m3u8"))[0] == 403


def test_forged_expired_and_foreign_urls_are_refused(stack: RunningStack, song_id: str, tokens: dict[str, str]) -> None:
    from backbeat.media import signing

    _, manifest = stream(stack, song_id, tokens["premium"], {"quality": "high"})
    url = manifest["prebuffer"][1]
    prefix, token, rest = url.split("/media/", 1)[0], *url.split("/media/", 1)[1].split("/", 1)
    expiry, cap, tag, signature = token.split(".")
    forged = [
        f"{prefix}/media/{expiry}.{cap}.{tag}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}/{rest}",
        f"{prefix}/media/{int(expiry) + 3600}.{cap}.{tag}.{signature}/{rest}",
        f"{prefix}/media/{expiry}.320.{tag}.{signature}/{rest}",
        url.replace(f"/songs/{song_id}/", "/songs/AAAAAAAAAAAAAAAAAAAAAA/"),
        url.replace("master_128k_00000", "master_128k_00001").replace(token, token[:-3] + "xyz"),
    ]
    for bad in forged:
        assert plain_get(bad)[0] == 403, bad
    # A genuine token whose time is up (signed with the stack's own key, as the stream function does).
    secret_arn = stack.stack_output("MediaSigningSecretArn")
    secret = stack.client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]
    expired = signing.sign(
        secret.encode(), user_id="anyone", song_id=song_id, cap_kbps=160, expiry=int(time.time()) - 1
    )
    assert plain_get(f"{prefix}/media/{expired}/{rest}")[0] == 403
    fresh = signing.sign(secret.encode(), user_id="anyone", song_id=song_id, cap_kbps=160, expiry=int(time.time()) + 60)
    assert plain_get(f"{prefix}/media/{fresh}/{rest}")[0] == 200  # the same path, signed and in time


def test_errors(stack: RunningStack, song_id: str, tokens: dict[str, str]) -> None:
    assert stream(stack, "NoSuchSongAAAAAAAAAAAA", tokens["free"], {"quality": "low"})[0] == 404
    status, answer = stream(stack, song_id, tokens["free"], {"quality": "lossless"})
    assert status == 422 and answer["error"]["field"] == "quality"
    assert stream(stack, song_id, tokens["free"], {})[0] == 422
    assert stream(stack, song_id, None, {"quality": "low"})[0] == 401


def test_the_reference_player_plays_it_through_without_a_stall(
    stack: RunningStack, song_id: str, tokens: dict[str, str]
) -> None:
    from backbeat_client.player import Player

    _, manifest = stream(stack, song_id, tokens["premium"], {"quality": "very_high"})

    def fetch(url: str) -> bytes:
        status, data, _ = plain_get(url)
        assert status == 200, url
        return data

    stats = Player(manifest, fetch, target_buffer_seconds=3600).run()
    assert stats.rebuffer_events == 0
    assert abs(stats.played_seconds * 1000 - manifest["durationMs"]) < 1000
    assert max(stats.segment_bitrates_kbps) <= 320
