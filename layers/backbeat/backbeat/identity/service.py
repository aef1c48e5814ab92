"""Sign-up, login and the user's profile. Cognito owns credentials; the users table owns the tier."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist, PutError

from backbeat.aws import client
from backbeat.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from backbeat.identity.models import TIERS, UserItem
from backbeat.identity.passwords import check_new_password


@dataclass(frozen=True)
class UserPool:
    pool_id: str
    client_id: str
    auto_confirm: bool = False


def _cognito_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _ensure_user_record(user_id: str, email: str) -> UserItem:
    """Create the user's record once (conditional put); an existing record is kept as it is."""
    try:
        return UserItem.get(user_id)
    except DoesNotExist:
        pass
    item = UserItem(user_id=user_id, email=email, tier="free")
    try:
        item.save(condition=UserItem.user_id.does_not_exist())
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return UserItem.get(user_id)
    return item


def signup(pool: UserPool, email: str, password: str) -> dict[str, Any]:
    """A new account. An email that already has one is refused (409) without echoing the address:
    sign-up says an account exists, as most music services do, and sign-ups per source IP are
    rate-limited so that addresses cannot be probed at scale (docs/decisions.md, 41)."""
    check_new_password(password, email)
    cognito = client("cognito-idp")
    try:
        response = cognito.sign_up(
            ClientId=pool.client_id,
            Username=email,
            Password=password,
            UserAttributes=[{"Name": "email", "Value": email}],
        )
        if pool.auto_confirm:
            cognito.admin_confirm_sign_up(UserPoolId=pool.pool_id, Username=email)
    except ClientError as error:
        code = _cognito_code(error)
        if code == "UsernameExistsException":
            raise Conflict("an account with this email already exists; log in instead") from None
        if code == "InvalidPasswordException":
            raise InvalidInput(error.response["Error"].get("Message", "weak password"), "password") from None
        if code == "InvalidParameterException":
            raise InvalidInput(error.response["Error"].get("Message", "invalid input"), "email") from None
        raise
    user = _ensure_user_record(response["UserSub"], email)
    return {"userId": user.user_id, "email": user.email, "tier": user.tier, "confirmed": pool.auto_confirm}


def _unverified_sub(id_token: str) -> str:
    """Read `sub` from a token Cognito has just issued to us (no verification needed here)."""
    payload = id_token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return str(json.loads(base64.urlsafe_b64decode(payload))["sub"])


def login(pool: UserPool, email: str, password: str) -> dict[str, Any]:
    cognito = client("cognito-idp")
    try:
        response = cognito.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
    except ClientError as error:
        code = _cognito_code(error)
        if code in ("NotAuthorizedException", "UserNotFoundException"):
            raise Unauthorized("wrong email or password") from None
        if code == "UserNotConfirmedException":
            raise Forbidden("the account is not confirmed yet") from None
        raise
    result = response.get("AuthenticationResult")
    if not result:
        raise Unauthorized(f"additional challenge required: {response.get('ChallengeName', 'unknown')}")
    # Heals a sign-up whose users-table write was lost: the record is created on first login.
    _ensure_user_record(_unverified_sub(result["IdToken"]), email)
    return {
        "accessToken": result["AccessToken"],
        "idToken": result["IdToken"],
        "refreshToken": result.get("RefreshToken"),
        "expiresIn": result["ExpiresIn"],
        "tokenType": result.get("TokenType", "Bearer"),
    }


def refresh(pool: UserPool, refresh_token: str) -> dict[str, Any]:
    """New access and id tokens for a refresh token (a player renews before its access token expires)."""
    cognito = client("cognito-idp")
    try:
        response = cognito.initiate_auth(
            ClientId=pool.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": refresh_token},
        )
    except ClientError as error:
        if _cognito_code(error) in ("NotAuthorizedException", "UserNotFoundException"):
            raise Unauthorized("the session has expired: log in again") from None
        raise
    result = response.get("AuthenticationResult") or {}
    if "AccessToken" not in result:
        raise Unauthorized("the session has expired: log in again")
    return {
        "accessToken": result["AccessToken"],
        "idToken": result["IdToken"],
        "refreshToken": result.get("RefreshToken") or refresh_token,
        "expiresIn": result["ExpiresIn"],
        "tokenType": result.get("TokenType", "Bearer"),
    }


def me(user_id: str) -> dict[str, Any]:
    try:
        user = UserItem.get(user_id)
    except DoesNotExist:
        raise NotFound("no profile for this user; log in again to create it") from None
    return {"userId": user.user_id, "email": user.email, "tier": user.tier}


def set_tier(email: str, tier: str) -> dict[str, Any]:
    """Ops: change a user's tier, found by email (the byEmail index)."""
    if tier not in TIERS:
        raise InvalidInput(f"tier must be one of {', '.join(TIERS)}", "tier")
    users = list(UserItem.by_email.query(email.strip().lower(), limit=2))
    if not users:
        raise NotFound(f"no user with email {email}")
    user = UserItem.get(users[0].user_id)  # GSI reads are eventually consistent: reread the item
    user.update(actions=[UserItem.tier.set(tier)], condition=UserItem.user_id.exists())
    return {"userId": user.user_id, "email": user.email, "tier": tier}
