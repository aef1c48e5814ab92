"""Upload the built web player (web/dist, `make web`) to a deployed stack's web player bucket, with a
config.json naming the stack's HTTP API and WebSocket URLs, then invalidate the CDN's short-lived
files. Hashed assets go first and are cached for good; index.html and config.json last, so a page
never names an asset that is not there yet.

    python scripts/deploy_web.py --stack backbeat-dev [--region eu-west-1]
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import time
from pathlib import Path

import boto3

DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=60"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--region")
    args = parser.parse_args()
    if not (DIST / "index.html").is_file():
        raise SystemExit(f"{DIST / 'index.html'} is missing: run `make web` first")
    session = boto3.Session(region_name=args.region)
    stacks = session.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if "WebPlayerBucketName" not in outputs:
        raise SystemExit(f"{args.stack} has no web player (it serves media from MediaBaseUrl: no CloudFront)")
    bucket = outputs["WebPlayerBucketName"]
    s3 = session.client("s3")
    for path in sorted((DIST / "assets").iterdir()):
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        s3.put_object(
            Bucket=bucket,
            Key=f"assets/{path.name}",
            Body=path.read_bytes(),
            ContentType=content_type,
            CacheControl=IMMUTABLE,
        )
    config = {"apiUrl": outputs["ApiUrl"].rstrip("/"), "wsUrl": outputs["WebSocketUrl"]}
    s3.put_object(
        Bucket=bucket,
        Key="config.json",
        Body=json.dumps(config).encode(),
        ContentType="application/json",
        CacheControl=SHORT,
    )
    s3.put_object(
        Bucket=bucket,
        Key="index.html",
        Body=(DIST / "index.html").read_bytes(),
        ContentType="text/html; charset=utf-8",
        CacheControl=SHORT,
    )
    session.client("cloudfront").create_invalidation(
        DistributionId=outputs["WebPlayerDistributionId"],
        InvalidationBatch={
            "Paths": {"Quantity": 3, "Items": ["/", "/index.html", "/config.json"]},
            "CallerReference": str(time.time_ns()),
        },
    )
    print(f"web player at {outputs['WebPlayerUrl']} (API {config['apiUrl']})")


if __name__ == "__main__":
    main()
