"""Listening history: GET /me/recently-played (JWT)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.catalog.models import bind_catalog_table
from backbeat.catalog.service import song_views
from backbeat.config import ListeningSettings
from backbeat.http import caller_id, create_resolver
from backbeat.observability import HTTP_API, lambda_entry, tracer
from backbeat.plays.history import MAX_LIMIT, recently_played

settings = ListeningSettings()
bind_catalog_table(settings.catalog_table)
app = create_resolver()


@app.get("/me/recently-played")
@tracer.capture_method
def get_recently_played(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    before: Annotated[str | None, Query(min_length=1, max_length=512)] = None,
) -> dict[str, Any]:
    return recently_played(settings.plays_table, caller_id(app), limit, before, song_views)


@lambda_entry(HTTP_API)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
