"""Artist analytics API: GET /artists/{id}/analytics and GET /artists/{id}/statements (JWT; the
artist's linked accounts and operators only)."""

import threading
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

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


class Day(BaseModel):
    day: str = Field(description="YYYY-MM-DD (UTC): plays count on the day they started")
    plays: int
    billablePlays: int
    listeners: int = Field(description="Distinct listeners that day")
    playlistAdditions: int = Field(description="The artist's songs added to playlists that day")


class Totals(BaseModel):
    plays: int
    billablePlays: int
    peakDailyListeners: int = Field(description="The busiest day's distinct listeners")
    playlistAdditions: int


class CountryPlays(BaseModel):
    country: str
    plays: int
    billablePlays: int


class DeviceTypePlays(BaseModel):
    deviceType: str
    plays: int
    billablePlays: int


class TierPlays(BaseModel):
    tier: str
    plays: int
    billablePlays: int


class TopSong(BaseModel):
    songId: str
    title: str | None = Field(description="None when the song has left the catalog")
    plays: int
    billablePlays: int


class RevenueBasis(BaseModel):
    month: str = Field(description="The royalty run whose per-stream rates price the plays (YYYY-MM)")
    model: str
    provisional: bool


class TierRevenue(BaseModel):
    tier: str
    billablePlays: int
    perStreamRate: str = Field(description="Decimal string")
    amount: str = Field(description="Decimal string, to the cent")


class EstimatedRevenue(BaseModel):
    amount: str | None = Field(description="Decimal string, before splits; None before the first royalty run")
    currency: str
    basis: RevenueBasis | None
    byTier: list[TierRevenue]


class Statement(BaseModel):
    month: str | None
    model: str | None
    provisional: bool
    amount: str = Field(description="Decimal string: what the statement pays")
    currency: str | None
    lines: int | None
    createdAt: str | None
    downloadUrl: str | None = Field(description="Presigned GET of the statement's CSV")
    expiresIn: int = Field(description="Seconds the download link stays valid")


class ArtistAnalytics(BaseModel):
    artistId: str
    name: str
    from_: str = Field(alias="from")
    to: str
    totals: Totals
    daily: list[Day]
    countries: list[CountryPlays]
    deviceTypes: list[DeviceTypePlays]
    tiers: list[TierPlays]
    topSongs: list[TopSong]
    estimatedRevenue: EstimatedRevenue
    lastStatement: Statement | None


class ArtistStatements(BaseModel):
    artistId: str
    name: str
    items: list[Statement] = Field(description="Newest month first")
    total: int


FORBIDDEN = {"description": "Only the artist's linked accounts and operators may read this"}


def _answers(model: type[BaseModel], description: str) -> dict[int, Any]:
    """The route's documented answers: `responses` replaces Powertools' default 200, so it is named too."""
    return {200: {"description": description, "content": {"application/json": {"model": model}}}, 403: FORBIDDEN}


ArtistId = Annotated[str, Path(min_length=1, max_length=64, description="A catalog artist id")]


def _authorized_artist(artist_id: str) -> str:
    """The artist's name once the caller may read it: 403 before 404, so that a stranger learns nothing."""
    claims = app.current_event.request_context.authorizer.jwt_claim or {}
    artists.require_reader(artist_id, caller_id(app), claims)
    return artists.artist_name(artist_id)


ANALYTICS = "An artist's daily figures, breakdowns, top songs and estimated revenue"
STATEMENTS = "An artist's royalty statements, newest first, with download links"


@app.get("/artists/<artist_id>/analytics", summary=ANALYTICS, responses=_answers(ArtistAnalytics, ANALYTICS))
@tracer.capture_method
def get_analytics(
    artist_id: ArtistId,
    from_: Annotated[str | None, Query(alias="from", description="First day, YYYY-MM-DD (UTC)")] = None,
    to: Annotated[str | None, Query(description="Last day, inclusive, YYYY-MM-DD (UTC); default yesterday")] = None,
) -> ArtistAnalytics:
    name = _authorized_artist(artist_id)
    days = analytics.day_range(from_, to, today=datetime.now(UTC).date())
    with _engine_lock:
        figures = analytics.artist_analytics(sources, artist_id, name, days)
    return ArtistAnalytics.model_validate(figures)


@app.get("/artists/<artist_id>/statements", summary=STATEMENTS, responses=_answers(ArtistStatements, STATEMENTS))
@tracer.capture_method
def get_statements(artist_id: ArtistId) -> ArtistStatements:
    name = _authorized_artist(artist_id)
    items = analytics.statements(
        settings.royalties_table, settings.royalties_bucket, artist_id, settings.statement_link_seconds
    )
    return ArtistStatements.model_validate({"artistId": artist_id, "name": name, "items": items, "total": len(items)})


@lambda_entry(HTTP_API)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
