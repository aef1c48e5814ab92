"""`make dev` as a newcomer runs it: one ready line with the URL, and Ctrl-C/SIGTERM to its process
group stops everything it started."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from devstack.stack import free_port
from tests.support import http, spawn

pytestmark = pytest.mark.e2e


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _assert_all_stopped(pid: int, port: int) -> None:
    deadline = time.monotonic() + 10
    while _port_open(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _port_open(port)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # no process of the group is left behind


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_dev_starts_ready_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "state.json"
    make_dev = ["make", "--no-print-directory", "dev", f"PORT={port}", f"DEVSTACK_ARGS=--no-seed --state-file {state}"]
    spawned = spawn(make_dev, marker="ready at")
    try:
        assert spawned.wait(180), spawned.tail()
        ready_lines = [line for line in spawned.lines if line.startswith("Backbeat devstack ready at")]
        assert len(ready_lines) == 1, spawned.tail()
        assert f"http://127.0.0.1:{port}" in ready_lines[0]
        assert http("GET", f"http://127.0.0.1:{port}/health")[0] == 200
        assert state.is_file()
    finally:
        os.killpg(spawned.process.pid, signal.SIGTERM)
        spawned.process.wait(30)
    _assert_all_stopped(spawned.process.pid, port)
    assert not state.exists()


def test_sigterm_during_start_up_stops_everything(tmp_path: Path) -> None:
    """Ctrl-C while the demo catalog is being seeded still stops the whole stack promptly."""
    port = free_port()
    command = [sys.executable, "-m", "devstack", "--port", str(port), "--state-file", str(tmp_path / "state.json")]
    spawned = spawn([*command, "--no-demo-audio"], marker="catalog:")
    assert spawned.wait(120), spawned.tail()
    os.killpg(spawned.process.pid, signal.SIGTERM)
    os.killpg(spawned.process.pid, signal.SIGINT)  # a second signal must not wedge the shutdown either
    assert spawned.process.wait(30) == 0, spawned.tail(20)
    _assert_all_stopped(spawned.process.pid, port)
