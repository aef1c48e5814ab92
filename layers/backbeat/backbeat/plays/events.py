"""The playback event: what a client reports (`PlaybackEvent`) and what travels on the events
stream (`StreamedEvent`, the same event with what the service knows at receive time).

One module owns the shape so that the ingest function, the stream consumers, the lake and the
client SDK agree on it. Field names are the wire names (camelCase), as in the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

EventType = Literal["start", "progress", "pause", "resume", "seek", "skip", "end"]
ContextType = Literal["playlist", "album", "artist", "search", "recommendations", "discover-weekly", "radio"]
DeviceType = Literal["mobile", "desktop", "web", "tablet", "speaker", "car", "tv", "other"]
Tier = Literal["free", "premium"]

MAX_BATCH = 100
BILLABLE_MS = 30_000  # a play is billable from 30 s listened
DAY_MS = 24 * 3600 * 1000


class PlaybackContext(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: ContextType
    id: str | None = Field(default=None, min_length=1, max_length=64)
    # The recommendation model arm the song was recommended under (`variant.name` of the
    # recommendations answer, e.g. "challenger:2026-11-30"): the A/B report groups plays by it.
    variant: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:._~-]+$")


class PlaybackEvent(BaseModel):
    """One event of one play, as a client sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    eventId: UUID
    playId: UUID
    type: EventType
    songId: str = Field(min_length=22, max_length=22, pattern=r"^[0-9A-Za-z]{22}$")
    positionMs: int = Field(ge=0, le=DAY_MS)
    playedMs: int = Field(ge=0, le=DAY_MS)
    bitrateKbps: int = Field(ge=0, le=2_000)
    deviceId: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    deviceType: DeviceType
    context: PlaybackContext
    occurredAt: AwareDatetime


class StreamedEvent(PlaybackEvent):
    """An accepted event on the stream: the client's event plus the listener, their tier at receive
    time, the viewer country (ISO 3166 alpha-2, or "unknown"), the receive time and the song facts
    the consumers need (artist, length, genres) so that no consumer has to read the catalog."""

    userId: str = Field(min_length=1, max_length=128)
    tier: Tier
    country: str = Field(min_length=2, max_length=7)
    receivedAt: datetime
    artistId: str
    durationMs: int = Field(ge=0)
    genres: tuple[str, ...] = ()
    # The request that reported the event (backbeat.observability): its consumers log under it.
    correlationId: str | None = Field(default=None, max_length=100)

    def partition_key(self) -> str:
        """The stream's partition key: the listener, so that one listener's events arrive in order
        at one consumer (sessions, the dedupe window and the bot rules all read one listener's
        history); see docs/decisions.md."""
        return self.userId

    def to_record(self) -> bytes:
        return self.model_dump_json().encode("utf-8")

    @classmethod
    def from_record(cls, data: bytes | str) -> StreamedEvent:
        return cls.model_validate_json(data)
