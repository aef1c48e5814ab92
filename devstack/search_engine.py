"""osmem-server (an in-memory OpenSearch-compatible engine) as the devstack starts it: for a stack of
its own (`devstack.stack`), or kept warm across stacks (`devstack.warm_engine`, whose keeper process
imports only this light module)."""

from __future__ import annotations

import json
import os
import subprocess

from osmem_server import OsmemServer, resolve_binary

# The engine is a Go program whose searches allocate per posting they read; at Go's default (a
# collection each time the heap doubles) a query holding common words spends much of its time
# collecting. Collecting at 5x the live heap, bounded at 3 GiB, took the whole query's p95 from
# 70 to 38 ms straight to the engine, for 1.2 GiB more memory (docs/decisions.md, 55). On a machine
# with less than twice that free the bound is half of what is free, so the engine collects sooner
# instead of running the machine short. A developer's own GOGC or GOMEMLIMIT wins.
ENGINE_GOGC = "400"
ENGINE_MEMORY_LIMIT = 3 * 1024**3
# The engine makes each bulk request of 1,000 or more documents a segment of its own and never merges
# them; every term of every query is looked up in each. Loading in bulks of 10,000 leaves the catalog
# in ~10 segments instead of ~90 (docs/decisions.md, 55).
BULK_DOCUMENTS = 10_000


def engine_environment() -> dict[str, str]:
    """This process's environment with the engine's defaults where the developer set none."""
    limit = min(ENGINE_MEMORY_LIMIT, _available_memory() // 2)
    return {"GOGC": ENGINE_GOGC, "GOMEMLIMIT": f"{limit // 1024**2}MiB", **os.environ}


def _available_memory() -> int:
    """The memory the machine has free for new work (Linux's MemAvailable), or the engine's bound
    doubled where that cannot be read."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 2 * ENGINE_MEMORY_LIMIT


def start_search_engine(*, outlive_parent: bool = False) -> OsmemServer:
    """osmem-server, once it listens. By default in a session of its own, so that Ctrl-C or a SIGTERM
    to the devstack's process group leaves it to the devstack, which saves the indices before closing
    it, and it still exits with this process (it watches its pid and its stdin). With
    `outlive_parent` it watches only its stdin: it exits when this process's pipe to it closes."""
    command = [resolve_binary(), "--no-ja"]
    command += [] if outlive_parent else ["--parent-pid", str(os.getpid())]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=not outlive_parent,
        env=engine_environment(),
    )
    assert process.stdout is not None
    for line in process.stdout:  # the first JSON line says where it listens
        if line.startswith("{") and "url" in (ready := json.loads(line)):
            return OsmemServer(process, ready["url"], ready.get("pid", process.pid), ready.get("version", ""), False)
    raise RuntimeError("osmem-server exited during start-up")
