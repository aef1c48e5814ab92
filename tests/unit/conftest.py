"""Unit tests run in-process with the network disabled (only loopback is allowed, for the in-memory
search engine); AWS is moto's in-memory `mock_aws`, with the resources built from template.yaml by
the devstack's own resource creator."""

from __future__ import annotations

import importlib.util
import io
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from moto import mock_aws
from pytest_socket import enable_socket, socket_allow_hosts

import backbeat.observability  # noqa: F401 - the X-Ray SDK opens its UDP emitter socket at import
from devstack import persistence
from devstack.resources import Deployment, create_dev_resources
from tests.support import ROOT


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    socket_allow_hosts(["127.0.0.1"], allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture(scope="session")
def search_engine() -> Iterator[str]:
    """One in-memory OpenSearch-compatible engine (osmem-server) for the unit session."""
    from osmem_server import OsmemServer

    server = OsmemServer.start(japanese=False)
    yield str(server.url)
    server.close()


@pytest.fixture
def search_url(search_engine: str) -> Iterator[str]:
    """The engine, emptied before each test."""
    from opensearchpy import OpenSearch

    client = OpenSearch(hosts=[search_engine])
    for name in client.indices.get(index="*"):
        client.indices.delete(index=name)
    yield search_engine


# The template's resources are created once per session and kept as a pickle of moto's backends;
# every test gets its own copy, unpickled into a fresh `mock_aws()` (creating them takes seconds,
# restoring a copy a fraction of that, and no test sees another's writes).
_PRISTINE: dict[str, bytes] = {}


def _fresh_deployment(search_url: str) -> Deployment:
    if search_url not in _PRISTINE:
        deployment = create_dev_resources(ROOT, "unit", search_endpoint=lambda: search_url)
        buffer = io.BytesIO()
        persistence.dump({"backends": persistence.moto_backends(), "deployment": deployment}, buffer)
        _PRISTINE[search_url] = buffer.getvalue()
    payload = pickle.loads(_PRISTINE[search_url])  # our own bytes, written above in this process
    persistence.install(payload["backends"])
    restored: Deployment = payload["deployment"]
    return restored


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, search_url: str) -> Iterator[Deployment]:
    """Every resource of template.yaml in moto's memory, with the functions' variables set."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from backbeat.aws import client

    client.cache_clear()
    with mock_aws():
        deployment = _fresh_deployment(search_url)
        for spec in deployment.functions:
            for key, value in spec.environment.items():
                monkeypatch.setenv(key, value)
        yield deployment
    client.cache_clear()


def load_function(name: str, deployment: Deployment) -> ModuleType:
    """Import functions/<name>/app.py fresh (a cold start) with its template environment."""
    spec_for = {spec.code_dir.name: spec for spec in deployment.functions}[name]
    saved = dict(os.environ)
    os.environ.update(spec_for.environment)
    try:
        module_spec = importlib.util.spec_from_file_location(f"_unit_{name}_app", ROOT / "functions" / name / "app.py")
        assert module_spec and module_spec.loader
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module
    finally:
        os.environ.clear()
        os.environ.update(saved)


class FakeContext:
    function_name = "unit"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:unit"
    memory_limit_in_mb = 512
    aws_request_id = "req-1"
    log_group_name = "/aws/lambda/unit"
    log_stream_name = "unit"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@pytest.fixture
def context() -> Any:
    return FakeContext()


@pytest.fixture
def catalog_dir() -> Path:
    directory = ROOT.parent / "shared" / "datasets" / "catalog"
    if not directory.is_dir():
        pytest.skip(f"the demo catalog is not at {directory}")
    return directory
