"""Signed media delivery in the devstack: what CloudFront and `MediaTokenFunction` do in AWS.

`GET /media/<token>/songs/<songId>/<file>` is checked with `backbeat.media.signing.verify` (the very
code the CloudFront Function ports), then served from the media bucket in moto. No JWT: the token in
the path is the credential, so players and browsers fetch with plain GETs.

Every answer, refusals included, carries `Access-Control-Allow-Origin: *`: without it a web player
on another origin sees a 403 or 404 only as an opaque network error (status 0), and cannot tell
an expired URL (fetch a new manifest) from a dropped connection (retry).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from aiohttp import web

from backbeat.errors import Forbidden
from backbeat.media import signing
from devstack.gateway import gateway_error


class MediaServer:
    def __init__(self, s3: Any, bucket: str, secret: bytes, executor: Executor) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.secret = secret
        self.executor = executor

    def routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        return [("GET", "/media/{tail:.+}", self.handle), ("HEAD", "/media/{tail:.+}", self.handle)]

    def _get(self, key: str) -> tuple[bytes, str] | None:
        try:
            found = self.s3.get_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.NoSuchKey:
            return None
        return found["Body"].read(), str(found.get("ContentType") or "application/octet-stream")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            grant = signing.verify(self.secret, request.path)
        except Forbidden as refused:
            return _readable_cross_origin(gateway_error(403, "Forbidden", refused.message))
        found = await asyncio.get_running_loop().run_in_executor(self.executor, self._get, grant.key)
        if found is None:
            return _readable_cross_origin(gateway_error(404, "NotFound", f"no media {grant.file}"))
        body, content_type = found
        response = web.Response(
            body=body, content_type=content_type, headers={"Cache-Control": signing.cache_control(grant.file)}
        )
        return _readable_cross_origin(response)


def _readable_cross_origin(response: web.Response) -> web.Response:
    """hls.js in a browser fetches media with CORS; the token in the path is the credential."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
