"""A signing key of its own for each of moto's Cognito user pools.

moto signs every pool's tokens with one RSA key whose private half ships inside the moto package
(`moto/cognitoidp/resources/jwks-private.json`, kid "dummy"), and serves that key's public half as
every pool's JWKS, so anyone can forge a token for any user's `sub` that verifies. Cognito gives
each pool its own keys. Here each pool gets a 2048-bit RSA key generated for it, kept on the pool
object as a JWK (plain data: it travels with the pool when moto's state is saved and restored);
tokens are signed with it under its own `kid`, and the pool's `/.well-known/jwks.json` serves that
key's public half and nothing else. A verifier that fetches the pool's JWKS (devstack/authorizer.py,
as API Gateway's JWT authorizer does) then accepts only tokens the pool issued.
"""

from __future__ import annotations

import functools
import json
import secrets
import threading
from typing import Any

_POOL_KEY = "_devstack_signing_jwk"  # the private JWK (a dict), on the pool object


_KEY_LOCK = threading.Lock()


@functools.lru_cache(maxsize=256)
def _key_from(serialized: str) -> Any:
    """The joserfc key of a serialized private JWK (derived data: the pool holds the JWK)."""
    from joserfc import jwk

    return jwk.RSAKey.import_key(json.loads(serialized))


def _new_private_jwk(pool_id: str) -> dict[str, Any]:
    from joserfc import jwk

    kid = f"{pool_id}-{secrets.token_hex(8)}"
    key = jwk.RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"}, private=True)
    return dict(key.as_dict(private=True))


def signing_jwk(pool: Any) -> dict[str, Any]:
    """The pool's private JWK, generated the first time the pool signs or is asked for its keys."""
    data: dict[str, Any] | None = pool.__dict__.get(_POOL_KEY)
    if data is None:
        with _KEY_LOCK:  # concurrent first logins must not each make (and sign with) a key of their own
            data = pool.__dict__.get(_POOL_KEY)
            if data is None:
                data = _new_private_jwk(pool.id)
                pool.__dict__[_POOL_KEY] = data
    return data


def public_jwks(pool: Any) -> dict[str, Any]:
    public = dict(_key_from(json.dumps(signing_jwk(pool), sort_keys=True)).as_dict(private=False))
    public.update({"alg": "RS256", "use": "sig", "kid": signing_jwk(pool)["kid"]})
    return {"keys": [public]}


def _find_pool(pool_id: str) -> Any:
    from moto.cognitoidp.models import cognitoidp_backends

    region = pool_id.split("_", 1)[0]
    for account_id in list(cognitoidp_backends.keys()):
        backends = cognitoidp_backends[account_id]
        if region in backends:
            pool = backends[region].user_pools.get(pool_id)
            if pool is not None:
                return pool
    return None


def patch_moto_cognito_keys() -> None:
    from moto.cognitoidp import models, urls
    from moto.cognitoidp.models import CognitoIdpUserPool
    from moto.cognitoidp.responses import CognitoIdpJsonWebKeyResponse

    if getattr(CognitoIdpUserPool, "_devstack_own_keys", False):
        return

    def json_web_key(self: Any) -> Any:
        return _key_from(json.dumps(signing_jwk(self), sort_keys=True))

    def ignore_shared_key(self: Any, value: Any) -> None:
        """moto's constructor assigns its bundled key here; the pool signs with its own instead."""

    CognitoIdpUserPool.json_web_key = property(json_web_key, ignore_shared_key)  # type: ignore[assignment]

    class _SignsWithTheKeysKid:
        """Stands in for joserfc's `jwt` inside moto's Cognito models: the token header names the
        signing key's own kid (moto writes the bundled key's "dummy")."""

        def __getattr__(self, name: str) -> Any:
            from joserfc import jwt

            return getattr(jwt, name)

        @staticmethod
        def encode(header: dict[str, Any], claims: dict[str, Any], key: Any, *args: Any, **kwargs: Any) -> str:
            from joserfc import jwt

            kid = getattr(key, "kid", None)
            return str(jwt.encode({**header, "kid": kid} if kid else header, claims, key, *args, **kwargs))

    models.jwt = _SignsWithTheKeysKid()  # type: ignore[assignment]

    def serve_json_web_key(*args: Any) -> tuple[int, dict[str, str], bytes]:
        full_url = str(args[1]) if len(args) > 1 else ""
        pool_id = full_url.split("://", 1)[-1].split("/")[1] if "/" in full_url.split("://", 1)[-1] else ""
        pool = _find_pool(pool_id)
        if pool is None:
            body = {"message": f"User pool {pool_id} does not exist."}
            return 404, {"Content-Type": "application/json"}, json.dumps(body).encode()
        return 200, {"Content-Type": "application/json"}, json.dumps(public_jwks(pool)).encode()

    CognitoIdpJsonWebKeyResponse.serve_json_web_key = staticmethod(serve_json_web_key)  # type: ignore[assignment]
    for pattern in list(urls.url_paths):
        if pattern.endswith("/.well-known/jwks.json$"):
            urls.url_paths[pattern] = serve_json_web_key
    CognitoIdpUserPool._devstack_own_keys = True  # type: ignore[attr-defined]
