"""Playback events API (JWT): POST /events/playback -> the playback events stream.

A batch of up to 100 events; each is judged on its own and answered in order (accepted, duplicate,
rejected with the field and the reason, or retry), with 202. See backbeat.plays.ingest.
"""

from datetime import timedelta
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from backbeat.catalog.models import bind_catalog_table
from backbeat.catalog.service import song_facts
from backbeat.config import EventsSettings
from backbeat.http import caller_id, create_resolver
from backbeat.identity.models import bind_users_table
from backbeat.observability import HTTP_API, count, lambda_entry, tracer
from backbeat.plays import ingest
from backbeat.plays.events import MAX_BATCH

settings = EventsSettings()
bind_catalog_table(settings.catalog_table)
bind_users_table(settings.users_table)
rules = ingest.IngestRules(
    retention=timedelta(days=settings.event_retention_days),
    max_ahead=timedelta(seconds=settings.max_clock_skew_seconds),
    length_tolerance_ms=settings.length_tolerance_ms,
)
markers = ingest.EventIdMarkers(settings.event_ids_table)
stream = ingest.PlaybackStream(settings.playback_events_stream)
app = create_resolver()


class PlaybackBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Items are validated one by one (backbeat.plays.events.PlaybackEvent), so that one malformed event
    # is answered `rejected` without rejecting its neighbours.
    events: Annotated[
        list[Any],
        Field(
            min_length=1,
            max_length=MAX_BATCH,
            description="1 to 100 playback events: eventId, playId, type, songId, positionMs, playedMs, "
            "bitrateKbps, deviceId, deviceType, context {type, id?}, occurredAt",
        ),
    ]


class EventResult(BaseModel):
    eventId: str | None = Field(description="The event's id as sent (null when it could not be read)")
    status: str = Field(description="accepted | duplicate | rejected | retry (send it again)")
    field: str | None = Field(default=None, description="For a rejected event: the field to blame")
    reason: str | None = Field(default=None, description="For a rejected event: why")


class PlaybackBatchAnswer(BaseModel):
    results: list[EventResult]
    accepted: int
    duplicates: int
    rejected: int
    retry: int


ANSWERED: dict[int, Any] = {
    202: {
        "description": "A result per event, in the order sent",
        "content": {content_types.APPLICATION_JSON: {"model": PlaybackBatchAnswer}},
    }
}


@app.post("/events/playback", status_code=202, responses=ANSWERED)
@tracer.capture_method
def report_playback(body: PlaybackBatch) -> Response[dict[str, Any]]:
    user_id = caller_id(app)
    listener = ingest.Listener(
        user_id=user_id,
        tier=ingest.listener_tier(user_id),
        country=ingest.viewer_country(app.current_event.headers),
    )
    answer = ingest.ingest(
        body.events, listener, rules=rules, markers=markers, stream=stream, song_facts=song_facts
    ).as_dict()
    for metric, key in (
        ("PlaybackEventsAccepted", "accepted"),
        ("PlaybackEventsDuplicate", "duplicates"),
        ("PlaybackEventsRejected", "rejected"),
        ("PlaybackEventsRetry", "retry"),
    ):
        if answer[key]:
            count(metric, answer[key])
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=answer)


@lambda_entry(HTTP_API)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
