"""Per-user rate limits through the gateway (docs/decisions.md, 41): one account flooding playback
reporting gets 429s with Retry-After, while a second account reporting at the same time is never
refused. The devstack runs the same limiter as AWS, with the default limits."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from backbeat.config import RateLimitSettings
from backbeat.ratelimit import Limit
from backbeat_ops.dataset import load_catalog
from tests.conftest import RunningStack
from tests.support import CATALOG_DIR, http

PASSWORD = "a-long-password"


def _account(devstack: RunningStack, prefix: str) -> str:
    email = f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"
    status, body, _ = http("POST", f"{devstack.url}/auth/signup", {"email": email, "password": PASSWORD})
    assert status == 201, body
    return devstack.login(email, PASSWORD)


def _start_event(song_id: str) -> dict[str, Any]:
    return {
        "eventId": str(uuid.uuid4()),
        "playId": str(uuid.uuid4()),
        "type": "start",
        "songId": song_id,
        "positionMs": 0,
        "playedMs": 0,
        "bitrateKbps": 160,
        "deviceId": "e2e-limits",
        "deviceType": "web",
        "context": {"type": "search"},
        "occurredAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def test_one_account_flooding_gets_429s_while_another_account_is_served(devstack: RunningStack) -> None:
    limit = Limit.parse(RateLimitSettings.model_fields["rate_limit_events"].default)
    song_id = load_catalog(CATALOG_DIR).first(1).songs[0].id
    flooder, listener = _account(devstack, "flooder"), _account(devstack, "listener")
    url = f"{devstack.url}/events/playback"

    def flood(_: int) -> tuple[int, dict[str, str], Any]:
        # Empty batches: refused as invalid (422) while the window lasts, but every request counts.
        status, body, headers = http("POST", url, {"events": []}, token=flooder)
        return status, headers, body

    def report(_: int) -> int:
        return http("POST", url, {"events": [_start_event(song_id)]}, token=listener)[0]

    # Windows are fixed (aligned on the epoch): not at the end of one, so the flood likely fits in it
    # (the checks below hold across two windows as well).
    if limit.window_seconds - time.time() % limit.window_seconds < limit.window_seconds / 3:
        time.sleep(limit.window_seconds - time.time() % limit.window_seconds + 0.5)
    first_window = int(time.time() // limit.window_seconds)
    with ThreadPoolExecutor(8) as pool:
        flooded = pool.map(flood, range(limit.requests + 40))
        reported = pool.map(report, range(20))
        flooded_answers, reported_statuses = list(flooded), list(reported)
    windows = int(time.time() // limit.window_seconds) - first_window + 1

    refused = [(headers, body) for status, headers, body in flooded_answers if status == 429]
    assert refused, "the flooding account was never refused"
    assert {status for status, _, _ in flooded_answers} <= {422, 429}
    assert len(flooded_answers) - len(refused) <= limit.requests * windows
    headers, body = refused[0]
    assert 1 <= int(headers["Retry-After"]) <= limit.window_seconds
    assert body["error"]["code"] == "TooManyRequests" and body["error"]["retryAfter"] == int(headers["Retry-After"])
    assert reported_statuses == [202] * 20  # the other listener was never refused
    if windows == 1 and int(time.time() // limit.window_seconds) == first_window:
        # The flooder's next real report is refused too, until the window ends.
        status, _, headers = http("POST", url, {"events": [_start_event(song_id)]}, token=flooder)
        assert status == 429 and int(headers["Retry-After"]) >= 1
