"""Send demo listening (`backbeat_ops.listening`) through the API a client uses: each synthetic
listener signs up (or already exists), logs in and posts its events in order to
`POST /events/playback`, `MAX_BATCH` events a request, with the listener's token.

The API answers 202 with a result per event (accepted, duplicate, rejected with the field and the
reason, or retry); events answered `retry` and batches met by a network error, 429 or 5xx are sent
again with exponential backoff; a 401 renews the token. Since event ids are deterministic, sending
the same listening twice is answered `duplicate` and changes nothing.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backbeat.plays.events import MAX_BATCH
from backbeat_ops.listening import DemoListener, DemoListening

Post = Callable[[str, dict[str, Any], str | None], tuple[int, Any]]


def _transient(status: int) -> bool:
    """Worth sending again: no answer (0), throttled (429) or a server error."""
    return status == 0 or status == 429 or status >= 500


class SendFailed(RuntimeError):
    """The API refused demo listening for a reason a retry cannot fix (no such route, a bad request)."""


def post_json(url: str, body: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
    """POST a JSON body; (status, decoded JSON body or None). Network errors raise OSError."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, _json_or_none(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _json_or_none(error.read())


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


@dataclass
class SendReport:
    listeners: int = 0
    plays: int = 0
    events: int = 0
    statuses: Counter[str] = field(default_factory=Counter)  # accepted | duplicate | rejected
    rejections: Counter[str] = field(default_factory=Counter)  # "<field>: <reason>"
    seconds: float = 0.0

    def summary(self) -> str:
        parts = ", ".join(f"{count:,} {status}" for status, count in sorted(self.statuses.items()))
        text = f"{self.listeners} listeners, {self.plays:,} plays, {self.events:,} events ({parts})"
        text += f" in {self.seconds:.0f} s"
        if self.rejections:
            text += "; rejected: " + ", ".join(f"{reason} x{count}" for reason, count in self.rejections.most_common(3))
        return text


class ListeningSender:
    """Signs each demo listener up (or finds the account), logs in and sends the listener's events in
    order, `MAX_BATCH` a request, as a client does. Events answered `retry`, and whole batches met by
    a network error, 429 or 5xx, are sent again with backoff; an expired token is renewed."""

    def __init__(
        self,
        api_url: str,
        password: str,
        *,
        post: Post = post_json,
        log: Callable[[str], object] = lambda message: None,
        set_tier: Callable[[str, str], object] | None = None,
        stopping: Callable[[], bool] = lambda: False,
        attempts: int = 6,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.password = password
        self.post = post
        self.log = log
        self.set_tier = set_tier
        self.stopping = stopping
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep

    def send(self, listening: DemoListening) -> SendReport:
        started = time.perf_counter()
        report = SendReport()
        total = listening.event_count
        shown = -1
        for listener in listening.listeners:
            if self.stopping():
                break
            token = self._sign_in(listener)
            events = listening.events(listener.email)
            for offset in range(0, len(events), MAX_BATCH):
                if self.stopping():
                    break
                token = self._send_batch(listener, token, events[offset : offset + MAX_BATCH], report)
                report.events += min(MAX_BATCH, len(events) - offset)
                if (percent := report.events * 100 // max(total, 1)) // 10 != shown // 10:
                    shown = percent
                    self.log(f"{report.events:,}/{total:,} events ({percent}%), listener {listener.number}")
            else:
                report.listeners += 1
                report.plays += len(listening.plays[listener.email])
        report.seconds = time.perf_counter() - started
        return report

    def _sign_in(self, listener: DemoListener) -> str:
        credentials = {"email": listener.email, "password": self.password}
        status, body = self._post_retrying("/auth/signup", credentials)
        if status not in (201, 409):
            raise SendFailed(f"cannot sign up {listener.email}: {status} {body}")
        if self.set_tier is not None:
            self.set_tier(listener.email, listener.tier)
        status, body = self._post_retrying("/auth/login", credentials)
        if status != 200 or not isinstance(body, dict) or "accessToken" not in body:
            raise SendFailed(f"cannot log in as {listener.email}: {status} {body}")
        return str(body["accessToken"])

    def _post_retrying(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        status, answer = 0, None
        for attempt in range(self.attempts):
            if attempt:
                self._back_off(attempt)
            status, answer = self._post(path, body, None)
            if not _transient(status) or self.stopping():
                break
        return status, answer

    def _back_off(self, attempt: int) -> None:
        self.sleep(self.backoff_seconds * 2 ** (attempt - 1))

    def _send_batch(self, listener: DemoListener, token: str, batch: list[dict[str, Any]], report: SendReport) -> str:
        """Send one batch until every event has an answer; the token in use afterwards."""
        pending = batch
        for attempt in range(self.attempts):
            if self.stopping():
                break
            if attempt:
                self._back_off(attempt)
            status, body = self._post("/events/playback", {"events": pending}, token)
            if status == 401:
                token = self._sign_in(listener)
                continue
            if _transient(status):
                continue
            if status != 202 or not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise SendFailed(f"POST /events/playback answered {status}: {body}")
            retry = []
            for event, result in zip(pending, body["results"], strict=False):
                outcome = result.get("status")
                if outcome == "retry":
                    retry.append(event)
                    continue
                report.statuses[outcome] += 1
                if outcome == "rejected":
                    report.rejections[f"{result.get('field')}: {result.get('reason')}"] += 1
            if not retry:
                return token
            pending = retry
        report.statuses["unsent"] += len(pending)
        return token

    def _post(self, path: str, body: dict[str, Any], token: str | None) -> tuple[int, Any]:
        try:
            return self.post(f"{self.api_url}{path}", body, token)
        except OSError as error:  # the stack is stopping or busy: the caller retries or gives up
            if self.stopping():
                return 0, None
            self.log(f"{path}: {error}")
            return 0, None
