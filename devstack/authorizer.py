"""The HTTP API JWT authorizer, applied the way API Gateway applies it.

API Gateway takes the token from the identity source (``Authorization: Bearer <jwt>`` or the bare
token), fetches the issuer's JWKS, checks the signature (RS256, by `kid`), `exp`/`nbf`/`iat`, that
`iss` equals the configured issuer and that `aud` -- or, for Cognito access tokens, `client_id` --
is one of the configured audiences. Claims reach the function as strings in
``requestContext.authorizer.jwt.claims``, scopes in ``...jwt.scopes``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from devstack.resources import JwtAuthorizer

log = logging.getLogger("devstack.authorizer")

# What a caller is told whatever the reason (API Gateway answers a bare "Unauthorized" too): the
# reason -- a parser's complaint about padding, an unknown `kid` -- helps an attacker, not a user.
PUBLIC_REASON = "a valid access token is required"

# An unknown `kid` refetches the issuer's keys at most this often; in between it is refused at once.
JWKS_REFETCH_INTERVAL_SECONDS = 30.0


class AuthorizationFailed(Exception):
    """The request is not authorized: the gateway answers 401 with `PUBLIC_REASON`; `reason` is
    for the devstack's log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(PUBLIC_REASON)
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    claims: dict[str, str]
    scopes: list[str]


def _stringify(value: Any) -> str:
    if isinstance(value, list):
        return "[" + " ".join(str(item) for item in value) + "]"
    return str(value)


class JwksCache:
    """Fetches and caches each issuer's signing keys. A `kid` the cache does not hold refetches them
    (a key rotation), but at most once per `refetch_interval` per issuer: in between, unknown kids are
    refused without waiting for the lock or the network, so a flood of tokens with made-up kids costs
    one fetch per interval instead of one per request (a negative cache)."""

    def __init__(
        self,
        fetch: Callable[[str], dict[str, Any]],
        refetch_interval: float = JWKS_REFETCH_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._refetch_interval = refetch_interval
        self._clock = clock
        self._keys: dict[str, dict[str, jwt.PyJWK]] = {}
        self._fetched_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self.fetches = 0

    def _fresh(self, issuer: str) -> bool:
        fetched = self._fetched_at.get(issuer)
        return fetched is not None and self._clock() - fetched < self._refetch_interval

    def key(self, issuer: str, kid: str) -> jwt.PyJWK:
        keys = self._keys.get(issuer, {})
        if kid in keys:
            return keys[kid]
        if self._fresh(issuer):
            raise AuthorizationFailed("unknown signing key (keys fetched recently)")
        with self._lock:
            keys = self._keys.get(issuer, {})
            if kid not in keys and not self._fresh(issuer):  # another thread may have just fetched
                document = self._fetch(issuer)
                self.fetches += 1
                keys = {item["kid"]: jwt.PyJWK(item) for item in document.get("keys", []) if "kid" in item}
                self._keys[issuer] = keys
                self._fetched_at[issuer] = self._clock()
        if kid not in keys:
            raise AuthorizationFailed("unknown signing key")
        return keys[kid]


def moto_jwks_fetcher(moto_endpoint: str) -> Callable[[str], dict[str, Any]]:
    """Fetch `<issuer>/.well-known/jwks.json` from the moto server that plays Cognito."""

    def fetch(issuer: str) -> dict[str, Any]:
        host, _, pool_id = issuer.removeprefix("https://").partition("/")
        request = urllib.request.Request(  # noqa: S310 - loopback moto endpoint
            f"{moto_endpoint}/{pool_id}/.well-known/jwks.json", headers={"Host": host}
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return dict(json.load(response))

    return fetch


def token_from_header(value: str | None) -> str:
    if not value:
        raise AuthorizationFailed("missing token")
    scheme, _, rest = value.strip().partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else value.strip()
    if token.count(".") != 2:
        raise AuthorizationFailed("malformed token")
    return token


def authorize(header: str | None, authorizer: JwtAuthorizer, jwks: JwksCache) -> Principal:
    try:
        return _verified(header, authorizer, jwks)
    except AuthorizationFailed as failure:
        log.debug("request not authorized: %s", failure.reason)
        raise


def _verified(header: str | None, authorizer: JwtAuthorizer, jwks: JwksCache) -> Principal:
    token = token_from_header(header)
    try:
        kid = jwt.get_unverified_header(token).get("kid", "")
        key = jwks.key(authorizer.issuer, kid)
        claims = jwt.decode(
            token,
            key=key,
            algorithms=["RS256"],
            issuer=authorizer.issuer,
            options={"verify_aud": False, "require": ["exp", "iss", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthorizationFailed("token expired") from None
    except jwt.PyJWTError as error:
        raise AuthorizationFailed(f"invalid token: {error}") from None
    audiences = claims.get("aud") or claims.get("client_id")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    if authorizer.audience and not set(audiences) & set(authorizer.audience):
        raise AuthorizationFailed("token audience not allowed")
    scopes = str(claims.get("scope", "")).split()
    return Principal(claims={key: _stringify(value) for key, value in claims.items()}, scopes=scopes)
