"""Which limit a request falls under, and who it is counted against (docs/decisions.md, 41).

Every HTTP API function checks its requests here before the route runs (`backbeat.http`
`JsonApiResolver.resolve`), so a route gets its limit from its route key alone: nothing to remember
when a route is added. The WebSocket function checks each message the same way, per connection.

| route class      | routes                                   | counted per |
|------------------|------------------------------------------|-------------|
| `search`         | GET /search                              | user        |
| `suggest`        | GET /search/suggest                      | user        |
| `events`         | POST /events/playback                    | user        |
| `playlist-edits` | every POST/PUT/PATCH/DELETE on /playlists | user        |
| `signup`         | POST /auth/signup                        | source IP   |
| `default`        | every other route with a token           | user        |
| `socket-messages`| WebSocket messages (subscribe, resync...) | connection  |

The count of a request in a read-only class (`search`, `suggest`: their routes write nothing) runs
while the route does, so its round trip to the counters table is not added to the request's time; a
request over the limit then answers 429 and its route's answer is dropped. A caller this execution
environment already knows to be over the limit is refused before its route runs, so a flood reaches
the search engine at most once per environment and window (docs/decisions.md, 57).

Login has its own failure counters (`backbeat.identity.login_guard`); the public routes without a
caller (health, the OpenAPI document) are left to API Gateway's stage throttling.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backbeat.config import RateLimitSettings
from backbeat.ratelimit import Decision, FixedWindowCounters, Limit, RateLimited, caller_key

SEARCH, SUGGEST, EVENTS, PLAYLIST_EDITS = "search", "suggest", "events", "playlist-edits"
SIGNUP, DEFAULT, SOCKET_MESSAGES = "signup", "default", "socket-messages"

_BY_ROUTE = {
    "GET /search": SEARCH,
    "GET /search/suggest": SUGGEST,
    "POST /events/playback": EVENTS,
    "POST /auth/signup": SIGNUP,
}
_UNLIMITED_ROUTES = frozenset({"POST /auth/login"})  # its failures are counted instead
READ_ONLY = frozenset({SEARCH, SUGGEST})  # classes whose routes write nothing: counted alongside
Counted = tuple[str, str, str]  # (route class, caller, what a refusal calls the requests)
_EDIT_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def route_class(route_key: str) -> str:
    """The class of an HTTP API route key (``"GET /search"``, ``"POST /playlists/{playlistId}/tracks"``)."""
    if route_key in _BY_ROUTE:
        return _BY_ROUTE[route_key]
    method, _, path = route_key.partition(" ")
    if method in _EDIT_METHODS and (path == "/playlists" or path.startswith("/playlists/")):
        return PLAYLIST_EDITS
    return DEFAULT


def _user(event: Mapping[str, Any]) -> str | None:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    sub = claims.get("sub")
    return str(sub) if sub else None


def _source_ip(event: Mapping[str, Any]) -> str | None:
    ip = ((event.get("requestContext") or {}).get("http") or {}).get("sourceIp")
    return str(ip) if ip else None


@dataclass(frozen=True)
class RequestLimiter:
    counters: FixedWindowCounters
    limits: Mapping[str, Limit]
    enabled: bool = True

    @classmethod
    def from_settings(cls, settings: RateLimitSettings | None = None) -> RequestLimiter:
        settings = settings or RateLimitSettings()  # type: ignore[call-arg]  # from the environment
        limits = {
            SEARCH: settings.rate_limit_search,
            SUGGEST: settings.rate_limit_suggest,
            EVENTS: settings.rate_limit_events,
            PLAYLIST_EDITS: settings.rate_limit_playlist_edits,
            SIGNUP: settings.rate_limit_signup,
            DEFAULT: settings.rate_limit_default,
            SOCKET_MESSAGES: settings.rate_limit_socket_messages,
        }
        return cls(
            FixedWindowCounters(settings.rate_limits_table),
            {name: Limit.parse(text) for name, text in limits.items()},
            settings.rate_limit_enabled,
        )

    def _hit(self, name: str, caller: str, what: str) -> RateLimited | None:
        return self._refusal(name, what, self.counters.hit(name, caller, self.limits[name]))

    def _refusal(self, name: str, what: str, decision: Decision) -> RateLimited | None:
        if decision.allowed:
            return None
        limit = self.limits[name]
        return RateLimited(
            f"too many {what}: at most {limit.requests} per {limit.window_seconds} s; "
            f"retry in {decision.retry_after} s",
            decision.retry_after,
        )

    def _counted(self, event: Mapping[str, Any]) -> Counted | None:
        """(route class, caller, what the refusal calls the requests) of a request that is counted."""
        route_key = str(event.get("routeKey") or "")
        if not self.enabled or not route_key or route_key in _UNLIMITED_ROUTES:
            return None
        name = route_class(route_key)
        if name == SIGNUP:
            ip = _source_ip(event)
            return (name, caller_key(ip), "sign-ups from this address") if ip else None
        user = _user(event)
        if user is None:  # a public route: nobody to count against
            return None
        return name, user, f"{name} requests"

    def check_http(self, event: Mapping[str, Any]) -> RateLimited | None:
        """None when the request may run; the refusal when its caller spent the window."""
        counted = self._counted(event)
        return self.count(counted) if counted is not None else None

    def counted_alongside(self, event: Mapping[str, Any]) -> Counted | None:
        """The request's count when it is made while its route runs (`count` in another thread): a
        counted request of a read-only class; None for every other request."""
        counted = self._counted(event)
        return counted if counted is not None and counted[0] in READ_ONLY else None

    def count(self, counted: Counted) -> RateLimited | None:
        """Count the request; the refusal when its caller spent the window."""
        return self._hit(*counted)

    def known_refusal(self, counted: Counted) -> RateLimited | None:
        """The refusal when this environment already knows the caller spent the window; no round trip."""
        name, caller, what = counted
        decision = self.counters.spent(name, caller, self.limits[name])
        return self._refusal(name, what, decision) if decision is not None else None

    def check_socket_message(self, connection_id: str) -> RateLimited | None:
        if not self.enabled or not connection_id:
            return None
        return self._hit(SOCKET_MESSAGES, connection_id, "messages on this connection")
