"""Configuration is a validated model read once at cold start.

Each function declares the settings it needs as a subclass of `Settings`; a missing variable fails
at import (cold start), not on the thousandth request. The template-consistency test reads these
classes to check that `template.yaml` sets every variable a function reads.
"""

from __future__ import annotations

from pydantic import Field
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
    # The search API's whole wait for the engine, per search (no retries; a search's typo pass shares
    # it): a slower engine is a 503 with Retry-After, never a hang (`SEARCH_TIMEOUT_SECONDS`).
    search_timeout_seconds: float = 2.0


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
    devstack gateway's `/media` locally); URLs live as long as the song plus `stream_url_margin_seconds`
    (a player asks for the manifest again once they have expired)."""

    media_bucket: str
    media_base_url: str
    media_signing_secret_arn: str
    stream_url_margin_seconds: int = Field(default=600, ge=60, le=3 * 3600)


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


class DownloadsSettings(CatalogSettings, UsersSettings, IdempotencySettings):
    """/me/devices and /downloads: the downloads table, the preparation queue, and what signing the
    prepared files' URLs needs (the same key and base URL as streaming)."""

    downloads_table: str
    downloads_queue_url: str
    playlists_table: str
    media_bucket: str
    offline_bucket: str
    media_base_url: str
    media_signing_secret_arn: str
    download_url_ttl_seconds: int = 6 * 3600


class DownloadWorkerSettings(CatalogSettings):
    """The downloads queue -> encrypted renditions (backbeat.downloads.preparation). Renditions are
    read from `media_bucket` and written encrypted to `offline_bucket`, their content keys wrapped by
    the KMS key `offline_master_key_arn` into `content_keys_table`. A job still failing on its
    `max_receive_count`-th delivery (the queue's redrive limit) marks its download failed."""

    downloads_table: str
    content_keys_table: str
    media_bucket: str
    offline_bucket: str
    offline_master_key_arn: str
    max_receive_count: int = 5


class LicensesSettings(UsersSettings):
    """POST /licenses, GET /licenses/public-key: licenses signed by the KMS key
    `license_signing_key_arn` (ECC P-256), valid `license_days`, carrying content keys unwrapped
    from `offline_master_key_arn` and wrapped again for the device."""

    downloads_table: str
    content_keys_table: str
    license_signing_key_arn: str
    offline_master_key_arn: str
    license_days: int = 30


class ArtistAnalyticsSettings(CatalogSettings):
    """GET /artists/{id}/analytics and /artists/{id}/statements (docs/decisions.md, 35): who may read
    them (`artist_accounts_table`, and the token's groups), the lake's daily aggregates (run by
    `lake_query_engine` as for the daily job; Athena writes its results under `lake_bucket`), the
    royalties table's run summaries and statements (their CSVs in `royalties_bucket`), the playlists'
    change log. Statement download links live `statement_link_seconds`."""

    artist_accounts_table: str
    playlists_table: str
    royalties_table: str
    royalties_bucket: str
    lake_bucket: str
    lake_database: str
    lake_workgroup: str
    lake_query_engine: str = "athena"
    statement_link_seconds: int = 900
    royalties_currency: str = "USD"


class RecsServingSettings(CatalogSettings, PlaysTableSettings):
    """Recommendations at request time and Discover Weekly (docs/decisions.md, 37): the tables the
    listener's history, taste, trending and playlists come from; the source weights; the deadline
    every candidate source answers under; how old a model may be before serving falls back to
    trending; the share of listeners the challenger model gets when the registry holds one."""

    counters_table: str
    taste_table: str
    playlists_table: str
    discover_weekly_table: str
    recs_weights: str = "collaborative=40,content=30,tags=15,trending=10,exploration=5"
    recs_source_timeout_ms: int = 150
    recs_model_max_age_days: float = 14.0
    recs_challenger_share: float = 0.5


class DiscoverWeeklyListenersSettings(LakeAggregatesSettings):
    """The Monday job's first step: listeners with a play in the last `active_days` (from the event
    lake), in batches of `batch_size`, written to `manifests_bucket` for the distributed map."""

    manifests_bucket: str
    active_days: int = 28
    batch_size: int = 25


class RecsModelSettings(Settings):
    """Where trained recommendation models live: their artefacts (S3) and the registry (DynamoDB)."""

    recs_models_bucket: str
    recs_registry_table: str


class RecsExportSettings(LakeAggregatesSettings):
    """The training workflow's export step: the lake's plays -> training/<run>/ in the models bucket."""

    recs_models_bucket: str


class RecsTrainingSettings(RecsModelSettings, CatalogSettings):
    """The training step (in-process in the devstack, a SageMaker Processing job in AWS)."""


class RecsPromoteSettings(RecsModelSettings):
    """The training workflow's last step: promote the new version if the run says so."""


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


class RateLimitSettings(Settings):
    """Per-caller request limits (backbeat.ratelimit; docs/decisions.md, 41), read by every API
    function at cold start. Counters live in `rate_limits_table`. Each route class's limit is
    ``"<requests>/<seconds>"``: at most that many requests of one caller in each fixed window of that
    many seconds (`RATE_LIMIT_SEARCH=300/60`); the sustained rate is their quotient and the window's
    allowance is the burst. Authenticated routes are counted per user (the token's `sub`), signup per
    source IP, WebSocket messages per connection. `rate_limit_enabled=false` switches every counter
    off (an operator's escape hatch; the template never sets it)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False, env_prefix="")

    rate_limits_table: str
    rate_limit_enabled: bool = True
    rate_limit_search: str = "600/60"
    rate_limit_suggest: str = "1200/60"
    rate_limit_events: str = "300/60"
    rate_limit_playlist_edits: str = "300/60"
    rate_limit_default: str = "600/60"
    rate_limit_signup: str = "1000/3600"
    rate_limit_socket_messages: str = "120/60"
    # Login: failed attempts (plus attempts in flight) allowed per account and per source IP in one
    # window; once reached, logins for that account (or from that IP) answer 429 until it ends.
    login_failures_per_account: int = 10
    login_failures_per_ip: int = 500
    login_failure_window_seconds: int = 900


class PlaylistEditSettings(Settings):
    """How a playlist's concurrent edits meet: `group` (decision 51, the default) group-commits
    queued track edits; `turns` (decision 42) commits one edit per numbered turn; `optimistic`
    retries lost races with backoff alone. The benchmark measures them against each other in one
    run. `PLAYLIST_EDIT_TURNS=false` (the older switch) still means `optimistic`."""

    playlist_edit_mode: str = Field(default="group", pattern="^(group|turns|optimistic)$")
    playlist_edit_turns: bool = True

    @property
    def edit_mode(self) -> str:
        return self.playlist_edit_mode if self.playlist_edit_turns else "optimistic"
