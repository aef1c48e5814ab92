"""POST /auth/refresh: a player renews its access token with the refresh token from login, before the
access token expires, without asking for the password again; a bad refresh token is a 401."""

from __future__ import annotations

import json

from tests.support import api_event
from tests.unit.conftest import load_function

PASSWORD = "listen-to-the-music"


def _call(module, event, context):  # type: ignore[no-untyped-def]
    response = module.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_a_refresh_token_gives_new_tokens_and_a_bad_one_is_401(aws, context) -> None:
    identity = load_function("identity", aws)
    credentials = {"email": "renew@example.com", "password": PASSWORD}
    assert _call(identity, api_event("POST", "/auth/signup", body=credentials), context)[0] == 201
    status, tokens = _call(identity, api_event("POST", "/auth/login", body=credentials), context)
    assert status == 200 and tokens["refreshToken"]

    status, renewed = _call(
        identity, api_event("POST", "/auth/refresh", body={"refreshToken": tokens["refreshToken"]}), context
    )
    assert status == 200, renewed
    assert renewed["accessToken"] and renewed["expiresIn"] > 0
    assert renewed["refreshToken"]  # the same or a new one: the player keeps whichever it is given

    status, error = _call(identity, api_event("POST", "/auth/refresh", body={"refreshToken": "forged"}), context)
    assert status == 401 and error["error"]["code"] == "Unauthorized", error
    status, error = _call(identity, api_event("POST", "/auth/refresh", body={}), context)
    assert status == 422 and error["error"]["field"] == "refreshToken", error
