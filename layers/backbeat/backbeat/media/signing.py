"""Signed media delivery: an HMAC token in the URL *path*, checked by whoever serves the media.

`/media/<token>/songs/<songId>/<file>`: putting the token in the path (not the query) means the
relative URIs inside the playlists (`master_128k.m3u8`, `init_0.mp4`, `master_128k_00000.m4s`)
inherit it, so a plain GET of any of them works without headers, cookies or rewriting playlists.

The token is `<expiry>.<capKbps>.<userTag>.<signature>`:

- `expiry`: Unix seconds; refused after it.
- `capKbps`: the highest rung the holder may fetch (quality and tier, decided when the manifest was
  issued). Every file served is named after its rung (`master_<kbps>k...`: its playlist, init
  segment and segments, and the capped master `master_<cap>k_max.m3u8`; see `rung_files`), and only
  files of rungs up to the cap pass: a free listener gets neither `master_320k.m3u8` nor the 320 kbps
  init segment nor the full `master.m3u8`, which is named after no rung and so is never served.
- `userTag`: a keyed hash of the user id (not the id itself, which would leak into CDN logs and
  Referer headers), so every URL is attributable to, and bound to, the user it was issued to.
- `signature`: base64url HMAC-SHA256 over the above and the song id of the path, so the token is
  good for that song's files only.

The same check runs in the devstack's gateway (this module) and in AWS in a CloudFront Function
(`MediaTokenFunction` in template.yaml, a line-for-line port of `verify`). Keep them in step.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from backbeat.errors import Forbidden

MEDIA_ROUTE = "media"
_TOKEN = re.compile(r"^(\d{1,12})\.(\d{1,4})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$")
_SONG_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
_FILE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")
# The only files served: those named after a rung, `master_<kbps>k` then anything (`master_128k.m3u8`,
# `master_128k_00000.m4s`, `master_128k_init_1.mp4`, MediaConvert's `master_128kInit.cmfa`, the capped
# master `master_160k_max.m3u8`). A file named after no rung is refused: an allow-list, so no naming
# of a rung's files (ffmpeg's `init_4.mp4`, the full `master.m3u8`) slips past the cap.
_RUNG_FILE = re.compile(r"^master_(\d{1,4})k")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def user_tag(secret: bytes, user_id: str) -> str:
    return _b64(hmac.new(secret, f"user:{user_id}".encode(), hashlib.sha256).digest())[:16]


def _signature(secret: bytes, expiry: int, cap_kbps: int, tag: str, song_id: str) -> str:
    message = f"{expiry}.{cap_kbps}.{tag}.{song_id}".encode()
    return _b64(hmac.new(secret, message, hashlib.sha256).digest())


def sign(secret: bytes, *, user_id: str, song_id: str, cap_kbps: int, expiry: int) -> str:
    """The path token granting `user_id` the files of `song_id` up to `cap_kbps` until `expiry`."""
    tag = user_tag(secret, user_id)
    return f"{expiry}.{cap_kbps}.{tag}.{_signature(secret, expiry, cap_kbps, tag, song_id)}"


def media_url(base_url: str, token: str, song_id: str, file: str) -> str:
    """`<base>/<token>/songs/<songId>/<file>`; `base_url` ends in `/media` (gateway or CloudFront)."""
    return f"{base_url.rstrip('/')}/{token}/songs/{song_id}/{file}"


@dataclass(frozen=True)
class Grant:
    """What a verified path allows: this object key, for this user tag, until `expiry`."""

    key: str
    song_id: str
    file: str
    cap_kbps: int
    user_tag: str
    expiry: int


def verify(secret: bytes, path: str, now: float | None = None) -> Grant:
    """Check a `/media/<token>/songs/<songId>/<file>` path; Forbidden (403) unless it is genuine,
    unexpired, for this song, and (for rung files) within the token's cap. Constant-time compare."""
    parts = path.lstrip("/").split("/")
    if len(parts) != 5 or parts[0] != MEDIA_ROUTE or parts[2] != "songs":
        raise Forbidden("not a signed media path")
    _, token, _, song_id, file = parts
    matched = _TOKEN.match(token)
    if not matched or not _SONG_ID.match(song_id) or not _FILE.match(file) or ".." in file:
        raise Forbidden("malformed media token or path")
    expiry, cap_kbps, tag, signature = int(matched[1]), int(matched[2]), matched[3], matched[4]
    expected = _signature(secret, expiry, cap_kbps, tag, song_id)
    if not hmac.compare_digest(expected, signature):
        raise Forbidden("bad media signature")
    if (time.time() if now is None else now) >= expiry:
        raise Forbidden("media URL expired")
    rung = rung_of(file)
    if rung is None:
        raise Forbidden("not a file of a rung")
    if rung > cap_kbps:
        raise Forbidden("above the bitrate this URL allows")
    return Grant(f"songs/{song_id}/{file}", song_id, file, cap_kbps, tag, expiry)


def rung_of(file: str) -> int | None:
    """The rung (kbps) a file is named after, or None for a file of no rung."""
    matched = _RUNG_FILE.match(file)
    return int(matched[1]) if matched else None


def cache_control(file: str) -> str:
    """Segments and init segments never change once written; playlists are cached briefly."""
    if file.endswith(".m3u8"):
        return "public, max-age=300"
    return "public, max-age=31536000, immutable"


def load_secret(secret_id: str) -> bytes:
    """The signing key from Secrets Manager, read once per cold start by each reader."""
    from backbeat.aws import client

    value = client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    return str(value).encode()
