"""Search API: GET /search and GET /search/suggest (JWT)."""

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.config import SearchSettings
from backbeat.errors import InvalidInput
from backbeat.http import caller_id, create_resolver
from backbeat.observability import HTTP_API, lambda_entry, tracer
from backbeat.plays.taste import bind_taste_table, load_profile
from backbeat.search import service
from backbeat.search.engine import ENTITY_TYPES, connect

settings = SearchSettings()
bind_taste_table(settings.taste_table)
index = service.SearchIndex(
    connect(settings.search_endpoint, settings.aws_region, timeout=settings.search_timeout_seconds, max_retries=0),
    settings.search_index_prefix,
    wait_seconds=settings.search_timeout_seconds,  # per search, both passes together
)
suggestions = service.TtlCache(ttl_seconds=60)
tastes = service.TtlCache(ttl_seconds=30, max_entries=4096)  # a listener's searches in a row read it once
profiles = ThreadPoolExecutor(max_workers=2, thread_name_prefix="taste")
app = create_resolver()

SearchText = Annotated[str, Query(min_length=1, max_length=200)]


def _types(raw: str | None) -> list[str]:
    if raw is None or not raw.strip():
        return list(ENTITY_TYPES)
    types = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = sorted(set(types) - set(ENTITY_TYPES))
    if unknown or not types:
        raise InvalidInput(
            f"type: unknown type {', '.join(unknown)}; use a comma list of {','.join(ENTITY_TYPES)}", "type"
        )
    return list(dict.fromkeys(types))


def _text(q: str) -> str:
    text = q.strip()
    if not text:
        raise InvalidInput("q: must not be blank", "q")
    return text


@app.get("/search")
@tracer.capture_method
def search(
    q: SearchText,
    type: Annotated[str | None, Query(max_length=100)] = None,  # the API's parameter name
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
    offset: Annotated[int, Query(ge=0, le=950)] = 0,
) -> Response[dict[str, Any]]:
    text, types = _text(q), _types(type)
    started = time.perf_counter()
    user_id = caller_id(app)
    profile_future = profiles.submit(tastes.get_or_compute, user_id, lambda: load_profile(user_id))
    timings: dict[str, float] = {}
    try:
        # the taste profile is read while the engine searches; only the re-ranking waits for it
        body = service.search(index, text, types, limit, offset, profile_future.result, timings)
    finally:
        profile_future.cancel()
    return _json(body, _server_timing(timings, started))


def _server_timing(timings: dict[str, float], started: float) -> str:
    """`Server-Timing` for operators and benchmarks: the engine's time, the round trip to it, the total."""
    total = (time.perf_counter() - started) * 1000
    parts = [f"{name};dur={value:.1f}" for name, value in timings.items()]
    return ", ".join([*parts, f"total;dur={total:.1f}"])


def _json(body: dict[str, Any], server_timing: str, **headers: str) -> Response[dict[str, Any]]:
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers={"Server-Timing": server_timing, **headers},
    )


@app.get("/search/suggest")
@tracer.capture_method
def suggest(q: SearchText, limit: Annotated[int, Query(ge=1, le=20)] = 10) -> Response[dict[str, Any]]:
    text = _text(q)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    body = suggestions.get_or_compute((text.casefold(), limit), lambda: service.suggest(index, text, limit, timings))
    return _json(body, _server_timing(timings, started), **{"Cache-Control": "private, max-age=60"})


@lambda_entry(HTTP_API)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
