"""Brute-force protection for login (docs/decisions.md, 41): failed attempts are counted per account
and per source IP in the rate-limits table; once either count reaches its limit in the window, login
answers 429 with Retry-After -- even with the right password -- until the window ends.

An attempt is counted *before* Cognito is asked (one conditional atomic update per counter, as for
every rate limit), so a burst of parallel guesses cannot slip past the limit while the first ones are
still in flight; a successful login gives its attempt back. The account is named by a hash of its
email, the IP by a hash of the address: the table holds no personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from backbeat.config import RateLimitSettings
from backbeat.errors import Unauthorized
from backbeat.ratelimit import FixedWindowCounters, Limit, RateLimited, caller_key

ACCOUNT, ADDRESS = "login-account", "login-ip"

Result = TypeVar("Result")


@dataclass(frozen=True)
class LoginGuard:
    counters: FixedWindowCounters
    per_account: Limit
    per_ip: Limit
    enabled: bool = True

    @classmethod
    def from_settings(cls, settings: RateLimitSettings | None = None) -> LoginGuard:
        settings = settings or RateLimitSettings()  # type: ignore[call-arg]  # from the environment
        window = settings.login_failure_window_seconds
        return cls(
            FixedWindowCounters(settings.rate_limits_table),
            Limit(settings.login_failures_per_account, window),
            Limit(settings.login_failures_per_ip, window),
            settings.rate_limit_enabled,
        )

    def _refusal(self, retry_after: int) -> RateLimited:
        return RateLimited(f"too many failed logins; retry in {retry_after} s", retry_after)

    def attempt(self, email: str, source_ip: str | None, login: Callable[[], Result]) -> Result:
        """Run `login` unless the account or the address spent its failures; a `login` that raises
        Unauthorized (wrong email or password) keeps its attempt counted; any other outcome gives it
        back (a success, an unconfirmed account, Cognito unavailable)."""
        if not self.enabled:
            return login()
        account = caller_key(email)
        decision = self.counters.hit(ACCOUNT, account, self.per_account)
        if not decision.allowed:
            raise self._refusal(decision.retry_after)
        address = caller_key(source_ip) if source_ip else None
        if address is not None:
            decision = self.counters.hit(ADDRESS, address, self.per_ip)
            if not decision.allowed:
                self.counters.give_back(ACCOUNT, account, self.per_account)
                raise self._refusal(decision.retry_after)
        try:
            result = login()
        except Unauthorized:
            raise  # a failed guess: the attempt stays counted
        except Exception:
            self._give_back(account, address)
            raise
        self._give_back(account, address)
        return result

    def _give_back(self, account: str, address: str | None) -> None:
        self.counters.give_back(ACCOUNT, account, self.per_account)
        if address is not None:
            self.counters.give_back(ADDRESS, address, self.per_ip)
