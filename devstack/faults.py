"""Faults injected on demand, to show that nothing is lost on a bad day.

A `FaultPlan` says what share of which calls fail; `POST /_devstack/faults` on the gateway (loopback
only, not part of the API) replaces it, `GET /_devstack/faults` shows it with how many faults were
injected so far, and `DELETE` clears it. Faults come in two kinds:

- **AWS faults**, answered by a WSGI layer in front of the moto server, so every client (boto3,
  pynamodb, the SDK retries) sees exactly what AWS would send: DynamoDB writes throttled
  (`ProvisionedThroughputExceededException`, 400), transactions cancelled by a conflict
  (`TransactionCanceledException` with a `TransactionConflict` reason), S3 calls answered 503
  `SlowDown`, and Kinesis `PutRecords` entries refused one by one (a partial failure: the refused
  entries never reach the stream, the others do, as in AWS).
- **Consumer faults**, applied by the event source pollers around a function's invocation:
  `recordFailures` reports a share of a batch's records failed *after* the function applied them
  (the duplicate delivery every at-least-once consumer must absorb), and `crashes` makes the next N
  invocations of a function die half-way through a batch (the first half applied, then the
  invocation fails as a crashed runtime does, so the whole batch is delivered again).
  The same `crashes` count applies to a Step Functions Task invoking the function (the encode state
  machine's steps): the invocation dies as a crashed runtime does (`Runtime.ExitError`).
- **Recommendation source faults**: `recsSourceFailure` makes a share of the calls to a candidate
  source (`collaborative`, `content`, ..., or `*` for all) fail, so that the circuit breakers and
  the trending fallback can be seen and measured (`bench/recs_latency.py`).
- **Search engine faults**, applied by a byte-level proxy in front of osmem-server (the endpoint
  every function is given; `SearchEngineProxy`): `searchDelayMs` holds each request that long
  before the engine sees it (a slow engine, as a client with a timeout experiences one), and
  `searchErrors` answers a share of requests 503 as an overloaded OpenSearch does.

Faults are drawn from a seeded random generator so that a run can be repeated. A plan in the
environment variable `BACKBEAT_DEVSTACK_FAULTS` (the JSON `POST` takes) is applied once the devstack
is ready, so that a benchmark which starts its own devstack runs under faults unchanged
(`bench/faults.py`).
"""

from __future__ import annotations

import io
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
Share = float


class FaultPlan(BaseModel):
    """What to break, as shares in [0, 1] of the calls or records concerned."""

    model_config = ConfigDict(extra="forbid")

    dynamodbThrottle: Share = Field(default=0.0, ge=0, le=1)
    dynamodbConflict: Share = Field(default=0.0, ge=0, le=1)
    s3Errors: Share = Field(default=0.0, ge=0, le=1)
    kinesisPutFailures: Share = Field(default=0.0, ge=0, le=1)
    recordFailures: dict[str, Share] = Field(default_factory=dict)
    crashes: dict[str, int] = Field(default_factory=dict)
    recsSourceFailure: dict[str, Share] = Field(default_factory=dict)
    searchDelayMs: int = Field(default=0, ge=0, le=120_000)
    searchErrors: Share = Field(default=0.0, ge=0, le=1)
    seed: int = 0

    def record_failure_share(self, function: str) -> float:
        return max(0.0, min(1.0, self.recordFailures.get(function, 0.0)))


@dataclass
class Faults:
    """The devstack's current plan, its random generator and what it has injected."""

    plan: FaultPlan = field(default_factory=lambda: FaultPlan())
    injected: Counter[str] = field(default_factory=Counter)
    _random: random.Random = field(default_factory=random.Random)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def use(self, plan: FaultPlan) -> None:
        with self._lock:
            self.plan = plan
            self.injected = Counter()
            self._random = random.Random(plan.seed)

    def clear(self) -> None:
        self.use(FaultPlan())

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"plan": self.plan.model_dump(), "injected": dict(self.injected)}

    def roll(self, share: float, kind: str) -> bool:
        if share <= 0:
            return False
        with self._lock:
            hit = self._random.random() < share
            if hit:
                self.injected[kind] += 1
            return hit

    def take_crash(self, function: str, *names: str) -> bool:
        """True (once per planned crash) when an invocation of `function` should crash mid-batch."""
        with self._lock:
            for name in (function, *names):
                if self.plan.crashes.get(name, 0) > 0:
                    self.plan.crashes[name] -= 1
                    self.injected[f"crash:{name}"] += 1
                    return True
            return False

    def failed_records(self, function: str, identifiers: Iterable[str], *names: str) -> set[str]:
        share = max((self.plan.record_failure_share(name) for name in (function, *names)), default=0.0)
        return {identifier for identifier in identifiers if self.roll(share, f"recordFailure:{function}")}

    # ------------------------------------------------------------------ AWS faults (WSGI layer)

    def wrap(self, app: Callable[..., Any]) -> Callable[..., Any]:
        """A WSGI application answering the planned AWS faults before (or instead of) `app`."""

        def faulty(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
            service, _, action = target.partition(".")
            if service.startswith("DynamoDB_") and action in _DYNAMODB_WRITES:
                if self.roll(self.plan.dynamodbThrottle, "dynamodbThrottle"):
                    return _json_error(start_response, "ProvisionedThroughputExceededException", "Rate exceeded")
                if action == "TransactWriteItems" and self.roll(self.plan.dynamodbConflict, "dynamodbConflict"):
                    return _transaction_conflict(environ, start_response)
            if target == "Kinesis_20131202.PutRecords" and self.plan.kinesisPutFailures > 0:
                return self._partial_put_records(app, environ, start_response)
            if _is_s3(environ) and self.roll(self.plan.s3Errors, "s3Errors"):
                return _s3_slow_down(start_response)
            return app(environ, start_response)

        return faulty

    def _partial_put_records(self, app: Callable[..., Any], environ: dict[str, Any], start_response: Any) -> Any:
        """Refuse some entries of a PutRecords: forward the others, then answer with the refused
        ones in their places (ErrorCode set, FailedRecordCount counted), as Kinesis does."""
        body = _read_body(environ)
        request = json.loads(body or b"{}")
        entries = request.get("Records") or []
        refused = {i for i in range(len(entries)) if self.roll(self.plan.kinesisPutFailures, "kinesisPutFailures")}
        if not refused:
            environ["wsgi.input"] = io.BytesIO(body)
            return app(environ, start_response)
        kept = [entry for i, entry in enumerate(entries) if i not in refused]
        results: list[dict[str, Any]] = []
        if kept:
            forwarded = json.dumps({**request, "Records": kept}).encode()
            environ["wsgi.input"] = io.BytesIO(forwarded)
            environ["CONTENT_LENGTH"] = str(len(forwarded))
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
                captured["status"] = status
                return lambda _data: None

            answer = b"".join(app(environ, capture))
            if not str(captured.get("status", "")).startswith("200"):
                return _json_error(
                    start_response, "InternalFailure", "PutRecords failed", status="500 Internal Server Error"
                )
            results = list(json.loads(answer)["Records"])
        merged: list[dict[str, Any]] = []
        forwarded_results = iter(results)
        for i in range(len(entries)):
            if i in refused:
                merged.append(
                    {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded for shard"}
                )
            else:
                merged.append(next(forwarded_results))
        payload = json.dumps({"FailedRecordCount": len(refused), "Records": merged}).encode()
        start_response(
            "200 OK", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))]
        )
        return [payload]


def _read_body(environ: dict[str, Any]) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return bytes(environ["wsgi.input"].read(length)) if length else b""


def _json_error(start_response: Any, code: str, message: str, status: str = "400 Bad Request") -> list[bytes]:
    payload = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode()
    start_response(status, [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(payload)))])
    return [payload]


def _transaction_conflict(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    request = json.loads(_read_body(environ) or b"{}")
    items = request.get("TransactItems") or [{}]
    reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}] + [
        {"Code": "None"} for _ in items[1:]
    ]
    payload = json.dumps(
        {
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
            "[TransactionConflict]",
            "CancellationReasons": reasons,
        }
    ).encode()
    start_response(
        "400 Bad Request", [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(payload)))]
    )
    return [payload]


def _is_s3(environ: dict[str, Any]) -> bool:
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    return "/s3/aws4_request" in authorization


def _s3_slow_down(start_response: Any) -> list[bytes]:
    payload = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
        b"<Message>Please reduce your request rate.</Message></Error>"
    )
    start_response("503 Slow Down", [("Content-Type", "application/xml"), ("Content-Length", str(len(payload)))])
    return [payload]


class InjectedSourceFailure(RuntimeError):
    """A recommendation candidate source failed because the fault plan said so."""


def fail_recs_sources(faults: Faults) -> None:
    """Serving asks `backbeat.recs.breaker.source_fault` before calling each source; this one fails
    the share of calls the plan gives that source (or `*`)."""
    from backbeat.recs import breaker

    def fault(source: str) -> None:
        shares = faults.plan.recsSourceFailure
        share = max(shares.get(source, 0.0), shares.get("*", 0.0))
        if faults.roll(min(1.0, max(0.0, share)), f"recsSourceFailure:{source}"):
            raise InjectedSourceFailure(f"{source}: injected failure")

    breaker.source_fault = fault


FAULTS = Faults()
fail_recs_sources(FAULTS)
PLAN_VARIABLE = "BACKBEAT_DEVSTACK_FAULTS"
REPORT_VARIABLE = "BACKBEAT_DEVSTACK_FAULTS_REPORT"


def use_plan_from_environment(faults: Faults = FAULTS) -> FaultPlan | None:
    """Apply the plan in `BACKBEAT_DEVSTACK_FAULTS`, if any (the devstack calls this once ready).
    With `BACKBEAT_DEVSTACK_FAULTS_REPORT` set too, what `GET /_devstack/faults` answers is kept in
    that file, rewritten every second, for a caller that does not know the stack's address."""
    text = os.environ.get(PLAN_VARIABLE, "").strip()
    if not text:
        return None
    plan = FaultPlan.model_validate_json(text)
    faults.use(plan)
    if report := os.environ.get(REPORT_VARIABLE, "").strip():
        threading.Thread(target=_keep_reporting, args=(faults, Path(report)), name="fault-report", daemon=True).start()
    return plan


def _keep_reporting(faults: Faults, path: Path, every: float = 1.0) -> None:
    while True:
        staging = path.with_name(path.name + ".tmp")
        staging.write_text(json.dumps(faults.status()), encoding="utf-8")
        staging.replace(path)
        time.sleep(every)


def routes(faults: Faults = FAULTS) -> list[tuple[str, str, Callable[..., Any]]]:
    """The gateway's `/_devstack/faults` routes (the devstack listens on loopback only)."""
    from aiohttp import web
    from pydantic import ValidationError

    async def show(request: web.Request) -> web.Response:
        return web.json_response(faults.status())

    async def replace(request: web.Request) -> web.Response:
        try:
            plan = FaultPlan.model_validate_json(await request.read())
        except ValidationError as error:
            message = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors())
            return web.json_response({"error": {"code": "InvalidInput", "message": message}}, status=422)
        faults.use(plan)
        return web.json_response(faults.status())

    async def clear(request: web.Request) -> web.Response:
        faults.clear()
        return web.json_response(faults.status())

    return [
        ("GET", "/_devstack/faults", show),
        ("POST", "/_devstack/faults", replace),
        ("DELETE", "/_devstack/faults", clear),
    ]
