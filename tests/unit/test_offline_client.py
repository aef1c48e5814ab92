"""The client's offline store against an in-memory server that uses the real formats (offline files,
device-wrapped keys, signed licenses) and a fake clock: downloads play with the network off, from
memory only, until their license expires; renewal needs premium; sync applies playlist changes."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backbeat.downloads import keys
from backbeat.downloads.licenses import sign_license
from backbeat_client.offline import ApiError, LicenseUnusable, NotDownloaded, OfflineError, OfflineStore

DAY = 86_400.0
SONGS = {
    song: b"".join(f"{song} chunk {index} ".encode() * 300 for index in range(4))
    for song in ("songA000000000000000001", "songB000000000000000002", "songC000000000000000003")
}
SONG_A, SONG_B, SONG_C = sorted(SONGS)


class FakeClock:
    def __init__(self) -> None:
        self.time = datetime(2026, 12, 1, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.time


def _chunks(rendition: bytes) -> list[bytes]:
    size = len(rendition) // 4
    return [rendition[index : index + size] for index in range(0, len(rendition), size)]


class FakeBackbeat:
    """Devices, downloads (each song encrypted once), licenses signed by a local P-256 key."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.signing_key = ec.generate_private_key(ec.SECP256R1())
        self.tier = "premium"
        self.online = True
        self.devices: dict[str, str] = {}
        self.content_keys: dict[str, bytes] = {}
        self.files: dict[str, bytes] = {}
        self.downloads: dict[tuple[str, str], dict[str, Any]] = {}
        self.sync_answer: dict[str, Any] = {"playlists": [], "cursor": "c0"}
        self.sync_queries: list[dict[str, str]] = []

    def _prepare(self, song_id: str) -> tuple[str, str]:
        key_id = f"{song_id}.320k"
        if key_id not in self.content_keys:
            self.content_keys[key_id] = uuid.uuid4().bytes  # 16 random bytes: an AES-128 key
            self.files[f"https://cdn.test/{key_id}"] = keys.encrypt_file(
                self.content_keys[key_id], key_id, _chunks(SONGS[song_id])
            )
        return key_id, f"https://cdn.test/{key_id}"

    def call(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> tuple[int, Any]:
        if not self.online:
            raise OSError("no network")
        if (method, path) == ("POST", "/me/devices"):
            device_id = uuid.uuid4().hex[:22]
            self.devices[device_id] = body["publicKey"]
            return 201, {"deviceId": device_id, "name": body["name"], "type": body["type"]}
        if (method, path) == ("GET", "/licenses/public-key"):
            pem = self.signing_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return 200, {"keyId": "local", "algorithm": "ES256", "publicKeyPem": pem.decode()}
        if (method, path) == ("POST", "/downloads"):
            if self.tier != "premium":
                return 403, {"error": {"code": "Forbidden", "message": "downloads are for premium"}}
            for song_id in body.get("songIds", []):
                key_id, url = self._prepare(song_id)
                self.downloads[(body["deviceId"], song_id)] = {
                    "songId": song_id,
                    "status": "ready",
                    "contentKeyId": key_id,
                    "url": url,
                }
            return 202, {"accepted": body.get("songIds", []), "refused": []}
        if (method, path) == ("GET", "/downloads"):
            assert query is not None
            return 200, {"items": [item for (device, _), item in self.downloads.items() if device == query["deviceId"]]}
        if (method, path) == ("POST", "/licenses"):
            return self._license(body)
        if method == "DELETE" and path.startswith("/downloads/"):
            assert query is not None
            removed = self.downloads.pop((query["deviceId"], path.rsplit("/", 1)[1]), None)
            return (200, {"deleted": True}) if removed else (404, {"error": {"code": "NotFound", "message": "no"}})
        if (method, path) == ("GET", "/downloads/sync"):
            self.sync_queries.append(dict(query or {}))
            return 200, self.sync_answer
        return 404, {"error": {"code": "NotFound", "message": f"no route {method} {path}"}}

    def _license(self, body: dict[str, Any]) -> tuple[int, Any]:
        if self.tier != "premium":
            return 403, {"error": {"code": "Forbidden", "message": "offline licenses need premium"}}
        device_id = body["deviceId"]
        songs = [
            {"songId": song, "contentKeyId": self.downloads[(device_id, song)]["contentKeyId"]}
            for song in body["songIds"]
            if (device_id, song) in self.downloads
        ]
        now = int(self.clock())
        payload = {
            "licenseId": uuid.uuid4().hex,
            "deviceId": device_id,
            "userId": "user-1",
            "iat": now,
            "exp": now + 30 * int(DAY),
            "keys": [
                {
                    **song,
                    "wrappedKey": base64.b64encode(
                        keys.wrap_for_device(self.content_keys[song["contentKeyId"]], self.devices[device_id])
                    ).decode(),
                }
                for song in songs
            ],
        }
        token = sign_license(
            payload, "local", lambda message: self.signing_key.sign(message, ec.ECDSA(hashes.SHA256()))
        )
        return 200, {"licenseId": payload["licenseId"], "songs": songs, "refused": [], "license": token}

    def fetch(self, url: str) -> bytes:
        if not self.online:
            raise OSError("no network")
        return self.files[url]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock) -> FakeBackbeat:
    return FakeBackbeat(clock)


def _phone(tmp_path: Path, server: FakeBackbeat, clock: FakeClock, name: str = "phone") -> OfflineStore:
    store = OfflineStore(tmp_path / name, server, clock=clock)
    store.register_device(name, "phone")
    return store


def test_a_downloaded_song_plays_with_the_network_off_and_no_clear_audio_on_disk(tmp_path, server, clock) -> None:  # type: ignore[no-untyped-def]
    store = _phone(tmp_path, server, clock)
    store.request_downloads(song_ids=[SONG_A, SONG_B])
    assert sorted(store.fetch_ready()) == [SONG_A, SONG_B]
    assert store.fetch_ready() == []  # nothing fetched twice

    server.online = False
    reopened = OfflineStore(tmp_path / "phone", server, clock=clock)  # e.g. after the app restarts
    assert reopened.play(SONG_A) == SONGS[SONG_A] and reopened.play(SONG_B) == SONGS[SONG_B]
    assert len(list(reopened.play_chunks(SONG_A))) == 4

    for path in (tmp_path / "phone").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert all(audio[:200] not in content and audio[-200:] not in content for audio in SONGS.values()), path
    with pytest.raises(NotDownloaded):
        reopened.play(SONG_C)


def test_play_is_refused_after_the_license_expires_and_renewal_needs_premium(tmp_path, server, clock) -> None:  # type: ignore[no-untyped-def]
    store = _phone(tmp_path, server, clock)
    store.request_downloads(song_ids=[SONG_A])
    store.fetch_ready()
    server.online = False

    clock.time += 30 * DAY - 1
    assert store.play(SONG_A) == SONGS[SONG_A]
    clock.time += 1
    with pytest.raises(LicenseUnusable, match="expired"):
        store.play(SONG_A)

    server.online = True
    store.renew_licenses()
    assert store.play(SONG_A) == SONGS[SONG_A]  # another 30 days

    server.tier = "free"
    with pytest.raises(ApiError) as refused:
        store.renew_licenses()
    assert refused.value.status == 403
    assert store.play(SONG_A) == SONGS[SONG_A]  # the license held keeps working until it expires
    clock.time += 30 * DAY
    with pytest.raises(LicenseUnusable):
        store.play(SONG_A)


def test_a_store_copied_to_another_device_does_not_play(tmp_path, server, clock) -> None:  # type: ignore[no-untyped-def]
    phone = _phone(tmp_path, server, clock, "phone")
    laptop = _phone(tmp_path, server, clock, "laptop")
    phone.request_downloads(song_ids=[SONG_A])
    phone.fetch_ready()
    for part in ("files", "licenses"):
        for path in (tmp_path / "phone" / part).iterdir():
            (tmp_path / "laptop" / part / path.name).write_bytes(path.read_bytes())
    (tmp_path / "laptop" / "index.json").write_bytes((tmp_path / "phone" / "index.json").read_bytes())

    copied = OfflineStore(tmp_path / "laptop", server, clock=clock)
    assert copied.device_id == laptop.device_id != phone.device_id
    with pytest.raises(LicenseUnusable, match="not this one"):
        copied.play(SONG_A)


def test_a_damaged_file_is_reported_not_played(tmp_path, server, clock) -> None:  # type: ignore[no-untyped-def]
    store = _phone(tmp_path, server, clock)
    store.request_downloads(song_ids=[SONG_A])
    store.fetch_ready()
    (path,) = (tmp_path / "phone" / "files").iterdir()
    damaged = bytearray(path.read_bytes())
    damaged[-10] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with pytest.raises(OfflineError, match="damaged"):
        store.play(SONG_A)


def test_sync_on_reconnect_deletes_removed_songs_and_downloads_added_ones(tmp_path, server, clock) -> None:  # type: ignore[no-untyped-def]
    store = _phone(tmp_path, server, clock)
    store.request_downloads(song_ids=[SONG_A, SONG_B])
    store.fetch_ready()
    server.sync_answer = {
        "playlists": [{"playlistId": "p1", "add": [SONG_C], "removed": False, "delete": [SONG_A]}],
        "cursor": "c1",
    }

    result = store.sync()
    assert (result.added, result.removed, result.cursor) == ([SONG_C], [SONG_A], "c1")
    assert store.songs() == [SONG_B]
    assert not (tmp_path / "phone" / "files" / f"{SONG_A}.320k.bbx").exists()
    with pytest.raises(NotDownloaded):
        store.play(SONG_A)
    assert store.fetch_ready() == [SONG_C]
    assert store.play(SONG_C) == SONGS[SONG_C]

    server.sync_answer = {"playlists": [], "cursor": "c2"}
    store.sync()
    assert server.sync_queries[-1] == {"deviceId": store.device_id, "since": "c1"}
