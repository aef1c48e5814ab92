"""Lambda handlers run in-process, with Lambda's execution-environment semantics.

Each function gets a pool of execution environments. An environment is a fresh import of the
function's handler module (a cold start) with the function's environment variables in place while
it imports, so settings read at cold start are the function's own. One environment serves one
invocation at a time, as in Lambda; concurrent invocations get more environments, up to
`max_concurrency` per function (then they wait, as throttled invocations would be retried).

An invocation runs in a thread of its own and gets the function's template `Timeout`: past it the
caller gets `FunctionTimedOut` (Lambda's `Sandbox.Timedout` error, which Step Functions and the
event source pollers see as the invocation's error and the gateway answers 503), the handler's late
result is discarded, and its environment is never reused: Lambda tears down a timed-out
environment, so the next invocation starts cold while the abandoned thread runs to its end (its
concurrency slot stays taken until then).
"""

from __future__ import annotations

import contextvars
import importlib.util
import os
import threading
import time
import traceback
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

_IMPORT_LOCK = threading.RLock()


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    code_dir: Path
    handler: str
    environment: Mapping[str, str]
    timeout_seconds: int = 10
    memory_mb: int = 512
    region: str = "us-east-1"
    account_id: str = "123456789012"

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"


class FunctionError(Exception):
    """The handler raised: `payload` is what Lambda would return with X-Amz-Function-Error."""

    def __init__(self, function: str, payload: dict[str, Any]) -> None:
        super().__init__(f"{function}: {payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload


class FunctionTimedOut(FunctionError):
    """The handler ran past the function's timeout; its result, when it comes, is discarded."""

    def __init__(self, function: str, request_id: str, timeout_seconds: float) -> None:
        super().__init__(
            function,
            {
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout_seconds:.2f} seconds",
                "errorType": "Sandbox.Timedout",
            },
        )


@dataclass
class LambdaContext:
    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@contextmanager
def _function_environment(environment: Mapping[str, str]) -> Iterator[None]:
    """Overlay the function's variables on os.environ while its module imports."""
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update({key: str(value) for key, value in environment.items()})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class _Environment:
    module: ModuleType
    handler: Any
    created: float = field(default_factory=time.monotonic)
    invocations: int = 0


@dataclass
class FunctionStats:
    cold_starts: int = 0
    invocations: int = 0
    errors: int = 0
    timeouts: int = 0
    cold_start_seconds: list[float] = field(default_factory=list)


class _FunctionPool:
    def __init__(self, spec: FunctionSpec, max_concurrency: int) -> None:
        self.spec = spec
        self.stats = FunctionStats()
        self._idle: list[_Environment] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._generation = 0
        self.busy = 0  # environments running an invocation, abandoned (timed-out) ones included

    def _cold_start(self) -> _Environment:
        module_name, _, function_name = self.spec.handler.rpartition(".")
        path = self.spec.code_dir / f"{module_name.replace('.', '/')}.py"
        if not path.is_file():
            raise FileNotFoundError(f"{self.spec.logical_id}: handler module {path} does not exist")
        started = time.perf_counter()
        with _IMPORT_LOCK, _function_environment(self.spec.environment):
            self._generation += 1
            unique = f"_lambda_{self.spec.logical_id}_{self._generation}"
            module_spec = importlib.util.spec_from_file_location(unique, path)
            assert module_spec and module_spec.loader
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        handler = getattr(module, function_name)
        self.stats.cold_starts += 1
        self.stats.cold_start_seconds.append(time.perf_counter() - started)
        return _Environment(module=module, handler=handler)

    def acquire(self) -> _Environment:
        """A concurrency slot and an idle (or newly started) environment; `release` gives both back."""
        self._slots.acquire()
        try:
            with self._lock:
                env = self._idle.pop() if self._idle else None
            env = env if env is not None else self._cold_start()
        except BaseException:
            self._slots.release()
            raise
        with self._lock:
            self.busy += 1
        return env

    def release(self, env: _Environment, *, reuse: bool, slot: bool = True) -> None:
        """Give back the environment (to the idle list when `reuse`) and, with `slot`, its
        concurrency slot (a timed-out invocation gave its slot back when it timed out)."""
        with self._lock:
            self.busy -= 1
            if reuse:
                self._idle.append(env)
        if slot:
            self._slots.release()

    def release_slot(self) -> None:
        """Lambda ends a timed-out sandbox at once, so its concurrency is free again; the thread of a
        timed-out run here cannot be stopped, and gives its environment back (not for reuse) when it
        ends."""
        self._slots.release()


_REQUEST_STATE = threading.local()


def _per_invocation(name: str) -> property:
    def get(_owner: Any) -> Any:
        try:
            return getattr(_REQUEST_STATE, name)
        except AttributeError:
            raise AttributeError(name) from None

    def put(_owner: Any, value: Any) -> None:
        setattr(_REQUEST_STATE, name, value)

    return property(get, put)


def isolate_powertools_request_state() -> None:
    """Powertools' event handler keeps the event it is resolving in class attributes of `BaseRouter`
    (`BaseRouter.current_event = ...`): right in Lambda, where a process serves one invocation at a
    time, wrong here, where concurrent invocations run in threads of one process and a request would
    read another request's event (its caller, its body). Those two attributes become per-thread (an
    invocation runs in a thread of its own), for reads and writes through the class and through
    resolver instances alike."""
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    if getattr(BaseRouter, "_devstack_per_invocation", False):
        return
    names = ("current_event", "lambda_context")
    for name in names:  # instance reads and writes (resolver.current_event)
        setattr(BaseRouter, name, _per_invocation(name))
    metaclass = type("PerInvocationRouterMeta", (type(BaseRouter),), {name: _per_invocation(name) for name in names})
    BaseRouter.__class__ = metaclass  # type: ignore[method-assign]  # class reads and writes too
    BaseRouter._devstack_per_invocation = True  # type: ignore[attr-defined]


class LambdaRuntime:
    """Invokes functions by logical id, physical name or ARN."""

    def __init__(self, specs: list[FunctionSpec], max_concurrency: int = 16) -> None:
        isolate_powertools_request_state()
        self._pools: dict[str, _FunctionPool] = {}
        for spec in specs:
            pool = _FunctionPool(spec, max_concurrency)
            for key in (spec.logical_id, spec.name, spec.arn):
                self._pools[key] = pool

    @property
    def specs(self) -> list[FunctionSpec]:
        return list({id(pool): pool.spec for pool in self._pools.values()}.values())

    def knows(self, function: str) -> bool:
        return self._pool(function) is not None

    def logical_id(self, function: str) -> str:
        """The template logical id of a function named by id, name or ARN (what fault plans name)."""
        pool = self._pool(function)
        return pool.spec.logical_id if pool is not None else function

    def _pool(self, function: str) -> _FunctionPool | None:
        name = function.split(":function:")[-1].split(":")[0] if ":function:" in function else function
        return self._pools.get(name) or self._pools.get(function)

    def stats(self, function: str) -> FunctionStats:
        pool = self._pool(function)
        if pool is None:
            raise KeyError(function)
        return pool.stats

    def busy_environments(self, function: str) -> int:
        """Environments running an invocation now, including those whose caller timed out."""
        pool = self._pool(function)
        if pool is None:
            raise KeyError(function)
        return pool.busy

    def invoke(self, function: str, event: Any) -> Any:
        """Run the handler; returns its result or raises FunctionError as Lambda would report it."""
        pool = self._pool(function)
        if pool is None:
            raise KeyError(f"no such function: {function}")
        spec = pool.spec
        try:
            env = pool.acquire()
        except Exception as error:  # the handler could not even load: Lambda's Runtime.ImportModuleError
            pool.stats.errors += 1
            payload = {"errorMessage": str(error), "errorType": "Runtime.ImportModuleError", "stackTrace": []}
            raise FunctionError(spec.name, payload) from error
        return self._run_with_timeout(pool, env, event)

    def _run_with_timeout(self, pool: _FunctionPool, env: _Environment, event: Any) -> Any:
        """Run the handler in a thread of its own and wait for it no longer than the timeout."""
        spec = pool.spec
        request_id = str(uuid.uuid4())
        outcome: dict[str, Any] = {}
        settled = threading.Lock()  # whichever of "finished" and "timed out" comes first wins
        state = {"finished": False, "timed_out": False}
        done = threading.Event()

        def run() -> None:
            try:
                outcome["result"] = self._run(pool, env, event, request_id)
            except BaseException as error:  # handed to the caller (or dropped after a timeout)
                outcome["error"] = error
            finally:
                with settled:
                    state["finished"] = True
                    abandoned = state["timed_out"]
                if abandoned:  # the caller has gone: drop the environment (its slot was freed at the timeout)
                    pool.release(env, reuse=False, slot=False)
                done.set()

        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(run,), name=f"lambda-{spec.name}", daemon=True)
        thread.start()
        done.wait(spec.timeout_seconds)
        with settled:
            if not state["finished"]:
                state["timed_out"] = True
        if state["timed_out"]:
            pool.release_slot()
            pool.stats.errors += 1
            pool.stats.timeouts += 1
            raise FunctionTimedOut(spec.name, request_id, spec.timeout_seconds)
        pool.release(env, reuse=True)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def _run(self, pool: _FunctionPool, env: _Environment, event: Any, request_id: str) -> Any:
        spec = pool.spec
        context = LambdaContext(
            function_name=spec.name,
            function_version="$LATEST",
            invoked_function_arn=spec.arn,
            memory_limit_in_mb=spec.memory_mb,
            aws_request_id=request_id,
            log_group_name=f"/aws/lambda/{spec.name}",
            log_stream_name=f"local/{id(env)}",
            deadline=time.monotonic() + spec.timeout_seconds,
        )
        pool.stats.invocations += 1
        env.invocations += 1
        try:
            return env.handler(event, context)
        except Exception as error:
            pool.stats.errors += 1
            raise FunctionError(
                spec.name,
                {
                    "errorMessage": str(error),
                    "errorType": type(error).__name__,
                    "stackTrace": traceback.format_exception(error),
                },
            ) from error
