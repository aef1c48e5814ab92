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
    deviceId: Id = Field(description="One of the caller's registered devices")
    songIds: list[Id] = Field(min_length=1, max_length=MAX_SONGS_PER_LICENSE)


class LicensedSong(BaseModel):
    songId: str
    contentKeyId: str = Field(description="The key of the offline file (named in its header)")
    bitrateKbps: int
    bytes: int = Field(description="Size of the encrypted offline file")


class RefusedSong(BaseModel):
    songId: str
    reason: str


class License(BaseModel):
    licenseId: str
    deviceId: str
    issuedAt: str
    expiresAt: str = Field(description="30 days after issuedAt; renew online before then")
    songs: list[LicensedSong]
    refused: list[RefusedSong] = Field(description="Songs not downloaded, or not ready, on this device")
    license: str = Field(
        description="header.payload.signature (base64url): ES256 over the header and the payload's SHA-256; "
        "the payload carries each content key wrapped for the device's RSA key (RSA-OAEP, SHA-256)"
    )


class LicensePublicKey(BaseModel):
    keyId: str
    algorithm: str = Field(description="ES256 (ECDSA P-256, SHA-256)")
    publicKeyPem: str


@app.post("/licenses")
@tracer.capture_method
def issue_license(body: LicenseRequest) -> License:
    issued = License.model_validate(licensor.issue(caller_id(app), body.deviceId, body.songIds))
    count("LicensesIssued")
    count("LicensedSongs", len(issued.songs))
    return issued


@app.get("/licenses/public-key")
@tracer.capture_method
def public_key() -> LicensePublicKey:
    caller_id(app)
    return LicensePublicKey.model_validate(licensor.public_key())


@lambda_entry(HTTP_API)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
