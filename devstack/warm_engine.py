"""The search engine kept warm between `make dev` runs.

osmem-server keeps its indices in memory only, and indexing the saved demo catalog again costs it
about 33 CPU-seconds (at least 17 s of a two-core machine): more than a restart should take. So
`make dev` runs the engine under a keeper, a small process in a session of its own that outlives the
stack. A restart within the keep-warm window adopts the running engine, whose indices are exactly
what the last clean stop left, instead of indexing the saved documents again; the snapshot still
holds those documents for a restart after the window. A keeper that has had no living stack for the
whole window stops its engine and exits, as a build daemon does after its idle timeout.

The engine is adopted only when it holds what the snapshot's stack left: a clean stop writes one
generation id into both the snapshot and the keeper's file, and a stack that adopts or starts an
engine marks the file in use (no generation) first. After a crash or a `kill -9`, or with a
snapshot from elsewhere, the ids differ, and the engine is stopped and the documents loaded again.

The keeper's file is `<data dir>/search-engine.json` (its log `search-engine.log`):
`{"keeper": pid, "engine": pid, "url": ..., "generation": "" or id, "adopter": stack pid or null,
"keep": seconds}`.

    python -m devstack.warm_engine --stop [--data-dir DIR]    # stop a kept engine now (`make stop`)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

STATE_NAME = "search-engine.json"
LOG_NAME = "search-engine.log"
POLL_SECONDS = 1.0


def _state_path(data_dir: Path) -> Path:
    return data_dir / STATE_NAME


def read_state(data_dir: Path) -> dict[str, Any] | None:
    try:
        state = json.loads(_state_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _write_state(data_dir: Path, state: dict[str, Any]) -> None:
    path = _state_path(data_dir)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.write_text(json.dumps(state), encoding="utf-8")
    staging.replace(path)


def alive(pid: object) -> bool:
    """Whether process `pid` runs (a child of this process that has exited is reaped, not counted)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not a child of this process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
            return True
    except OSError:
        return False


class WarmEngine:
    """A kept engine as the stack's search proxy sees it: its `url`, and a `close()` that stops the
    keeper unless a clean stop has released the engine for the next start."""

    def __init__(self, data_dir: Path, url: str, keeper: int) -> None:
        self.data_dir = data_dir
        self.url = url
        self.keeper = keeper

    def close(self) -> None:
        state = read_state(self.data_dir)
        if state is None or state.get("keeper") != self.keeper or not state.get("generation"):
            _stop_keeper(self.keeper, self.data_dir)


def start(data_dir: Path, keep_seconds: float) -> WarmEngine:
    """A new engine under a new keeper (any kept before is stopped), adopted by this process."""
    stop(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "devstack.warm_engine", "--data-dir", str(data_dir)]
    command += ["--keep", str(keep_seconds), "--adopter", str(os.getpid())]
    with (data_dir / LOG_NAME).open("ab") as log:  # the keeper's and the engine's words, after the stack has gone
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    process.stdout.close()
    try:
        ready = json.loads(line)
    except ValueError:
        process.wait(10)
        raise RuntimeError(f"the search engine's keeper did not start (exit status {process.returncode})") from None
    return WarmEngine(data_dir, str(ready["url"]), process.pid)


def adopt(data_dir: Path, generation: str | None) -> WarmEngine | None:
    """The engine kept since the clean stop that wrote `generation`, now this process's; None (and
    any kept engine stopped) when there is none, or it is not the one the snapshot's stack left."""
    state = read_state(data_dir)
    if state is None:
        return None
    keeper, url = state.get("keeper"), str(state.get("url", ""))
    current = bool(generation) and state.get("generation") == generation
    if not (current and isinstance(keeper, int) and alive(keeper) and _answers(url)):
        stop(data_dir)
        return None
    _write_state(data_dir, {**state, "generation": "", "adopter": os.getpid()})
    return WarmEngine(data_dir, url, keeper)


def release(data_dir: Path, generation: str, keep_seconds: float) -> bool:
    """After a clean stop has saved a snapshot with `generation`: keep the engine `keep_seconds`
    for the next start."""
    state = read_state(data_dir)
    if state is None or not alive(state.get("keeper")):
        return False
    _write_state(data_dir, {**state, "generation": generation, "adopter": None, "keep": keep_seconds})
    return True


def stop(data_dir: Path) -> bool:
    """Stop the engine kept for `data_dir`, if any. Returns whether there was one."""
    state = read_state(data_dir)
    if state is None:
        return False
    return _stop_keeper(state.get("keeper"), data_dir)


def _stop_keeper(keeper: object, data_dir: Path) -> bool:
    running = isinstance(keeper, int) and alive(keeper)
    if isinstance(keeper, int) and running:
        os.kill(keeper, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while alive(keeper) and time.monotonic() < deadline:
            time.sleep(0.05)
    state = read_state(data_dir)
    if state is not None and state.get("keeper") == keeper:
        _state_path(data_dir).unlink(missing_ok=True)
    return running


# ------------------------------------------------------------------------------------- the keeper
def keep(data_dir: Path, keep_seconds: float, adopter: int) -> int:
    """Run the engine until no stack has used it for `keep_seconds`, the state file names another
    keeper (a reset, a new start), or a SIGTERM. The engine watches this process's pipe to its
    stdin, so it exits with the keeper however the keeper ends."""
    from devstack.search_engine import start_search_engine

    stopping = [False]
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.__setitem__(0, True))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    engine = start_search_engine(outlive_parent=True)
    url = str(engine.url)
    _write_state(
        data_dir,
        {"keeper": os.getpid(), "engine": engine.pid, "url": url, "generation": "", "adopter": adopter},
    )
    print(json.dumps({"url": url, "engine": engine.pid}), flush=True)
    idle_since: float | None = None
    while not stopping[0] and engine.process.poll() is None:
        time.sleep(POLL_SECONDS)
        state = read_state(data_dir)
        if state is None or state.get("keeper") != os.getpid():
            break
        if alive(state.get("adopter")):
            idle_since = None
            continue
        idle_since = time.monotonic() if idle_since is None else idle_since
        if time.monotonic() - idle_since >= float(state.get("keep", keep_seconds)):
            break
    engine.close()
    state = read_state(data_dir)
    if state is not None and state.get("keeper") == os.getpid():
        _state_path(data_dir).unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.warm_engine", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parent.parent / ".devstack" / "data")
    parser.add_argument("--stop", action="store_true", help="stop the engine kept for --data-dir")
    parser.add_argument("--keep", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--adopter", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stop:
        stopped = stop(args.data_dir)
        print("search engine: stopped" if stopped else "search engine: none kept warm")
        return 0
    return keep(args.data_dir, args.keep, args.adopter)


if __name__ == "__main__":
    sys.exit(main())
