"""Offline licenses: POST /licenses gives the caller's device a signed license, valid 30 days, with
each ready song's content key wrapped for that device; it opens the offline file there and nowhere
else; renewal checks the subscription again."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from backbeat.downloads import keys
from backbeat.downloads.licenses import LicenseRejected, verify_license
from backbeat.identity.models import UserItem
from tests.support import api_event
from tests.unit.conftest import load_function
from tests.unit.offline_downloads import (
    device_key,
    download,
    encoded_song,
    premium,
    put_device,
    put_download,
    sqs_event,
)

USER, DEVICE, OTHER_DEVICE = "user-1", "phone-1", "laptop-2"
SONG, QUEUED_SONG, NEVER_ASKED = "5kQ2mB7xYz1LpR9tVw3sNc", "7Qm2vX9cLp4TzR8wKs1NbY", "0Zz9yY8xX7wW6vV5uU4tT3"


def _call(licenses: Any, context: Any, method: str, path: str, user: str, body: Any = None) -> tuple[int, Any]:
    response = licenses.lambda_handler(api_event(method, path, body=body, claims={"sub": user}), context)
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def stack(aws: Any, context: Any) -> dict[str, Any]:
    """A premium user with two registered devices; SONG ready on the phone, QUEUED_SONG still queued."""
    rungs = encoded_song(aws, SONG)
    premium(aws, USER)
    phone_key, phone_pem = device_key()
    laptop_key, laptop_pem = device_key()
    put_device(aws, USER, DEVICE, phone_pem)
    put_device(aws, USER, OTHER_DEVICE, laptop_pem)
    load_function("download_worker", aws).lambda_handler(sqs_event(put_download(aws, USER, DEVICE, SONG)), context)
    put_download(aws, USER, DEVICE, QUEUED_SONG)
    return {
        "rendition": rungs[320],
        "phone": phone_key,
        "laptop": laptop_key,
        "licenses": load_function("licenses", aws),
    }


def test_a_license_opens_the_download_on_its_device_only(aws, context, stack) -> None:  # type: ignore[no-untyped-def]
    licenses = stack["licenses"]
    status, issued = _call(
        licenses, context, "POST", "/licenses", USER, {"deviceId": DEVICE, "songIds": [SONG, NEVER_ASKED]}
    )
    assert status == 200, issued
    assert [song["songId"] for song in issued["songs"]] == [SONG]
    assert issued["refused"] == [{"songId": NEVER_ASKED, "reason": "not downloaded to this device"}]
    issued_at = datetime.fromisoformat(issued["issuedAt"].replace("Z", "+00:00"))
    expires_at = datetime.fromisoformat(issued["expiresAt"].replace("Z", "+00:00"))
    assert expires_at - issued_at == timedelta(days=30)

    status, public = _call(licenses, context, "GET", "/licenses/public-key", USER)
    assert status == 200 and public["algorithm"] == "ES256"
    pem, token = public["publicKeyPem"], issued["license"]

    # On the phone: the signature verifies, the key unwraps, the offline file decrypts to the rendition.
    payload = verify_license(token, pem, DEVICE, issued_at + timedelta(days=29))
    (entry,) = payload["keys"]
    content_key = keys.unwrap_on_device(base64.b64decode(entry["wrappedKey"]), stack["phone"])
    ready = download(aws, USER, DEVICE, SONG)
    assert ready is not None and entry["contentKeyId"] == ready["contentKeyId"]
    sealed = boto3.client("s3").get_object(Bucket=ready["bucket"], Key=ready["key"])["Body"].read()
    assert keys.decrypt_file(content_key, sealed) == stack["rendition"]

    # Expired on day 30; refused on another device; useless there even if its check were skipped.
    with pytest.raises(LicenseRejected, match="expired"):
        verify_license(token, pem, DEVICE, expires_at)
    with pytest.raises(LicenseRejected, match="not this one"):
        verify_license(token, pem, OTHER_DEVICE, issued_at)
    with pytest.raises(ValueError):
        keys.unwrap_on_device(base64.b64decode(entry["wrappedKey"]), stack["laptop"])

    # A payload rewritten to name the laptop no longer verifies.
    header, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["deviceId"] = OTHER_DEVICE
    forged_body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(LicenseRejected, match="signature"):
        verify_license(f"{header}.{forged_body}.{signature}", pem, OTHER_DEVICE, issued_at)


def test_licenses_are_for_premium_users_own_devices_and_ready_songs(aws, context, stack) -> None:  # type: ignore[no-untyped-def]
    licenses = stack["licenses"]
    request = {"deviceId": DEVICE, "songIds": [SONG]}
    assert _call(licenses, context, "POST", "/licenses", USER, request)[0] == 200

    # Only ready downloads: a queued one is not licensed yet.
    status, body = _call(licenses, context, "POST", "/licenses", USER, {"deviceId": DEVICE, "songIds": [QUEUED_SONG]})
    assert status == 409 and "download is queued" in body["error"]["message"]

    # Another user cannot license this user's device (or learn that it exists).
    premium(aws, "user-2")
    status, body = _call(licenses, context, "POST", "/licenses", "user-2", request)
    assert status == 404 and body["error"]["code"] == "NotFound"

    # Bad input names the field.
    status, body = _call(licenses, context, "POST", "/licenses", USER, {"deviceId": DEVICE, "songIds": []})
    assert status == 422 and "songIds" in json.dumps(body)

    # The subscription lapses: renewal is refused with the reason.
    UserItem(USER).update(actions=[UserItem.tier.set("free")])
    status, body = _call(licenses, context, "POST", "/licenses", USER, request)
    assert status == 403 and body["error"]["code"] == "Forbidden" and "premium" in body["error"]["message"]


def test_the_devstack_keeps_the_kms_keys_across_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Content keys stay unwrappable and licenses stay verifiable after `make dev` restarts."""
    from moto import mock_aws
    from moto.core.base_backend import BackendDict

    from backbeat.downloads.licenses import Licensor
    from devstack.persistence import DataDir

    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        kms = boto3.client("kms")
        master = kms.create_key()["KeyMetadata"]["Arn"]
        signing = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["Arn"]
        data_key = keys.generate_content_key(kms, master, "song.320k")
        before = Licensor(None, kms, "downloads", signing, master).public_key()
        DataDir(tmp_path, "fp").save({}, {}, search_endpoint=None)
        BackendDict.reset()  # what a new process starts with
        assert DataDir(tmp_path, "fp").load() is not None

        kms = boto3.client("kms")
        assert keys.unwrap_content_key(kms, master, data_key.wrapped, "song.320k") == data_key.plaintext
        licensor = Licensor(None, kms, "downloads", signing, master)
        assert licensor.public_key() == before
        token = licensor.sign({"deviceId": "phone", "exp": 2_000_000_000, "keys": []})
        assert verify_license(token, before["publicKeyPem"], "phone", datetime(2030, 1, 1, tzinfo=UTC))["keys"] == []
