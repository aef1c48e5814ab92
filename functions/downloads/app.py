"""Offline downloads API (JWT): /me/devices, /downloads, /downloads/sync.

Devices and download requests live in the caller's own partition of the downloads table; the quota
counters are exact under concurrency (`backbeat.downloads.quota`); accepted songs go to the
preparation queue, one message each. Ready downloads are listed with signed URLs made with the
streaming signing key, read once per cold start.
"""

import time
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backbeat.catalog.models import bind_catalog_table
from backbeat.config import DownloadsSettings
from backbeat.downloads import devices, downloads, sync
from backbeat.downloads.models import bind_downloads_table
from backbeat.errors import InvalidInput
from backbeat.http import caller_id, create_resolver
from backbeat.idempotency import IdempotencyKey, OnceOnly
from backbeat.identity.models import bind_users_table
from backbeat.media import signing
from backbeat.observability import HTTP_API, count, lambda_entry, tracer
from backbeat.playlists.models import MAX_TRACKS, bind_playlists_table

settings = DownloadsSettings()
bind_downloads_table(settings.downloads_table)
bind_catalog_table(settings.catalog_table)
bind_users_table(settings.users_table)
bind_playlists_table(settings.playlists_table)
queue = downloads.DownloadQueue(settings.downloads_queue_url)
signer = downloads.DeliverySigner(
    secret=signing.load_secret(settings.media_signing_secret_arn),
    base_url=settings.media_base_url,
    media_bucket=settings.media_bucket,
    offline_bucket=settings.offline_bucket,
    ttl_seconds=settings.download_url_ttl_seconds,
    clock=time.time,
)
once = OnceOnly(settings.idempotency_table)
app = create_resolver()

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
DeviceType = Annotated[str, StringConstraints(pattern="^(" + "|".join(devices.DEVICE_TYPES) + ")$")]
PublicKey = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Quality = Annotated[str, StringConstraints(min_length=1, max_length=16)]
DeviceId = Annotated[str, Query(min_length=1, max_length=64)]


class NewDevice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    type: DeviceType
    publicKey: PublicKey


class DownloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deviceId: Id
    playlistId: Id | None = None
    songIds: Annotated[list[Id], Field(min_length=1, max_length=MAX_TRACKS)] | None = None
    quality: Quality = downloads.DEFAULT_QUALITY


def _answer(status: int, body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


@app.post("/me/devices", status_code=201)
@tracer.capture_method
def register_device(body: NewDevice, idempotency_key: IdempotencyKey = None) -> Response[dict[str, Any]]:
    caller = caller_id(app)

    def register() -> dict[str, Any]:
        device = devices.register_device(caller, body.name, body.type, body.publicKey)
        count("DevicesRegistered")
        return device

    return _answer(201, once.run("registerDevice", caller, idempotency_key, body.model_dump(), register))


@app.get("/me/devices")
@tracer.capture_method
def list_devices() -> dict[str, Any]:
    return devices.list_devices(caller_id(app))


@app.delete("/me/devices/<device_id>")
@tracer.capture_method
def remove_device(device_id: str) -> dict[str, Any]:
    return devices.remove_device(caller_id(app), device_id)


@app.post("/downloads", status_code=202)
@tracer.capture_method
def request_downloads(body: DownloadRequest, idempotency_key: IdempotencyKey = None) -> Response[dict[str, Any]]:
    if (body.playlistId is None) == (body.songIds is None):
        raise InvalidInput("songIds: give either playlistId or songIds", "songIds")
    caller = caller_id(app)

    def request() -> dict[str, Any]:
        answer = downloads.request_downloads(
            caller, body.deviceId, body.quality, queue, song_ids=body.songIds, playlist_id=body.playlistId
        )
        count("DownloadsAccepted", len(answer["accepted"]))
        count("DownloadsRefused", len(answer["refused"]))
        return answer

    return _answer(202, once.run("requestDownloads", caller, idempotency_key, body.model_dump(), request))


@app.get("/downloads")
@tracer.capture_method
def list_downloads(deviceId: DeviceId) -> dict[str, Any]:
    return downloads.list_downloads(caller_id(app), deviceId, signer)


@app.get("/downloads/sync")
@tracer.capture_method
def sync_downloads(
    deviceId: DeviceId,
    since: Annotated[str | None, Query(min_length=1, max_length=8192, pattern=r"^[A-Za-z0-9_-]+$")] = None,
) -> dict[str, Any]:
    return sync.sync(caller_id(app), deviceId, since)


@app.delete("/downloads/<song_id>")
@tracer.capture_method
def delete_download(song_id: str, deviceId: DeviceId) -> dict[str, Any]:
    return downloads.delete_download(caller_id(app), deviceId, song_id)


@lambda_entry(HTTP_API)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    once.register(context)
    return app.resolve(event, context)
