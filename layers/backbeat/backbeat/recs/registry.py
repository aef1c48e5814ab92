"""The model registry (`RecsRegistryTable`, hash key `version`): one record per trained version
(data window, metrics, where its artefacts are, whether it is promoted, createdAt) and one pointer
item (`version` = `@promoted`) naming the version serving loads.

Promotion is one transaction conditioned on the pointer still naming the version the caller
compared against, so two trainings finishing together cannot both promote over each other.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from backbeat.aws import client

POINTER = "@promoted"


class PromotionConflict(Exception):
    """The promoted version moved since the caller read it (or the version has no record)."""


def new_version(now: datetime | None = None) -> str:
    """A version id that sorts by creation time: `20261203T101500Z-3fa2c1`."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class ModelRecord:
    version: str
    created_at: str
    window_start: str | None
    window_end: str | None
    metrics: dict[str, float]
    artefact_prefix: str
    promoted: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "version": {"S": self.version},
            "createdAt": {"S": self.created_at},
            "artefactPrefix": {"S": self.artefact_prefix},
            "promoted": {"BOOL": self.promoted},
            "metrics": {"M": {name: {"N": str(Decimal(repr(value)))} for name, value in self.metrics.items()}},
            "details": {"S": _json(self.details)},
        }
        if self.window_start:
            item["windowStart"] = {"S": self.window_start}
        if self.window_end:
            item["windowEnd"] = {"S": self.window_end}
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ModelRecord:
        return cls(
            version=item["version"]["S"],
            created_at=item["createdAt"]["S"],
            window_start=item.get("windowStart", {}).get("S"),
            window_end=item.get("windowEnd", {}).get("S"),
            metrics={name: float(value["N"]) for name, value in item.get("metrics", {}).get("M", {}).items()},
            artefact_prefix=item["artefactPrefix"]["S"],
            promoted=item.get("promoted", {}).get("BOOL", False),
            details=json.loads(item.get("details", {}).get("S", "{}")),
        )


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def record(table: str, model: ModelRecord) -> None:
    """Register a version (once: a version id is never reused)."""
    client("dynamodb").put_item(
        TableName=table, Item=model.to_item(), ConditionExpression="attribute_not_exists(version)"
    )


def get(table: str, version: str) -> ModelRecord | None:
    item = client("dynamodb").get_item(TableName=table, Key={"version": {"S": version}}, ConsistentRead=True)
    return ModelRecord.from_item(item["Item"]) if "Item" in item else None


def promoted_version(table: str) -> str | None:
    item = client("dynamodb").get_item(TableName=table, Key={"version": {"S": POINTER}}, ConsistentRead=True)
    return item.get("Item", {}).get("promotedVersion", {}).get("S")


def promoted(table: str) -> ModelRecord | None:
    version = promoted_version(table)
    return None if version is None else get(table, version)


def versions(table: str) -> list[ModelRecord]:
    """Every registered version, newest first (the registry holds one a week: a scan is fine)."""
    items: list[dict[str, Any]] = []
    pages = client("dynamodb").get_paginator("scan").paginate(TableName=table)
    for page in pages:
        items.extend(item for item in page["Items"] if item["version"]["S"] != POINTER)
    return sorted((ModelRecord.from_item(item) for item in items), key=lambda r: r.version, reverse=True)


def promote(table: str, version: str, expected_current: str | None, now: datetime | None = None) -> None:
    """Point serving at `version`, if the pointer still names `expected_current` (None: nothing
    promoted yet); raises PromotionConflict otherwise."""
    moment = (now or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")
    if expected_current is None:
        pointer_condition = "attribute_not_exists(promotedVersion)"
        values: dict[str, Any] = {":v": {"S": version}, ":at": {"S": moment}}
    else:
        pointer_condition = "promotedVersion = :expected"
        values = {":v": {"S": version}, ":at": {"S": moment}, ":expected": {"S": expected_current}}
    actions: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": table,
                "Key": {"version": {"S": POINTER}},
                "UpdateExpression": "SET promotedVersion = :v, promotedAt = :at",
                "ConditionExpression": pointer_condition,
                "ExpressionAttributeValues": values,
            }
        },
        {
            "Update": {
                "TableName": table,
                "Key": {"version": {"S": version}},
                "UpdateExpression": "SET promoted = :yes, promotedAt = :at",
                "ConditionExpression": "attribute_exists(version)",
                "ExpressionAttributeValues": {":yes": {"BOOL": True}, ":at": {"S": moment}},
            }
        },
    ]
    if expected_current is not None and expected_current != version:
        actions.append(
            {
                "Update": {
                    "TableName": table,
                    "Key": {"version": {"S": expected_current}},
                    "UpdateExpression": "SET promoted = :no",
                    "ExpressionAttributeValues": {":no": {"BOOL": False}},
                }
            }
        )
    try:
        client("dynamodb").transact_write_items(TransactItems=actions)
    except ClientError as error:
        if error.response["Error"]["Code"] == "TransactionCanceledException":
            raise PromotionConflict(
                f"cannot promote {version}: the promoted version is no longer {expected_current}"
            ) from error
        raise
