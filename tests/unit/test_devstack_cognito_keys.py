"""Each emulated user pool signs with a key of its own, and the gateway's JWT check accepts only
tokens from that key: a token forged with the key that ships inside the moto package is refused."""

from __future__ import annotations

import json
import pickle
import time
from collections.abc import Iterator
from typing import Any

import boto3
import jwt
import pytest
from moto import mock_aws

from devstack.authorizer import AuthorizationFailed, JwksCache, authorize
from devstack.moto_patches import patch_moto_cognito_keys
from devstack.resources import JwtAuthorizer

PASSWORD = "Listen-to-the-music-1"


def _serve_jwks(issuer: str) -> dict[str, Any]:
    """What the gateway fetches: `<issuer>/.well-known/jwks.json`, answered by moto's (patched) route."""
    from moto.cognitoidp import urls

    handler = next(h for pattern, h in urls.url_paths.items() if pattern.endswith("/.well-known/jwks.json$"))
    pool_id = issuer.rsplit("/", 1)[1]
    status, _, body = handler(None, f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}/.well-known/jwks.json", {})
    assert status == 200
    return dict(json.loads(body))


def _pool(cognito: Any, name: str) -> tuple[str, str]:
    pool_id = cognito.create_user_pool(PoolName=name)["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id, ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]["ClientId"]
    return pool_id, client_id


def _login(cognito: Any, pool_id: str, client_id: str, username: str) -> str:
    cognito.admin_create_user(UserPoolId=pool_id, Username=username, TemporaryPassword=PASSWORD)
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True)
    answer = cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD}
    )
    return str(answer["AuthenticationResult"]["AccessToken"])


@pytest.fixture
def cognito() -> Iterator[Any]:
    patch_moto_cognito_keys()
    with mock_aws():
        yield boto3.client("cognito-idp", region_name="us-east-1")


def _authorizer(pool_id: str, client_id: str) -> JwtAuthorizer:
    return JwtAuthorizer("CognitoJwt", f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}", (client_id,))


def _forged(claims_from: str, kid: str) -> str:
    """The token's claims re-signed with moto's bundled private key (what anyone can do)."""
    claims = jwt.decode(claims_from, options={"verify_signature": False})
    claims["exp"] = int(time.time()) + 3600
    from moto.utilities.utils import load_resource

    bundled_jwks = load_resource("cognitoidp/resources/jwks-private.json")  # shipped inside moto
    bundled = jwt.PyJWK(bundled_jwks["keys"][0] if "keys" in bundled_jwks else bundled_jwks)
    return jwt.encode(claims, bundled.key, algorithm="RS256", headers={"kid": kid})


def test_a_token_forged_with_motos_bundled_key_is_refused(cognito: Any) -> None:
    pool_id, client_id = _pool(cognito, "listeners")
    token = _login(cognito, pool_id, client_id, "alice")
    jwks = JwksCache(_serve_jwks)
    principal = authorize(f"Bearer {token}", _authorizer(pool_id, client_id), jwks)
    assert principal.claims["username"] == "alice"

    own_kid = jwt.get_unverified_header(token)["kid"]
    assert own_kid != "dummy"
    for kid in ("dummy", own_kid):
        with pytest.raises(AuthorizationFailed):
            authorize(f"Bearer {_forged(token, kid)}", _authorizer(pool_id, client_id), jwks)


def test_each_pool_serves_only_its_own_key_and_it_survives_a_pickle(cognito: Any) -> None:
    from moto.cognitoidp.models import cognitoidp_backends

    first_pool, first_client = _pool(cognito, "first")
    second_pool, second_client = _pool(cognito, "second")
    first_keys = _serve_jwks(f"https://x/{first_pool}")["keys"]
    second_keys = _serve_jwks(f"https://x/{second_pool}")["keys"]
    assert len(first_keys) == len(second_keys) == 1
    assert first_keys[0]["n"] != second_keys[0]["n"]
    assert "d" not in first_keys[0]  # the public half only
    assert "dummy" not in {first_keys[0]["kid"], second_keys[0]["kid"]}

    # A token of one pool does not pass as the other's, even with the issuer rewritten.
    token = _login(cognito, first_pool, first_client, "bob")
    with pytest.raises(AuthorizationFailed):
        authorize(token, _authorizer(second_pool, second_client), JwksCache(_serve_jwks))

    pool = cognitoidp_backends["123456789012"]["us-east-1"].user_pools[first_pool]
    restored = pickle.loads(pickle.dumps(pool))
    assert restored.json_web_key.as_dict(private=False)["n"] == first_keys[0]["n"]


def test_get_user_still_answers_for_a_pool_token(cognito: Any) -> None:
    """What the WebSocket $connect function does with the token it is given."""
    pool_id, client_id = _pool(cognito, "sockets")
    token = _login(cognito, pool_id, client_id, "carol")
    assert cognito.get_user(AccessToken=token)["Username"] == "carol"


def test_concurrent_first_logins_all_sign_with_the_one_key_the_pool_serves(cognito: Any) -> None:
    """Eight listeners logging in at once on a new pool: every token verifies (each first login
    used to make a key of its own, and all but one of those tokens were refused for good)."""
    from concurrent.futures import ThreadPoolExecutor

    pool_id, client_id = _pool(cognito, "crowd")
    for index in range(8):
        cognito.admin_create_user(UserPoolId=pool_id, Username=f"u{index}", TemporaryPassword=PASSWORD)
        cognito.admin_set_user_password(UserPoolId=pool_id, Username=f"u{index}", Password=PASSWORD, Permanent=True)

    def login(index: int) -> str:
        answer = cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": f"u{index}", "PASSWORD": PASSWORD},
        )
        return str(answer["AuthenticationResult"]["AccessToken"])

    with ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(login, range(8)))
    jwks = JwksCache(_serve_jwks)
    for token in tokens:
        assert authorize(f"Bearer {token}", _authorizer(pool_id, client_id), jwks).claims["sub"]
