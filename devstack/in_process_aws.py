"""The devstack's own AWS calls answered in the calling thread, without a socket.

Every AWS call a function, a poller or the devstack itself makes goes to the moto server's address
(`AWS_ENDPOINT_URL`). Through the server, each call also paid an HTTP round trip inside the one
process: a TCP connection opened and closed (the server answers `Connection: close`), a thread started
for the request, its headers parsed on both sides. That was about half the CPU an AWS call cost the
devstack (docs/decisions.md, 61).

`InProcessAws` is a botocore `before-send` handler (botocore's own hook for answering a request
without sending it, the one moto's in-process mock uses): a request to the running stack's moto
endpoint is handed, as the same WSGI request the server would have built, to the same application the
server runs (moto behind the fault layer), and its answer goes back to botocore as the HTTP response.
botocore still serialises, signs and parses every call exactly as over HTTP, and the fault plans apply
as before. Clients in other processes (tests, `backbeat` CLI, a developer's AWS CLI) still use the
server, which keeps running.

The devstack's own APIs that functions call the same way are answered in process too (`serve_local`):
a WebSocket API's `@connections` (`post_to_connection`, ten times an edit with ten listeners) is
answered on the gateway's event loop by the code that answers it over HTTP, signature check included.

`DEVSTACK_AWS_IN_PROCESS=0` sends every call through the server again: the metered devstack
(`bench/load/metered_devstack.py`) does, because it reads a handler's CPU from its own thread, and
moto's work must not be counted as the handler's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from werkzeug.test import EnvironBuilder, run_wsgi_app

log = logging.getLogger(__name__)


class _Body:
    """A response body botocore can read whole (`stream`) or as a stream (`read`)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._position = 0

    def read(self, amount: int | None = None, **_: Any) -> bytes:
        end = len(self._data) if amount is None or amount < 0 else min(len(self._data), self._position + amount)
        chunk = self._data[self._position : end]
        self._position = end
        return chunk

    def stream(self, **_: Any) -> Any:
        chunk = self.read()
        if chunk:
            yield chunk

    def close(self) -> None:
        self._position = len(self._data)


# (method, url, headers, body) -> (status, headers, body), or None to send the request after all
LocalAnswer = Callable[[str, str, Mapping[str, str], bytes], "tuple[int, Mapping[str, str], bytes] | None"]


def _body_of(request: Any) -> bytes:
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode("utf-8")
    return body or b""


def _text_headers(request: Any) -> list[tuple[str, str]]:
    """The request's headers, each value as text (botocore keeps some as bytes)."""
    return [
        (name, value.decode("latin-1") if isinstance(value, bytes) else str(value))
        for name, value in request.headers.items()
    ]


def _response(url: str, status: int, headers: Any, data: bytes) -> AWSResponse:
    """An HTTP answer as botocore reads one off the wire (`headers`: a mapping, or werkzeug's Headers)."""
    http_headers = HTTPHeaders()
    for name, value in headers.items():
        http_headers[name] = value
    return AWSResponse(url, status, http_headers, _Body(data))


def _host_header(url: str) -> str:
    """The Host header an HTTP client sends for `url`: its host, and its port unless the default."""
    parts = urlsplit(url)
    if parts.port is not None and parts.port == {"http": 80, "https": 443}.get(parts.scheme):
        return parts.netloc.rsplit(":", 1)[0]
    return parts.netloc


class InProcessAws:
    """Answers requests to `endpoint` with the WSGI `app`, and those under a `serve_local` prefix
    with its answer, in the caller's thread; others pass."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.endpoint = ""
        self.app: Any = None
        self.local: dict[str, LocalAnswer] = {}

    def serve(self, endpoint: str, app: Any) -> None:
        with self._lock:
            self.endpoint, self.app = endpoint.rstrip("/"), app

    def serve_local(self, prefix: str, answer: LocalAnswer) -> None:
        """Calls to URLs under `prefix` (one of the devstack's own APIs, such as a WebSocket API's
        @connections) are answered by `answer`."""
        with self._lock:
            self.local = {**self.local, prefix: answer}

    def stop_local(self) -> None:
        with self._lock:
            self.local = {}

    def stop(self) -> None:
        with self._lock:
            self.endpoint, self.app, self.local = "", None, {}

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        app, endpoint = self.app, self.endpoint
        if app is None or (not request.url.startswith(endpoint + "/") and request.url != endpoint):
            for prefix, answer in self.local.items():
                if request.url.startswith(prefix):
                    return self._answer_locally(answer, request)
            return None
        body = _body_of(request)
        url = urlsplit(request.url)
        # the whole body is at hand: its length replaces a chunked transfer's framing
        headers = [(name, value) for name, value in _text_headers(request) if name.lower() != "transfer-encoding"]
        builder = EnvironBuilder(
            method=request.method,
            base_url=f"{url.scheme}://{url.netloc}",
            path=url.path or "/",
            query_string=url.query,
            headers=headers,
            data=body or b"",
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        environ["RAW_URI"] = environ["REQUEST_URI"] = url.path + (f"?{url.query}" if url.query else "")
        try:
            app_iter, status, answer_headers = run_wsgi_app(app, environ, buffered=True)
            try:
                data = b"".join(app_iter)
            finally:
                if hasattr(app_iter, "close"):
                    app_iter.close()
        except Exception:  # what the server answers when moto fails: a 500, which botocore retries
            log.exception("moto failed on %s %s", request.method, request.url)
            return _response(request.url, 500, {"Content-Type": "text/plain"}, b"Internal Server Error")
        return _response(request.url, int(str(status).split(" ", 1)[0]), answer_headers, data)

    @staticmethod
    def _answer_locally(answer: LocalAnswer, request: Any) -> AWSResponse | None:
        headers = dict(_text_headers(request))
        headers.setdefault("Host", _host_header(request.url))  # what the HTTP client would send
        answered = answer(request.method, request.url, headers, _body_of(request))
        return None if answered is None else _response(request.url, *answered)


IN_PROCESS_AWS = InProcessAws()


def install() -> None:
    """Every botocore session created from now on in this process asks `IN_PROCESS_AWS` first."""
    import botocore.handlers

    entry = ("before-send", IN_PROCESS_AWS)
    if entry not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append(entry)
