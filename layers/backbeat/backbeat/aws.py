"""Cached AWS clients. Endpoints come from the standard AWS_ENDPOINT_URL* variables, so the same
code talks to AWS, the devstack's moto server or LocalStack."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str) -> Any:
    """A boto3 client per service, created once per execution environment (thread-safe to share)."""
    return boto3.session.Session().client(service, config=_CONFIG)  # type: ignore[call-overload]
