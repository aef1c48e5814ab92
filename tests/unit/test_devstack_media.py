"""The devstack's /media server: what a browser on another origin can read of its answers."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from backbeat.media import signing
from devstack.media import MediaServer

SECRET = b"media-test-secret"
SONG = "SongAAAAAAAAAAAAAAAAAA"


class _NoSuchKey(Exception):
    pass


class _FakeS3:
    """Just enough of an S3 client for MediaServer: one object in the bucket."""

    class exceptions:  # mirrors boto3's client.exceptions
        NoSuchKey = _NoSuchKey

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # boto3's argument names
        if Key not in self.objects:
            raise _NoSuchKey(Key)

        class Body:
            @staticmethod
            def read() -> bytes:
                return self.objects[Key]

        return {"Body": Body, "ContentType": "video/iso.segment"}


def _fetch_all(paths: list[str]) -> list[tuple[int, dict[str, str], bytes]]:
    async def run() -> list[tuple[int, dict[str, str], bytes]]:
        s3 = _FakeS3({f"songs/{SONG}/master_128k_00000.m4s": b"segment"})
        with ThreadPoolExecutor(1) as executor:
            app = web.Application()
            for method, path, handler in MediaServer(s3, "media", SECRET, executor).routes():
                app.router.add_route(method, path, handler)
            async with TestClient(TestServer(app)) as client:
                answers = []
                for path in paths:
                    response = await client.get(path, headers={"Origin": "http://127.0.0.1:9"})
                    answers.append((response.status, dict(response.headers), await response.read()))
                return answers

    return asyncio.run(run())


def test_media_answers_are_readable_cross_origin_refusals_included() -> None:
    token = signing.sign(SECRET, user_id="listener", song_id=SONG, cap_kbps=160, expiry=int(time.time()) + 60)
    ok, above_cap, missing, forged = _fetch_all(
        [
            f"/media/{token}/songs/{SONG}/master_128k_00000.m4s",
            f"/media/{token}/songs/{SONG}/master_320k_00000.m4s",
            f"/media/{token}/songs/{SONG}/master_128k_00001.m4s",
            f"/media/{token[:-1]}{'B' if token.endswith('A') else 'A'}/songs/{SONG}/master_128k_00000.m4s",
        ]
    )
    assert ok[0] == 200 and ok[2] == b"segment"
    assert ok[1]["Cache-Control"] == "public, max-age=31536000, immutable"
    assert [above_cap[0], missing[0], forged[0]] == [403, 404, 403]
    # A web player must be able to read a refusal's status (403: fetch a new manifest), not just a
    # network error, so every answer carries the CORS header, not only the 200s.
    for status, headers, _ in (ok, above_cap, missing, forged):
        assert headers.get("Access-Control-Allow-Origin") == "*", status
