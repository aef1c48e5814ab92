"""Per-user taste profiles (DynamoDB): what a listener plays, used to personalise ranking.

The listening loop keeps them: every play that turns billable folds into its listener's profile
(`fold_billable_play`). A profile keeps a decayed play count per artist and per genre: each play adds
1, and every count halves per half-life (a setting), so a listener's taste follows what they play
now while a long-loved artist fades only slowly. The weights search reads are in [0, 1]:

    weight = score / (score + SATURATION)      (1 play: 0.33, 2: 0.5, 6: 0.75, 18: 0.9)

so one play already personalises a little and no artist can outweigh an exact title match
(backbeat.search.ranking). Plays folded out of order decay from their own time, so the order the
stream delivers them in does not change the result. Writes are conditional on the profile's
`version` (two concurrent updates cannot lose one) and idempotent per playId (a marker in the
counters table, written in the same transaction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError
from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.models import Model

from backbeat.aws import client
from backbeat.plain import from_image, plain
from backbeat.plays.counter_store import cancellation_codes, counters_table
from backbeat.plays.counters import MARKERS_KEPT, Play, parse_time
from backbeat.tables import bind_models

SATURATION = 2.0  # the decayed play count at which an artist's weight is one half
MAX_ARTISTS = 200  # the strongest scores kept (an item stays far below DynamoDB's 400 KB)
MAX_GENRES = 100
RECENT_PLAYS = 50
MAX_ATTEMPTS = 6

_SERIALIZER = TypeSerializer()


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


# ---------------------------------------------------------------- learning from plays


@dataclass(frozen=True)
class Listening:
    """The decayed play counts behind a profile, as of `decayed_at` (the latest play folded in)."""

    artist_scores: dict[str, float]
    genre_scores: dict[str, float]
    decayed_at: datetime | None
    recent_plays: tuple[dict[str, Any], ...]

    @classmethod
    def of_item(cls, item: dict[str, Any]) -> Listening:
        return cls(
            artist_scores={str(k): float(v) for k, v in (item.get("artistScores") or {}).items()},
            genre_scores={str(k): float(v) for k, v in (item.get("genreScores") or {}).items()},
            decayed_at=parse_time(str(item["decayedAt"])) if item.get("decayedAt") else None,
            recent_plays=tuple(item.get("recentPlays") or ()),
        )

    def folded(self, play: Play, half_life: timedelta) -> Listening:
        """This listening with one more play: every score decays to the later of the two times, the
        play adds its own weight decayed from its start (1 when it is the latest)."""
        reference = max(self.decayed_at or play.started_at, play.started_at)
        shrink = _decay(reference - self.decayed_at, half_life) if self.decayed_at else 1.0
        weight = _decay(reference - play.started_at, half_life)
        artists = {key: score * shrink for key, score in self.artist_scores.items()}
        genres = {key: score * shrink for key, score in self.genre_scores.items()}
        artists[play.artist_id] = artists.get(play.artist_id, 0.0) + weight
        for genre in dict.fromkeys(play.genres):
            genres[genre] = genres.get(genre, 0.0) + weight
        recent = {
            "playId": play.play_id,
            "songId": play.song_id,
            "artistId": play.artist_id,
            "startedAt": _iso(play.started_at),
        }
        plays = sorted((*self.recent_plays, recent), key=lambda entry: str(entry["startedAt"]), reverse=True)
        return Listening(
            _strongest(artists, MAX_ARTISTS), _strongest(genres, MAX_GENRES), reference, tuple(plays[:RECENT_PLAYS])
        )

    def weights(self) -> tuple[dict[str, float], dict[str, float]]:
        """Artist and genre weights in [0, 1], as search reads them."""
        return _saturate(self.artist_scores), _saturate(self.genre_scores)


def _decay(age: timedelta, half_life: timedelta) -> float:
    return float(0.5 ** (max(age, timedelta(0)) / half_life))


def _strongest(scores: dict[str, float], keep: int) -> dict[str, float]:
    ranked = sorted(scores.items(), key=lambda entry: entry[1], reverse=True)[:keep]
    return {key: round(score, 6) for key, score in ranked if score >= 1e-6}


def _saturate(scores: dict[str, float]) -> dict[str, float]:
    return {key: round(score / (score + SATURATION), 6) for key, score in scores.items()}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fold_billable_play(play: Play, half_life: timedelta) -> bool:
    """Fold a play that turned billable into its listener's profile, once per playId. True when it
    changed the profile, False when this play was folded in before."""
    dynamodb = client("dynamodb")
    table = TasteItem.Meta.table_name
    marker = {"pk": {"S": f"PLAY#{play.play_id}"}, "sk": {"S": "TASTE"}}
    marker_expires = {"N": str(int((play.started_at + MARKERS_KEPT).timestamp()))}
    for _ in range(MAX_ATTEMPTS):
        if dynamodb.get_item(TableName=counters_table(), Key=marker, ConsistentRead=True).get("Item"):
            return False
        answer = dynamodb.get_item(TableName=table, Key={"userId": {"S": play.user_id}}, ConsistentRead=True)
        item = from_image(answer.get("Item"))
        version = int(item.get("version", 0))
        listening = Listening.of_item(item).folded(play, half_life)
        artists, genres = listening.weights()
        updated = {
            **item,
            "userId": play.user_id,
            "artists": artists,
            "genres": genres,
            "artistScores": listening.artist_scores,
            "genreScores": listening.genre_scores,
            "decayedAt": _iso(listening.decayed_at or play.started_at),
            "recentPlays": list(listening.recent_plays),
            "version": version + 1,
        }
        if "playlistSongs" in updated:  # a string set: the plain reader gave a list back
            updated["playlistSongs"] = set(updated["playlistSongs"])
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": counters_table(),
                            "Item": {**marker, "expiresAt": marker_expires},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": table,
                            "Item": _serialize(updated),
                            "ConditionExpression": "attribute_not_exists(userId) OR version = :version",
                            "ExpressionAttributeValues": {":version": {"N": str(version)}},
                        }
                    },
                ]
            )
        except ClientError as error:
            codes = cancellation_codes(error)
            if not ({"ConditionalCheckFailed", "TransactionConflict"} & set(codes)):
                raise
            continue  # folded meanwhile, or another update won the version: read again
        return True
    raise RuntimeError(f"taste of {play.user_id} kept changing under {MAX_ATTEMPTS} attempts")


def _serialize(item: dict[str, Any]) -> dict[str, Any]:
    def numbers(value: Any) -> Any:
        if isinstance(value, float):
            return Decimal(str(value))
        if isinstance(value, dict):
            return {key: numbers(inner) for key, inner in value.items()}
        if isinstance(value, list):
            return [numbers(inner) for inner in value]
        return value

    return {key: _SERIALIZER.serialize(numbers(value)) for key, value in item.items()}
