"""Artist accounts: which users may read an artist's analytics and statements (docs/decisions.md, 35).

An operator links a user to a catalog artist (`backbeat artists link EMAIL ARTIST_ID`); the link is
one item of the artist accounts table, ``pk = ARTIST#<artistId>``, ``sk = USER#<userId>``, so the
check on every request is one consistent GetItem, and an artist may have several accounts (members,
a manager) and a user several artists. Operators are the members of the Cognito group `operators`:
Cognito puts the caller's groups in the token's ``cognito:groups`` claim, which the HTTP API's JWT
authorizer hands to the function as ``"[operators other]"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.models import Model

from backbeat.aws import client
from backbeat.catalog.models import META, ArtistItem, artist_key
from backbeat.errors import Forbidden, InvalidInput, NotFound
from backbeat.identity.models import UserItem
from backbeat.ids import is_valid_id
from backbeat.tables import bind_models

OPERATORS_GROUP = "operators"
ROLES = ("operator", "listener")
USER_PREFIX = "USER#"


def account_key(user_id: str) -> str:
    return f"{USER_PREFIX}{user_id}"


class ArtistAccountItem(Model):
    """One link: this user may read this artist's analytics and statements."""

    class Meta:
        table_name = "unbound"  # set by bind_artist_accounts_table() at cold start

    pk = UnicodeAttribute(hash_key=True)  # ARTIST#<artistId>
    sk = UnicodeAttribute(range_key=True)  # USER#<userId>
    artist_id = UnicodeAttribute(attr_name="artistId")
    user_id = UnicodeAttribute(attr_name="userId")
    email = UnicodeAttribute()
    linked_at = UnicodeAttribute(attr_name="linkedAt")


def bind_artist_accounts_table(table_name: str) -> None:
    bind_models(table_name, ArtistAccountItem)


def groups_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """The caller's Cognito groups: a list in the token itself, ``"[a b]"`` once the HTTP API's JWT
    authorizer has flattened it into the event (both shapes are read, and commas as separators)."""
    value = claims.get("cognito:groups")
    if value is None:
        return frozenset()
    if isinstance(value, list | tuple):
        names: Iterable[str] = (str(item) for item in value)
    else:
        names = str(value).strip().strip("[]").replace(",", " ").split()
    return frozenset(name for name in names if name)


def is_operator(claims: Mapping[str, Any]) -> bool:
    return OPERATORS_GROUP in groups_of(claims)


def is_linked(artist_id: str, user_id: str) -> bool:
    try:
        ArtistAccountItem.get(artist_key(artist_id), account_key(user_id), consistent_read=True)
    except DoesNotExist:
        return False
    return True


def require_reader(artist_id: str, user_id: str, claims: Mapping[str, Any]) -> None:
    """Only the artist's linked accounts and operators read an artist's figures; anyone else gets
    403, whether the artist exists or not (so the answer says nothing about who is an artist)."""
    if is_operator(claims):
        return
    if not is_valid_id(artist_id) or not is_linked(artist_id, user_id):
        raise Forbidden(f"only the accounts linked to artist {artist_id!r} and operators may read its figures")


def artist_name(artist_id: str) -> str:
    """The catalog artist's name; NotFound when the catalog has no such artist."""
    if not is_valid_id(artist_id):
        raise NotFound(f"artist {artist_id!r} not found")
    try:
        return str(ArtistItem.get(artist_key(artist_id), META).name)
    except DoesNotExist:
        raise NotFound(f"artist {artist_id!r} not found") from None


def user_by_email(email: str) -> UserItem:
    users = list(UserItem.by_email.query(email.strip().lower(), limit=1))
    if not users:
        raise NotFound(f"no user with email {email}")
    return users[0]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def link(email: str, artist_id: str) -> dict[str, Any]:
    """Ops: let the user with `email` read the analytics and statements of `artist_id`. Linking
    twice keeps the first link (and says so)."""
    user = user_by_email(email)
    name = artist_name(artist_id)
    item = ArtistAccountItem(
        pk=artist_key(artist_id),
        sk=account_key(user.user_id),
        artist_id=artist_id,
        user_id=user.user_id,
        email=user.email,
        linked_at=_now(),
    )
    created = True
    try:
        item.save(condition=ArtistAccountItem.pk.does_not_exist())
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        created = False
        item = ArtistAccountItem.get(artist_key(artist_id), account_key(user.user_id), consistent_read=True)
    return {
        "artistId": artist_id,
        "artistName": name,
        "userId": user.user_id,
        "email": user.email,
        "linkedAt": item.linked_at,
        "created": created,
    }


def unlink(email: str, artist_id: str) -> dict[str, Any]:
    """Ops: take the user's access to the artist away (effective on the next request)."""
    user = user_by_email(email)
    try:
        item = ArtistAccountItem.get(artist_key(artist_id), account_key(user.user_id), consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"{email} is not linked to artist {artist_id}") from None
    item.delete()
    return {"artistId": artist_id, "userId": user.user_id, "email": user.email, "removed": True}


def accounts(artist_id: str) -> list[dict[str, Any]]:
    """The accounts linked to an artist."""
    return [
        {"artistId": item.artist_id, "userId": item.user_id, "email": item.email, "linkedAt": item.linked_at}
        for item in ArtistAccountItem.query(artist_key(artist_id), ArtistAccountItem.sk.startswith(USER_PREFIX))
    ]


def set_role(user_pool_id: str, email: str, role: str) -> dict[str, Any]:
    """Ops: make a user an operator (a member of the `operators` group) or a plain listener again.
    The token carries the groups, so the change applies from the user's next login or refresh."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", "role")
    user = user_by_email(email)
    cognito = client("cognito-idp")
    # The pool's users sign in with their email (UsernameAttributes), which the admin calls accept.
    request = {"UserPoolId": user_pool_id, "Username": user.email, "GroupName": OPERATORS_GROUP}
    try:
        if role == "operator":
            _add_to_operators(cognito, request)
        else:
            cognito.admin_remove_user_from_group(**request)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "UserNotFoundException":
            raise NotFound(f"no Cognito user for {email}") from None
        raise
    return {"userId": user.user_id, "email": user.email, "role": role}


def _add_to_operators(cognito: Any, request: dict[str, str]) -> None:
    """The template declares the group; a pool without it (the devstack does not create Cognito
    groups) gets it on first use."""
    try:
        cognito.admin_add_user_to_group(**request)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        try:
            cognito.create_group(
                UserPoolId=request["UserPoolId"],
                GroupName=OPERATORS_GROUP,
                Description="Backbeat operators: read every artist's analytics and statements.",
            )
        except ClientError as create_error:
            if create_error.response.get("Error", {}).get("Code") != "GroupExistsException":
                raise
        cognito.admin_add_user_to_group(**request)
