"""`make dev` as a newcomer runs it: one ready line with the URL, and Ctrl-C/SIGTERM to its process
group stops everything it started."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from devstack import warm_engine
from devstack.seed import DEMO_PASSWORD
from devstack.stack import free_port
from tests.support import Spawned, http, spawn

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
    devstack_args = f"DEVSTACK_ARGS=--no-seed --state-file {state} --data-dir {tmp_path / 'data'}"
    make_dev = ["make", "--no-print-directory", "dev", f"PORT={port}", devstack_args]
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
    # all that outlives Ctrl-C is the search engine make dev keeps warm for the next start, until
    # its window passes or `make stop` (this command) ends it
    kept = warm_engine.read_state(tmp_path / "data")
    assert kept is not None and warm_engine.alive(kept["keeper"]) and kept["generation"], kept
    stop = [sys.executable, "-m", "devstack.warm_engine", "--stop", "--data-dir", str(tmp_path / "data")]
    assert subprocess.run(stop, capture_output=True, text=True, check=True).stdout.strip() == "search engine: stopped"
    assert not warm_engine.alive(kept["keeper"]) and not warm_engine.alive(kept["engine"])


def test_sigterm_during_start_up_stops_everything(tmp_path: Path) -> None:
    """Ctrl-C while the demo catalog is being seeded still stops the whole stack promptly."""
    port = free_port()
    command = [sys.executable, "-m", "devstack", "--port", str(port), "--state-file", str(tmp_path / "state.json")]
    spawned = spawn([*command, "--no-demo-audio", "--data-dir", str(tmp_path / "data")], marker="catalog:")
    assert spawned.wait(120), spawned.tail()
    os.killpg(spawned.process.pid, signal.SIGTERM)
    os.killpg(spawned.process.pid, signal.SIGINT)  # a second signal must not wedge the shutdown either
    assert spawned.process.wait(30) == 0, spawned.tail(20)
    _assert_all_stopped(spawned.process.pid, port)


KEPT_USER = {"email": "kept@example.com", "password": "a-long-password"}


def _start_small_stack(port: int, data_dir: Path, state: Path, keep_search_warm: int = 0) -> Spawned:
    command = [sys.executable, "-m", "devstack", "--port", str(port), "--state-file", str(state)]
    options = ["--catalog-limit", "300", "--no-demo-audio", "--data-dir", str(data_dir)]
    options += ["--keep-search-warm", str(keep_search_warm)]
    return spawn([*command, *options], marker="ready at")


def _stop(spawned: Spawned) -> None:
    if spawned.process.poll() is None:
        os.killpg(spawned.process.pid, signal.SIGTERM)
    assert spawned.process.wait(60) == 0, spawned.tail(20)


def _health_answers(url: str, until: threading.Event) -> list[tuple[int, Any]]:
    """Every /health answer from the moment the gateway listens until `until` is set."""
    answers: list[tuple[int, Any]] = []

    def poll() -> None:
        while not until.is_set():
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                    answers.append((response.status, json.load(response)))
            except urllib.error.HTTPError as error:
                answers.append((error.code, json.load(error)))
            except OSError:
                pass  # not listening yet
            time.sleep(0.05)

    threading.Thread(target=poll, daemon=True).start()
    return answers


@pytest.mark.parametrize("keep_search_warm", [0, 60], ids=["search-reindexed", "search-kept-warm"])
def test_a_restarted_stack_keeps_users_playlists_catalog_and_search(tmp_path: Path, keep_search_warm: int) -> None:
    """What a developer made before Ctrl-C is there after the next start (on another port, too),
    whether the search indices are loaded again from the snapshot or the engine kept warm since the
    stop is adopted (`make dev`'s way)."""
    data_dir, state = tmp_path / "data", tmp_path / "state.json"
    try:
        _restart_keeps_everything(data_dir, state, keep_search_warm)
    finally:
        warm_engine.stop(data_dir)


def _restart_keeps_everything(data_dir: Path, state: Path, keep_search_warm: int) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ready = threading.Event()
    health = _health_answers(url, ready)
    first = _start_small_stack(port, data_dir, state, keep_search_warm)
    try:
        assert first.wait(300), first.tail()
        ready.set()
        assert http("GET", f"{url}/health")[0] == 200
        assert (
            http("POST", f"{url}/auth/signup", {"email": "kept@example.com", "password": "a-long-password"})[0] == 201
        )
        token = http("POST", f"{url}/auth/login", {"email": "kept@example.com", "password": "a-long-password"})[1]
        status, playlist, _ = http(
            "POST", f"{url}/playlists", {"name": "Survives restarts"}, token=token["accessToken"]
        )
        assert status == 201, playlist
    finally:
        _stop(first)
    starting = [body for status, body in health if status == 503]
    assert starting and all(body["status"] == "starting" for body in starting), health[:3]
    assert any("state: saved" in line for line in first.lines), first.tail()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    kept = warm_engine.read_state(data_dir)
    assert (kept is not None) == bool(keep_search_warm), kept
    second = _start_small_stack(port, data_dir, state, keep_search_warm)
    try:
        assert second.wait(300), second.tail()
        assert any("state: restored" in line for line in second.lines), second.tail()
        adopted = any("kept warm since the last stop is adopted" in line for line in second.lines)
        reloaded = any("documents restored" in line for line in second.lines)
        assert (adopted, reloaded) == (bool(keep_search_warm), not keep_search_warm), second.tail()
        assert not any("catalog:" in line for line in second.lines)  # restored, not seeded again
        status, tokens, _ = http(
            "POST", f"{url}/auth/login", {"email": "kept@example.com", "password": "a-long-password"}
        )
        assert status == 200, tokens
        token = tokens["accessToken"]
        status, mine, _ = http("GET", f"{url}/me/playlists", token=token)
        assert status == 200 and [item["id"] for item in mine["items"]] == [playlist["id"]], mine
        status, found, _ = http("GET", f"{url}/search?q=love&type=song", token=token)
        assert status == 200 and found["songs"]["items"], found
        song = found["songs"]["items"][0]["id"]
        status, body, _ = http("GET", f"{url}/songs/{song}", token=token)
        assert status == 200 and body["id"] == song, body
        demo_user = {"email": "free@demo.backbeat.dev", "password": DEMO_PASSWORD}
        assert http("POST", f"{url}/auth/login", demo_user)[0] == 200
    finally:
        _stop(second)
