"""Devices that hold downloads: register (with the device's RSA public key), list, remove.

A device is registered under the caller's own partition, so another user's device id is simply not
found (404): no request can reach or reveal another user's devices. Removing a device frees its
downloads (their slots go back to the quota) and forgets its downloaded playlists; licenses are
bound to the device item, so the license service refuses to renew them once it is gone.
"""

from __future__ import annotations

import uuid
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pynamodb.exceptions import DoesNotExist

from backbeat.downloads import quota
from backbeat.downloads.models import (
    DeviceItem,
    DownloadItem,
    PlaylistDownloadItem,
    device_key,
    downloads_prefix,
    now,
    playlist_downloads_prefix,
)
from backbeat.errors import InvalidInput, NotFound
from backbeat.ids import base62_id, is_valid_id

MIN_KEY_BITS = 2048
DEVICE_TYPES = ("phone", "tablet", "desktop", "web", "speaker", "car", "other")


def check_public_key(pem: str) -> str:
    """The PEM of an RSA public key of at least MIN_KEY_BITS bits, normalised; InvalidInput otherwise."""
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError, TypeError):
        raise InvalidInput("publicKey: not a PEM-encoded public key", "publicKey") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidInput("publicKey: must be an RSA key", "publicKey")
    if key.key_size < MIN_KEY_BITS:
        raise InvalidInput(
            f"publicKey: RSA keys of at least {MIN_KEY_BITS} bits (this one has {key.key_size})", "publicKey"
        )
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def device_view(device: DeviceItem) -> dict[str, Any]:
    return {
        "deviceId": device.device_id,
        "name": device.name,
        "type": device.type,
        "publicKey": device.public_key,
        "createdAt": device.created_at,
    }


def load_device(user_id: str, device_id: str) -> DeviceItem:
    """The caller's device, or NotFound (also for another user's device id)."""
    if not is_valid_id(device_id):
        raise NotFound(f"device {device_id!r} not found")
    try:
        return DeviceItem.get(user_id, device_key(device_id), consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"device {device_id!r} not found") from None


def register_device(user_id: str, name: str, device_type: str, public_key: str) -> dict[str, Any]:
    """Register a device; Conflict (409) naming the limit when the user already has five."""
    device = DeviceItem(
        user_id,
        device_key(device_id := base62_id("device", uuid.uuid4().hex)),
        device_id=device_id,
        name=name,
        type=device_type,
        public_key=check_public_key(public_key),
        created_at=now(),
    )
    usage = quota.add_device(device)
    return {**device_view(device), "quota": usage.view()}


def list_devices(user_id: str) -> dict[str, Any]:
    devices = list(DeviceItem.query(user_id, DeviceItem.sk.startswith("DEVICE#"), consistent_read=True))
    return {"items": [device_view(device) for device in devices], "quota": quota.usage(user_id).view()}


def remove_device(user_id: str, device_id: str) -> dict[str, Any]:
    """Delete the device, then free its downloads and forget its playlists.

    The device goes first: a download reservation is conditioned on the device existing, so none can
    land on it after this point. A removal interrupted after that is completed by calling again (the
    leftover downloads of the id are swept even though the device is gone)."""
    if not is_valid_id(device_id):
        raise NotFound(f"device {device_id!r} not found")
    removed = quota.remove_device(user_id, device_id)
    held = [
        item.sk
        for item in DownloadItem.query(
            user_id,
            DownloadItem.sk.startswith(downloads_prefix(device_id)),
            consistent_read=True,
            attributes_to_get=["userId", "sk"],
        )
    ]
    if not removed and not held:
        raise NotFound(f"device {device_id!r} not found")
    freed = quota.release_downloads(user_id, held)
    playlists = PlaylistDownloadItem.query(
        user_id,
        PlaylistDownloadItem.sk.startswith(playlist_downloads_prefix(device_id)),
        attributes_to_get=["userId", "sk"],
    )
    with PlaylistDownloadItem.batch_write() as batch:
        for playlist in playlists:
            batch.delete(playlist)
    return {"deviceId": device_id, "removed": True, "freedDownloads": freed, "quota": quota.usage(user_id).view()}
