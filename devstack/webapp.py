"""The web player on the gateway's port: `web/dist/index.html` at `/`, its built files at `/assets/*`,
and `/config.json` telling the page that the API is this same origin (in AWS the deployment writes a
config.json naming the API and WebSocket URLs instead).

The player routes by hash (`/#/playlist/ID`), so no page path is ever an API path; only `/`,
`/index.html`, `/config.json` and `/assets/...` are taken, none of which the API uses. When the app
has not been built, `/` answers 503 with a JSON error saying how to build it (`make dev` builds it
when `web/dist` is missing or older than its sources).
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from devstack.gateway import gateway_error

WEB_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
_ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")


def _index(dist: Path) -> Callable[[web.Request], Any]:
    async def index(request: web.Request) -> web.StreamResponse:
        page = dist / "index.html"
        if not page.is_file():
            return gateway_error(
                503,
                "ServiceUnavailable",
                f"the web player is not built ({page} is missing): run `make web`, "
                "or `npm ci && npm run build` in web/",
            )
        # The page names its hashed assets: it must be fetched again after every build.
        return web.FileResponse(page, headers={"Cache-Control": "no-cache", "Content-Type": "text/html; charset=utf-8"})

    return index


def _asset(dist: Path) -> Callable[[web.Request], Any]:
    async def asset(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        found = dist / "assets" / name
        if not _ASSET_NAME.match(name) or not found.is_file():
            return gateway_error(404, "NotFound", f"no web asset {name!r}")
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        # Built assets carry a content hash in their name: they never change.
        headers = {"Cache-Control": "public, max-age=31536000, immutable", "Content-Type": content_type}
        return web.FileResponse(found, headers=headers)

    return asset


async def _same_origin_config(request: web.Request) -> web.Response:
    return web.json_response({}, headers={"Cache-Control": "no-cache"})


def routes(dist: Path = WEB_DIST) -> list[tuple[str, str, Callable[..., Any]]]:
    """The gateway's extra routes for the web player (added before its catch-all API route)."""
    index = _index(dist)
    return [
        ("GET", "/", index),
        ("GET", "/index.html", index),
        ("GET", "/config.json", _same_origin_config),
        ("GET", "/assets/{name}", _asset(dist)),
    ]
