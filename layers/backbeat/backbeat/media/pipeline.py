"""The steps of the `encode` state machine, between S3 and the catalog table.

The song's record is created (status ``processing``) by the first step, before anything can fail,
so that a failure always has a record to land on and `backbeat ingest --wait` something to poll.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from backbeat.aws import client
from backbeat.catalog.models import (
    SongItem,
    album_id_for,
    artist_id_for,
    new_song,
    single_album_id_for,
    song_key,
)
from backbeat.media import ffmpeg
from backbeat.media.masters import MasterMetadata, media_prefix, song_id_for_key
from backbeat.observability import correlation_id

PROCESSING, READY, FAILED = "processing", "ready", "failed"


def _traced(actions: list[Any]) -> list[Any]:
    """`actions`, and the run's correlation id on the song (the search indexer logs under it)."""
    current = correlation_id()
    return [*actions, SongItem.correlation_id.set(current)] if current else actions


def _download(bucket: str, key: str, directory: Path) -> Path:
    target = directory / "master"
    client("s3").download_file(bucket, key, str(target))
    return target


def start_and_probe(bucket: str, key: str, ffmpeg_path: str, max_seconds: float) -> dict[str, Any]:
    """Record the song as processing, then probe the master; raises InvalidMaster with the reason."""
    song_id = song_id_for_key(key)
    head = client("s3").head_object(Bucket=bucket, Key=key)
    try:
        metadata = MasterMetadata.from_s3(head.get("Metadata") or {})
    except ValueError as error:
        raise ffmpeg.InvalidMaster(str(error)) from error
    artist_id = artist_id_for(metadata.artist)
    if metadata.album:
        album_id, album_title, album_type = (
            album_id_for(artist_id, metadata.album),
            metadata.album,
            "album",
        )
    else:
        album_id, album_title, album_type = single_album_id_for(song_id), metadata.title, "single"
    new_song(
        song_id,
        title=metadata.title,
        artist_id=artist_id,
        artist_name=metadata.artist,
        album_id=album_id,
        album_title=album_title,
        album_type=album_type,
        duration_ms=0,
        status=PROCESSING,
        master_key=key,
    ).save()
    with tempfile.TemporaryDirectory() as directory:
        source = _download(bucket, key, Path(directory))
        probed = ffmpeg.probe(ffmpeg_path, source)
        reason = ffmpeg.validate_probe(probed, source.stat().st_size, max_seconds)
    if reason:
        raise ffmpeg.InvalidMaster(reason)
    assert probed.seconds is not None
    duration_ms = round(probed.seconds * 1000)
    SongItem(pk=song_key(song_id)).update(actions=_traced([SongItem.duration_ms.set(duration_ms)]))
    return {
        "songId": song_id,
        "durationMs": duration_ms,
        "format": probed.format_name,
        "codec": probed.codec,
        "sampleRate": probed.sample_rate,
        "channels": probed.channels,
    }


def loudness(bucket: str, key: str, ffmpeg_path: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        measured = ffmpeg.measure_loudness(ffmpeg_path, _download(bucket, key, Path(directory)))
    return {"integratedLufs": measured.integrated_lufs, "truePeakDb": measured.true_peak_db}


def _s3_url(url: str) -> tuple[str, str]:
    parsed = urlparse(url)
    if parsed.scheme != "s3":
        raise ValueError(f"not an s3:// URL: {url}")
    return parsed.netloc, parsed.path.lstrip("/")


CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".m4s": "video/iso.segment", ".mp4": "audio/mp4"}


def run_transcode_job(job: dict[str, Any], ffmpeg_path: str) -> dict[str, Any]:
    """The devstack's stand-in for MediaConvert: takes the same CreateJob request (input file, CMAF
    group destination) and writes the same layout: ``<destination>master.m3u8`` and one
    ``master_<kbps>k.m3u8`` per rung with its init segment and fMP4 segments."""
    settings = job["Settings"]
    source_bucket, source_key = _s3_url(settings["Inputs"][0]["FileInput"])
    destination = settings["OutputGroups"][0]["OutputGroupSettings"]["CmafGroupSettings"]["Destination"]
    media_bucket, base = _s3_url(destination)
    prefix = base.rsplit("/", 1)[0] + "/"  # MediaConvert names the master after the destination's last part
    s3 = client("s3")
    with tempfile.TemporaryDirectory() as directory:
        source = _download(source_bucket, source_key, Path(directory))
        written = ffmpeg.transcode(ffmpeg_path, source, Path(directory) / "out")
        for path in written:
            s3.upload_file(
                str(path),
                media_bucket,
                prefix + path.name,
                ExtraArgs={"ContentType": CONTENT_TYPES.get(path.suffix, "application/octet-stream")},
            )
    return {"Job": {"Status": "COMPLETE", "UserMetadata": job.get("UserMetadata") or {}, "Outputs": len(written)}}


def register(song_id: str, media_bucket: str, probed: dict[str, Any], measured: dict[str, float]) -> dict[str, Any]:
    """Check the master playlist exists and lists every rung, then publish the song (status ready)."""
    prefix = media_prefix(song_id)
    master = client("s3").get_object(Bucket=media_bucket, Key=prefix + ffmpeg.MASTER_PLAYLIST)["Body"].read()
    text = master.decode("utf-8")
    missing = [kbps for kbps in ffmpeg.LADDER_KBPS if ffmpeg.media_playlist(kbps) not in text]
    if missing:
        raise ffmpeg.TranscodeFailed(f"the master playlist lacks the rungs {missing}")
    renditions = [
        {
            "bitrateKbps": kbps,
            "codec": ffmpeg.AAC_LC_CODEC,
            "playlistKey": prefix + ffmpeg.media_playlist(kbps),
            "segmentSeconds": ffmpeg.SEGMENT_SECONDS,
        }
        for kbps in ffmpeg.LADDER_KBPS
    ]
    SongItem(pk=song_key(song_id)).update(
        actions=_traced(
            [
                SongItem.status.set(READY),
                SongItem.reason.remove(),
                SongItem.renditions.set(renditions),
                SongItem.loudness.set(measured),
                SongItem.duration_ms.set(int(probed["durationMs"])),
            ]
        )
    )
    return {"songId": song_id, "status": READY, "masterPlaylistKey": prefix + ffmpeg.MASTER_PLAYLIST}


def failure_reason(error: dict[str, Any]) -> str:
    """The reason a Catch hands over: the Lambda error's message when the cause is one."""
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        parsed = None
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        return str(parsed["errorMessage"])
    return str(cause or error.get("Error") or "unknown error")[:1000]


def mark_failed(key: str, error: dict[str, Any]) -> dict[str, Any]:
    song_id = song_id_for_key(key)
    reason = failure_reason(error)
    SongItem(pk=song_key(song_id)).update(actions=_traced([SongItem.status.set(FAILED), SongItem.reason.set(reason)]))
    return {"songId": song_id, "status": FAILED, "reason": reason}
