"""The fault kinds added for issue 15 (devstack/faults.py, devstack/search_proxy.py): a slow or
failing search engine as a client of it sees one, a crash of a Step Functions Task's function, and
a fault plan given to a devstack through its environment."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from devstack import faults as faults_module
from devstack.faults import FaultPlan, Faults, use_plan_from_environment
from devstack.search_proxy import SearchEngineProxy
from tests.support import wait_for


class _Engine(BaseHTTPRequestHandler):
    """Answers every request with the path it was asked for (what the proxy must pass through)."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        payload = json.dumps({"path": self.path, "received": len(body)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def engine() -> Iterator[SimpleNamespace]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Engine)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    closed = threading.Event()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_address[1]}", close=closed.set, closed=closed)
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(engine: SimpleNamespace) -> Iterator[tuple[SearchEngineProxy, Faults]]:
    faults = Faults()
    proxy = SearchEngineProxy(engine, faults)
    yield proxy, faults
    proxy.close()


def _post(url: str, body: bytes = b"{}", timeout: float = 10) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_without_a_search_fault_the_proxy_passes_requests_and_bodies_through(proxy: Any) -> None:
    search, faults = proxy
    big = b"x" * 3_000_000  # a bulk request larger than one read
    assert _post(f"{search.url}/songs/_search", big) == (200, {"path": "/songs/_search", "received": len(big)})
    assert _post(f"{search.url}/_bulk") == (200, {"path": "/_bulk", "received": 2})
    assert faults.status()["injected"] == {}


def test_a_failing_engine_answers_503_as_opensearch_does_and_counts_it(proxy: Any) -> None:
    search, faults = proxy
    faults.use(FaultPlan(searchErrors=1.0))
    status, body = _post(f"{search.url}/songs/_search")
    assert status == 503 and body["status"] == 503 and body["error"]["type"] == "unavailable"
    assert faults.status()["injected"] == {"searchErrors": 1}
    faults.clear()
    assert _post(f"{search.url}/songs/_search")[0] == 200  # a new connection, a healthy engine again


def test_a_slow_engine_leaves_the_client_to_its_own_timeout(proxy: Any) -> None:
    search, faults = proxy
    faults.use(FaultPlan(searchDelayMs=30_000))
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        _post(f"{search.url}/songs/_search", timeout=0.5)
    assert faults.status()["injected"] == {"searchDelay": 1}


def test_opensearch_py_sees_the_engine_unavailable(proxy: Any) -> None:
    """The functions' client retries a 503 (max_retries) and then raises; no answer is invented."""
    from opensearchpy import OpenSearch
    from opensearchpy.exceptions import TransportError

    search, faults = proxy
    faults.use(FaultPlan(searchErrors=1.0))
    client = OpenSearch(hosts=[search.url], timeout=5, max_retries=2, retry_on_timeout=True)
    with pytest.raises(TransportError) as raised:
        client.search(index="songs", body={"query": {"match_all": {}}})
    assert raised.value.status_code == 503
    assert faults.status()["injected"] == {"searchErrors": 3}  # the first try and two retries


def test_closing_the_proxy_closes_the_engine(engine: SimpleNamespace) -> None:
    SearchEngineProxy(engine, Faults()).close()
    assert engine.closed.is_set()


def test_a_step_functions_task_crash_does_the_work_then_fails_the_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.awslambda.models import LambdaFunction

    from devstack import moto_patches

    invoked: list[dict[str, Any]] = []
    runtime = SimpleNamespace(
        knows=lambda name: True,
        logical_id=lambda name: "EncodeFunction",
        invoke=lambda name, event: invoked.append(event) or {"ok": True},
    )
    faults = Faults()
    faults.use(FaultPlan(crashes={"EncodeFunction": 1}))
    monkeypatch.setattr(moto_patches, "FAULTS", faults)
    moto_patches._patch_moto_lambda()
    moto_patches.set_active_runtime(runtime)  # type: ignore[arg-type]
    try:
        function = SimpleNamespace(function_name="backbeat-local-EncodeFunction-abc")
        crashed, failed, _ = LambdaFunction._invoke_lambda(function, {"step": "probe"})
        answered, failed_again, _ = LambdaFunction._invoke_lambda(function, {"step": "probe"})
    finally:
        moto_patches.set_active_runtime(None)
    assert failed is True and json.loads(crashed)["errorType"] == "Runtime.ExitError"
    assert failed_again is False and json.loads(answered) == {"ok": True}  # one crash, as planned
    assert invoked == [{"step": "probe"}, {"step": "probe"}]  # the crashed run did its work first
    assert faults.status()["injected"] == {"crash:EncodeFunction": 1}


def test_a_plan_in_the_environment_is_applied_and_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    faults = Faults()
    monkeypatch.delenv(faults_module.PLAN_VARIABLE, raising=False)
    assert use_plan_from_environment(faults) is None and faults.plan == FaultPlan()
    report = tmp_path / "faults.json"
    monkeypatch.setenv(faults_module.PLAN_VARIABLE, json.dumps({"searchDelayMs": 250, "dynamodbThrottle": 0.5}))
    monkeypatch.setenv(faults_module.REPORT_VARIABLE, str(report))
    plan = use_plan_from_environment(faults)
    assert plan is not None and faults.plan.searchDelayMs == 250 and faults.plan.dynamodbThrottle == 0.5
    faults.roll(1.0, "dynamodbThrottle")
    wait_for(lambda: report.is_file() and json.loads(report.read_text())["injected"] == {"dynamodbThrottle": 1})
    monkeypatch.setenv(faults_module.PLAN_VARIABLE, json.dumps({"searchDelayMs": -1}))
    with pytest.raises(ValueError):
        use_plan_from_environment(faults)
