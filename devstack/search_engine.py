"""osmem-server (an in-memory OpenSearch-compatible engine) as the devstack starts it: for a stack of
its own (`devstack.stack`), or kept warm across stacks (`devstack.warm_engine`, whose keeper process
imports only this light module)."""

from __future__ import annotations

import json
import os
import subprocess

from osmem_server import OsmemServer, resolve_binary


def start_search_engine(*, outlive_parent: bool = False) -> OsmemServer:
    """osmem-server, once it listens. By default in a session of its own, so that Ctrl-C or a SIGTERM
    to the devstack's process group leaves it to the devstack, which saves the indices before closing
    it, and it still exits with this process (it watches its pid and its stdin). With
    `outlive_parent` it watches only its stdin: it exits when this process's pipe to it closes."""
    command = [resolve_binary(), "--no-ja"]
    command += [] if outlive_parent else ["--parent-pid", str(os.getpid())]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=not outlive_parent
    )
    assert process.stdout is not None
    for line in process.stdout:  # the first JSON line says where it listens
        if line.startswith("{") and "url" in (ready := json.loads(line)):
            return OsmemServer(process, ready["url"], ready.get("pid", process.pid), ready.get("version", ""), False)
    raise RuntimeError("osmem-server exited during start-up")
