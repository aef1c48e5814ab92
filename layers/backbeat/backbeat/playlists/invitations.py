"""Collaborator invitations: the owner invites an email address, the person behind it accepts or declines.

Inviting never looks the address up, so the answer is the same whether or not anyone has an account
with it (no enumeration), and nobody becomes a collaborator without saying yes (decision 42). An
invitation is an item of the playlist's partition keyed by the address, indexed by it on `byMember`
(``INVITEE#<email>``), so a listener finds the invitations addressed to the email of their account,
including ones sent before they signed up. Accepting is a versioned edit (`collaborator.added`, as
before) that consumes the invitation in the same transaction, so it takes effect once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist
from pynamodb.transactions import TransactWrite

from backbeat.errors import Conflict, InvalidInput, NotFound
from backbeat.identity.models import UserItem
from backbeat.playlists.access import check_owner, load
from backbeat.playlists.edits import Plan, edit, member_item, new_id, now
from backbeat.playlists.models import (
    META,
    InvitationItem,
    PlaylistItem,
    invitation_key,
    invitee_key,
    playlist_id_of_key,
)

MAX_COLLABORATORS = 50
MAX_PENDING_INVITATIONS = 50
INVITATION_DAYS = 30


def invite(playlist_id: str, owner_id: str, email: str) -> dict[str, Any]:
    """Record an invitation for `email` (already normalised); the same answer whoever has that address."""
    playlist = load(playlist_id)
    check_owner(playlist, owner_id)
    pending = InvitationItem.count(playlist.pk, InvitationItem.sk.startswith(invitation_key("")))
    if pending >= MAX_PENDING_INVITATIONS:
        raise InvalidInput(f"a playlist has at most {MAX_PENDING_INVITATIONS} pending invitations", "email")
    at = datetime.now(UTC)
    InvitationItem(
        pk=playlist.pk,
        sk=invitation_key(email),
        invitation_id=new_id(),
        email=email,
        invited_by=owner_id,
        invited_at=now(),
        expires_at=int((at + timedelta(days=INVITATION_DAYS)).timestamp()),
        gsi1pk=invitee_key(email),
        gsi1sk=playlist.pk,
    ).save()
    return {"playlistId": playlist_id, "email": email, "status": "invited"}


def _email_of(user_id: str) -> str:
    try:
        return str(UserItem.get(user_id).email).strip().lower()
    except DoesNotExist:
        raise NotFound("no account for this token") from None


def _live(invitations: list[InvitationItem]) -> list[InvitationItem]:
    moment = int(datetime.now(UTC).timestamp())
    return [invitation for invitation in invitations if int(invitation.expires_at) > moment]


def my_invitations(user_id: str) -> dict[str, Any]:
    """The pending invitations addressed to the caller's email, with the playlists' current names."""
    invitations = _live(list(InvitationItem.by_invitee.query(invitee_key(_email_of(user_id)))))
    keys = list({(invitation.pk, META) for invitation in invitations})
    playlists = {p.pk: p for p in PlaylistItem.batch_get(keys)} if keys else {}
    items = []
    for invitation in invitations:
        playlist = playlists.get(invitation.pk)
        if playlist is None or playlist.deleted:
            continue
        items.append(
            {
                "invitationId": invitation.invitation_id,
                "playlistId": playlist.id,
                "playlistName": playlist.name,
                "ownerId": playlist.owner_id,
                "invitedAt": invitation.invited_at,
            }
        )
    return {"items": items, "total": len(items)}


def _find(user_id: str, invitation_id: str) -> InvitationItem:
    for invitation in _live(list(InvitationItem.by_invitee.query(invitee_key(_email_of(user_id))))):
        if invitation.invitation_id == invitation_id:
            return invitation
    raise NotFound(f"invitation {invitation_id!r} not found")


def accept(user_id: str, invitation_id: str) -> dict[str, Any]:
    """Become a collaborator (a versioned `collaborator.added` edit that consumes the invitation)."""
    invitation = _find(user_id, invitation_id)
    playlist_id = playlist_id_of_key(invitation.pk)

    def may_accept(playlist: PlaylistItem, _: str) -> None:
        if user_id == playlist.owner_id:
            raise InvalidInput("the owner is not a collaborator of their own playlist", "invitationId")
        if user_id in (playlist.collaborators or []):
            raise Conflict("already a collaborator")
        if len(playlist.collaborators or []) >= MAX_COLLABORATORS:
            raise Conflict(f"the playlist has {MAX_COLLABORATORS} collaborators already")

    def build(playlist: PlaylistItem) -> Plan:
        plan = Plan(
            op={"type": "collaborator.added", "userId": user_id},
            meta_actions=[PlaylistItem.collaborators.set(PlaylistItem.collaborators.append([user_id]))],
            result={"playlistId": playlist_id, "userId": user_id},
        )
        plan.writes.append(lambda t: t.save(member_item(playlist_id, user_id, "collaborator")))
        plan.writes.append(lambda t: _consume(t, invitation))
        return plan

    try:
        return edit(playlist_id, user_id, None, may_accept, build)
    except NotFound:
        raise NotFound(f"invitation {invitation_id!r} not found") from None


def _consume(transaction: TransactWrite, invitation: InvitationItem) -> None:
    """Delete the invitation, only if it is the one accepted (not re-sent since with a new id)."""
    transaction.delete(
        InvitationItem(pk=invitation.pk, sk=invitation.sk),
        condition=InvitationItem.invitation_id == invitation.invitation_id,
    )


def decline(user_id: str, invitation_id: str) -> dict[str, Any]:
    invitation = _find(user_id, invitation_id)
    try:
        invitation.delete(condition=InvitationItem.invitation_id == invitation.invitation_id)
    except DeleteError:
        raise NotFound(f"invitation {invitation_id!r} not found") from None
    return {"invitationId": invitation_id, "status": "declined"}


__all__ = ["accept", "decline", "invite", "my_invitations"]
