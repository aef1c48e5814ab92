"""Recommendations API (JWT): GET /recommendations (seeded), GET /me/recommendations (home feed),
GET /me/discover-weekly (the caller's Discover Weekly playlist, made on first ask)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.config import RecsServingSettings
from backbeat.http import caller_id, create_resolver
from backbeat.observability import HTTP_API, count, lambda_entry, tracer
from backbeat.plays.events import DeviceType
from backbeat.recs.backend import recommender_for, songs_played
from backbeat.recs.discover import bind_discover_weekly_table, discover_weekly_view, generate_weekly
from backbeat.recs.serving import MAX_LIMIT, RecsRequest, Seeds, answer_view, local_hour_of, parse_seeds

settings = RecsServingSettings()
recommender, backend = recommender_for(settings)
bind_discover_weekly_table(settings.discover_weekly_table)
app = create_resolver()

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many songs (1-100)")]
LocalTime = Annotated[
    str | None,
    Query(
        alias="localTime",
        max_length=40,
        description="The client's local date-time, ISO 8601 with its offset (e.g. 2026-12-03T07:45:00+01:00): "
        "high-energy songs rise in the morning, mellow ones at night.",
    ),
]
TimeZone = Annotated[
    str | None, Query(max_length=64, description="The client's IANA time zone (e.g. Europe/Paris), when no localTime")
]
Device = Annotated[DeviceType | None, Query(alias="deviceType", description="The device asking (car, mobile, ...)")]
LocalTimeHeader = Annotated[str | None, Header(alias="x-local-time", max_length=40, description="As localTime")]
TimeZoneHeader = Annotated[str | None, Header(alias="x-time-zone", max_length=64, description="As tz")]
DeviceHeader = Annotated[DeviceType | None, Header(alias="x-device-type", description="As deviceType")]


def _recommend(seeds: Seeds, limit: int, local_time: str | None, tz: str | None, device: str | None) -> dict[str, Any]:
    request = RecsRequest(caller_id(app), limit, seeds, local_hour_of(local_time, tz), device)
    answer = recommender.recommend(request)
    count("RecommendationsFallback" if answer.fallback else "RecommendationsServed")
    views = backend.views([entry.song_id for entry in answer.ranked])
    return answer_view(answer, views, limit)


@app.get("/recommendations")
@tracer.capture_method
def get_recommendations(
    seed: Annotated[
        str,
        Query(
            min_length=1,
            max_length=400,
            description="1 to 5 seeds, comma-separated: track:ID, artist:ID or genre:NAME",
        ),
    ],
    limit: Limit = 20,
    local_time: LocalTime = None,
    tz: TimeZone = None,
    device_type: Device = None,
    x_local_time: LocalTimeHeader = None,
    x_time_zone: TimeZoneHeader = None,
    x_device_type: DeviceHeader = None,
) -> dict[str, Any]:
    return _recommend(
        parse_seeds(seed), limit, local_time or x_local_time, tz or x_time_zone, device_type or x_device_type
    )


@app.get("/me/recommendations")
@tracer.capture_method
def get_home_feed(
    limit: Limit = 20,
    local_time: LocalTime = None,
    tz: TimeZone = None,
    device_type: Device = None,
    x_local_time: LocalTimeHeader = None,
    x_time_zone: TimeZoneHeader = None,
    x_device_type: DeviceHeader = None,
) -> dict[str, Any]:
    return _recommend(Seeds(), limit, local_time or x_local_time, tz or x_time_zone, device_type or x_device_type)


@app.get("/me/discover-weekly")
@tracer.capture_method
def get_discover_weekly() -> dict[str, Any]:
    user_id = caller_id(app)
    weekly = generate_weekly(
        user_id, recommender.recommend, backend.traits, lambda user: songs_played(settings.plays_table, user)
    )
    return discover_weekly_view(weekly, user_id, backend.views)


@lambda_entry(HTTP_API)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
