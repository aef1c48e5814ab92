"""Catalog API: GET /songs/{id}, /albums/{id}, /artists/{id} (JWT)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.catalog import service
from backbeat.catalog.models import bind_catalog_table
from backbeat.config import CatalogSettings
from backbeat.http import create_resolver
from backbeat.observability import logger, metrics, tracer

settings = CatalogSettings()
bind_catalog_table(settings.catalog_table)
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


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
