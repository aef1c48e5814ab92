"""Data access for the playlists table (single-table design, pynamodb).

| entity     | pk            | sk                  | other keys                                   |
|------------|---------------|---------------------|----------------------------------------------|
| playlist   | ``PL#<id>``   | ``META``            |                                              |
| track item | ``PL#<id>``   | ``ITEM#<itemId>``   | ``pos`` (LSI ``byPosition``: the order)      |
| change     | ``PL#<id>``   | ``LOG#<version>``   | version zero-padded to 10 digits             |
| member     | ``PL#<id>``   | ``MEMBER#<userId>`` | ``gsi1pk`` = ``USER#<userId>`` (``byMember``) |
| write turn | ``PL#<id>``   | ``TURN``            | ticket counters and the apply lease           |
| queued edit| ``PL#<id>``   | ``QUEUE#<ms>#<id>`` | an edit waiting to be applied (`groups`)     |
| invitation | ``PL#<id>``   | ``INVITE#<email>``  | ``gsi1pk`` = ``INVITEE#<email>`` (``byMember``) |

Every edit is one transaction over this partition: the playlist item's `version` goes up by one
under a condition on its previous value, the change is appended to the log, the track items it
touches are written. The playlist item also carries the last change (`lastOp`, `lastBy`, `lastAt`),
so the table's stream delivers every change, in version order, on the one item whose order the
stream guarantees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, LocalSecondaryIndex
from pynamodb.models import Model

from backbeat.tables import bind_models

META = "META"
TURN = "TURN"
QUEUE_PREFIX = "QUEUE#"
MAX_TRACKS = 10_000
PLAYLIST_PREFIX = "PL#"
ITEM_PREFIX = "ITEM#"


def playlist_key(playlist_id: str) -> str:
    return f"{PLAYLIST_PREFIX}{playlist_id}"


def playlist_id_of_key(key: str) -> str:
    return key.removeprefix(PLAYLIST_PREFIX)


def item_key(item_id: str) -> str:
    return f"{ITEM_PREFIX}{item_id}"


def item_id_of_key(key: str) -> str:
    return key.removeprefix(ITEM_PREFIX)


def log_key(version: int) -> str:
    return f"LOG#{version:010d}"


def member_key(user_id: str) -> str:
    return f"MEMBER#{user_id}"


def user_key(user_id: str) -> str:
    return f"USER#{user_id}"


def invitation_key(email: str) -> str:
    return f"INVITE#{email}"


def invitee_key(email: str) -> str:
    return f"INVITEE#{email}"


class ByPositionIndex(LocalSecondaryIndex["TrackItem"]):
    class Meta:
        index_name = "byPosition"
        projection = AllProjection()

    pk = UnicodeAttribute(hash_key=True)
    pos = UnicodeAttribute(range_key=True)


class ByMemberIndex(GlobalSecondaryIndex["MemberItem"]):
    class Meta:
        index_name = "byMember"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class ByInviteeIndex(GlobalSecondaryIndex["InvitationItem"]):
    class Meta:
        index_name = "byMember"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class PlaylistModel(Model):
    class Meta:
        table_name = "unbound"  # set by bind_playlists_table() at cold start

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class PlaylistItem(PlaylistModel):
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    is_public = BooleanAttribute(attr_name="isPublic", default=False)
    is_collaborative = BooleanAttribute(attr_name="isCollaborative", default=False)
    owner_id = UnicodeAttribute(attr_name="ownerId")
    collaborators = ListAttribute(of=UnicodeAttribute, default=list)  # type: ignore[var-annotated]
    version = NumberAttribute(default=0)
    track_count = NumberAttribute(attr_name="trackCount", default=0)
    deleted = BooleanAttribute(default=False)
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    last_op = JSONAttribute(attr_name="lastOp", null=True)  # type: ignore[var-annotated]
    last_by = UnicodeAttribute(attr_name="lastBy", null=True)
    last_at = UnicodeAttribute(attr_name="lastAt", null=True)
    # The request that made the last change (backbeat.observability): the fan-out logs under it and
    # puts it in the WebSocket message.
    last_correlation_id = UnicodeAttribute(attr_name="lastCorrelationId", null=True)
    # Every change of the last group commit (`backbeat.playlists.groups`), oldest first, each
    # {version, op, by, at, correlationId}: one stream record then carries several versions.
    last_changes = JSONAttribute(attr_name="lastChanges", null=True)  # type: ignore[var-annotated]

    @property
    def id(self) -> str:
        return playlist_id_of_key(self.pk)


class TrackItem(PlaylistModel):
    item_id = UnicodeAttribute(attr_name="itemId")
    song_id = UnicodeAttribute(attr_name="songId")
    added_by = UnicodeAttribute(attr_name="addedBy")
    added_at = UnicodeAttribute(attr_name="addedAt")
    pos = UnicodeAttribute()

    by_position = ByPositionIndex()

    def view(self) -> dict[str, Any]:
        return {"itemId": self.item_id, "songId": self.song_id, "addedBy": self.added_by, "addedAt": self.added_at}


class ChangeItem(PlaylistModel):
    version = NumberAttribute()
    op = JSONAttribute()  # type: ignore[var-annotated]
    by = UnicodeAttribute()
    at = UnicodeAttribute()
    correlation_id = UnicodeAttribute(attr_name="correlationId", null=True)


class MemberItem(PlaylistModel):
    user_id = UnicodeAttribute(attr_name="userId")
    role = UnicodeAttribute()  # owner | collaborator
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()

    by_member = ByMemberIndex()


class InvitationItem(PlaylistModel):
    """An invitation to collaborate, addressed to an email (whether or not it has an account)."""

    invitation_id = UnicodeAttribute(attr_name="invitationId")
    email = UnicodeAttribute()
    invited_by = UnicodeAttribute(attr_name="invitedBy")
    invited_at = UnicodeAttribute(attr_name="invitedAt")
    expires_at = NumberAttribute(attr_name="expiresAt")
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()

    by_invitee = ByInviteeIndex()


class TurnItem(PlaylistModel):
    """Whose turn it is to write the playlist: tickets drawn (`next`) and the one served now."""

    next_ticket = NumberAttribute(attr_name="next", null=True)
    serving = NumberAttribute(null=True)
    serving_since = NumberAttribute(attr_name="servingSince", null=True)
    # The apply lease of group commit (`backbeat.playlists.groups`): who applies queued edits, until when.
    holder = UnicodeAttribute(null=True)
    lease_until = NumberAttribute(attr_name="leaseUntil", null=True)
    group_ms = NumberAttribute(attr_name="groupMs", null=True)  # how long the last group commit took


class QueuedEdit(PlaylistModel):
    """An edit waiting in its playlist's queue; the lease holder applies it and writes `answer`."""

    request = JSONAttribute()  # type: ignore[var-annotated]  # {kind, args}
    by = UnicodeAttribute()
    if_version = NumberAttribute(attr_name="ifVersion", null=True)
    correlation_id = UnicodeAttribute(attr_name="correlationId", null=True)
    state = UnicodeAttribute()  # queued | done
    answer = JSONAttribute(null=True)  # type: ignore[var-annotated]  # {"ok": {...}} or {"error": {...}}


def playlist_id_of(item: Mapping[str, Any]) -> str | None:
    """The playlist's id when a plain item (`backbeat.plain`: a stream image, its keys) is a
    playlist's own item; None for its track items, log entries and members, and for other tables."""
    key = str(item.get("pk", ""))
    if key.startswith(PLAYLIST_PREFIX) and item.get("sk") == META:
        return playlist_id_of_key(key)
    return None


def playlist_from_image(image: dict[str, Any] | None) -> PlaylistItem | None:
    """A stream record's image (DynamoDB JSON) of a playlist's own item, else None."""
    if not image:
        return None
    playlist = PlaylistItem.from_raw_data(image)
    return playlist if playlist.pk.startswith(PLAYLIST_PREFIX) and playlist.sk == META else None


def bind_playlists_table(table_name: str) -> None:
    """Point every playlist model at the deployed table (called once at cold start)."""
    bind_models(
        table_name, PlaylistModel, PlaylistItem, TrackItem, ChangeItem, MemberItem, TurnItem, InvitationItem, QueuedEdit
    )
