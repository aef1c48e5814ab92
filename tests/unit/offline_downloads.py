"""What the offline-download tests share: an encoded song in the media bucket (made-up bytes laid
out as the encode pipeline lays them out), device and download items as the downloads API writes
them (the contract of docs/decisions.md, 39), and the downloads queue's SQS events."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import boto3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from backbeat.catalog.models import bind_catalog_table, new_song
from backbeat.identity.models import UserItem, bind_users_table
from devstack.resources import Deployment

LADDER = (96, 128, 160, 256, 320)


def encoded_song(aws: Deployment, song_id: str, segments: int = 3) -> dict[int, bytes]:
    """A ready song whose every rung is an init segment and `segments` media segments; returns each
    rung's bytes in play order (what a decrypted offline file must equal)."""
    bind_catalog_table(aws.ref("CatalogTable"))
    s3 = boto3.client("s3")
    bucket = aws.ref("MediaBucket")
    renditions, expected = [], {}
    for kbps in LADDER:
        init = f"init {song_id} {kbps}k ".encode() * 8
        parts = [f"segment {index} of {song_id} at {kbps}k ".encode() * (kbps // 8) for index in range(segments)]
        playlist = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:10", f'#EXT-X-MAP:URI="init_{kbps}.mp4"']
        for index, part in enumerate(parts):
            playlist += ["#EXTINF:10.0,", f"master_{kbps}k_{index:05d}.m4s"]
            s3.put_object(Bucket=bucket, Key=f"songs/{song_id}/master_{kbps}k_{index:05d}.m4s", Body=part)
        playlist.append("#EXT-X-ENDLIST")
        s3.put_object(Bucket=bucket, Key=f"songs/{song_id}/init_{kbps}.mp4", Body=init)
        s3.put_object(Bucket=bucket, Key=f"songs/{song_id}/master_{kbps}k.m3u8", Body="\n".join(playlist).encode())
        renditions.append(
            {"bitrateKbps": kbps, "codec": "mp4a.40.2", "playlistKey": f"songs/{song_id}/master_{kbps}k.m3u8"}
        )
        expected[kbps] = init + b"".join(parts)
    new_song(
        song_id,
        title=f"Song {song_id}",
        artist_id="artist1",
        artist_name="Artist",
        album_id="album1",
        album_title="Album",
        album_type="album",
        duration_ms=30_000,
        status="ready",
        renditions=renditions,
    ).save()
    return expected


def premium(aws: Deployment, user_id: str, tier: str = "premium") -> None:
    bind_users_table(aws.ref("UsersTable"))
    UserItem(user_id=user_id, email=f"{user_id}@example.com", tier=tier).save()


def device_key() -> tuple[rsa.RSAPrivateKey, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, pem.decode()


def put_device(aws: Deployment, user_id: str, device_id: str, public_pem: str) -> None:
    boto3.resource("dynamodb").Table(aws.ref("DownloadsTable")).put_item(
        Item={
            "userId": user_id,
            "sk": f"DEVICE#{device_id}",
            "deviceId": device_id,
            "name": "phone",
            "type": "mobile",
            "publicKey": public_pem,
            "createdAt": "2026-12-01T00:00:00Z",
        }
    )


def put_download(
    aws: Deployment, user_id: str, device_id: str, song_id: str, quality: str | int = "very_high"
) -> dict[str, Any]:
    """A queued download item, as POST /downloads writes it; returns its queue message."""
    job_id = uuid.uuid4().hex
    boto3.resource("dynamodb").Table(aws.ref("DownloadsTable")).put_item(
        Item={
            "userId": user_id,
            "sk": f"DL#{device_id}#{song_id}",
            "deviceId": device_id,
            "songId": song_id,
            "quality": quality,
            "jobId": job_id,
            "status": "queued",
            "estimatedBytes": 1000,
            "requestedAt": "2026-12-01T00:00:00Z",
        }
    )
    return {"jobId": job_id, "userId": user_id, "deviceId": device_id, "songId": song_id, "quality": quality}


def download(aws: Deployment, user_id: str, device_id: str, song_id: str) -> dict[str, Any] | None:
    table = boto3.resource("dynamodb").Table(aws.ref("DownloadsTable"))
    item: dict[str, Any] | None = table.get_item(Key={"userId": user_id, "sk": f"DL#{device_id}#{song_id}"}).get("Item")
    return item


def sqs_event(*bodies: dict[str, Any] | str, receive_count: int = 1) -> dict[str, Any]:
    """The downloads queue's messages as Lambda's SQS event source hands them over."""
    records = []
    for body in bodies:
        text = body if isinstance(body, str) else json.dumps(body)
        records.append(
            {
                "messageId": uuid.uuid4().hex,
                "receiptHandle": "handle",
                "body": text,
                "attributes": {"ApproximateReceiveCount": str(receive_count), "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:downloads",
                "awsRegion": "us-east-1",
            }
        )
    return {"Records": records}
