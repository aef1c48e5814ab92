"""Catalog API: GET /songs/{id}, /albums/{id}, /artists/{id} (JWT)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.catalog import service
from backbeat.catalog.models import bind_catalog_table
from backbeat.config import CatalogApiSettings
from backbeat.http import create_resolver
from backbeat.observability import HTTP_API, lambda_entry, tracer
from backbeat.plays.counter_store import bind_counters_table

settings = CatalogApiSettings()
bind_catalog_table(settings.catalog_table)
bind_counters_table(settings.counters_table)
app = create_resolver()


@app.get("/songs/<song_id>")
@tracer.capture_method
def get_song(song_id: str) -> dict[str, Any]:
    return service.get_song(song_id)


@app.get("/albums/<album_id>")
@tracer.capture_method
def get_album(album_id: str) -> dict[str, Any]:
    return service.get_album(album_id)


@app.get("/artists/<artist_id>")
@tracer.capture_method
def get_artist(
    artist_id: str,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> dict[str, Any]:
    return service.get_artist(artist_id, limit=limit, offset=offset)


@lambda_entry(HTTP_API)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
