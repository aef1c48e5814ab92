"""The devstack serves the web player: index.html at `/` (never cached), hashed assets at `/assets/*`
(cached for good), `/config.json` saying "same origin"; without a build, `/` says how to make one."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from devstack.webapp import routes


def _fetch(dist: Path, paths: list[str]) -> list[tuple[int, dict[str, str], Any]]:
    async def run() -> list[tuple[int, dict[str, str], Any]]:
        app = web.Application()
        for method, path, handler in routes(dist):
            app.router.add_route(method, path, handler)
        async with TestClient(TestServer(app)) as client:
            answers = []
            for path in paths:
                response = await client.get(path)
                body = await (response.json() if response.content_type == "application/json" else response.read())
                answers.append((response.status, dict(response.headers), body))
            return answers

    return asyncio.run(run())


def test_the_built_player_is_served_at_the_root(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>Backbeat</title>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    page, asset, config, missing, sneaky = _fetch(
        tmp_path, ["/", "/assets/index-abc123.js", "/config.json", "/assets/nope.js", "/assets/..%2Findex.html"]
    )
    assert page[0] == 200 and page[2].startswith(b"<!doctype html>")
    assert page[1]["Content-Type"].startswith("text/html") and page[1]["Cache-Control"] == "no-cache"
    assert asset[0] == 200 and asset[1]["Content-Type"] in ("text/javascript", "application/javascript")
    assert asset[1]["Cache-Control"] == "public, max-age=31536000, immutable"
    assert config[0] == 200 and config[2] == {}  # same origin: the page talks to this gateway
    assert missing[0] == 404 and missing[2]["error"]["code"] == "NotFound"
    assert sneaky[0] == 404


def test_without_a_build_the_root_says_how_to_build(tmp_path: Path) -> None:
    ((status, _, body),) = _fetch(tmp_path / "dist", ["/"])
    assert status == 503
    assert body["error"]["code"] == "ServiceUnavailable" and "make web" in body["error"]["message"]
