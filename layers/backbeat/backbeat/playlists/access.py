"""Who may read and who may edit a playlist: the one place these rules live (the HTTP API and the
WebSocket fan-out both ask here)."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from backbeat.errors import Forbidden, NotFound
from backbeat.ids import is_valid_id
from backbeat.playlists.models import META, PlaylistItem, playlist_key


def may_read(playlist: PlaylistItem | None, user_id: str) -> bool:
    """A live playlist is readable by anyone when public, else by its owner and collaborators."""
    if playlist is None or playlist.deleted:
        return False
    return bool(playlist.is_public) or user_id == playlist.owner_id or user_id in (playlist.collaborators or [])


def may_edit(playlist: PlaylistItem, user_id: str) -> bool:
    if user_id == playlist.owner_id:
        return True
    return bool(playlist.is_collaborative) and user_id in (playlist.collaborators or [])


def load(playlist_id: str) -> PlaylistItem:
    if not is_valid_id(playlist_id):
        raise NotFound(f"playlist {playlist_id!r} not found")
    try:
        playlist = PlaylistItem.get(playlist_key(playlist_id), META, consistent_read=True)
    except DoesNotExist:
        raise NotFound(f"playlist {playlist_id!r} not found") from None
    if playlist.deleted:
        raise NotFound(f"playlist {playlist_id!r} not found")
    return playlist


def load_readable(playlist_id: str, user_id: str) -> PlaylistItem:
    """A private playlist is invisible (404) to anyone but its owner and collaborators."""
    playlist = load(playlist_id)
    if not may_read(playlist, user_id):
        raise NotFound(f"playlist {playlist_id!r} not found")
    return playlist


def check_edit(playlist: PlaylistItem, user_id: str) -> None:
    if not may_read(playlist, user_id):
        raise NotFound(f"playlist {playlist.id!r} not found")
    if not may_edit(playlist, user_id):
        raise Forbidden("only the owner and the collaborators of a collaborative playlist edit it")


def check_owner(playlist: PlaylistItem, user_id: str) -> None:
    if not may_read(playlist, user_id):
        raise NotFound(f"playlist {playlist.id!r} not found")
    if user_id != playlist.owner_id:
        raise Forbidden("only the owner of the playlist may do this")
