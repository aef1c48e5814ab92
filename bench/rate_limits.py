"""What the rate limits and the JWKS negative cache cost and save (docs/decisions.md, 41).

    .venv/bin/python bench/rate_limits.py [--requests 300]

1. **Limiter cost**: the median of GET /me and GET /search through the devstack's gateway for one
   account, `--requests` sequential requests each (after 20 warm-up ones), on a stack started with
   the limits off (`RATE_LIMIT_ENABLED=false`) and on one with the limits on: the difference is the
   one conditional counter update per request.
2. **Unknown `kid` flood**: the devstack's JWT authorizer, in process, while 16 threads send tokens
   with made-up kids (the JWKS fetch sleeps 10 ms, a loopback fetch): how long one valid token
   takes to authorize, with the JWKS cache as it was (one lock around every lookup, a refetch per
   unknown kid) and as it is (`devstack.authorizer.JwksCache`, a refetch at most every 30 s).

Prints a Markdown report (paste it into docs/performance.md). A shared 2-core machine is noisy:
compare the two rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jwt  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from devstack.authorizer import AuthorizationFailed, JwksCache, authorize  # noqa: E402
from devstack.resources import JwtAuthorizer  # noqa: E402
from tests.conftest import start_devstack, stop_devstack  # noqa: E402
from tests.support import http  # noqa: E402

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_bench"
FLOODERS = 16


def limiter_cost(requests: int) -> list[str]:
    rows = []
    for enabled in ("false", "true"):
        os.environ["RATE_LIMIT_ENABLED"] = enabled
        with tempfile.TemporaryDirectory() as directory:
            stack = start_devstack(Path(directory) / "state.json", "--catalog-limit", "300", "--no-demo-audio")
            try:
                email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
                status, body, _ = http(
                    "POST", f"{stack.url}/auth/signup", {"email": email, "password": "a-long-password"}
                )
                assert status == 201, body
                token = stack.login(email, "a-long-password")
                medians = []
                for path in ("/me", "/search?q=love"):
                    for _ in range(20):
                        http("GET", stack.url + path, token=token)
                    samples = []
                    for _ in range(requests):
                        started = time.perf_counter()
                        status = http("GET", stack.url + path, token=token)[0]
                        samples.append((time.perf_counter() - started) * 1000)
                        assert status == 200, (path, status)
                    medians.append(f"{statistics.median(samples):.1f} ms")
                rows.append(f"| {'on' if enabled == 'true' else 'off'} | {' | '.join(medians)} |")
            finally:
                stop_devstack(stack.process)
    os.environ.pop("RATE_LIMIT_ENABLED", None)
    return rows


class LockedJwksCache:
    """The JWKS cache before decision 41: every lookup under one lock, a refetch per unknown kid."""

    def __init__(self, fetch: Callable[[str], dict[str, Any]]) -> None:
        self._fetch = fetch
        self._keys: dict[str, dict[str, jwt.PyJWK]] = {}
        self._lock = threading.Lock()
        self.fetches = 0

    def key(self, issuer: str, kid: str) -> jwt.PyJWK:
        with self._lock:
            keys = self._keys.get(issuer, {})
            if kid not in keys:
                document = self._fetch(issuer)
                self.fetches += 1
                keys = {item["kid"]: jwt.PyJWK(item) for item in document.get("keys", []) if "kid" in item}
                self._keys[issuer] = keys
        if kid not in keys:
            raise AuthorizationFailed("unknown signing key")
        return keys[kid]


def _forged(kid: str) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'kid': kid})}.{part({'sub': 'x', 'iss': ISSUER})}.c2ln"


def kid_flood(valid_requests: int) -> list[str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update(kid="signing", alg="RS256", use="sig")
    claims = {"sub": "listener", "iss": ISSUER, "client_id": "app", "exp": int(time.time()) + 3600}
    valid = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "signing"})
    authorizer = JwtAuthorizer(name="jwt", issuer=ISSUER, audience=("app",))

    def fetch(issuer: str) -> dict[str, Any]:
        time.sleep(0.010)
        return {"keys": [public]}

    rows = []
    for label, cache in (
        ("one lock, refetch per unknown kid (before)", LockedJwksCache(fetch)),
        ("negative cache (now)", JwksCache(fetch)),
    ):
        authorize(f"Bearer {valid}", authorizer, cache)  # type: ignore[arg-type]
        fetched_before = cache.fetches
        stop = threading.Event()

        def flood(cache: Any = cache, stop: threading.Event = stop) -> None:
            while not stop.is_set():
                with contextlib.suppress(AuthorizationFailed):
                    authorize(f"Bearer {_forged(uuid.uuid4().hex)}", authorizer, cache)

        threads = [threading.Thread(target=flood) for _ in range(FLOODERS)]
        for thread in threads:
            thread.start()
        samples = []
        for _ in range(valid_requests):
            started = time.perf_counter()
            authorize(f"Bearer {valid}", authorizer, cache)  # type: ignore[arg-type]
            samples.append((time.perf_counter() - started) * 1000)
        stop.set()
        for thread in threads:
            thread.join()
        samples.sort()
        p90 = samples[int(len(samples) * 0.9)]
        rows.append(
            f"| {label} | {statistics.median(samples):.2f} ms | {p90:.2f} ms | {cache.fetches - fetched_before} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    print(f"One account, {args.requests} sequential requests per route, devstack with a 300-song catalog:\n")
    print("| limits | GET /me median | GET /search median |")
    print("|---|---|---|")
    print("\n".join(limiter_cost(args.requests)))
    print(f"\nOne valid token authorized {args.requests} times while {FLOODERS} threads send made-up kids:\n")
    print("| JWKS cache | median | p90 | key fetches during the flood |")
    print("|---|---|---|---|")
    print("\n".join(kid_flood(args.requests)))


if __name__ == "__main__":
    main()
