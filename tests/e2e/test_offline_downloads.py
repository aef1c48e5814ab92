"""Offline downloads end to end, as the Python client sees them: the demo premium listener registers
a device, downloads a playlist, and plays a song with the network off, its decrypted bytes equal to
the rendition streaming serves; a free listener is refused; a listener set back to free can no
longer renew their licenses, while the one they hold plays until it expires.

Devices, downloads and sync (POST /me/devices, POST and GET /downloads, DELETE /me/devices/{id}) are
the downloads API's; licenses and preparation are this part's."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from backbeat_client.hls import parse_media_playlist
from backbeat_client.offline import ApiError, HttpApi, OfflineStore
from backbeat_ops.dataset import Catalog
from tests.conftest import RunningStack
from tests.support import http, plain_get, wait_for

pytestmark = pytest.mark.e2e
PASSWORD = "a-long-password"


class NoNetwork:
    """The store's API with the network gone: any call fails as a lost connection does."""

    def call(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> tuple[int, Any]:
        raise OSError("network unreachable")

    def fetch(self, url: str) -> bytes:
        raise OSError("network unreachable")


def _streamed_rendition(url: str, token: str, song_id: str, kbps: int) -> bytes:
    """The rung's bytes as streaming serves them: its init segment and segments, in order."""
    status, manifest, _ = http("POST", f"{url}/stream/{song_id}", {"quality": "very_high"}, token=token)
    assert status == 200, manifest
    (rendition,) = [r for r in manifest["renditions"] if r["bitrateKbps"] == kbps]
    status, text, _ = plain_get(rendition["playlistUrl"])
    assert status == 200
    playlist = parse_media_playlist(text.decode(), rendition["playlistUrl"])
    parts = []
    for part_url in ([playlist.init_url] if playlist.init_url else []) + [s.url for s in playlist.segments]:
        status, data, _ = plain_get(part_url)
        assert status == 200, part_url
        parts.append(data)
    return b"".join(parts)


def _fetch_all(store: OfflineStore, songs: list[str], timeout: float = 240) -> None:
    held: set[str] = set()

    def all_held() -> bool:
        held.update(store.fetch_ready())
        return held >= set(songs)

    wait_for(all_held, timeout=timeout, interval=1.0)


def _signup(devstack: RunningStack, tier: str) -> tuple[str, str]:
    email = f"offline-{uuid.uuid4().hex[:10]}@example.com"
    status, body, _ = http("POST", f"{devstack.url}/auth/signup", {"email": email, "password": PASSWORD})
    assert status == 201, body
    if tier != "free":
        changed = devstack.cli("users", "set-tier", email, tier)
        assert changed.returncode == 0, changed.stderr
    return email, devstack.login(email, PASSWORD)


def test_a_premium_listener_plays_a_downloaded_playlist_offline(
    devstack: RunningStack, demo_tokens: dict[str, str], catalog: Catalog, tmp_path: Path
) -> None:
    url, token = devstack.url, demo_tokens["premium"]
    songs = [song.id for song in catalog.songs[:6]]
    status, playlist, _ = http("POST", f"{url}/playlists", {"name": "Offline e2e"}, token=token)
    assert status == 201, playlist
    for song_id in songs:
        assert http("POST", f"{url}/playlists/{playlist['id']}/tracks", {"songId": song_id}, token=token)[0] == 201

    store = OfflineStore(tmp_path / "phone", HttpApi(url, lambda: token))
    device_id = store.register_device("e2e phone", "phone")
    try:
        requested = time.perf_counter()
        answer = store.request_downloads(playlist_id=playlist["id"], quality="very_high")
        assert answer, answer
        _fetch_all(store, songs)
        print(f"\n{len(songs)} songs ready and fetched in {time.perf_counter() - requested:.1f} s")

        offline = OfflineStore(tmp_path / "phone", NoNetwork())
        for song_id in songs[:2]:
            assert offline.play(song_id) == _streamed_rendition(url, token, song_id, 320)
        # Nothing on the device's disk is clear audio.
        sample = _streamed_rendition(url, token, songs[0], 320)
        for path in (tmp_path / "phone").rglob("*"):
            assert not path.is_file() or sample[-4096:] not in path.read_bytes(), path
    finally:
        assert http("DELETE", f"{url}/me/devices/{device_id}", token=token)[0] in (200, 204)
        http("DELETE", f"{url}/playlists/{playlist['id']}", token=token)


def test_free_listeners_are_refused_and_a_lapsed_subscription_cannot_renew(
    devstack: RunningStack, catalog: Catalog, tmp_path: Path
) -> None:
    url = devstack.url
    _, free_token = _signup(devstack, "free")
    request = {"deviceId": "x", "songIds": [catalog.songs[0].id], "quality": "high"}
    status, body, _ = http("POST", f"{url}/downloads", request, token=free_token)
    assert status == 403 and body["error"]["code"] == "Forbidden", body
    status, body, _ = http(
        "POST", f"{url}/licenses", {"deviceId": "x", "songIds": [catalog.songs[0].id]}, token=free_token
    )
    assert status == 403 and "premium" in body["error"]["message"], body

    email, token = _signup(devstack, "premium")
    store = OfflineStore(tmp_path / "laptop", HttpApi(url, lambda: token))
    store.register_device("e2e laptop", "desktop")
    song_id = catalog.songs[10].id
    store.request_downloads(song_ids=[song_id], quality="high")
    _fetch_all(store, [song_id])
    assert store.play(song_id) == _streamed_rendition(url, token, song_id, 160)

    assert devstack.cli("users", "set-tier", email, "free").returncode == 0
    with pytest.raises(ApiError) as refused:
        store.renew_licenses()
    assert refused.value.status == 403
    assert store.play(song_id)  # the license already held plays until it expires
