"""Demo recommendations for the local stack (`make dev`): once the demo listening is in the lake,
run the weekly training workflow (`RecommendationsStateMachine`, the training step in-process), so
the demo accounts and the demo listeners get recommendations from a real model.

A start whose state already holds a promoted model (the registry and the models bucket persist with
the rest of the devstack's state) restores it and trains nothing. The training runs in a background
thread after the replay: it adds nothing to the time until the stack is ready; how long it took is
logged (docs/performance.md, "Recommendations: offline", has the demo's training time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from backbeat.aws import client
from backbeat.recs import registry
from devstack.stack import Devstack

MACHINE = "RecommendationsStateMachine"
# the lake's Firehose buffers LakeBufferSeconds (2 s in the devstack) before a play is queryable
LAKE_SETTLE_SECONDS = 10.0
POLL_SECONDS = 2.0
TIMEOUT_SECONDS = 1800.0


def train_now(stack: Devstack, stopping: Callable[[], bool], log: Callable[[str], None]) -> str | None:
    """Run the workflow once and wait for it; answers the promoted version (None if none)."""
    assert stack.deployment is not None
    arn = stack.deployment.state_machines[MACHINE]
    functions = client("stepfunctions")
    started = time.perf_counter()
    execution = functions.start_execution(stateMachineArn=arn, name=f"demo-{int(time.time())}", input="{}")
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not stopping() and time.monotonic() < deadline:
        described = functions.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            break
        time.sleep(POLL_SECONDS)
    else:
        log("demo recommendations: stopped waiting for the training workflow")
        return None
    elapsed = time.perf_counter() - started
    if described["status"] != "SUCCEEDED":
        log(f"demo recommendations: the training workflow {described['status'].lower()} after {elapsed:.0f} s")
        return None
    version = registry.promoted_version(stack.deployment.tables["RecsRegistryTable"])
    log(f"demo recommendations: model {version} trained and promoted in {elapsed:.0f} s")
    return version


def start_demo_recs(
    stack: Devstack,
    listening: threading.Thread | None,
    stopping: Callable[[], bool],
    log: Callable[[str], None],
) -> threading.Thread:
    """After the demo listening (if it is being sent), restore or train the model in the background."""
    assert stack.deployment is not None
    table = stack.deployment.tables["RecsRegistryTable"]

    def run() -> None:
        try:
            if listening is not None:
                listening.join()
            elif (version := registry.promoted_version(table)) is not None:
                log(f"demo recommendations: model {version} restored with the state")
                return
            if stopping():
                return
            time.sleep(LAKE_SETTLE_SECONDS)
            train_now(stack, stopping, log)
        except Exception as error:  # the stack keeps serving (trending answers); the next start tries again
            log(f"demo recommendations: failed ({type(error).__name__}: {error})")

    thread = threading.Thread(target=run, name="demo-recs", daemon=True)
    thread.start()
    return thread
