"""The `encode` state machine's own steps: probe, loudness, register and mark-failed.

One function serves the four (the step is in the state's Parameters) because they share the same
permissions, dependencies and cold start; the transcode step is separate (MediaConvert in AWS).
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.catalog.models import bind_catalog_table
from backbeat.config import EncodeSettings
from backbeat.media import ffmpeg, pipeline
from backbeat.observability import count, lambda_entry, logger

settings = EncodeSettings()
bind_catalog_table(settings.catalog_table)
FFMPEG = ffmpeg.ffmpeg_exe(settings.ffmpeg_path)


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = event.get("step")
    logger.append_keys(step=step, key=event.get("key"))
    if step == "probe":
        return pipeline.start_and_probe(event["bucket"], event["key"], FFMPEG, settings.max_duration_seconds)
    if step == "loudness":
        return pipeline.loudness(event["bucket"], event["key"], FFMPEG)
    if step == "register":
        result = pipeline.register(event["songId"], settings.media_bucket, event["probe"], event["loudness"])
        count("SongsEncoded")
        return result
    if step == "markFailed":
        result = pipeline.mark_failed(event["key"], event.get("error") or {})
        logger.warning("encoding failed", extra={"reason": result["reason"]})
        count("SongsFailed")
        return result
    raise ValueError(f"unknown step {step!r}")
