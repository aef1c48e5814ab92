"""`POST /stream/{songId}`: the StreamManifest a player starts from.

Everything a player needs to start at once is in one answer: the renditions it may play, signed
URLs for them, and `prebuffer`, the start rung's init segment and first segments, so the first
audio request can go out in the same round trip as the manifest instead of after two playlist
fetches. Quality and tier are applied here, once, and carried in the token (see `signing`); every
URL names a file of a rung within the cap (`rung_files`).

The URLs live as long as the song plus `margin_seconds` (a setting): long enough to play it through
with a pause or two, short enough that a leaked URL is soon worth nothing. A player whose URLs have
expired (a 403 from the media host) asks for the manifest again, as it does for the next song.
"""

from __future__ import annotations

import math
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist

from backbeat.aws import client
from backbeat.catalog.models import META, SongItem, song_key
from backbeat.errors import Conflict, NotFound
from backbeat.identity.models import UserItem
from backbeat.media import rung_files, signing
from backbeat.media.ffmpeg import MASTER_PLAYLIST
from backbeat.media.pipeline import READY
from backbeat.plain import plain

QUALITY_CEILINGS_KBPS: dict[str, int] = {"low": 96, "normal": 128, "high": 160, "very_high": 320}
TIER_CAPS_KBPS: dict[str, int] = {"free": 160, "premium": 320}
TARGET_LUFS = -14.0
PEAK_CEILING_DBTP = -1.0
START_KBPS = 128  # start where a first segment arrives fast on a weak link; ABR climbs from there
PREBUFFER_SEGMENTS = 3

_STREAM_INF = re.compile(r"^#EXT-X-STREAM-INF:.*$")
_RUNG_PLAYLIST = re.compile(r"^master_(\d+)k\.m3u8$")


def cap_kbps(quality: str, tier: str) -> int:
    """The highest bitrate this listener gets: their quality, capped by their tier (unknown = free)."""
    return min(QUALITY_CEILINGS_KBPS[quality], TIER_CAPS_KBPS.get(tier, TIER_CAPS_KBPS["free"]))


def gain_db(integrated_lufs: float, true_peak_db: float) -> float:
    """Normalise to -14 LUFS, but never boost the true peak above -1 dBTP (cuts are always allowed)."""
    gain = TARGET_LUFS - integrated_lufs
    return round(min(gain, PEAK_CEILING_DBTP - true_peak_db), 2)


def capped_master_name(cap: int) -> str:
    """Named after the cap as a rung is (`signing` serves only files named after a rung)."""
    return f"master_{cap}k_max.m3u8"


def filter_master(master: str, cap: int) -> str:
    """The master playlist with only the variants at or below `cap` kbps (by their URI's rung)."""
    lines = master.splitlines()
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if _STREAM_INF.match(line) and index + 1 < len(lines):
            uri = lines[index + 1].strip()
            rung = _RUNG_PLAYLIST.match(uri)
            if rung and int(rung[1]) <= cap:
                kept += [line, uri]
            index += 2
            continue
        if line.strip():
            kept.append(line)
        index += 1
    return "\n".join(kept) + "\n"


class MediaStore:
    """Reads the playlists of the media bucket; names each rung's files after it and writes each
    capped master, once.

    Playlists change at most once after encoding (`ensure_rung_named`), so they are cached per
    execution environment; a capped master is derived the first time anyone asks for that cap."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self._texts: dict[str, str] = {}
        self._written: set[str] = set()
        self._lock = threading.Lock()

    def text(self, key: str) -> str:
        cached = self._texts.get(key)
        if cached is None:
            body = client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
            cached = self._texts[key] = body.decode("utf-8")
        return cached

    def _exists(self, key: str) -> bool:
        with self._lock:
            if key in self._written:
                return True
        s3 = client("s3")
        try:
            s3.head_object(Bucket=self.bucket, Key=key)
        except s3.exceptions.ClientError:
            return False
        with self._lock:
            self._written.add(key)
        return True

    def _put_playlist(self, key: str, text: str) -> None:
        client("s3").put_object(
            Bucket=self.bucket, Key=key, Body=text.encode(), ContentType="application/vnd.apple.mpegurl"
        )
        with self._lock:
            self._texts[key] = text
            self._written.add(key)

    def ensure_rung_named(self, key: str, kbps: int) -> None:
        """Name every file the rung playlist at `key` names after its rung (`rung_files`), once."""
        naming = rung_files.rung_named(self.text(key), kbps)
        if not naming.copies:
            return
        prefix = key.rsplit("/", 1)[0] + "/"
        s3 = client("s3")
        for copy, original in sorted(naming.copies.items()):
            source = {"Bucket": self.bucket, "Key": prefix + original}
            s3.copy_object(Bucket=self.bucket, Key=prefix + copy, CopySource=source)
        self._put_playlist(key, naming.text)  # last: a playlist always names files that exist

    def ensure_capped_master(self, prefix: str, cap: int) -> str:
        key = prefix + capped_master_name(cap)
        if not self._exists(key):
            self._put_playlist(key, filter_master(self.text(prefix + MASTER_PLAYLIST), cap))
        return key


def _media_song(playlist_key: str) -> tuple[str, str]:
    """(song id, prefix) of the media a rendition lives under: `songs/<id>/...` (may be another song's
    media when a catalog entry is mapped onto an encoded track)."""
    parts = playlist_key.split("/")
    if len(parts) != 3 or parts[0] != "songs":
        raise ValueError(f"unexpected playlist key {playlist_key}")
    return parts[1], f"songs/{parts[1]}/"


def _segment_files(playlist: str) -> tuple[str | None, list[str]]:
    init: str | None = None
    segments: list[str] = []
    for line in playlist.splitlines():
        line = line.strip()
        if line.startswith("#EXT-X-MAP:"):
            found = re.search(r'URI="([^"]+)"', line)
            init = found[1] if found else None
        elif line and not line.startswith("#"):
            segments.append(line)
    return init, segments


def _playable(song_id: str) -> SongItem:
    """The item whose media plays for `song_id`: the song itself, or the song it links to
    (`mediaId`); NotFound, or Conflict while that media is not (yet) encoded."""
    try:
        song = SongItem.get(song_key(song_id), META)
    except DoesNotExist:
        raise NotFound(f"no song {song_id}") from None
    if song.media_id and song.media_id != song_id:
        try:
            song = SongItem.get(song_key(song.media_id), META)
        except DoesNotExist:
            raise Conflict(f"song {song_id} has no audio yet (its media {song.media_id} is not ingested)") from None
    if song.status != READY or not song.renditions:
        raise Conflict(f"song {song_id} is not ready to stream (status {song.status or 'not encoded'})")
    return song


def build_manifest(
    *,
    song_id: str,
    user_id: str,
    quality: str,
    store: MediaStore,
    secret: bytes,
    base_url: str,
    margin_seconds: int,
    now: float | None = None,
) -> dict[str, Any]:
    song = _playable(song_id)
    try:
        tier = UserItem.get(user_id).tier
    except DoesNotExist:
        tier = "free"
    cap = cap_kbps(quality, tier)
    renditions = sorted((plain(r) for r in song.renditions), key=lambda r: int(r["bitrateKbps"]))
    allowed = [r for r in renditions if int(r["bitrateKbps"]) <= cap] or renditions[:1]
    cap = max(cap, int(allowed[-1]["bitrateKbps"]))  # a ladder whose lowest rung is above the cap still plays
    media_id, prefix = _media_song(str(allowed[0]["playlistKey"]))
    duration_ms = int(song.duration_ms)
    expiry = math.ceil((time.time() if now is None else now) + duration_ms / 1000 + margin_seconds)
    token = signing.sign(secret, user_id=user_id, song_id=media_id, cap_kbps=cap, expiry=expiry)

    def url(file: str) -> str:
        return signing.media_url(base_url, token, media_id, file)

    start = max(
        [r for r in allowed if int(r["bitrateKbps"]) <= START_KBPS] or allowed[:1], key=lambda r: int(r["bitrateKbps"])
    )
    for rendition in allowed:  # every file a listener is sent is named after its rung (signing serves no other)
        store.ensure_rung_named(str(rendition["playlistKey"]), int(rendition["bitrateKbps"]))
    init, segments = _segment_files(store.text(str(start["playlistKey"])))
    master_key = store.ensure_capped_master(prefix, cap)
    loudness = plain(song.loudness) if song.loudness else {}
    integrated = float(loudness.get("integratedLufs", TARGET_LUFS))
    peak = float(loudness.get("truePeakDb", PEAK_CEILING_DBTP))
    return {
        "songId": song_id,
        "durationMs": duration_ms,
        "segmentSeconds": int(start.get("segmentSeconds", 10)),
        "codec": str(start.get("codec", "mp4a.40.2")),
        "loudness": {"integratedLufs": integrated, "truePeakDb": peak, "gainDb": gain_db(integrated, peak)},
        "renditions": [
            {
                "bitrateKbps": int(r["bitrateKbps"]),
                "codec": str(r.get("codec", "mp4a.40.2")),
                "playlistUrl": url(str(r["playlistKey"]).rsplit("/", 1)[1]),
            }
            for r in allowed
        ],
        "masterPlaylistUrl": url(master_key.rsplit("/", 1)[1]),
        "startBitrateKbps": int(start["bitrateKbps"]),
        "prebuffer": [url(file) for file in ([init] if init else []) + segments[:PREBUFFER_SEGMENTS]],
        "expiresAt": datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
