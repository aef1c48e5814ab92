"""Shared fixtures: one devstack per test session (started on first use) for integration and e2e
tests, run exactly as `make dev` runs it, on a free port and with the demo catalog."""

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

from tests.support import CATALOG_DIR, http, spawn


@dataclass
class RunningStack:
    url: str
    process: subprocess.Popen[str]
    state_file: Path
    output: list[str]

    @property
    def state(self) -> dict[str, Any]:
        return dict(json.loads(self.state_file.read_text()))

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`backbeat ARGS...` against this stack, as an operator runs it (found through its state file)."""
        environment = os.environ | {"BACKBEAT_DEVSTACK_STATE": str(self.state_file)}
        command = [sys.executable, "-m", "backbeat.cli", *args]
        return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120, check=False)

    def login(self, email: str, password: str) -> str:
        status, body, _ = http("POST", f"{self.url}/auth/login", {"email": email, "password": password})
        assert status == 200, body
        return str(body["accessToken"])


def start_devstack(state_file: Path, *extra: str, timeout: float = 420) -> RunningStack:
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
    stack = start_devstack(tmp_path_factory.mktemp("devstack") / "state.json")
    print(f"\ndevstack ready in {time.perf_counter() - started:.1f} s at {stack.url}", file=sys.stderr)
    yield stack
    stop_devstack(stack.process)


@pytest.fixture(scope="session")
def demo_tokens(devstack: RunningStack) -> dict[str, str]:
    from devstack.seed import DEMO_PASSWORD, DEMO_USERS

    return {tier: devstack.login(email, DEMO_PASSWORD) for email, tier in DEMO_USERS.items()}
