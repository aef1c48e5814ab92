"""What the downloads tests share: one moto deployment per test module with the downloads function and
a small encoded catalog (building every template resource is the slow part, so a module builds it
once), fresh premium and free users per test (so tests share nothing), device keys, and a caller.

Import the fixtures into a test module: ``from tests.unit.downloads_support import dl, people``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from moto import mock_aws

from backbeat.catalog.models import bind_catalog_table, new_song
from backbeat.downloads.models import bind_downloads_table
from backbeat.identity.models import UserItem, bind_users_table
from backbeat.ids import base62_id
from backbeat.media.ffmpeg import LADDER_KBPS
from backbeat.playlists.models import bind_playlists_table
from devstack.resources import Deployment, create_dev_resources
from tests.support import ROOT, api_event
from tests.unit.conftest import load_function

SONGS = [base62_id("dl-song", str(n)) for n in range(12)]
UNENCODED = base62_id("dl-song", "unencoded")
LINKED = base62_id("dl-song", "linked")  # plays the media of SONGS[0], as demo songs do
SONG_MS = 180_000


@cache
def rsa_public_pem(bits: int = 2048, seed: int = 0) -> str:
    """An RSA public key in PEM (cached: key generation is the slow part of these tests)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def ec_public_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def renditions(song_id: str) -> list[dict[str, Any]]:
    return [
        {
            "bitrateKbps": kbps,
            "codec": "mp4a.40.2",
            "playlistKey": f"songs/{song_id}/master_{kbps}k.m3u8",
            "segmentSeconds": 10,
        }
        for kbps in LADDER_KBPS
    ]


def _song(song_id: str, index: int, **attributes: Any) -> None:
    new_song(
        song_id,
        title=f"Song {index}",
        artist_id="a",
        artist_name="A",
        album_id="b",
        album_title="B",
        album_type="single",
        duration_ms=SONG_MS,
        **attributes,
    ).save()


@dataclass(frozen=True)
class Stack:
    module: Any  # functions/downloads/app.py
    aws: Deployment


@pytest.fixture(scope="module")
def dl(search_engine: str) -> Iterator[Stack]:
    """Every template resource in moto's memory (as the `aws` fixture), the downloads function loaded
    over it, and an encoded catalog; once per module."""
    from backbeat.aws import client

    with pytest.MonkeyPatch.context() as env:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }.items():
            env.setenv(key, value)
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        client.cache_clear()
        with mock_aws():
            aws = create_dev_resources(ROOT, "unit", search_endpoint=lambda: search_engine)
            for spec in aws.functions:
                for key, value in spec.environment.items():
                    env.setenv(key, value)
            module = load_function("downloads", aws)
            bind_downloads_table(aws.tables["DownloadsTable"])
            bind_catalog_table(aws.tables["CatalogTable"])
            bind_users_table(aws.tables["UsersTable"])
            bind_playlists_table(aws.tables["PlaylistsTable"])
            for index, song_id in enumerate(SONGS):
                _song(song_id, index, status="ready", renditions=renditions(song_id))
            _song(UNENCODED, 100)
            _song(LINKED, 101, media_id=SONGS[0])
            yield Stack(module, aws)
        client.cache_clear()


@dataclass(frozen=True)
class People:
    premium: str
    other: str  # another premium user
    free: str


@pytest.fixture
def people(dl: Stack) -> People:
    """Three users of this test alone: two premium, one free."""
    run = uuid.uuid4().hex[:8]
    found = People(f"premium-{run}", f"other-{run}", f"free-{run}")
    for user_id, tier in ((found.premium, "premium"), (found.other, "premium"), (found.free, "free")):
        UserItem(user_id=user_id, email=f"{user_id}@example.com", tier=tier).save()
    return found


def call(
    module: Any, context: Any, method: str, path: str, user: str | None, body: Any = None, **query: str
) -> tuple[int, Any]:
    event = api_event(method, path, body=body, query=query or None, claims={"sub": user} if user else None)
    response = module.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def register(module: Any, context: Any, user: str, name: str = "Phone") -> str:
    status, body = call(
        module, context, "POST", "/me/devices", user, {"name": name, "type": "phone", "publicKey": rsa_public_pem()}
    )
    assert status == 201, body
    return str(body["deviceId"])


def queued(aws: Deployment) -> list[dict[str, Any]]:
    """Every message on the preparation queue (drained)."""
    import boto3

    sqs = boto3.client("sqs", region_name="us-east-1")
    url = aws.ref("DownloadsQueue")
    bodies: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = answer.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
