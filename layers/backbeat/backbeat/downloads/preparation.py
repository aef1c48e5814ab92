"""Preparing a download: the requested rung of a song's ladder, encrypted once per rendition.

The worker (functions/download_worker) calls `prepare` for each queued job. A job names a download
item of the downloads table (`DL#<deviceId>#<songId>`, written by POST /downloads); preparation:

1. skips the job if the download was deleted meanwhile, or is already ready (a redelivered message);
2. picks the rendition: the highest rung of the song's ladder at or below the requested quality;
3. makes sure the rendition's offline file exists: one content key and one encrypted copy per
   rendition, shared by every user and device that downloads it (docs/decisions.md, 39). The key
   is created once (a conditional put of its wrapped form); whoever loses that race, or comes back
   after a crash, unwraps the stored key, so a redelivery never encrypts under a second key;
4. marks the download ready with the file's bucket, key, size and content key id, on the condition
   that the item still exists and is not ready yet (so nothing is counted twice).

A job that can never succeed (no such song, not encoded, unknown quality) marks the download failed
with the reason; anything else raises, so the queue delivers the job again, and on its last attempt
the download is marked failed with the error before the message goes to the dead-letter queue.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from boto3.dynamodb.types import TypeDeserializer
from pydantic import BaseModel, ConfigDict, Field
from pynamodb.exceptions import DoesNotExist, PutError

from backbeat.catalog.models import META, SongItem, song_key
from backbeat.downloads import keys
from backbeat.downloads.keys import ContentKeyItem, OfflineFile
from backbeat.media.manifest import QUALITY_CEILINGS_KBPS, TIER_CAPS_KBPS
from backbeat.media.pipeline import READY

QUEUED, FAILED = "queued", "failed"
OFFLINE_PREFIX = "offline/"
_MAP_URI = re.compile(r'URI="([^"]+)"')
_deserializer = TypeDeserializer()


class DownloadJob(BaseModel):
    """A message of the downloads queue (the contract with POST /downloads)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    job_id: str = Field(alias="jobId", min_length=1)
    user_id: str = Field(alias="userId", min_length=1)
    device_id: str = Field(alias="deviceId", min_length=1)
    song_id: str = Field(alias="songId", min_length=1)
    quality: str | int = Field(description="low | normal | high | very_high, a rung name (160k) or a bitrate in kbps")

    @property
    def sort_key(self) -> str:
        return download_sort_key(self.device_id, self.song_id)


def download_sort_key(device_id: str, song_id: str) -> str:
    return f"DL#{device_id}#{song_id}"


class CannotPrepare(Exception):
    """The job can never succeed; the download is marked failed with this reason."""


@dataclass(frozen=True)
class Rendition:
    media_id: str  # the song whose encoded media this is (itself, or the one it links to)
    bitrate_kbps: int
    playlist_key: str

    @property
    def content_key_id(self) -> str:
        return keys.content_key_id(self.media_id, self.bitrate_kbps)

    @property
    def offline_key(self) -> str:
        return f"{OFFLINE_PREFIX}{self.media_id}/{self.bitrate_kbps}k.bbx"


Outcome = Literal["ready", "failed", "skipped"]


@dataclass(frozen=True)
class Prepared:
    outcome: Outcome
    reason: str = ""
    encrypted: bool = False  # this call wrote the rendition's offline file


def ceiling_kbps(quality: str | int) -> int:
    """The highest rung a download at `quality` gets (downloads are premium: premium's cap). A
    quality is a streaming quality name, or a bitrate in kbps."""
    if isinstance(quality, int) or quality.removesuffix("k").isdigit():  # 160, "160" or a rung name, "160k"
        return min(int(str(quality).removesuffix("k")), TIER_CAPS_KBPS["premium"])
    if quality not in QUALITY_CEILINGS_KBPS:
        raise CannotPrepare(f"unknown quality {quality!r}; one of {', '.join(QUALITY_CEILINGS_KBPS)}")
    return min(QUALITY_CEILINGS_KBPS[quality], TIER_CAPS_KBPS["premium"])


def choose_rendition(song_id: str, quality: str | int) -> Rendition:
    """The rung of `song_id`'s ladder a download at `quality` gets: the highest at or below the
    ceiling (the lowest rung if the whole ladder is above it)."""
    ceiling = ceiling_kbps(quality)
    try:
        song = SongItem.get(song_key(song_id), META)
    except DoesNotExist:
        raise CannotPrepare(f"no song {song_id} in the catalog") from None
    media_id = song_id
    if song.media_id and song.media_id != song_id:
        media_id = song.media_id
        try:
            song = SongItem.get(song_key(media_id), META)
        except DoesNotExist:
            raise CannotPrepare(f"song {song_id} has no audio (its media {media_id} is not ingested)") from None
    if song.status != READY or not song.renditions:
        raise CannotPrepare(f"song {song_id} is not encoded (status {song.status or 'no master'})")
    ladder = sorted(((int(r["bitrateKbps"]), str(r["playlistKey"])) for r in song.renditions), key=lambda rung: rung[0])
    within = [rung for rung in ladder if rung[0] <= ceiling] or ladder[:1]
    kbps, playlist_key = within[-1]
    return Rendition(media_id, kbps, playlist_key)


def rendition_files(playlist: str) -> list[str]:
    """The files of a media playlist in play order: the init segment (EXT-X-MAP), then the segments."""
    init: list[str] = []
    segments: list[str] = []
    for line in (line.strip() for line in playlist.splitlines()):
        if line.startswith("#EXT-X-MAP:"):
            found = _MAP_URI.search(line)
            if found:
                init = [found[1]]
        elif line and not line.startswith("#"):
            segments.append(line)
    return init + segments


def rendition_chunks(s3: Any, media_bucket: str, playlist_key: str) -> list[bytes]:
    """The rendition's bytes, one chunk per file (init, then segments): concatenated, a fragmented
    MP4 a player reads as is. What the client gets back when it decrypts the offline file."""
    prefix = playlist_key.rsplit("/", 1)[0] + "/"
    playlist = s3.get_object(Bucket=media_bucket, Key=playlist_key)["Body"].read().decode("utf-8")
    files = rendition_files(playlist)
    if not files:
        raise CannotPrepare(f"the playlist {playlist_key} lists no media")
    return [s3.get_object(Bucket=media_bucket, Key=prefix + name)["Body"].read() for name in files]


@dataclass(frozen=True)
class Preparer:
    """What preparation reads and writes; clients are injected so tests can use moto."""

    dynamodb: Any
    s3: Any
    kms: Any
    downloads_table: str
    media_bucket: str
    offline_bucket: str
    master_key_arn: str

    # -------------------------------------------------------------- the download item (theirs)
    def download(self, job: DownloadJob) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(
            TableName=self.downloads_table,
            Key={"userId": {"S": job.user_id}, "sk": {"S": job.sort_key}},
            ConsistentRead=True,
        ).get("Item")
        return {name: _deserializer.deserialize(value) for name, value in item.items()} if item else None

    def _update_download(self, job: DownloadJob, assignments: dict[str, Any]) -> bool:
        """Set `assignments` on the job's download if it still exists and is not ready yet."""
        names = {f"#a{index}": name for index, name in enumerate(assignments)}
        values = {f":a{index}": _attribute(value) for index, value in enumerate(assignments.values())}
        values[":ready"] = {"S": READY}
        try:
            self.dynamodb.update_item(
                TableName=self.downloads_table,
                Key={"userId": {"S": job.user_id}, "sk": {"S": job.sort_key}},
                UpdateExpression="SET " + ", ".join(f"{name} = :a{name[2:]}" for name in names),
                ConditionExpression="attribute_exists(sk) AND #status <> :ready",
                ExpressionAttributeNames={**names, "#status": "status"},
                ExpressionAttributeValues=values,
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def mark_ready(self, job: DownloadJob, offline: OfflineFile, now: datetime) -> bool:
        return self._update_download(
            job,
            {
                "status": READY,
                "bytes": offline.bytes,
                "bucket": offline.bucket,
                "key": offline.key,
                "contentKeyId": offline.content_key_id,
                "bitrateKbps": offline.bitrate_kbps,
                "readyAt": _iso(now),
            },
        )

    def mark_failed(self, job: DownloadJob, reason: str, now: datetime) -> bool:
        return self._update_download(job, {"status": FAILED, "reason": reason[:1000], "failedAt": _iso(now)})

    # -------------------------------------------------------------- the rendition's offline file
    def _content_key(self, rendition: Rendition, now: datetime) -> tuple[ContentKeyItem, bytes]:
        """The rendition's content key item and its clear key: created once (conditional put), or
        unwrapped from the stored blob when it exists (a redelivery, a crash, a concurrent job)."""
        key_id = rendition.content_key_id
        try:
            item = ContentKeyItem.get(key_id, consistent_read=True)
            return item, keys.unwrap_content_key(self.kms, self.master_key_arn, item.wrapped_key_bytes, key_id)
        except DoesNotExist:
            pass
        data_key = keys.generate_content_key(self.kms, self.master_key_arn, key_id)
        item = ContentKeyItem.new(key_id, rendition.media_id, rendition.bitrate_kbps, data_key.wrapped, now)
        try:
            item.save(condition=ContentKeyItem.content_key_id.does_not_exist())
        except PutError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
            item = ContentKeyItem.get(key_id, consistent_read=True)
            return item, keys.unwrap_content_key(self.kms, self.master_key_arn, item.wrapped_key_bytes, key_id)
        return item, data_key.plaintext

    def ensure_offline_file(self, rendition: Rendition, now: datetime) -> tuple[OfflineFile, bool]:
        """The rendition's offline file, encrypting it only if no job has finished it before;
        True when this call wrote it."""
        try:
            existing = ContentKeyItem.get(rendition.content_key_id, consistent_read=True)
        except DoesNotExist:
            existing = None
        if existing is not None and existing.is_ready:
            return existing.offline_file(), False
        item, content_key = self._content_key(rendition, now)
        chunks = rendition_chunks(self.s3, self.media_bucket, rendition.playlist_key)
        sealed = keys.encrypt_file(content_key, rendition.content_key_id, chunks)
        self.s3.put_object(
            Bucket=self.offline_bucket,
            Key=rendition.offline_key,
            Body=sealed,
            ContentType="application/octet-stream",
            Metadata={"content-key-id": rendition.content_key_id},
        )
        digest = hashlib.sha256(sealed).hexdigest()
        item.mark_ready(self.offline_bucket, rendition.offline_key, len(sealed), digest, now)
        return item.offline_file(), True

    # -------------------------------------------------------------- one job
    def prepare(self, job: DownloadJob, now: datetime | None = None) -> Prepared:
        now = now or datetime.now(UTC)
        current = self.download(job)
        if current is None:
            return Prepared("skipped", "the download was deleted")
        if current.get("status") == READY:
            return Prepared("skipped", "already ready")
        try:
            rendition = choose_rendition(job.song_id, job.quality)
            offline, encrypted = self.ensure_offline_file(rendition, now)
        except CannotPrepare as error:
            if not self.mark_failed(job, str(error), now):
                return Prepared("skipped", "the download was deleted or is ready")
            return Prepared("failed", str(error))
        if not self.mark_ready(job, offline, now):
            return Prepared("skipped", "the download was deleted or is ready", encrypted)
        return Prepared("ready", encrypted=encrypted)


def _attribute(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    return {"S": str(value)}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
