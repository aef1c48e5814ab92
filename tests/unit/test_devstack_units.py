"""Devstack parts that need no server: intrinsic resolution, route matching, the JWT authorizer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.authorizer import PUBLIC_REASON, AuthorizationFailed, JwksCache, authorize
from devstack.gateway import _compile
from devstack.resources import HttpRoute, JwtAuthorizer
from devstack.template import Resolver, UnresolvedReference, merged_function_properties

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"
AUTHORIZER = JwtAuthorizer(name="jwt", issuer=ISSUER, audience=("client-1",))


@contextmanager
def refused_for(reason: str) -> Iterator[None]:
    """The authorizer refuses with its one public message; the reason is kept for the log only."""
    with pytest.raises(AuthorizationFailed) as refused:
        yield
    assert str(refused.value) == PUBLIC_REASON
    assert reason in refused.value.reason, refused.value.reason


def test_resolver_handles_ref_getatt_sub_join_and_novalue() -> None:
    resolver = Resolver(region="us-east-1", account_id="123456789012", stack_name="s")
    resolver.refs["Table"] = "s-Table"
    resolver.attrs[("Table", "Arn")] = "arn:table"
    resolver.conditions["IsProd"] = False
    value = {
        "a": {"Ref": "Table"},
        "b": {"Fn::GetAtt": ["Table", "Arn"]},
        "c": {"Fn::Sub": "${AWS::Region}/${Table}/${Table.Arn}/${!Literal}"},
        "d": {"Fn::Sub": ["${X}-${Table}", {"X": {"Ref": "AWS::AccountId"}}]},
        "e": {"Fn::Join": [",", ["x", {"Ref": "Table"}]]},
        "f": {"Fn::If": ["IsProd", "prod", {"Ref": "AWS::NoValue"}]},
        "g": [{"Ref": "AWS::NoValue"}, 1],
    }
    assert resolver.resolve(value) == {
        "a": "s-Table",
        "b": "arn:table",
        "c": "us-east-1/s-Table/arn:table/${Literal}",
        "d": "123456789012-s-Table",
        "e": "x,s-Table",
        "g": [1],
    }
    with pytest.raises(UnresolvedReference):
        resolver.resolve({"Ref": "Missing"})


def test_globals_merge_like_sam() -> None:
    template = {"Globals": {"Function": {"Timeout": 10, "Environment": {"Variables": {"A": "1"}}, "Layers": ["l1"]}}}
    merged = merged_function_properties(
        template, {"Timeout": 3, "Environment": {"Variables": {"B": "2"}}, "Layers": ["l2"]}
    )
    assert merged == {"Timeout": 3, "Environment": {"Variables": {"A": "1", "B": "2"}}, "Layers": ["l1", "l2"]}


def test_routes_prefer_exact_over_parameters_over_greedy() -> None:
    routes = [
        _compile(HttpRoute("api", "ANY", "/{proxy+}", "Greedy", None)),
        _compile(HttpRoute("api", "GET", "/songs/{songId}", "Param", None)),
        _compile(HttpRoute("api", "GET", "/songs/top", "Exact", None)),
    ]
    routes.sort(key=lambda r: r.specificity, reverse=True)

    def first(path: str) -> tuple[str, dict[str, str]]:
        for compiled in routes:
            found = compiled.pattern.match(path)
            if found:
                return compiled.route.function, found.groupdict()
        raise AssertionError(path)

    assert first("/songs/top") == ("Exact", {})
    assert first("/songs/abc") == ("Param", {"songId": "abc"})
    assert first("/songs/abc/more") == ("Greedy", {"proxy": "songs/abc/more"})


@pytest.fixture(scope="module")
def keys() -> tuple[Any, JwksCache]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    public_jwk.update({"kid": "k1", "alg": "RS256", "use": "sig"})
    return private, JwksCache(lambda issuer: {"keys": [public_jwk]} if issuer == ISSUER else {"keys": []})


def _token(private: Any, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "user-1",
        "client_id": "client-1",
        "token_use": "access",
        "exp": now + 600,
        "iat": now,
        "scope": "aws.cognito.signin.user.admin",
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": "k1"})


def test_a_valid_access_token_passes_with_claims_and_scopes(keys: tuple[Any, JwksCache]) -> None:
    private, jwks = keys
    principal = authorize(f"Bearer {_token(private)}", AUTHORIZER, jwks)
    assert principal.claims["sub"] == "user-1"
    assert principal.scopes == ["aws.cognito.signin.user.admin"]
    assert isinstance(principal.claims["exp"], str)  # API Gateway passes claims as strings
    id_token = _token(private, client_id=None, aud="client-1", token_use="id")
    assert authorize(id_token, AUTHORIZER, jwks).claims["aud"] == "client-1"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("Bearer", "malformed"),
        ("Bearer abc.def", "malformed"),
        ("Bearer abc.def.ghi", "invalid"),
    ],
)
def test_missing_or_malformed_tokens_fail(keys: tuple[Any, JwksCache], header: str | None, reason: str) -> None:
    with refused_for(reason):
        authorize(header, AUTHORIZER, keys[1])


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": 1_000}, "expired"),
        ({"iss": "https://evil.example.com/pool"}, "invalid"),
        ({"client_id": "other-client"}, "audience"),
        ({"sub": None}, "invalid"),
    ],
)
def test_expired_foreign_or_incomplete_tokens_fail(
    keys: tuple[Any, JwksCache], overrides: dict[str, Any], reason: str
) -> None:
    private, jwks = keys
    with refused_for(reason):
        authorize(f"Bearer {_token(private, **overrides)}", AUTHORIZER, jwks)


def test_a_token_signed_by_another_key_fails(keys: tuple[Any, JwksCache]) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with refused_for("invalid"):
        authorize(f"Bearer {_token(other)}", AUTHORIZER, keys[1])


def test_concurrent_invocations_each_resolve_their_own_request() -> None:
    """Powertools keeps the request being resolved on its BaseRouter class; invocations running side
    by side in the devstack must each still see their own caller (one read another's before)."""
    import threading

    from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver

    from devstack.lambdas import isolate_powertools_request_state

    isolate_powertools_request_state()
    app = APIGatewayHttpResolver()
    both_inside = threading.Barrier(2)

    @app.get("/me")
    def me() -> dict[str, str]:
        both_inside.wait(5)  # the other request has started resolving too
        return {"sub": app.current_event.request_context.authorizer.jwt_claim["sub"]}

    def event(sub: str) -> dict[str, object]:
        return {
            "version": "2.0",
            "routeKey": "GET /me",
            "rawPath": "/me",
            "rawQueryString": "",
            "headers": {},
            "requestContext": {
                "http": {"method": "GET", "path": "/me", "sourceIp": "127.0.0.1"},
                "authorizer": {"jwt": {"claims": {"sub": sub}, "scopes": []}},
                "stage": "$default",
            },
            "isBase64Encoded": False,
        }

    answers: dict[str, str] = {}

    def call(sub: str) -> None:
        answers[sub] = json.loads(app.resolve(event(sub), None)["body"])["sub"]  # type: ignore[arg-type]

    threads = [threading.Thread(target=call, args=(sub,)) for sub in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == {"alice": "alice", "bob": "bob"}
