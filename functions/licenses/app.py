"""Offline licenses: POST /licenses {deviceId, songIds} -> a signed license bound to the caller's
device (premium only), GET /licenses/public-key -> the key clients verify licenses with."""

from typing import Annotated, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backbeat.aws import client
from backbeat.config import LicensesSettings
from backbeat.downloads.keys import bind_content_keys_table
from backbeat.downloads.licenses import MAX_SONGS_PER_LICENSE, Licensor
from backbeat.http import caller_id, create_resolver
from backbeat.identity.models import bind_users_table
from backbeat.observability import HTTP_API, count, lambda_entry, tracer

settings = LicensesSettings()
bind_users_table(settings.users_table)
bind_content_keys_table(settings.content_keys_table)
licensor = Licensor(
    dynamodb=client("dynamodb"),
    kms=client("kms"),
    downloads_table=settings.downloads_table,
    signing_key_arn=settings.license_signing_key_arn,
    master_key_arn=settings.offline_master_key_arn,
    valid_days=settings.license_days,
)
app = create_resolver()

Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")]


class LicenseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deviceId: Id
    songIds: list[Id] = Field(min_length=1, max_length=MAX_SONGS_PER_LICENSE)


@app.post("/licenses")
@tracer.capture_method
def issue_license(body: LicenseRequest) -> dict[str, Any]:
    issued = licensor.issue(caller_id(app), body.deviceId, body.songIds)
    count("LicensesIssued")
    count("LicensedSongs", len(issued["songs"]))
    return issued


@app.get("/licenses/public-key")
@tracer.capture_method
def public_key() -> dict[str, str]:
    caller_id(app)
    return licensor.public_key()


@lambda_entry(HTTP_API)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
