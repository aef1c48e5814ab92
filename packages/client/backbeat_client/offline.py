"""The offline store: a device's downloads, kept encrypted on disk and played from memory.

What it keeps, in the directory the caller gives (e.g. ``~/.local/share/backbeat/offline``):

- ``device.json`` and ``device_key.pem``: the device id the API gave and the device's RSA private
  key (generated here, never sent; its public half is registered with ``POST /me/devices``). The
  file is created readable by its owner only; a shipping app would keep it in the platform's key
  store. ``licensing_key.pem``: the key licenses are verified with (``GET /licenses/public-key``).
- ``files/<contentKeyId>.bbx``: the offline files exactly as the server encrypted them.
- ``licenses/<licenseId>``: the license tokens; ``index.json``: which song plays from which file
  under which license, and the sync cursor.

`play` needs no network: it verifies the song's license (signature, this device, not expired, by
the injected clock), unwraps the content key with the device's private key and decrypts the file in
memory, chunk by chunk. Clear audio is never written to disk. After the license expires, play is
refused until `renew_licenses` (online) succeeds, which the server refuses once the subscription
has lapsed. `sync` (on reconnect) applies what changed in the downloaded playlists.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from backbeat.downloads import keys
from backbeat.downloads.licenses import MAX_SONGS_PER_LICENSE, LicenseRejected, verify_license

DEVICE_KEY_BITS = 2048


class OfflineError(Exception):
    """Something the offline store cannot do; the message says what and why."""


class NotDownloaded(OfflineError):
    pass


class LicenseUnusable(OfflineError):
    """No license this device may use now: expired, for another device, or forged."""


class ApiError(OfflineError):
    def __init__(self, status: int, body: Any) -> None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"{status} {error.get('code', '')}: {error.get('message', body)}")
        self.status = status
        self.body = body


class Api(Protocol):
    """The calls the store makes: the API (with the user's token) and plain GETs of signed URLs."""

    def call(
        self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
    ) -> tuple[int, Any]: ...

    def fetch(self, url: str) -> bytes: ...


class HttpApi:
    """`Api` over HTTP. Network failures raise OSError; every HTTP answer is (status, JSON body)."""

    def __init__(self, api_url: str, access_token: Callable[[], str], *, timeout: float = 30.0) -> None:
        if not api_url.startswith(("https://", "http://")):
            raise ValueError(f"the API URL must be http(s): {api_url!r}")
        self.api_url = api_url.rstrip("/")
        self.access_token = access_token
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> tuple[int, Any]:
        url = self.api_url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            url,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.access_token()}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - as above
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        try:
            return status, json.loads(payload) if payload else None
        except ValueError:
            return status, payload.decode("utf-8", "replace")

    def fetch(self, url: str) -> bytes:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"not an http(s) URL: {url!r}")
        with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310 - checked above
            return bytes(response.read())


@dataclass(frozen=True)
class SyncResult:
    added: list[str]
    removed: list[str]
    cursor: str | None


def _write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    temporary = path.with_name(path.name + ".part")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _listed_items(body: Any) -> list[dict[str, Any]]:
    """The downloads of `GET /downloads?deviceId=` (under `items`)."""
    items = body.get("items") if isinstance(body, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _signed_url(item: dict[str, Any]) -> str | None:
    """The signed URL of a ready download (`url`)."""
    url = item.get("url")
    return url if isinstance(url, str) else None


def _song_ids(entries: Any) -> list[str]:
    """Song ids from a list of ids or of objects with `songId`."""
    found = []
    for entry in entries or []:
        if isinstance(entry, str):
            found.append(entry)
        elif isinstance(entry, dict) and isinstance(entry.get("songId"), str):
            found.append(entry["songId"])
    return found


class OfflineStore:
    """One device's offline downloads (see the module docstring). `clock` gives Unix seconds."""

    def __init__(self, directory: str | Path, api: Api, *, clock: Callable[[], float] = time.time) -> None:
        self.directory = Path(directory).expanduser()
        self.api = api
        self.clock = clock
        (self.directory / "files").mkdir(parents=True, exist_ok=True)
        (self.directory / "licenses").mkdir(exist_ok=True)
        self._index_path = self.directory / "index.json"
        self.index: dict[str, Any] = (
            json.loads(self._index_path.read_text(encoding="utf-8"))
            if self._index_path.exists()
            else {"songs": {}, "playlists": {}, "cursor": None}
        )

    # -------------------------------------------------------------- local state
    def _save_index(self) -> None:
        _write_atomically(self._index_path, json.dumps(self.index, indent=1, sort_keys=True).encode())

    @property
    def device_id(self) -> str:
        path = self.directory / "device.json"
        if not path.exists():
            raise OfflineError("no device registered in this store; call register_device first")
        return str(json.loads(path.read_text(encoding="utf-8"))["deviceId"])

    def _private_key(self) -> rsa.RSAPrivateKey:
        key = serialization.load_pem_private_key((self.directory / "device_key.pem").read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise OfflineError("the device key is not an RSA key")
        return key

    def _licensing_key(self) -> str:
        return (self.directory / "licensing_key.pem").read_text(encoding="ascii")

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _ok(self, status: int, body: Any, *expected: int) -> Any:
        if status not in expected:
            raise ApiError(status, body)
        return body

    def songs(self) -> list[str]:
        """The songs this device holds (fetched and stored)."""
        return sorted(self.index["songs"])

    # -------------------------------------------------------------- online: device, downloads, licenses
    def register_device(self, name: str, device_type: str) -> str:
        """Generate the device's key pair, register its public half, keep the licensing key."""
        private = rsa.generate_private_key(public_exponent=65537, key_size=DEVICE_KEY_BITS)
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        body = {"name": name, "type": device_type, "publicKey": public_pem.decode("ascii")}
        device = self._ok(*self.api.call("POST", "/me/devices", body), 200, 201)
        private_pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write_atomically(self.directory / "device_key.pem", private_pem, mode=0o600)
        record = {"deviceId": device["deviceId"], "name": name, "type": device_type}
        _write_atomically(self.directory / "device.json", json.dumps(record).encode())
        self.refresh_licensing_key()
        return str(device["deviceId"])

    def refresh_licensing_key(self) -> None:
        public = self._ok(*self.api.call("GET", "/licenses/public-key"), 200)
        _write_atomically(self.directory / "licensing_key.pem", str(public["publicKeyPem"]).encode("ascii"))

    def request_downloads(
        self, *, playlist_id: str | None = None, song_ids: list[str] | None = None, quality: str = "very_high"
    ) -> dict[str, Any]:
        """POST /downloads for this device (202: what was accepted and refused, and the estimate)."""
        body: dict[str, Any] = {"deviceId": self.device_id, "quality": quality}
        if playlist_id:
            body["playlistId"] = playlist_id
            self.index["playlists"][playlist_id] = quality
            self._save_index()
        if song_ids:
            body["songIds"] = song_ids
        answer: dict[str, Any] = self._ok(*self.api.call("POST", "/downloads", body), 200, 202)
        return answer

    def pending(self) -> list[dict[str, Any]]:
        """The device's downloads as the server lists them."""
        body = self._ok(*self.api.call("GET", "/downloads", query={"deviceId": self.device_id}), 200)
        return _listed_items(body)

    def fetch_ready(self) -> list[str]:
        """Fetch every ready download not stored yet (signed URL -> files/), then license them.
        Returns the songs newly stored."""
        stored = []
        for item in self.pending():
            song_id, url = item.get("songId"), _signed_url(item)
            if item.get("status") != "ready" or not url or not isinstance(song_id, str):
                continue
            key_id = str(item.get("contentKeyId") or "")
            known = self.index["songs"].get(song_id)
            if known and known.get("contentKeyId") == key_id and (self.directory / known["file"]).exists():
                continue
            sealed = self.api.fetch(url)
            if key_id and keys.file_key_id(sealed) != key_id:
                raise OfflineError(f"the file fetched for {song_id} is not under content key {key_id}")
            key_id = keys.file_key_id(sealed)
            file = f"files/{key_id}.bbx"
            _write_atomically(self.directory / file, sealed)
            self.index["songs"][song_id] = {"contentKeyId": key_id, "file": file, "bytes": len(sealed), "license": None}
            stored.append(song_id)
        self._save_index()
        if stored:
            self.renew_licenses(stored)
        return stored

    def renew_licenses(self, song_ids: list[str] | None = None) -> list[str]:
        """POST /licenses for the stored songs (all by default); ApiError 403 once the subscription
        has lapsed (the licenses already held keep working until they expire). Returns the licenses."""
        wanted = [song for song in (song_ids or self.songs()) if song in self.index["songs"]]
        issued = []
        for start in range(0, len(wanted), MAX_SONGS_PER_LICENSE):
            body = {"deviceId": self.device_id, "songIds": wanted[start : start + MAX_SONGS_PER_LICENSE]}
            answer = self._ok(*self.api.call("POST", "/licenses", body), 200)
            token, license_id = str(answer["license"]), str(answer["licenseId"])
            verify_license(token, self._licensing_key(), self.device_id, self._now())  # refuse a bad one now
            _write_atomically(self.directory / "licenses" / license_id, token.encode("ascii"))
            for song in answer["songs"]:
                if song["songId"] in self.index["songs"]:
                    self.index["songs"][song["songId"]]["license"] = license_id
            issued.append(license_id)
        self._save_index()
        self._drop_unused_licenses()
        return issued

    def _drop_unused_licenses(self) -> None:
        used = {entry.get("license") for entry in self.index["songs"].values()}
        for path in (self.directory / "licenses").iterdir():
            if path.name not in used:
                path.unlink()

    def sync(self) -> SyncResult:
        """On reconnect: GET /downloads/sync since the last cursor; songs removed from a downloaded
        playlist are deleted here and their downloads freed (DELETE /downloads/{songId}), added ones
        are requested for download (fetch them with `fetch_ready` once ready)."""
        query = {"deviceId": self.device_id}
        if self.index.get("cursor"):
            query["since"] = str(self.index["cursor"])
        body = self._ok(*self.api.call("GET", "/downloads/sync", query=query), 200)
        added: list[str] = []
        removed: list[str] = []
        for playlist in body.get("playlists") or []:
            added += _song_ids(playlist.get("add"))
            removed += _song_ids(playlist.get("delete"))
        for song_id in removed:
            self.remove(song_id)
            # Free the slot in the quota too (404: the server freed it already).
            path = f"/downloads/{urllib.parse.quote(song_id, safe='')}"
            self._ok(*self.api.call("DELETE", path, query={"deviceId": self.device_id}), 200, 204, 404)
        if added:
            self.request_downloads(song_ids=sorted(set(added)))
        self.index["cursor"] = body.get("cursor")
        self._save_index()
        return SyncResult(sorted(set(added)), sorted(set(removed)), body.get("cursor"))

    def remove(self, song_id: str) -> None:
        """Forget a song here (its file goes unless another song plays from the same rendition)."""
        entry = self.index["songs"].pop(song_id, None)
        if entry and not any(other["file"] == entry["file"] for other in self.index["songs"].values()):
            (self.directory / entry["file"]).unlink(missing_ok=True)
        self._save_index()
        self._drop_unused_licenses()

    # -------------------------------------------------------------- offline: play
    def _content_key(self, song_id: str) -> tuple[bytes, Path]:
        entry = self.index["songs"].get(song_id)
        if not entry:
            raise NotDownloaded(f"song {song_id} is not downloaded to this device")
        if not entry.get("license") or not (self.directory / "licenses" / entry["license"]).exists():
            raise LicenseUnusable(f"song {song_id} has no license on this device; renew online")
        token = (self.directory / "licenses" / entry["license"]).read_text(encoding="ascii")
        try:
            payload = verify_license(token, self._licensing_key(), self.device_id, self._now())
        except LicenseRejected as error:
            raise LicenseUnusable(f"song {song_id} cannot play: {error}") from None
        granted = next((k for k in payload["keys"] if k["songId"] == song_id), None)
        if not granted or granted["contentKeyId"] != entry["contentKeyId"]:
            raise LicenseUnusable(f"the license does not cover song {song_id}")
        try:
            key = keys.unwrap_on_device(base64.b64decode(granted["wrappedKey"]), self._private_key())
        except ValueError:
            raise LicenseUnusable("the license's keys are wrapped for another device") from None
        return key, self.directory / entry["file"]

    def play_chunks(self, song_id: str) -> Iterator[bytes]:
        """The song's audio, decrypted in memory one chunk (HLS file) at a time."""
        key, path = self._content_key(song_id)
        try:
            yield from keys.decrypt_chunks(key, path.read_bytes())
        except keys.CorruptOfflineFile as error:
            raise OfflineError(f"the stored file of song {song_id} is damaged ({error}); fetch it again") from None

    def play(self, song_id: str) -> bytes:
        """The whole rendition in memory (what a player feeds its decoder)."""
        return b"".join(self.play_chunks(song_id))
