"""Configuration is a validated model read once at cold start.

Each function declares the settings it needs as a subclass of `Settings`; a missing variable fails
at import (cold start), not on the thousandth request. The template-consistency test reads these
classes to check that `template.yaml` sets every variable a function reads.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)


class CatalogSettings(Settings):
    catalog_table: str


class UsersSettings(Settings):
    users_table: str


class IdentitySettings(UsersSettings):
    user_pool_id: str
    user_pool_client_id: str
    auto_confirm_signup: bool = False


class HealthSettings(CatalogSettings, UsersSettings):
    user_pool_id: str
    search_endpoint: str


class SearchEngineSettings(Settings):
    search_endpoint: str
    search_index_prefix: str = ""
    aws_region: str = "us-east-1"


class SearchSettings(SearchEngineSettings):
    taste_table: str


class SearchIndexerSettings(SearchEngineSettings):
    pass


class IdempotencySettings(Settings):
    """`idempotency_table` holds Powertools Idempotency records (backbeat.idempotency)."""

    idempotency_table: str


class PlaylistsSettings(CatalogSettings, UsersSettings, IdempotencySettings):
    playlists_table: str


class RealtimeSettings(Settings):
    """The WebSocket routes: `websocket_endpoint` is the stage's URL (``wss://<api>/<stage>``; the
    devstack's is ``ws://127.0.0.1:<port>/<stage>``), from which the @connections endpoint follows."""

    connections_table: str
    playlists_table: str
    websocket_endpoint: str


class FanoutSettings(Settings):
    connections_table: str
    websocket_endpoint: str
    fanout_threads: int = 16


class TranscodeSettings(Settings):
    """`ffmpeg_path` empty means imageio-ffmpeg's bundled binary (the devstack) or `ffmpeg` on PATH."""

    media_bucket: str
    ffmpeg_path: str = ""


class EncodeSettings(CatalogSettings, TranscodeSettings):
    """The encode state machine's steps; masters longer than `max_duration_seconds` are refused."""

    max_duration_seconds: float = 1200


class StreamSettings(CatalogSettings, UsersSettings):
    """`media_base_url` is where signed media is served (`https://<distribution>/media` in AWS, the
    devstack gateway's `/media` locally); URLs live `stream_url_ttl_seconds`, at least twice the song."""

    media_bucket: str
    media_base_url: str
    media_signing_secret_arn: str
    stream_url_ttl_seconds: int = 3 * 3600


class EventsSettings(CatalogSettings, UsersSettings):
    """POST /events/playback: events go to `playback_events_stream`; `event_ids_table` remembers the
    eventIds already put (for `event_retention_days` plus a margin). Events older than the retention or
    more than `max_clock_skew_seconds` ahead of the receive time are refused; `length_tolerance_ms` is
    how far playedMs/positionMs may run past the catalog length (see backbeat.plays.ingest)."""

    playback_events_stream: str
    event_ids_table: str
    event_retention_days: int = 30
    max_clock_skew_seconds: int = 300
    length_tolerance_ms: int = 2_000


class PlaysTableSettings(Settings):
    plays_table: str


class PlaysSettings(PlaysTableSettings):
    """The plays consumer and its verdict rules (docs/decisions.md, 30). A repeated billable play of
    one song by one listener starting within `dedupe_window_seconds` of the last counted one is a
    duplicate; an open play with no event for `abandon_after_minutes` is abandoned; play records
    expire `play_retention_days` after their last event (the event lake keeps them for good); a
    batch's listeners are written on `listener_threads` threads."""

    dedupe_window_seconds: int = 600
    abandon_after_minutes: int = 30
    max_concurrent_devices: int = 3
    short_run_length: int = 10
    regular_run_length: int = 10
    play_retention_days: int = 90
    listener_threads: int = 8


class ListeningSettings(CatalogSettings, PlaysTableSettings):
    """GET /me/recently-played: play records (plays table) with their songs' views (catalog table)."""


class CountersSettings(Settings):
    """The play records' stream -> hourly counters, listening now, monthly listeners and taste.
    A listener's artist and genre weights halve every `taste_half_life_days` (docs/decisions.md, 31)."""

    counters_table: str
    taste_table: str
    taste_half_life_days: float = 30.0


class ChartsSettings(CatalogSettings):
    """GET /charts/trending: the counters it ranks and the catalog it names the songs from."""

    counters_table: str


class CatalogApiSettings(CatalogSettings):
    """GET /songs, /albums, /artists: the artist view adds its live figures from the counters table."""

    counters_table: str


class LakePlaysSettings(Settings):
    """`plays_delivery_stream` is the Firehose delivery stream that writes plays/ in the lake."""

    plays_delivery_stream: str


class LakeAggregatesSettings(Settings):
    """The event lake: its bucket and Glue database, and what runs its SQL (`athena`, in the
    workgroup `lake_workgroup`, or `duckdb` over the same Parquet: the devstack)."""

    lake_bucket: str
    lake_database: str
    lake_workgroup: str
    lake_query_engine: str = "athena"


class RoyaltiesSettings(LakeAggregatesSettings):
    """The monthly royalties: their table and bucket, the lake they count plays in, and the terms:
    the pool is `royalty_pool_percent` % of each tier's revenue, the publishing right takes
    `royalty_publishing_percent` % of a song's money (the recording right the rest), a month closes
    `royalty_grace_days` days after its end (late events), amounts are in `royalty_currency`."""

    royalties_table: str
    royalties_bucket: str
    royalty_pool_percent: str = "70"
    royalty_publishing_percent: int = 20
    royalty_grace_days: int = 3
    royalty_currency: str = "USD"
