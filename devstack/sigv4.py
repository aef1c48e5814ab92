"""Signature Version 4 checks for the devstack's management endpoints, as API Gateway makes them.

API Gateway's `@connections` API is IAM-authorized: a call must carry an
``Authorization: AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/execute-api/aws4_request,
SignedHeaders=..., Signature=...`` header whose signature is the caller's secret key applied to the
canonical request. Here the signature is recomputed with botocore's own signer (the code that
signs boto3's calls) from the headers the caller says it signed, the raw path and query, and the
body, for the secret of the key the credential names; an unknown key, another service, a stale
timestamp or a signature that differs is refused.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW = timedelta(minutes=15)  # what AWS allows between X-Amz-Date and its own clock
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


class SignatureRejected(Exception):
    """The request is not signed as the service requires: the endpoint answers 403."""


def verify(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    service: str,
    secrets: Mapping[str, str],
    now: datetime | None = None,
) -> str:
    """Check the request's SigV4 signature; returns the access key id that signed it.

    `url` is the scheme, host and the raw (still percent-encoded) path and query as the client sent
    them; `headers` the request's headers (any case); `secrets` access key id -> secret access key.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    authorization = lowered.get("authorization", "").strip()
    if not authorization:
        raise SignatureRejected("Missing Authentication Token")
    match = _AUTHORIZATION.match(authorization)
    if match is None:
        raise SignatureRejected(
            f"Authorization header requires the {ALGORITHM} scheme with Credential, SignedHeaders and Signature"
        )
    parts = match["credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise SignatureRejected("malformed Credential in the Authorization header")
    access_key, scope_date, region, scope_service, _ = parts
    if scope_service != service:
        raise SignatureRejected(f"Credential should be scoped to correct service: '{service}'")
    secret = secrets.get(access_key)
    if secret is None:
        raise SignatureRejected("The security token included in the request is invalid")
    amz_date = lowered.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise SignatureRejected("missing or malformed X-Amz-Date") from None
    if amz_date[:8] != scope_date:
        raise SignatureRejected("the Credential's date is not the X-Amz-Date's")
    if abs((now or datetime.now(UTC)) - signed_at) > MAX_CLOCK_SKEW:
        raise SignatureRejected("Signature expired: X-Amz-Date is more than 15 minutes from the server's time")
    signed_headers = match["signed"].split(";")
    missing = [name for name in signed_headers if name not in lowered]
    if missing or "host" not in signed_headers:
        raise SignatureRejected("the signed headers must include host and be present in the request")

    request = AWSRequest(method=method, url=url, data=body, headers={name: lowered[name] for name in signed_headers})
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(access_key, secret), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, match["signature"]):
        raise SignatureRejected(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    return access_key
