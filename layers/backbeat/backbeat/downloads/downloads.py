"""Download requests: what a premium user's device may take offline, sized before anything is fetched.

`request_downloads` checks the plan (premium only), the device (the caller's own), and the songs
(in the catalog, encoded at the requested rung), sizes each one, reserves quota slots exactly
(`backbeat.downloads.quota`) and queues one preparation message per accepted song. The answer says
what was accepted, what was refused and why, and the storage estimate.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import DoesNotExist

from backbeat.aws import client
from backbeat.catalog.models import META as CATALOG_META
from backbeat.catalog.models import SongItem, song_id_of_key, song_key
from backbeat.downloads import quota
from backbeat.downloads.devices import load_device
from backbeat.downloads.models import (
    FAILED,
    QUEUED,
    READY,
    DownloadItem,
    download_key,
    downloads_prefix,
    now,
)
from backbeat.downloads.sync import readable_version, record_playlist, songs_at
from backbeat.errors import Forbidden, InvalidInput, NotFound
from backbeat.identity.models import UserItem
from backbeat.ids import base62_id, is_valid_id
from backbeat.media import signing
from backbeat.media.ffmpeg import LADDER_KBPS, SAMPLE_RATE, SEGMENT_SECONDS
from backbeat.media.manifest import QUALITY_CEILINGS_KBPS
from backbeat.media.pipeline import READY as ENCODED
from backbeat.observability import correlation_message_attributes, logger
from backbeat.plain import plain

RUNGS: dict[str, int] = {f"{kbps}k": kbps for kbps in LADDER_KBPS}
DEFAULT_QUALITY = "160k"
PREMIUM = "premium"

# Container overhead of an offline rendition (fMP4/CMAF segments of AAC-LC, encrypted per segment):
INIT_SEGMENT_BYTES = 1_024  # ftyp + moov of one audio track
SEGMENT_BOX_BYTES = 256  # styp + moof/mfhd/traf/tfhd/tfdt + trun and mdat headers, per segment
SAMPLE_ENTRY_BYTES = 8  # one trun entry (size + duration) per AAC frame
AAC_FRAME_SAMPLES = 1_024
CIPHER_BLOCK_BYTES = 16  # at most one block of padding per encrypted segment
SQS_BATCH = 10
SEND_THREADS = 8

REFUSALS = {
    "not_found": "no such song in the catalog",
    "not_available": "this song has no audio to download yet",
    "rung_missing": "this song is not encoded at the requested quality",
    "already_downloaded": "already downloaded to this device",
    "quota_exceeded": f"the limit of {quota.MAX_SONGS:,} downloaded songs across your devices is reached",
    "not_queued": "the download could not be queued; try again",
}


def rung_of(quality: str) -> str:
    """A rung name ("96k" ... "320k"); streaming's quality names ("low" ... "very_high") name their ceiling."""
    if quality in RUNGS:
        return quality
    if quality in QUALITY_CEILINGS_KBPS:
        return f"{QUALITY_CEILINGS_KBPS[quality]}k"
    names = ", ".join([*RUNGS, *QUALITY_CEILINGS_KBPS])
    raise InvalidInput(f"quality: one of {names}", "quality")


def estimated_bytes(duration_ms: int, kbps: int) -> int:
    """Duration x bitrate, plus the container: the init segment, each segment's boxes and padding,
    and one sample entry per AAC frame."""
    seconds = max(0, duration_ms) / 1000
    segments = max(1, math.ceil(seconds / SEGMENT_SECONDS))
    frames = math.ceil(seconds * SAMPLE_RATE / AAC_FRAME_SAMPLES)
    media = math.ceil(seconds * kbps * 1000 / 8)
    return (
        media + INIT_SEGMENT_BYTES + segments * (SEGMENT_BOX_BYTES + CIPHER_BLOCK_BYTES) + frames * SAMPLE_ENTRY_BYTES
    )


# ------------------------------------------------------------------------------------ the songs
@dataclass(frozen=True)
class Sized:
    song_id: str
    estimated_bytes: int


def _get_songs(song_ids: Sequence[str]) -> dict[str, SongItem]:
    keys = sorted({song_key(song_id) for song_id in song_ids if is_valid_id(song_id)})
    found: dict[str, SongItem] = {}
    for start in range(0, len(keys), 100):
        batch = [(key, CATALOG_META) for key in keys[start : start + 100]]
        found.update({song_id_of_key(song.pk): song for song in SongItem.batch_get(batch)})
    return found


def size_songs(song_ids: Sequence[str], rung: str) -> tuple[list[Sized], list[dict[str, str]]]:
    """Each song's estimate at `rung`, from its media (itself or the song it plays the media of), or
    the reason it cannot be downloaded."""
    songs = _get_songs(song_ids)
    media = _get_songs([str(song.media_id) for song in songs.values() if song.media_id])
    kbps = RUNGS[rung]
    sized: list[Sized] = []
    refused: list[dict[str, str]] = []
    for song_id in song_ids:
        song = songs.get(song_id)
        source = media.get(str(song.media_id)) if song is not None and song.media_id else song
        if song is None:
            refused.append(refusal(song_id, "not_found"))
        elif source is None or source.status != ENCODED or not source.renditions:
            refused.append(refusal(song_id, "not_available"))
        elif kbps not in {int(plain(r)["bitrateKbps"]) for r in source.renditions}:
            refused.append(refusal(song_id, "rung_missing"))
        else:
            sized.append(Sized(song_id, estimated_bytes(int(source.duration_ms), kbps)))
    return sized, refused


def refusal(song_id: str, reason: str) -> dict[str, str]:
    return {"songId": song_id, "reason": reason, "message": REFUSALS[reason]}


# ------------------------------------------------------------------------------------- requests
def check_premium(user_id: str) -> None:
    try:
        tier = UserItem.get(user_id).tier
    except DoesNotExist:
        tier = "free"
    if tier != PREMIUM:
        raise Forbidden(f"offline downloads are a Premium feature; this account is on the {tier} plan")


def _distinct(song_ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(song_ids))


@dataclass
class DownloadQueue:
    """Where preparation jobs go: one SQS message per song."""

    queue_url: str

    def send(self, messages: Sequence[dict[str, str]]) -> set[str]:
        """Send the messages, batches in parallel; returns the song ids of those SQS did not take."""
        sqs = client("sqs")

        def send_batch(batch: Sequence[dict[str, str]]) -> set[str]:
            attributes = correlation_message_attributes()  # the request's id, for the worker's logs
            entries = [
                {
                    "Id": str(index),
                    "MessageBody": json.dumps(body),
                    **({"MessageAttributes": attributes} if attributes else {}),
                }
                for index, body in enumerate(batch)
            ]
            try:
                answer = sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except (BotoCoreError, ClientError):
                logger.exception("could not queue a batch of downloads")
                return {body["songId"] for body in batch}  # released and refused by the caller
            return {batch[int(entry["Id"])]["songId"] for entry in answer.get("Failed", [])}

        batches = [messages[start : start + SQS_BATCH] for start in range(0, len(messages), SQS_BATCH)]
        if len(batches) <= 1:
            return set().union(*map(send_batch, batches))
        with ThreadPoolExecutor(max_workers=SEND_THREADS) as pool:
            return set().union(*pool.map(send_batch, batches))


def request_downloads(
    user_id: str,
    device_id: str,
    quality: str,
    queue: DownloadQueue,
    *,
    song_ids: Sequence[str] | None = None,
    playlist_id: str | None = None,
) -> dict[str, Any]:
    check_premium(user_id)
    rung = rung_of(quality)
    load_device(user_id, device_id)
    version = None
    if playlist_id is not None:
        version = readable_version(playlist_id, user_id)
        song_ids = songs_at(playlist_id, version)
    wanted_ids = _distinct(song_ids or [])
    sized, refused = size_songs(wanted_ids, rung)
    job_id = base62_id("download-job", uuid.uuid4().hex)
    at = now()
    wanted = [
        DownloadItem(
            user_id,
            download_key(device_id, song.song_id),
            device_id=device_id,
            song_id=song.song_id,
            quality=rung,
            job_id=job_id,
            status=QUEUED,
            estimated_bytes=song.estimated_bytes,
            requested_at=at,
            playlist_id=playlist_id,
        )
        for song in sized
    ]
    reservation = quota.reserve_downloads(user_id, device_id, wanted)
    refused += [refusal(song_id, "already_downloaded") for song_id in reservation.already]
    refused += [refusal(song_id, "quota_exceeded") for song_id in reservation.over_quota]
    messages = [
        {"jobId": job_id, "userId": user_id, "deviceId": device_id, "songId": item.song_id, "quality": rung}
        for item in reservation.accepted
    ]
    unsent = queue.send(messages) if messages else set()
    if unsent:
        quota.release_downloads(user_id, [download_key(device_id, song_id) for song_id in sorted(unsent)])
        refused += [refusal(song_id, "not_queued") for song_id in sorted(unsent)]
    accepted = [item for item in reservation.accepted if item.song_id not in unsent]
    if playlist_id is not None and version is not None:
        record_playlist(user_id, device_id, playlist_id, version)
    order = {song_id: index for index, song_id in enumerate(wanted_ids)}
    refused.sort(key=lambda entry: order.get(entry["songId"], len(order)))
    answer: dict[str, Any] = {
        "jobId": job_id,
        "deviceId": device_id,
        "quality": rung,
        "accepted": [{"songId": item.song_id, "estimatedBytes": int(item.estimated_bytes)} for item in accepted],
        "refused": refused,
        "estimatedBytes": sum(int(item.estimated_bytes) for item in accepted),
        "quota": quota.usage(user_id).view(),
    }
    if playlist_id is not None:
        answer["playlist"] = {"playlistId": playlist_id, "version": version}
    return answer


# ---------------------------------------------------------------------------------------- reads
_MEDIA_KEY = re.compile(r"^songs/([A-Za-z0-9]{1,64})/([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$")


@dataclass(frozen=True)
class DeliverySigner:
    """Signed URLs for prepared downloads, made as streaming makes them (`backbeat.media.signing`):
    an object of the media bucket under ``songs/<songId>/<file>`` gets a media token URL; an encrypted
    rendition of the offline bucket a presigned S3 GET with the same lifetime; anything else none."""

    secret: bytes
    base_url: str
    media_bucket: str
    offline_bucket: str
    ttl_seconds: int
    clock: Callable[[], float]

    def url(self, user_id: str, item: DownloadItem) -> str | None:
        bucket, key = str(item.bucket), str(item.key)
        expiry = math.ceil(self.clock() + self.ttl_seconds)
        matched = _MEDIA_KEY.match(key)
        if bucket == self.media_bucket and matched:
            cap = RUNGS.get(str(item.quality), max(LADDER_KBPS))
            token = signing.sign(self.secret, user_id=user_id, song_id=matched[1], cap_kbps=cap, expiry=expiry)
            return signing.media_url(self.base_url, token, matched[1], matched[2])
        if bucket != self.offline_bucket:
            return None
        return str(
            client("s3").generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=self.ttl_seconds
            )
        )


def _download_view(item: DownloadItem, signer: DeliverySigner, user_id: str) -> dict[str, Any]:
    view: dict[str, Any] = {
        "songId": item.song_id,
        "quality": item.quality,
        "status": item.status,
        "jobId": item.job_id,
        "estimatedBytes": int(item.estimated_bytes),
        "requestedAt": item.requested_at,
    }
    if item.playlist_id:
        view["playlistId"] = item.playlist_id
    if item.status == READY and item.bucket and item.key:
        view.update(bytes=int(item.bytes or 0), readyAt=item.ready_at, contentKeyId=item.content_key_id)
        url = signer.url(user_id, item)
        if url:
            view["url"] = url
    elif item.status == FAILED:
        view["reason"] = item.reason
    return view


def list_downloads(user_id: str, device_id: str, signer: DeliverySigner) -> dict[str, Any]:
    """What the device holds, with signed URLs for the ready songs and the totals."""
    load_device(user_id, device_id)
    items = list(
        DownloadItem.query(user_id, DownloadItem.sk.startswith(downloads_prefix(device_id)), consistent_read=True)
    )
    views = [_download_view(item, signer, user_id) for item in items]
    ready = [view for view in views if view["status"] == READY and "url" in view]
    return {
        "deviceId": device_id,
        "items": views,
        "total": len(views),
        "ready": len(ready),
        "totalBytes": sum(view["bytes"] for view in ready),
        "estimatedBytes": sum(view["estimatedBytes"] for view in views),
        "quota": quota.usage(user_id).view(),
    }


def delete_download(user_id: str, device_id: str, song_id: str) -> dict[str, Any]:
    """Free the device's slot for the song; deleting twice frees one slot (the second frees nothing)."""
    load_device(user_id, device_id)
    if not is_valid_id(song_id):
        raise NotFound(f"song {song_id!r} not found")
    freed = quota.release_downloads(user_id, [download_key(device_id, song_id)])
    return {"deviceId": device_id, "songId": song_id, "freed": freed == 1, "quota": quota.usage(user_id).view()}
