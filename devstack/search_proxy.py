"""The search engine as the functions reach it: a byte-level proxy in front of osmem-server that can
make the engine slow or failing on demand (`searchDelayMs`, `searchErrors` in devstack/faults.py).

The proxy copies bytes both ways without parsing HTTP, so it costs a socket hop and nothing else
while no search fault is planned. A request starts when the client sends bytes after the engine's
last answer (HTTP/1.1 without pipelining, as opensearch-py's urllib3 pool speaks): at that moment
the plan is consulted once. A slow engine holds the request `searchDelayMs` before passing it on,
so the client's own timeout is what ends the wait, exactly as against a slow OpenSearch; a failing
engine answers `503` with an OpenSearch-shaped JSON error and closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from typing import Any
from urllib.parse import urlsplit

from devstack.faults import FAULTS, Faults

_CHUNK = 256 * 1024
_UNAVAILABLE = json.dumps(
    {
        "error": {
            "root_cause": [{"type": "unavailable", "reason": "injected by the devstack fault plan"}],
            "type": "unavailable",
            "reason": "injected by the devstack fault plan",
        },
        "status": 503,
    }
).encode()


class SearchEngineProxy:
    """Listens on a loopback port of its own; `url` replaces the engine's everywhere; `close()`
    stops the proxy and the engine behind it."""

    def __init__(self, engine: Any, faults: Faults = FAULTS, host: str = "127.0.0.1") -> None:
        self.engine = engine
        self.faults = faults
        target = urlsplit(str(engine.url))
        self._target = (target.hostname or host, target.port or 80)
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(host, started), name="search-proxy", daemon=True)
        self._thread.start()
        if not started.wait(10) or self._server is None:
            raise RuntimeError("the search engine proxy did not start")
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://{host}:{port}"

    def _run(self, host: str, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._connection, host, 0))
        started.set()
        self._loop.run_forever()

    async def _connection(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            engine_reader, engine_writer = await asyncio.open_connection(*self._target)
        except OSError:
            client_writer.close()
            return
        idle = [True]  # no request under way: the next bytes from the client start one

        async def requests() -> None:
            while data := await client_reader.read(_CHUNK):
                if idle[0]:
                    idle[0] = False
                    if not await self._admit(client_writer):
                        return
                engine_writer.write(data)
                await engine_writer.drain()

        async def answers() -> None:
            while data := await engine_reader.read(_CHUNK):
                idle[0] = True
                client_writer.write(data)
                await client_writer.drain()

        tasks = [asyncio.ensure_future(requests()), asyncio.ensure_future(answers())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except (ConnectionError, OSError):
            pass
        except asyncio.CancelledError:
            # the proxy is closing (`_shut`): end quietly, or asyncio's stream callback reports the
            # cancelled connection as an error on the way out
            pass
        finally:
            for task in tasks:
                task.cancel()
            for writer in (client_writer, engine_writer):
                with contextlib.suppress(Exception):
                    writer.close()

    async def _admit(self, client_writer: asyncio.StreamWriter) -> bool:
        """Apply the plan to one request: False when it was answered here (an injected 503)."""
        plan = self.faults.plan
        if self.faults.roll(plan.searchErrors, "searchErrors"):
            head = (
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=UTF-8\r\n"
                f"Content-Length: {len(_UNAVAILABLE)}\r\nConnection: close\r\n\r\n"
            )
            client_writer.write(head.encode() + _UNAVAILABLE)
            await client_writer.drain()
            return False
        if plan.searchDelayMs > 0 and self.faults.roll(1.0, "searchDelay"):
            await asyncio.sleep(plan.searchDelayMs / 1000)
        return True

    async def _shut(self) -> None:
        """Stop listening and end the connections under way (their tasks), then the loop."""
        if self._server is not None:
            self._server.close()
        under_way = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in under_way:
            task.cancel()
        await asyncio.gather(*under_way, return_exceptions=True)
        self._loop.stop()

    def close(self) -> None:
        if self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shut(), self._loop)
            self._thread.join(5)
        self.engine.close()
