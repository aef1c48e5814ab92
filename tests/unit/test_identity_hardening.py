"""Identity hardening (docs/decisions.md, 41): login brute force is refused per account and per source
IP, the password policy names the rule a password breaks, sign-up does not echo an address back,
and the gateway's authorizer neither leaks its parser's complaints nor refetches keys per bad `kid`."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from typing import Any

import pytest

from backbeat.errors import InvalidInput, Unauthorized
from backbeat.identity.login_guard import LoginGuard
from backbeat.identity.passwords import check_new_password, common_passwords
from backbeat.ratelimit import FixedWindowCounters, Limit, RateLimited
from devstack.authorizer import PUBLIC_REASON, AuthorizationFailed, JwksCache, authorize
from devstack.moto_patches import patch_moto_dynamodb_isolation
from devstack.resources import JwtAuthorizer
from tests.support import api_event
from tests.unit.conftest import load_function

PASSWORD = "listen-to-the-music"


def _call(module: Any, body: dict[str, str], path: str, context: Any, ip: str = "198.51.100.7") -> tuple[int, Any]:
    event = api_event("POST", path, body=body)
    event["requestContext"]["http"]["sourceIp"] = ip
    response = module.lambda_handler(event, context)
    return response["statusCode"], (response.get("headers") or {}, json.loads(response["body"]))


def test_forty_wrong_passwords_then_the_right_one_is_refused_until_the_window_passes(aws, context) -> None:
    identity = load_function("identity", aws)
    counters = identity.login_guard.counters
    start = 1_800_000_000.0
    counters.clock = lambda: start
    status, (_, body) = _call(identity, {"email": "carol@example.com", "password": "password"}, "/auth/signup", context)
    assert status == 422 and body["error"]["field"] == "password" and "common" in body["error"]["message"]
    account = {"email": "carol@example.com", "password": PASSWORD}
    assert _call(identity, account, "/auth/signup", context)[0] == 201
    status, (_, body) = _call(identity, account, "/auth/signup", context)
    assert status == 409 and "carol@example.com" not in body["error"]["message"]  # not echoed back
    wrong = [_call(identity, {**account, "password": f"guess-{n:04d}"}, "/auth/login", context) for n in range(40)]
    assert [status for status, _ in wrong] == [401] * 10 + [429] * 30
    status, (headers, body) = _call(identity, account, "/auth/login", context)
    assert status == 429 and body["error"]["code"] == "TooManyRequests"
    assert int(headers["Retry-After"]) == 900 and body["error"]["retryAfter"] == 900
    # The same address, another account: not locked (the per-IP limit is far higher).
    other = {"email": "dave@example.com", "password": PASSWORD}
    assert _call(identity, other, "/auth/signup", context)[0] == 201
    assert _call(identity, other, "/auth/login", context)[0] == 200
    counters.clock = lambda: start + 900  # the window has passed
    assert _call(identity, account, "/auth/login", context)[0] == 200


def test_guesses_are_limited_per_account_even_in_parallel_and_per_address(aws) -> None:
    patch_moto_dynamodb_isolation()
    guard = LoginGuard(FixedWindowCounters(aws.tables["RateLimitsTable"]), Limit(5, 900), Limit(500, 900))
    tried: list[int] = []
    outcomes: list[str] = []
    lock = threading.Lock()

    def wrong_password() -> None:
        with lock:
            tried.append(1)
        raise Unauthorized("wrong email or password")

    def guess() -> None:
        try:
            guard.attempt("erin@example.com", "192.0.2.1", wrong_password)
        except (Unauthorized, RateLimited) as error:
            with lock:
                outcomes.append(error.code)

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tried) == 5  # Cognito was asked at most the limit, however the guesses raced
    assert sorted(outcomes) == ["TooManyRequests"] * 7 + ["Unauthorized"] * 5

    # Failed logins from one address are limited across accounts.
    guard = LoginGuard(FixedWindowCounters(aws.tables["RateLimitsTable"]), Limit(10, 900), Limit(5, 900))
    outcomes.clear()
    for n in range(7):
        try:
            guard.attempt(f"user{n}@example.com", "198.51.100.7", wrong_password)
        except (Unauthorized, RateLimited) as error:
            outcomes.append(error.code)
    assert outcomes == ["Unauthorized"] * 5 + ["TooManyRequests"] * 2
    with pytest.raises(Unauthorized):  # another address is not affected
        guard.attempt("user0@example.com", "203.0.113.9", wrong_password)
    assert guard.attempt("user0@example.com", "203.0.113.9", lambda: "tokens") == "tokens"


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("password", "most common"),
        ("Password1", "most common"),
        ("QWERTYUIOP", "most common"),
        ("fay@example.com", "email address"),
        ("FAY@example.com", "email address"),
        ("Fay", "at least 8"),
    ],
)
def test_password_policy_names_the_rule(password: str, rule: str) -> None:
    with pytest.raises(InvalidInput, match=rule) as raised:
        check_new_password(password, "fay@example.com")
    assert raised.value.field == "password"
    check_new_password("fay-the-listener", "fay@example.com")
    with pytest.raises(InvalidInput, match="email address"):
        check_new_password("fay-the-listener", "fay-the-listener@example.com")  # the part before the @


def test_the_common_password_list_is_the_bundled_thousand() -> None:
    assert len(common_passwords()) >= 990 and {"123456", "iloveyou", "trustno1"} <= common_passwords()
    assert "listen-to-the-music" not in common_passwords() and "a-long-password" not in common_passwords()


# ------------------------------------------------------------------------------------ authorizer
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"
AUTHORIZER = JwtAuthorizer(name="jwt", issuer=ISSUER, audience=("client",))


def _token_with_kid(kid: str) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'kid': kid})}.{part({'sub': 'x', 'iss': ISSUER})}.c2ln"


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer a.b", "Bearer !!!.@@@.###", "Bearer eyJhbGciOi.e30.x", _token_with_kid("nope")]
)
def test_every_refusal_says_the_same_thing(header: str | None) -> None:
    jwks = JwksCache(lambda issuer: {"keys": []})
    with pytest.raises(AuthorizationFailed) as refused:
        authorize(header, AUTHORIZER, jwks)
    assert str(refused.value) == PUBLIC_REASON  # what the gateway puts in its 401
    assert refused.value.reason  # the parser's reason stays in the devstack's log


def test_unknown_kids_refetch_the_keys_at_most_once_per_interval() -> None:
    now = [0.0]
    jwks = JwksCache(lambda issuer: {"keys": []}, refetch_interval=30, clock=lambda: now[0])
    for _ in range(200):
        with pytest.raises(AuthorizationFailed):
            authorize(f"Bearer {_token_with_kid(uuid.uuid4().hex)}", AUTHORIZER, jwks)
    assert jwks.fetches == 1
    now[0] = 31.0  # a rotation is picked up after the interval
    with pytest.raises(AuthorizationFailed):
        authorize(f"Bearer {_token_with_kid(uuid.uuid4().hex)}", AUTHORIZER, jwks)
    assert jwks.fetches == 2
