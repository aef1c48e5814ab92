"""DynamoDB values -> plain, JSON-ready Python values: the one converter every context uses.

DynamoDB numbers arrive as `Decimal` (boto3, stream images) and maps as pynamodb `MapAttribute`s.
A number becomes an `int` when it is written without a fraction and a `float` otherwise, which is
what pynamodb itself answers for the same stored number (``"3"`` -> 3, ``"-5.0"`` -> -5.0), so an
item reads the same whether it came from a model, a scan or a stream record.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from pynamodb.models import Model

_DESERIALIZER = TypeDeserializer()


def number(value: Decimal) -> int | float:
    exponent = value.as_tuple().exponent
    return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)


def plain(value: Any) -> Any:
    """Decimals, pynamodb maps, sets and tuples -> int/float, dict and list, recursively."""
    if isinstance(value, Decimal):
        return number(value)
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [plain(item) for item in value]
    return value


def from_image(image: dict[str, Any] | None) -> dict[str, Any]:
    """An item in DynamoDB JSON (a stream record's image or keys, a low-level scan) -> a plain item."""
    return {key: plain(_DESERIALIZER.deserialize(value)) for key, value in (image or {}).items()}


def item_of(model: Model) -> dict[str, Any]:
    """A pynamodb item -> the same plain item a scan or a stream record of it gives."""
    return from_image(model.serialize())


def json_default(value: Any) -> Any:
    """`json.dumps(..., default=json_default)` for values read from DynamoDB."""
    converted = plain(value)
    if converted is value:
        raise TypeError(f"cannot serialise {type(value).__name__}")
    return converted
