"""The search engine `make dev` keeps warm after a stop: adopted by the next start only when it holds
what the snapshot's stack left, and gone once nobody has used it for its window."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import warm_engine


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    warm_engine.stop(tmp_path)


def _gone(pid: int, within: float = 15) -> bool:
    deadline = time.monotonic() + within
    while warm_engine.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not warm_engine.alive(pid)


def _put(url: str, path: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(
        f"{url}{path}", data=json.dumps(body).encode(), method="PUT", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def _count(url: str, index: str) -> int:
    with urllib.request.urlopen(f"{url}/{index}/_count", timeout=10) as response:
        return int(json.load(response)["count"])


def test_the_next_start_adopts_the_engine_released_with_its_snapshots_generation(data_dir: Path) -> None:
    engine = warm_engine.start(data_dir, keep_seconds=60)
    _put(engine.url, "/songs/_doc/1?refresh=true", {"title": "Kept warm"})
    assert warm_engine.release(data_dir, "generation-1", keep_seconds=60)
    engine.close()  # the stopping stack lets go of it: released, so it stays up
    assert warm_engine.alive(engine.keeper)

    adopted = warm_engine.adopt(data_dir, "generation-1")

    assert adopted is not None and adopted.url == engine.url
    assert _count(adopted.url, "songs") == 1  # the indices as the stop left them, nothing loaded
    state = warm_engine.read_state(data_dir)
    assert state is not None and state["adopter"] == os.getpid() and state["generation"] == ""
    adopted.close()  # a stack that ends without a clean stop (no release): the engine goes with it
    assert _gone(engine.keeper)
    assert warm_engine.read_state(data_dir) is None


@pytest.mark.parametrize("snapshot_generation", ["another-generation", ""], ids=["other-snapshot", "no-generation"])
def test_an_engine_the_snapshot_does_not_name_is_stopped_not_adopted(data_dir: Path, snapshot_generation: str) -> None:
    engine = warm_engine.start(data_dir, keep_seconds=60)
    assert warm_engine.release(data_dir, "generation-1", keep_seconds=60)

    assert warm_engine.adopt(data_dir, snapshot_generation) is None

    assert _gone(engine.keeper)
    assert warm_engine.read_state(data_dir) is None


def test_an_engine_still_marked_in_use_after_a_crash_is_not_adopted(data_dir: Path) -> None:
    engine = warm_engine.start(data_dir, keep_seconds=60)  # never released: its stack was killed

    assert warm_engine.adopt(data_dir, "generation-of-an-older-snapshot") is None
    assert _gone(engine.keeper)


def test_a_released_engine_nobody_adopts_stops_after_its_window(data_dir: Path) -> None:
    engine = warm_engine.start(data_dir, keep_seconds=600)
    state = warm_engine.read_state(data_dir)
    assert state is not None
    engine_pid = int(state["engine"])
    assert warm_engine.release(data_dir, "generation-1", keep_seconds=1)  # the window of the last stop counts

    assert _gone(engine.keeper) and _gone(engine_pid)
    assert warm_engine.read_state(data_dir) is None
    assert warm_engine.adopt(data_dir, "generation-1") is None
