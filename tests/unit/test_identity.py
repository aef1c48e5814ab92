"""Identity: sign-up, login, /me and the ops tier change (moto Cognito in memory)."""

from __future__ import annotations

import json

import pytest

from backbeat.errors import InvalidInput, NotFound
from backbeat.identity import service
from backbeat.identity.models import bind_users_table
from tests.support import api_event
from tests.unit.conftest import load_function

PASSWORD = "listen-to-the-music"


def _call(module, event, context):  # type: ignore[no-untyped-def]
    response = module.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def test_signup_login_and_me(aws, context) -> None:
    identity = load_function("identity", aws)
    status, user = _call(
        identity, api_event("POST", "/auth/signup", body={"email": "Ann@Example.com", "password": PASSWORD}), context
    )
    assert status == 201
    assert user["email"] == "ann@example.com" and user["tier"] == "free"

    status, tokens = _call(
        identity, api_event("POST", "/auth/login", body={"email": "ann@example.com", "password": PASSWORD}), context
    )
    assert status == 200
    assert set(tokens) >= {"accessToken", "idToken", "refreshToken", "expiresIn"}

    status, me = _call(identity, api_event("GET", "/me", claims={"sub": user["userId"]}), context)
    assert status == 200
    assert me == {"userId": user["userId"], "email": "ann@example.com", "tier": "free"}


def test_wrong_password_is_401_and_duplicate_signup_409(aws, context) -> None:
    identity = load_function("identity", aws)
    body = {"email": "bob@example.com", "password": PASSWORD}
    assert _call(identity, api_event("POST", "/auth/signup", body=body), context)[0] == 201
    status, error = _call(identity, api_event("POST", "/auth/signup", body=body), context)
    assert status == 409 and error["error"]["code"] == "Conflict"
    assert "bob@example.com" not in error["error"]["message"]  # the address is not echoed back
    status, error = _call(
        identity, api_event("POST", "/auth/login", body={**body, "password": "not-the-password"}), context
    )
    assert status == 401 and error["error"]["code"] == "Unauthorized"
    status, error = _call(
        identity, api_event("POST", "/auth/login", body={"email": "nobody@example.com", "password": PASSWORD}), context
    )
    assert status == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "a@b.co", "password": "short"}, "password"),
        ({"email": "a@b.co"}, "password"),
        ({"password": PASSWORD}, "email"),
        ({"email": "a@b.co", "password": PASSWORD, "admin": True}, "admin"),
        ("{not json", "body"),
        ([1, 2], "body"),
    ],
)
def test_bad_credentials_body_is_a_422_naming_the_field(aws, context, body, field) -> None:
    identity = load_function("identity", aws)
    status, error = _call(identity, api_event("POST", "/auth/signup", body=body), context)
    assert status == 422
    assert error["error"]["code"] == "InvalidInput"
    assert error["error"]["field"] == field


def test_me_without_claims_is_401(aws, context) -> None:
    identity = load_function("identity", aws)
    status, error = _call(identity, api_event("GET", "/me"), context)
    assert status == 401 and error["error"]["code"] == "Unauthorized"


def test_set_tier_changes_what_me_shows(aws, context) -> None:
    identity = load_function("identity", aws)
    _, user = _call(
        identity, api_event("POST", "/auth/signup", body={"email": "cy@example.com", "password": PASSWORD}), context
    )
    bind_users_table(aws.tables["UsersTable"])
    assert service.set_tier("cy@example.com", "premium")["tier"] == "premium"
    _, me = _call(identity, api_event("GET", "/me", claims={"sub": user["userId"]}), context)
    assert me["tier"] == "premium"
    with pytest.raises(InvalidInput):
        service.set_tier("cy@example.com", "gold")
    with pytest.raises(NotFound):
        service.set_tier("nobody@example.com", "free")
