"""Content keys and the offline file format.

Each rendition (a song's media at one rung of the ladder) is encrypted once, with its own AES-128
content key (docs/decisions.md, 39). The content key exists in clear only in memory: at rest it is
wrapped by a KMS key (envelope encryption: `GenerateDataKey`, stored as the ciphertext blob with an
encryption context naming the content key) and, in a license, by the device's RSA public key
(RSA-OAEP with SHA-256), so that only that device's private key can recover it.

The offline file (`.bbx`) is AES-128-GCM in chunks, one chunk per HLS file of the rendition (the
init segment, then every media segment, in playlist order):

    magic "BBX1" | u16 length | contentKeyId (UTF-8)
    then per chunk: u32 length | ciphertext with its 16-byte tag

A chunk's nonce is its index (96 bits, big-endian); its associated data is the header, the index
and a last-chunk flag, so chunks cannot be reordered, swapped between files, or dropped from the
end without the decryption failing. Counter nonces are safe because a content key only ever
encrypts one plaintext (renditions are immutable: a song id is the hash of its master), so a
redelivered job that encrypts again with the same key writes the very same bytes. The client
decrypts chunk by chunk in memory; the clear audio never touches the disk.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from backbeat.tables import bind_models

MAGIC = b"BBX1"
CONTENT_KEY_BYTES = 16  # AES-128
MIN_DEVICE_KEY_BITS = 2048
KMS_CONTEXT_PURPOSE = "backbeat-offline-content"
_OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


class CorruptOfflineFile(ValueError):
    """The file is not an offline file, or its bytes were changed, cut short or encrypted under
    another key."""


def content_key_id(media_id: str, bitrate_kbps: int) -> str:
    """One content key per rendition: the media's song id and the rung (`<songId>.<kbps>k`)."""
    return f"{media_id}.{bitrate_kbps}k"


# ------------------------------------------------------------------ the content keys table


class ContentKeyItem(Model):
    """One rendition's content key (wrapped by KMS, never in clear) and, once written, its offline
    file. `status` is `preparing` from the key's creation until the file is written, then `ready`."""

    class Meta:
        table_name = "unbound"  # set by bind_content_keys_table() at cold start

    content_key_id = UnicodeAttribute(hash_key=True, attr_name="contentKeyId")
    media_id = UnicodeAttribute(attr_name="mediaId")
    bitrate_kbps = NumberAttribute(attr_name="bitrateKbps")
    wrapped_key = UnicodeAttribute(attr_name="wrappedKey")  # base64 of the KMS ciphertext blob
    status = UnicodeAttribute(default="preparing")
    created_at = UnicodeAttribute(attr_name="createdAt")
    bucket = UnicodeAttribute(null=True)
    key = UnicodeAttribute(null=True)
    size_bytes = NumberAttribute(attr_name="bytes", null=True)
    sha256 = UnicodeAttribute(null=True)  # of the encrypted file
    ready_at = UnicodeAttribute(attr_name="readyAt", null=True)

    @classmethod
    def new(cls, key_id: str, media_id: str, bitrate_kbps: int, wrapped: bytes, now: datetime) -> ContentKeyItem:
        return cls(
            content_key_id=key_id,
            media_id=media_id,
            bitrate_kbps=bitrate_kbps,
            wrapped_key=base64.b64encode(wrapped).decode("ascii"),
            status="preparing",
            created_at=_iso(now),
        )

    @property
    def wrapped_key_bytes(self) -> bytes:
        return base64.b64decode(self.wrapped_key)

    @property
    def is_ready(self) -> bool:
        return self.status == "ready" and bool(self.bucket and self.key)

    def mark_ready(self, bucket: str, key: str, size: int, sha256: str, now: datetime) -> None:
        self.update(
            actions=[
                ContentKeyItem.status.set("ready"),
                ContentKeyItem.bucket.set(bucket),
                ContentKeyItem.key.set(key),
                ContentKeyItem.size_bytes.set(size),
                ContentKeyItem.sha256.set(sha256),
                ContentKeyItem.ready_at.set(_iso(now)),
            ]
        )

    def offline_file(self) -> OfflineFile:
        assert self.bucket and self.key and self.size_bytes is not None
        return OfflineFile(self.content_key_id, self.bucket, self.key, int(self.size_bytes), int(self.bitrate_kbps))


@dataclass(frozen=True)
class OfflineFile:
    """Where a rendition's encrypted copy lives, and under which content key."""

    content_key_id: str
    bucket: str
    key: str
    bytes: int
    bitrate_kbps: int


def bind_content_keys_table(table_name: str) -> None:
    bind_models(table_name, ContentKeyItem)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ------------------------------------------------------------------ KMS envelope encryption


def kms_context(key_id: str) -> dict[str, str]:
    """The encryption context every wrap and unwrap of `key_id` carries: KMS refuses to unwrap a
    blob under another content key's context, so blobs cannot be swapped between items."""
    return {"purpose": KMS_CONTEXT_PURPOSE, "contentKeyId": key_id}


@dataclass(frozen=True)
class DataKey:
    plaintext: bytes
    wrapped: bytes


def generate_content_key(kms: Any, master_key_arn: str, key_id: str) -> DataKey:
    """A fresh AES-128 key from KMS, in clear (for this invocation only) and wrapped (to store)."""
    answer = kms.generate_data_key(KeyId=master_key_arn, KeySpec="AES_128", EncryptionContext=kms_context(key_id))
    return DataKey(bytes(answer["Plaintext"]), bytes(answer["CiphertextBlob"]))


def unwrap_content_key(kms: Any, master_key_arn: str, wrapped: bytes, key_id: str) -> bytes:
    """The clear content key of a stored blob: KMS checks that the blob was wrapped by
    `master_key_arn` under a context naming `key_id`."""
    answer = kms.decrypt(CiphertextBlob=wrapped, KeyId=master_key_arn, EncryptionContext=kms_context(key_id))
    plaintext = bytes(answer["Plaintext"])
    if len(plaintext) != CONTENT_KEY_BYTES:
        raise ValueError(f"content key {key_id} is not an AES-128 key")
    return plaintext


# ------------------------------------------------------------------ device keys (RSA-OAEP)


def load_device_public_key(pem: str) -> rsa.RSAPublicKey:
    """A device's public key: PEM, RSA, at least 2048 bits; ValueError naming what is wrong."""
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError) as error:
        raise ValueError("publicKey is not a PEM public key") from error
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("publicKey must be an RSA key")
    if key.key_size < MIN_DEVICE_KEY_BITS:
        raise ValueError(f"publicKey must have at least {MIN_DEVICE_KEY_BITS} bits (it has {key.key_size})")
    return key


def wrap_for_device(content_key: bytes, device_public_key_pem: str) -> bytes:
    """The content key encrypted for one device (RSA-OAEP, SHA-256): only its private key opens it."""
    return load_device_public_key(device_public_key_pem).encrypt(content_key, _OAEP)


def unwrap_on_device(wrapped: bytes, private_key: rsa.RSAPrivateKey) -> bytes:
    """The device side of `wrap_for_device`; ValueError if the key was wrapped for another device."""
    key = private_key.decrypt(wrapped, _OAEP)
    if len(key) != CONTENT_KEY_BYTES:
        raise ValueError("not an AES-128 content key")
    return key


# ------------------------------------------------------------------ the offline file


def _header(key_id: str) -> bytes:
    encoded = key_id.encode("utf-8")
    return MAGIC + struct.pack(">H", len(encoded)) + encoded


def _nonce(index: int) -> bytes:
    return struct.pack(">IQ", 0, index)


def _associated_data(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">Q?", index, last)


def encrypt_chunks(content_key: bytes, key_id: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The offline file as a sequence of byte strings (header, then each sealed chunk), so a caller
    can stream it to S3 without holding the whole rendition twice."""
    aead = AESGCM(content_key)
    header = _header(key_id)
    yield header
    pending: bytes | None = None
    index = 0
    for chunk in chunks:
        if pending is not None:
            sealed = aead.encrypt(_nonce(index), pending, _associated_data(header, index, False))
            yield struct.pack(">I", len(sealed)) + sealed
            index += 1
        pending = chunk
    if pending is None:
        raise ValueError("nothing to encrypt: the rendition has no files")
    sealed = aead.encrypt(_nonce(index), pending, _associated_data(header, index, True))
    yield struct.pack(">I", len(sealed)) + sealed


def encrypt_file(content_key: bytes, key_id: str, chunks: Iterable[bytes]) -> bytes:
    return b"".join(encrypt_chunks(content_key, key_id, chunks))


def file_key_id(data: bytes) -> str:
    """The content key id an offline file names in its header."""
    if data[:4] != MAGIC or len(data) < 6:
        raise CorruptOfflineFile("not an offline file")
    (length,) = struct.unpack(">H", data[4:6])
    if len(data) < 6 + length:
        raise CorruptOfflineFile("offline file header cut short")
    return data[6 : 6 + length].decode("utf-8", errors="replace")


def decrypt_chunks(content_key: bytes, data: bytes) -> Iterator[bytes]:
    """The clear chunks of an offline file, one at a time (in memory); CorruptOfflineFile if any
    chunk fails its tag, the chunks are out of order, or the file ends before its last chunk."""
    key_id = file_key_id(data)
    header = _header(key_id)
    aead = AESGCM(content_key)
    position, index = len(header), 0
    while position < len(data):
        if position + 4 > len(data):
            raise CorruptOfflineFile("offline file cut short")
        (length,) = struct.unpack(">I", data[position : position + 4])
        sealed = data[position + 4 : position + 4 + length]
        if len(sealed) != length:
            raise CorruptOfflineFile("offline file cut short")
        position += 4 + length
        last = position >= len(data)
        try:
            yield aead.decrypt(_nonce(index), sealed, _associated_data(header, index, last))
        except InvalidTag:
            raise CorruptOfflineFile(f"chunk {index} does not decrypt: wrong key, or the file was changed") from None
        index += 1
    if index == 0:
        raise CorruptOfflineFile("offline file has no chunks")


def decrypt_file(content_key: bytes, data: bytes) -> bytes:
    return b"".join(decrypt_chunks(content_key, data))
