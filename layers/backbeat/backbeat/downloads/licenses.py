"""Offline licenses: signed, device-bound, valid 30 days, carrying each song's content key wrapped
for the device.

`POST /licenses {deviceId, songIds}` issues a license for the caller's own device and the songs
whose downloads on it are ready. Renewal is the same request: it checks the subscription again, so
a user who is no longer premium gets 403 and the licenses already on their devices simply expire.

A license is three base64url parts, `header.payload.signature`:

- header: `{"alg": "ES256", "typ": "backbeat-license", "kid": <signing key>}`;
- payload: `{licenseId, userId, deviceId, iat, exp, keys: [{songId, contentKeyId, bitrateKbps,
  wrappedKey}]}`: `wrappedKey` is the content key under the device's RSA public key (RSA-OAEP);
- signature: ECDSA P-256 / SHA-256 by a KMS asymmetric key (the private half never leaves KMS) over
  `<header>.<hex SHA-256 of the payload part>`. KMS signs messages of at most 4 KB and a license of
  500 songs is about 320 kB, so the signature covers the payload through its digest.

A license presented by another device is useless to it twice over: it cannot unwrap the keys (they
are wrapped for another key pair) and the signature binds the device id the client checks.
Clients verify with `verify_license` and the public key from `GET /licenses/public-key`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from pynamodb.exceptions import DoesNotExist

from backbeat.downloads import keys
from backbeat.downloads.keys import ContentKeyItem
from backbeat.downloads.preparation import download_sort_key
from backbeat.errors import Conflict, Forbidden, InvalidInput, NotFound
from backbeat.identity.models import UserItem

ALGORITHM = "ES256"
LICENSE_TYPE = "backbeat-license"
LICENSE_DAYS = 30
MAX_SONGS_PER_LICENSE = 500
_P256_BYTES = 32
_deserializer = TypeDeserializer()


class LicenseRejected(Exception):
    """A license this device may not use: forged or altered, for another device, or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed_message(header_part: str, payload_part: str) -> bytes:
    """What the signature covers: the header part and the SHA-256 of the payload part."""
    return f"{header_part}.{hashlib.sha256(payload_part.encode('ascii')).hexdigest()}".encode("ascii")


def device_sort_key(device_id: str) -> str:
    return f"DEVICE#{device_id}"


@dataclass
class Licensor:
    """Issues licenses; clients injected (moto in tests). `signing_key_arn` is a KMS ECC_NIST_P256
    SIGN_VERIFY key, `master_key_arn` the key content keys are wrapped by; `dynamodb` reads the
    downloads table (devices and downloads)."""

    dynamodb: Any
    kms: Any
    downloads_table: str
    signing_key_arn: str
    master_key_arn: str
    valid_days: int = LICENSE_DAYS
    unwrap_threads: int = 8
    _public_key: dict[str, str] = field(default_factory=dict)

    # -------------------------------------------------------------- reading the downloads table
    def _device(self, user_id: str, device_id: str) -> dict[str, Any]:
        item = self.dynamodb.get_item(
            TableName=self.downloads_table,
            Key={"userId": {"S": user_id}, "sk": {"S": device_sort_key(device_id)}},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            raise NotFound(f"no device {device_id} is registered to you")
        return {name: _deserializer.deserialize(value) for name, value in item.items()}

    def _downloads(self, user_id: str, device_id: str, song_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The device's download items for `song_ids`, by song id (absent: never requested)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(song_ids), 100):
            request: dict[str, Any] = {
                self.downloads_table: {
                    "Keys": [
                        {"userId": {"S": user_id}, "sk": {"S": download_sort_key(device_id, song_id)}}
                        for song_id in song_ids[start : start + 100]
                    ],
                    "ConsistentRead": True,
                }
            }
            while request:
                answer = self.dynamodb.batch_get_item(RequestItems=request)
                for raw in answer.get("Responses", {}).get(self.downloads_table, []):
                    item = {name: _deserializer.deserialize(value) for name, value in raw.items()}
                    found[str(item["songId"])] = item
                request = answer.get("UnprocessedKeys") or {}
        return found

    # -------------------------------------------------------------- issuing
    def _wrapped_for_device(self, key_ids: Iterable[str], device_public_key: str) -> dict[str, str]:
        """Each content key, unwrapped by KMS and wrapped again for the device (base64)."""
        items = {item.content_key_id: item for item in ContentKeyItem.batch_get(list(key_ids))}

        def rewrap(key_id: str) -> tuple[str, str]:
            clear = keys.unwrap_content_key(self.kms, self.master_key_arn, items[key_id].wrapped_key_bytes, key_id)
            return key_id, base64.b64encode(keys.wrap_for_device(clear, device_public_key)).decode("ascii")

        with ThreadPoolExecutor(max_workers=self.unwrap_threads) as pool:
            return dict(pool.map(rewrap, sorted(items)))

    def issue(self, user_id: str, device_id: str, song_ids: list[str], now: datetime | None = None) -> dict[str, Any]:
        """A license for `device_id` (the caller's) over the songs ready on it; 403 unless premium."""
        now = now or datetime.now(UTC)
        wanted = list(dict.fromkeys(song_ids))
        if not wanted:
            raise InvalidInput("songIds: name at least one song", "songIds")
        if len(wanted) > MAX_SONGS_PER_LICENSE:
            raise InvalidInput(f"songIds: at most {MAX_SONGS_PER_LICENSE} songs per license", "songIds")
        try:
            tier = UserItem.get(user_id).tier
        except DoesNotExist:
            tier = "free"
        if tier != "premium":
            raise Forbidden(
                f"offline licenses need a premium subscription (yours is {tier}); "
                "the licenses already on your devices stay valid until they expire"
            )
        device = self._device(user_id, device_id)
        downloads = self._downloads(user_id, device_id, wanted)
        granted: list[dict[str, Any]] = []
        refused: list[dict[str, str]] = []
        for song_id in wanted:
            download = downloads.get(song_id)
            if download is None:
                refused.append({"songId": song_id, "reason": "not downloaded to this device"})
            elif download.get("status") != "ready" or not download.get("contentKeyId"):
                refused.append({"songId": song_id, "reason": f"download is {download.get('status', 'not ready')}"})
            else:
                granted.append(download)
        if not granted:
            raise Conflict(f"none of the songs is downloaded and ready on device {device_id}: {refused[0]['reason']}")
        wrapped = self._wrapped_for_device({str(d["contentKeyId"]) for d in granted}, str(device["publicKey"]))
        expires = now + timedelta(days=self.valid_days)
        songs: list[dict[str, Any]] = [
            {
                "songId": str(d["songId"]),
                "contentKeyId": str(d["contentKeyId"]),
                "bitrateKbps": int(d.get("bitrateKbps") or 0),
                "bytes": int(d.get("bytes") or 0),
            }
            for d in granted
        ]
        payload = {
            "licenseId": uuid.uuid4().hex,
            "userId": user_id,
            "deviceId": device_id,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "keys": [{**song, "wrappedKey": wrapped[song["contentKeyId"]]} for song in songs],
        }
        return {
            "licenseId": payload["licenseId"],
            "deviceId": device_id,
            "issuedAt": _iso(now),
            "expiresAt": _iso(expires),
            "songs": songs,
            "refused": refused,
            "license": self.sign(payload),
        }

    # -------------------------------------------------------------- signing
    def sign(self, payload: dict[str, Any]) -> str:
        def kms_sign(message: bytes) -> bytes:
            answer = self.kms.sign(
                KeyId=self.signing_key_arn, Message=message, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
            )
            return bytes(answer["Signature"])

        return sign_license(payload, self.signing_key_arn, kms_sign)

    def public_key(self) -> dict[str, str]:
        """The key clients verify licenses with (PEM), read from KMS once per execution environment."""
        if not self._public_key:
            der = self.kms.get_public_key(KeyId=self.signing_key_arn)["PublicKey"]
            pem = serialization.load_der_public_key(bytes(der)).public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            self._public_key.update(
                {"keyId": self.signing_key_arn, "algorithm": ALGORITHM, "publicKeyPem": pem.decode()}
            )
        return dict(self._public_key)


def sign_license(payload: dict[str, Any], key_id: str, sign_der: Callable[[bytes], bytes]) -> str:
    """The license token of `payload`; `sign_der` signs a message with ECDSA P-256 / SHA-256 and
    answers the DER signature (KMS's form), which becomes JOSE's raw r||s."""
    header = {"alg": ALGORITHM, "typ": LICENSE_TYPE, "kid": key_id}
    header_part = _b64(json.dumps(header, separators=(",", ":")).encode())
    payload_part = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    r, s = decode_dss_signature(sign_der(signed_message(header_part, payload_part)))
    raw = r.to_bytes(_P256_BYTES, "big") + s.to_bytes(_P256_BYTES, "big")
    return f"{header_part}.{payload_part}.{_b64(raw)}"


def verify_license(token: str, public_key_pem: str, device_id: str, now: datetime) -> dict[str, Any]:
    """The payload of a license this device may use at `now`; LicenseRejected otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise LicenseRejected("not a license")
    header_part, payload_part, signature_part = parts
    try:
        header = json.loads(_unb64(header_part))
        signature = _unb64(signature_part)
        public_key = serialization.load_pem_public_key(public_key_pem.encode("ascii"))
    except ValueError as error:
        raise LicenseRejected(f"unreadable license: {error}") from None
    if header.get("alg") != ALGORITHM or header.get("typ") != LICENSE_TYPE or len(signature) != 2 * _P256_BYTES:
        raise LicenseRejected("not an ES256 backbeat license")
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise LicenseRejected("the licensing public key is not an EC key")
    der = encode_dss_signature(
        int.from_bytes(signature[:_P256_BYTES], "big"), int.from_bytes(signature[_P256_BYTES:], "big")
    )
    try:
        public_key.verify(der, signed_message(header_part, payload_part), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise LicenseRejected("the license signature does not verify") from None
    payload: dict[str, Any] = json.loads(_unb64(payload_part))
    if payload.get("deviceId") != device_id:
        raise LicenseRejected(f"the license is for device {payload.get('deviceId')}, not this one")
    if now.timestamp() >= float(payload.get("exp", 0)):
        raise LicenseRejected("the license has expired; renew it online")
    return payload


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
