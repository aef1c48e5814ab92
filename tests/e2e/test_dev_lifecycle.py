"""`make dev` as a newcomer runs it: one ready line with the URL, and Ctrl-C/SIGTERM to its process
group stops everything it started."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devstack.stack import free_port
from tests.support import ROOT, http

pytestmark = pytest.mark.e2e


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_dev_starts_ready_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "state.json"
    process = subprocess.Popen(
        ["make", "--no-print-directory", "dev", f"PORT={port}", f"DEVSTACK_ARGS=--no-seed --state-file {state}"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "ready at" in line:
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        assert ready.wait(180), "".join(lines)
        ready_lines = [line for line in lines if line.startswith("Backbeat devstack ready at")]
        assert len(ready_lines) == 1, "".join(lines)
        assert f"http://127.0.0.1:{port}" in ready_lines[0]
        assert http("GET", f"http://127.0.0.1:{port}/health")[0] == 200
        assert state.is_file()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    deadline = time.monotonic() + 10
    while _port_open(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _port_open(port)
    assert not state.exists()
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # no process of the group is left behind


def test_sigterm_during_start_up_stops_everything(tmp_path: Path) -> None:
    """Ctrl-C while the demo catalog is being seeded still stops the whole stack promptly."""
    port = free_port()
    state = tmp_path / "state.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--port", str(port), "--state-file", str(state)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    seeding = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "catalog:" in line:
                seeding.set()
        seeding.set()

    threading.Thread(target=pump, daemon=True).start()
    assert seeding.wait(120), "".join(lines)
    os.killpg(process.pid, signal.SIGTERM)
    os.killpg(process.pid, signal.SIGINT)  # a second signal must not wedge the shutdown either
    assert process.wait(30) == 0, "".join(lines[-20:])
    assert not _port_open(port)
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)
