"""Demo audio for `make dev`: every demo catalog song plays one of the real tracks in
`../shared/datasets/audio/`.

DEMO ONLY. The demo catalog (41k songs with metadata and audio features) comes without audio, and
the audio folder holds ten real tracks. `make dev` ingests those ten through the same path as
`backbeat ingest` (master to the masters bucket -> EventBridge -> the `encode` state machine ->
ffmpeg -> catalog) and links each catalog song to one of them by a hash of its id (stable across
starts) through the song's `mediaId`, so `POST /stream/{songId}` works for any catalog song. A
deployed stack has no such links: there a song plays once its own master is ingested.

Encoding the ten tracks (15 minutes of audio) takes about a minute, so the result is cached under
`.devstack/demo-media/<fingerprint>/`: the media bucket's files and the catalog item of each track.
Later starts restore from the cache in a couple of seconds. The fingerprint covers the pipeline's
code and the ffmpeg binary, so a change to either encodes again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pynamodb.exceptions import DoesNotExist

from backbeat.aws import client
from backbeat.catalog.models import META, SongItem, bind_catalog_table, song_key
from backbeat.media import pipeline
from backbeat.media.masters import (
    MasterMetadata,
    content_hash,
    master_key,
    media_prefix,
    song_id_for_key,
    upload_master,
)
from backbeat.plain import from_image
from devstack.stack import ROOT

DEFAULT_AUDIO_DIR = ROOT.parent / "shared" / "datasets" / "audio"
DEFAULT_CACHE_DIR = ROOT / ".devstack" / "demo-media"
AUDIO_SUFFIXES = frozenset({".ogg", ".oga", ".opus", ".mp3", ".flac", ".m4a", ".wav"})
_TAG = re.compile(r"^\s+(title|artist|album)\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+\.\d+)")


@dataclass(frozen=True)
class DemoTrack:
    path: Path
    song_id: str
    metadata: MasterMetadata
    seconds: float


def read_track(ffmpeg_path: str, path: Path) -> DemoTrack:
    """The track's id (from its bytes, as ingest derives it) and its title/artist/album tags."""
    printed = subprocess.run(
        [ffmpeg_path, "-hide_banner", "-i", str(path)], capture_output=True, text=True, timeout=60, check=False
    ).stderr
    tags: dict[str, str] = {}
    for name, value in _TAG.findall(printed):
        tags.setdefault(name.lower(), value)
    duration = _DURATION.search(printed)
    seconds = int(duration[1]) * 3600 + int(duration[2]) * 60 + float(duration[3]) if duration else 0.0
    metadata = MasterMetadata(
        title=tags.get("title") or path.stem.replace("_", " ").replace("-", " ").title(),
        artist=tags.get("artist") or "Unknown artist",
        album=tags.get("album"),
    )
    song_id = song_id_for_key(master_key(content_hash(path.read_bytes())))
    return DemoTrack(path=path, song_id=song_id, metadata=metadata, seconds=seconds)


def find_tracks(directory: Path, ffmpeg_path: str) -> list[DemoTrack]:
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES) if directory.is_dir() else []
    return [read_track(ffmpeg_path, path) for path in files]


def media_for(media_ids: Sequence[str]) -> Callable[[str], str | None]:
    """The demo link: catalog song id -> one of `media_ids`, by a hash of the id (stable)."""
    ids = list(media_ids)

    def pick(song_id: str) -> str | None:
        if not ids:
            return None
        return ids[int.from_bytes(hashlib.sha256(song_id.encode()).digest()[:8], "big") % len(ids)]

    return pick


# Everything that shapes what the cache holds: the encode steps, the state machine, the media layout
# and the catalog item the steps write.
FINGERPRINTED = (
    "layers/backbeat/backbeat/media/ffmpeg.py",
    "layers/backbeat/backbeat/media/pipeline.py",
    "layers/backbeat/backbeat/media/masters.py",
    "layers/backbeat/backbeat/catalog/models.py",
    "functions/encode/app.py",
    "functions/transcode/app.py",
    "statemachines/encode.asl.json",
)


def ffmpeg_identity(ffmpeg_path: str) -> str:
    """The ffmpeg build: its version line and the binary's size (an upgrade in place changes both)."""
    try:
        version = subprocess.run(
            [ffmpeg_path, "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.splitlines()
        size = Path(ffmpeg_path).stat().st_size if Path(ffmpeg_path).is_file() else 0
    except OSError:
        return ffmpeg_path
    return f"{version[0] if version else ffmpeg_path} {size}"


def pipeline_fingerprint(ffmpeg_path: str, identity: Callable[[str], str] = ffmpeg_identity) -> str:
    """Changes whenever the encoded output could: the pipeline's code or the ffmpeg build."""
    digest = hashlib.sha256()
    for name in FINGERPRINTED:
        digest.update(name.encode() + b"\0" + (ROOT / name).read_bytes())
    digest.update(identity(ffmpeg_path).encode())
    return digest.hexdigest()[:16]


class DemoAudio:
    """Restores cached demo media, or ingests the tracks and caches the result once they are encoded."""

    def __init__(
        self,
        tracks: Sequence[DemoTrack],
        *,
        masters_bucket: str,
        media_bucket: str,
        catalog_table: str,
        cache_dir: Path,
        fingerprint: str,
        log: Callable[[str], None],
    ) -> None:
        self.tracks = list(tracks)
        self.masters_bucket = masters_bucket
        self.media_bucket = media_bucket
        self.cache = cache_dir / fingerprint
        self.cache_root = cache_dir
        self.log = log
        self.pending: list[DemoTrack] = []
        self.restored = 0
        self.started = time.perf_counter()
        bind_catalog_table(catalog_table)

    @property
    def media_ids(self) -> list[str]:
        return [track.song_id for track in self.tracks]

    def start(self) -> None:
        """Restore what the cache has; upload the other masters (their encodes run meanwhile)."""
        s3 = client("s3")
        for track in self.tracks:
            if self._cached(track):
                self._restore(track)
                self.restored += 1
            else:
                upload_master(s3, self.masters_bucket, track.path.read_bytes(), track.metadata)
                self.pending.append(track)
        if self.restored:
            seconds = time.perf_counter() - self.started
            self.log(
                f"demo audio: {self.restored} encoded tracks restored from {self._shown(self.cache)} in {seconds:.1f} s"
            )
        if self.pending:
            minutes = sum(track.seconds for track in self.pending) / 60
            self.log(
                f"demo audio: encoding {len(self.pending)} tracks ({minutes:.1f} min of audio) through the encode "
                f"state machine; cached in {self._shown(self.cache_root)} for later starts"
            )

    def wait(self, timeout: float = 900) -> list[dict[str, Any]]:
        """Wait for the pending encodes and cache them; the ready demo songs' items as plain dicts
        (what a stream image gives), for the search index."""
        deadline = time.monotonic() + timeout
        waiting = {track.song_id: track for track in self.pending}
        failed: list[str] = []
        while waiting and time.monotonic() < deadline:
            for song_id, track in list(waiting.items()):
                song = self._song(song_id)
                if song is not None and song.status == pipeline.READY:
                    self._save(track, song)
                elif song is not None and song.status == pipeline.FAILED:
                    failed.append(f"{track.path.name}: {song.reason}")
                else:
                    continue
                del waiting[song_id]
                done = len(self.pending) - len(waiting)
                seconds = time.perf_counter() - self.started
                self.log(f"  demo audio: {done}/{len(self.pending)} encoded ({seconds:.0f} s since upload)")
            if waiting:
                time.sleep(0.5)
        for message in failed:
            self.log(f"demo audio: FAILED {message}; the catalog songs linked to it answer 409")
        if waiting:
            names = ", ".join(track.path.name for track in waiting.values())
            self.log(f"demo audio: still encoding after {timeout:.0f} s: {names}; their songs answer 409 until ready")
        songs = (self._song(track.song_id) for track in self.tracks)
        return [from_image(song.serialize()) for song in songs if song and song.status == pipeline.READY]

    # -- the cache -------------------------------------------------------------------------------
    @staticmethod
    def _song(song_id: str) -> SongItem | None:
        try:
            return SongItem.get(song_key(song_id), META, consistent_read=True)
        except DoesNotExist:
            return None

    def _save(self, track: DemoTrack, song: SongItem) -> None:
        """Copy the track's media files and catalog item into the cache. Staged in a folder of this
        process's own and renamed into place, so a crash or a second devstack saving the same track
        never leaves a half entry; the cache only saves time, so a failure to write it is logged."""
        try:
            self._save_entry(track, song)
        except OSError as error:
            self.log(f"demo audio: could not cache {track.path.name} ({error}); it will be encoded again next time")

    def _save_entry(self, track: DemoTrack, song: SongItem) -> None:
        s3 = client("s3")
        self.cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{track.song_id}.", dir=self.cache))
        try:
            (staging / "files").mkdir()
            prefix = media_prefix(track.song_id)
            sizes: dict[str, int] = {}
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.media_bucket, Prefix=prefix):
                for found in page.get("Contents", []):
                    name = str(found["Key"])[len(prefix) :]
                    s3.download_file(self.media_bucket, found["Key"], str(staging / "files" / name))
                    sizes[name] = (staging / "files" / name).stat().st_size
            (staging / "files.json").write_text(json.dumps(sizes, sort_keys=True), encoding="utf-8")
            # Written last: an entry counts as cached once song.json is there.
            (staging / "song.json").write_text(json.dumps(song.serialize()), encoding="utf-8")
            target = self.cache / track.song_id
            if not (target / "song.json").is_file():
                self._trash(target)
                staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self._drop_stale_generations()

    def _cached(self, track: DemoTrack) -> bool:
        """A complete entry: song.json, and every file listed with the size it had when saved."""
        entry = self.cache / track.song_id
        try:
            sizes = json.loads((entry / "files.json").read_text(encoding="utf-8"))
            return (entry / "song.json").is_file() and all(
                (entry / "files" / name).stat().st_size == size for name, size in sizes.items()
            )
        except (OSError, ValueError):
            return False

    def _restore(self, track: DemoTrack) -> None:
        s3 = client("s3")
        source = self.cache / track.song_id
        prefix = media_prefix(track.song_id)
        for path in sorted((source / "files").iterdir()):
            content_type = pipeline.CONTENT_TYPES.get(path.suffix, "application/octet-stream")
            body = path.read_bytes()
            s3.put_object(Bucket=self.media_bucket, Key=prefix + path.name, Body=body, ContentType=content_type)
        item = SongItem()
        item.deserialize(json.loads((source / "song.json").read_text(encoding="utf-8")))
        item.save()

    def _trash(self, path: Path) -> None:
        """Remove a folder by renaming it aside first, so an interrupted delete leaves no half entry."""
        if not path.exists():
            return
        aside = path.with_name(f".trash-{path.name}-{os.getpid()}-{time.monotonic_ns()}")
        try:
            path.rename(aside)
        except OSError:
            return
        shutil.rmtree(aside, ignore_errors=True)

    def _drop_stale_generations(self) -> None:
        for other in self.cache_root.iterdir():
            if other.is_dir() and other != self.cache and not other.name.startswith(".trash-"):
                self._trash(other)
            elif other.name.startswith(".trash-"):
                shutil.rmtree(other, ignore_errors=True)

    @staticmethod
    def _shown(path: Path) -> str:
        try:
            return str(path.relative_to(ROOT))
        except ValueError:
            return str(path)
