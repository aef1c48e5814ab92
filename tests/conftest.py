"""Shared fixtures: one devstack per test session (started on first use) for integration and e2e
tests, run exactly as `make dev` runs it, on a free port, with the full demo catalog and the demo
audio. Every test that needs no special start-up flag runs against it, so a test must leave it as
it found it for the others: new users, playlists and songs of its own, never the demo users' tiers.

BACKBEAT_TEST_CATALOG_LIMIT=N seeds only the first N catalog songs (a quicker stack for a local run
of a few modules); the `catalog` fixture follows it. `make test` and CI leave it unset."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from backbeat_ops.dataset import Catalog
from tests.support import CATALOG_DIR, http, spawn

CATALOG_LIMIT = int(os.environ.get("BACKBEAT_TEST_CATALOG_LIMIT") or 0) or None


@dataclass
class RunningStack:
    url: str
    process: subprocess.Popen[str]
    state_file: Path
    output: list[str]

    @property
    def state(self) -> dict[str, Any]:
        return dict(json.loads(self.state_file.read_text()))

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`backbeat ARGS...` against this stack, as an operator runs it (found through its state file)."""
        environment = os.environ | {"BACKBEAT_DEVSTACK_STATE": str(self.state_file)}
        command = [sys.executable, "-m", "backbeat_ops.cli", *args]
        return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout, check=False)

    def _boto3_arguments(self) -> dict[str, str]:
        environment = self.state["environment"]
        return {
            "endpoint_url": environment["AWS_ENDPOINT_URL"],
            "region_name": environment["AWS_REGION"],
            "aws_access_key_id": environment["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": environment["AWS_SECRET_ACCESS_KEY"],
        }

    def client(self, service: str) -> Any:
        """A boto3 client for this stack's emulated AWS (the process environment stays untouched)."""
        import boto3

        return boto3.client(service, **self._boto3_arguments())  # type: ignore[call-overload]

    def resource(self, service: str) -> Any:
        import boto3

        return boto3.resource(service, **self._boto3_arguments())  # type: ignore[call-overload]

    def stack_output(self, name: str) -> str:
        return str(self.state["outputs"][name])

    def login(self, email: str, password: str) -> str:
        status, body, _ = http("POST", f"{self.url}/auth/login", {"email": email, "password": password})
        assert status == 200, body
        return str(body["accessToken"])


def start_devstack(state_file: Path, *extra: str, timeout: float = 420) -> RunningStack:
    """A devstack of its own, telling tools where it is through `state_file`; its emulators' state
    belongs in `state_file`'s folder too (a fresh temporary folder per stack), never in a
    developer's checkout nor shared with another stack."""
    from devstack.stack import free_port

    port = free_port()
    command = [sys.executable, "-m", "devstack", "--port", str(port), "--state-file", str(state_file), *extra]
    command += ["--data-dir", str(state_file.parent / "devstack-data")]  # never a developer's own state
    spawned = spawn(command, marker="Backbeat devstack ready at")
    if not spawned.wait(timeout) or spawned.process.poll() is not None:
        stop_devstack(spawned.process)
        raise RuntimeError("devstack did not become ready:\n" + spawned.tail())
    return RunningStack(
        url=f"http://127.0.0.1:{port}", process=spawned.process, state_file=state_file, output=spawned.lines
    )


def stop_devstack(process: subprocess.Popen[str], timeout: float = 20) -> int:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return int(process.returncode)


@pytest.fixture(scope="session")
def devstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    if not CATALOG_DIR.is_dir():
        pytest.skip(f"the demo catalog is not at {CATALOG_DIR}")
    started = time.perf_counter()
    limit = ("--catalog-limit", str(CATALOG_LIMIT)) if CATALOG_LIMIT else ()
    stack = start_devstack(tmp_path_factory.mktemp("devstack") / "state.json", *limit)
    print(f"\ndevstack ready in {time.perf_counter() - started:.1f} s at {stack.url}", file=sys.stderr)
    yield stack
    stop_devstack(stack.process)


@pytest.fixture(scope="session")
def demo_tokens(devstack: RunningStack) -> dict[str, str]:
    from devstack.seed import DEMO_PASSWORD, DEMO_USERS

    return {tier: devstack.login(email, DEMO_PASSWORD) for email, tier in DEMO_USERS.items()}


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The demo catalog as the session devstack seeded it."""
    from backbeat_ops.dataset import load_catalog

    if not CATALOG_DIR.is_dir():
        pytest.skip(f"the demo catalog is not at {CATALOG_DIR}")
    loaded = load_catalog(CATALOG_DIR)
    return loaded.first(CATALOG_LIMIT) if CATALOG_LIMIT else loaded
