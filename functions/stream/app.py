"""Streaming API: POST /stream/{songId} -> StreamManifest (JWT).

The signing key is read from Secrets Manager once per cold start; the playlists the manifest reads
are cached for the container's life (they never change once encoded).
"""

from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from backbeat.catalog.models import bind_catalog_table
from backbeat.config import StreamSettings
from backbeat.http import caller_id, create_resolver
from backbeat.identity.models import bind_users_table
from backbeat.media import manifest, signing
from backbeat.observability import HTTP_API, count, lambda_entry, tracer

settings = StreamSettings()
bind_catalog_table(settings.catalog_table)
bind_users_table(settings.users_table)
SECRET = signing.load_secret(settings.media_signing_secret_arn)
store = manifest.MediaStore(settings.media_bucket)
app = create_resolver()


class StreamRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quality: Literal["low", "normal", "high", "very_high"]


@app.post("/stream/<song_id>")
@tracer.capture_method
def stream(song_id: str, body: StreamRequest) -> dict[str, Any]:
    answer = manifest.build_manifest(
        song_id=song_id,
        user_id=caller_id(app),
        quality=body.quality,
        store=store,
        secret=SECRET,
        base_url=settings.media_base_url,
        margin_seconds=settings.stream_url_margin_seconds,
    )
    count("StreamManifests")
    return answer


@lambda_entry(HTTP_API)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
