"""The transcode step where MediaConvert is not available (the devstack): ffmpeg, given the same
CreateJob request the state machine sends MediaConvert, writes the same HLS/CMAF layout."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.config import TranscodeSettings
from backbeat.media import ffmpeg, pipeline
from backbeat.observability import lambda_entry

settings = TranscodeSettings()
FFMPEG = ffmpeg.ffmpeg_exe(settings.ffmpeg_path)


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    destination = event["Settings"]["OutputGroups"][0]["OutputGroupSettings"]["CmafGroupSettings"]["Destination"]
    if not str(destination).startswith(f"s3://{settings.media_bucket}/"):
        raise ValueError(f"refusing to write outside the media bucket: {destination}")
    return pipeline.run_transcode_job(event, FFMPEG)
