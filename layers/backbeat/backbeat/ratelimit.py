"""Per-caller rate limits: fixed-window counters in DynamoDB, one conditional atomic update per
request (docs/decisions.md, 41).

A counter is one item per (route class, caller, window): ``pk = "<class>#<caller>#<windowStart>"``.
A request adds one to it with ``ADD hits :one`` on the condition ``hits < :limit``, so however many
containers race on one caller, DynamoDB admits at most `limit` requests per window (no read, no
read-modify-write). A refused update means the window is spent: the caller waits for its end
(`Retry-After`). Items carry `expiresAt`, the table's TTL attribute, so old windows disappear.

Each container also remembers the windows it saw refused (`_spent`): the counter only grows within a
window, so a flooding caller is answered 429 from memory without another write until the window
ends. Only refusals are remembered, never allowances, so the memory cannot let anyone through.

When DynamoDB cannot be reached the request is let through and the failure logged: the limiter
protects the service from one caller, it must not take the service down with it.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from backbeat.aws import client
from backbeat.errors import BackbeatError
from backbeat.observability import count, logger

# Windows stay in the table a little after they end (TTL deletion is lazy anyway).
EXPIRY_MARGIN_SECONDS = 60
_SPENT_MEMORY = 10_000  # refused windows remembered per container before the memory is cleared


class RateLimited(BackbeatError):
    """429: the caller spent this window's allowance; `retry_after` seconds until the next one."""

    status = 429
    code = "TooManyRequests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    """At most `requests` per fixed window of `window_seconds`."""

    requests: int
    window_seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit:
        """``"300/60"`` -> 300 requests per 60 s."""
        requests, _, seconds = text.strip().partition("/")
        try:
            limit = cls(int(requests), int(seconds or "1"))
        except ValueError:
            raise ValueError(f"a rate limit is '<requests>/<seconds>', not {text!r}") from None
        if limit.requests < 1 or limit.window_seconds < 1:
            raise ValueError(f"a rate limit needs at least 1 request per at least 1 s, not {text!r}")
        return limit


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # whole seconds until the window ends (when refused)


def caller_key(value: str) -> str:
    """A stable, non-reversible key for a caller named by personal data (an email, an IP)."""
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


class FixedWindowCounters:
    """The counters table. `clock` is injectable so tests can cross windows without sleeping."""

    def __init__(self, table_name: str, clock: Callable[[], float] = time.time) -> None:
        self.table_name = table_name
        self.clock = clock
        self._spent: dict[str, float] = {}  # counter key -> when its window ends
        self._lock = threading.Lock()
        client("dynamodb")  # created at cold start (the init phase), not in the first request's time

    def _window(self, limit: Limit) -> tuple[int, int]:
        now = self.clock()
        start = int(now // limit.window_seconds) * limit.window_seconds
        return start, max(1, math.ceil(start + limit.window_seconds - now))

    def _remembered(self, key: str) -> bool:
        with self._lock:
            ends = self._spent.get(key)
            if ends is not None and ends <= self.clock():
                del self._spent[key]
                return False
            return ends is not None

    def _remember(self, key: str, ends: float) -> None:
        with self._lock:
            if len(self._spent) >= _SPENT_MEMORY:
                self._spent.clear()
            self._spent[key] = ends

    def spent(self, route_class: str, caller: str, limit: Limit) -> Decision | None:
        """The refusal when this execution environment already knows `caller` spent the window (no
        round trip); None when only the counter can tell."""
        start, retry_after = self._window(limit)
        return Decision(False, retry_after) if self._remembered(f"{route_class}#{caller}#{start}") else None

    def hit(self, route_class: str, caller: str, limit: Limit) -> Decision:
        """Count one request of `caller` in `route_class`; refused when the window is spent."""
        start, retry_after = self._window(limit)
        key = f"{route_class}#{caller}#{start}"
        if self._remembered(key):
            return Decision(False, retry_after)
        try:
            client("dynamodb").update_item(
                TableName=self.table_name,
                Key={"pk": {"S": key}},
                UpdateExpression="ADD hits :one SET expiresAt = if_not_exists(expiresAt, :expires)",
                ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit.requests)},
                    ":expires": {"N": str(start + limit.window_seconds + EXPIRY_MARGIN_SECONDS)},
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                self._remember(key, start + limit.window_seconds)
                count("RateLimited")
                return Decision(False, retry_after)
            logger.warning("rate limit counter unavailable; request let through", extra={"error": str(error)})
            return Decision(True)
        except BotoCoreError as error:
            logger.warning("rate limit counter unavailable; request let through", extra={"error": str(error)})
            return Decision(True)
        return Decision(True)

    def give_back(self, route_class: str, caller: str, limit: Limit) -> None:
        """Return one request to the current window (an attempt that turned out not to count)."""
        start, _ = self._window(limit)
        key = f"{route_class}#{caller}#{start}"
        try:
            client("dynamodb").update_item(
                TableName=self.table_name,
                Key={"pk": {"S": key}},
                UpdateExpression="ADD hits :minus",
                ConditionExpression="hits > :zero",
                ExpressionAttributeValues={":minus": {"N": "-1"}, ":zero": {"N": "0"}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                logger.warning("rate limit counter not given back", extra={"error": str(error)})
        except BotoCoreError as error:
            logger.warning("rate limit counter not given back", extra={"error": str(error)})
        with self._lock:
            self._spent.pop(key, None)
