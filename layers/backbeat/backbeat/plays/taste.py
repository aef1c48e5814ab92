"""Per-user taste profiles (DynamoDB): what a listener plays, used to personalise ranking.

The playback-events pipeline keeps them fresh; weights are in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from backbeat.plain import plain
from backbeat.tables import bind_models


class TasteItem(Model):
    class Meta:
        table_name = "unbound"  # set by bind_taste_table() at cold start

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    artists = MapAttribute(default=dict)  # type: ignore[var-annotated]  # artistId -> weight
    genres = MapAttribute(default=dict)  # type: ignore[var-annotated]  # genre -> weight
    playlist_songs = UnicodeSetAttribute(attr_name="playlistSongs", null=True)
    version = NumberAttribute(default=0)


def bind_taste_table(table_name: str) -> None:
    bind_models(table_name, TasteItem)


def _weights(raw: Any) -> dict[str, float]:
    values = plain(raw) or {}
    return {str(key): max(0.0, min(1.0, float(value))) for key, value in values.items()}


@dataclass(frozen=True)
class TasteProfile:
    artists: dict[str, float] = field(default_factory=dict)
    genres: dict[str, float] = field(default_factory=dict)
    playlist_songs: frozenset[str] = frozenset()

    @property
    def is_empty(self) -> bool:
        return not (self.artists or self.genres or self.playlist_songs)


def load_profile(user_id: str) -> TasteProfile:
    try:
        item = TasteItem.get(user_id)
    except DoesNotExist:
        return TasteProfile()
    return TasteProfile(
        artists=_weights(item.artists),
        genres=_weights(item.genres),
        playlist_songs=frozenset(item.playlist_songs or ()),
    )


def save_profile(user_id: str, profile: TasteProfile) -> None:
    TasteItem(
        user_id=user_id,
        artists=profile.artists,
        genres=profile.genres,
        playlist_songs=set(profile.playlist_songs) or None,
    ).save()
