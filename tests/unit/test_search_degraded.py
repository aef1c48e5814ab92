"""Search when the engine is slow, down or overloaded: a JSON 503 with Retry-After, never a hang or a
500. The engine client's wait is the `SEARCH_TIMEOUT_SECONDS` setting."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy.exceptions import ConnectionTimeout, RequestError, TransportError

from backbeat.errors import ServiceUnavailable
from backbeat.search import service
from tests.support import api_event
from tests.unit.conftest import load_function


@pytest.fixture
def silent_engine() -> Iterator[str]:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


@pytest.fixture
def closed_port() -> str:
    """A loopback port nothing listens on (connections are refused)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"


def _search_function(aws, monkeypatch: pytest.MonkeyPatch, endpoint: str):  # type: ignore[no-untyped-def]
    spec = next(spec for spec in aws.functions if spec.code_dir.name == "search")
    monkeypatch.setitem(spec.environment, "SEARCH_ENDPOINT", endpoint)
    return load_function("search", aws)


def _get(module, context, path: str, **query: str) -> tuple[int, dict[str, Any], dict[str, str]]:  # type: ignore[no-untyped-def]
    response = module.lambda_handler(api_event("GET", path, query=query, claims={"sub": "u1"}), context)
    return response["statusCode"], json.loads(response["body"]), response.get("headers", {})


def _assert_unavailable(status: int, body: dict[str, Any], headers: dict[str, str], reason: str) -> None:
    assert status == 503, body
    assert body["error"]["code"] == "ServiceUnavailable"
    assert reason in body["error"]["message"] and "search" in body["error"]["message"]
    assert int(headers["Retry-After"]) == service.RETRY_AFTER_SECONDS


def test_a_silent_engine_is_a_503_after_the_configured_timeout(aws, context, monkeypatch, silent_engine) -> None:
    monkeypatch.setenv("SEARCH_TIMEOUT_SECONDS", "0.3")
    search = _search_function(aws, monkeypatch, silent_engine)
    assert search.settings.search_timeout_seconds == 0.3
    assert search.index.client.transport.max_retries == 0  # one wait, not three
    for path in ("/search", "/search/suggest"):
        status, body, headers = _get(search, context, path, q="love")
        _assert_unavailable(status, body, headers, "did not answer in time")


def test_an_unreachable_engine_is_a_503(aws, context, monkeypatch, closed_port) -> None:
    search = _search_function(aws, monkeypatch, closed_port)
    status, body, headers = _get(search, context, "/search", q="love", type="song")
    _assert_unavailable(status, body, headers, "unreachable")


def test_the_default_wait_for_the_engine_is_short(aws, monkeypatch, closed_port) -> None:
    search = _search_function(aws, monkeypatch, closed_port)
    assert 0 < search.settings.search_timeout_seconds <= 2


class _Engine:
    """An engine client whose `msearch` raises or answers what it is given."""

    def __init__(self, outcome: Exception | dict[str, Any]) -> None:
        self.outcome = outcome

    def msearch(self, body: list[dict[str, Any]]) -> dict[str, Any]:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


@pytest.mark.parametrize(
    "outcome",
    [
        TransportError(429, "too_many_requests", {}),
        TransportError(503, "unavailable", {}),
        ConnectionTimeout("TIMEOUT", "read timed out", None),
        {"took": 1, "responses": [{"error": {"type": "es_rejected_execution_exception"}, "status": 429}]},
    ],
)
def test_an_overloaded_engine_is_service_unavailable(outcome: Exception | dict[str, Any]) -> None:
    index = service.SearchIndex(_Engine(outcome), "")  # type: ignore[arg-type]
    with pytest.raises(ServiceUnavailable) as raised:
        service.search(index, "love", ["song"], 10, 0)
    assert raised.value.retry_after == service.RETRY_AFTER_SECONDS


def test_a_query_the_engine_rejects_is_not_disguised_as_unavailable() -> None:
    index = service.SearchIndex(_Engine(RequestError(400, "parsing_exception", {})), "")  # type: ignore[arg-type]
    with pytest.raises(RequestError):
        service.search(index, "love", ["song"], 10, 0)


class _SlowEngine:
    """An engine client that takes `seconds[n]` over its n-th `_msearch` and finds nothing as typed
    (so search asks again, forgiving typos); it records the wait each request was given."""

    def __init__(self, *seconds: float) -> None:
        self.seconds = list(seconds)
        self.waits: list[float | None] = []

    def msearch(self, body: list[dict[str, Any]], request_timeout: float | None = None) -> dict[str, Any]:
        self.waits.append(request_timeout)
        time.sleep(self.seconds[len(self.waits) - 1])
        searches = len(body) // 2
        return {"responses": [{"took": 1, "hits": {"hits": [], "total": {"value": 0}}}] * searches}


def test_a_search_and_its_typo_pass_share_one_wait_for_the_engine() -> None:
    engine = _SlowEngine(0.3, 0.0)
    index = service.SearchIndex(engine, "", wait_seconds=0.5)  # type: ignore[arg-type]
    service.search(index, "lvoe", ["song", "artist"], 10, 0)  # nothing as typed: a second request
    first, second = engine.waits
    assert first is not None and 0.45 < first <= 0.5
    assert second is not None and second <= 0.5 - 0.3  # what the first request left

    # The first request alone outlasts the wait: no second one, and the page is the words as typed.
    slow = _SlowEngine(0.6, 0.0)
    page = service.search(service.SearchIndex(slow, "", wait_seconds=0.5), "lvoe", ["song"], 10, 0)  # type: ignore[arg-type]
    assert len(slow.waits) == 1 and page["songs"]["items"] == [] and page["songs"]["total"] == 0
