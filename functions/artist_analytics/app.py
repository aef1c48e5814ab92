"""Artist analytics API: GET /artists/{id}/analytics and GET /artists/{id}/statements (JWT; the
artist's linked accounts and operators only)."""

import threading
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.catalog.models import bind_catalog_table
from backbeat.config import ArtistAnalyticsSettings
from backbeat.http import caller_id, create_resolver
from backbeat.observability import HTTP_API, lambda_entry, tracer
from backbeat.royalties import analytics, artists

settings = ArtistAnalyticsSettings()
bind_catalog_table(settings.catalog_table)
artists.bind_artist_accounts_table(settings.artist_accounts_table)
sources = analytics.Sources(
    engine=analytics.aggregates_engine(settings.lake_query_engine, settings.lake_database, settings.lake_workgroup),
    playlists_table=settings.playlists_table,
    royalties_table=settings.royalties_table,
    royalties_bucket=settings.royalties_bucket,
    currency=settings.royalties_currency,
    link_seconds=settings.statement_link_seconds,
)
_engine_lock = threading.Lock()  # one query at a time on the environment's engine (DuckDB's connection)
app = create_resolver()

READERS_ONLY = {403: {"description": "Only the artist's linked accounts and operators may read this"}}
ArtistId = Annotated[str, Path(min_length=1, max_length=64, description="A catalog artist id")]


def _authorized_artist(artist_id: str) -> str:
    """The artist's name once the caller may read it: 403 before 404, so that a stranger learns nothing."""
    claims = app.current_event.request_context.authorizer.jwt_claim or {}
    artists.require_reader(artist_id, caller_id(app), claims)
    return artists.artist_name(artist_id)


@app.get(
    "/artists/<artist_id>/analytics",
    summary="An artist's daily figures, breakdowns, top songs and estimated revenue",
    responses=READERS_ONLY,
)
@tracer.capture_method
def get_analytics(
    artist_id: ArtistId,
    from_: Annotated[str | None, Query(alias="from", description="First day, YYYY-MM-DD (UTC)")] = None,
    to: Annotated[str | None, Query(description="Last day, inclusive, YYYY-MM-DD (UTC); default yesterday")] = None,
) -> dict[str, Any]:
    name = _authorized_artist(artist_id)
    days = analytics.day_range(from_, to, today=datetime.now(UTC).date())
    with _engine_lock:
        return analytics.artist_analytics(sources, artist_id, name, days)


@app.get(
    "/artists/<artist_id>/statements",
    summary="An artist's royalty statements, newest first, with download links",
    responses=READERS_ONLY,
)
@tracer.capture_method
def get_statements(artist_id: ArtistId) -> dict[str, Any]:
    name = _authorized_artist(artist_id)
    items = analytics.statements(
        settings.royalties_table, settings.royalties_bucket, artist_id, settings.statement_link_seconds
    )
    return {"artistId": artist_id, "name": name, "items": items, "total": len(items)}


@lambda_entry(HTTP_API)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
