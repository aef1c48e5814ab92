"""Writes a client may retry, applied once: Powertools Idempotency with its DynamoDB persistence layer.

A client that sends an ``Idempotency-Key`` header with a write gets, for a retry with the same key,
the first answer again and no second write (for a day, the records' TTL). The record is keyed on the
operation, the caller and the key, so two users' keys never collide; the payload is validated, so
the same key reused for a different request is refused (422) rather than answered with the wrong
result, and a retry that arrives while the first attempt still runs gets 409. A failed attempt
leaves no record, so it can be retried. Without the header the write simply runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from backbeat.errors import Conflict, InvalidInput

HEADER = "Idempotency-Key"
# The route parameter every write that honours the header declares (so the OpenAPI document names it).
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=HEADER,
        max_length=255,
        description="Send the same key when retrying a write: the retry gets the first answer, not a second write.",
    ),
]
RECORD_LIFETIME_SECONDS = 24 * 3600
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces


class OnceOnly:
    """Runs a write at most once per (operation, caller, Idempotency-Key)."""

    def __init__(self, table_name: str) -> None:
        self.config = IdempotencyConfig(
            event_key_jmespath="[operation, caller, key]",
            payload_validation_jmespath="payload",
            expires_after_seconds=RECORD_LIFETIME_SECONDS,
            hash_function="sha256",
        )
        persistence = DynamoDBPersistenceLayer(table_name=table_name, key_attr="id", expiry_attr="expiration")

        @idempotent_function(
            data_keyword_argument="request", persistence_store=persistence, config=self.config, key_prefix="write"
        )
        def apply_once(request: dict[str, Any], write: Callable[[], dict[str, Any]]) -> dict[str, Any]:
            return write()

        self._apply_once = apply_once

    def register(self, context: LambdaContext) -> None:
        """Lets an in-progress record expire with the invocation (a timed-out attempt can be retried)."""
        self.config.register_lambda_context(context)

    def run(
        self,
        operation: str,
        caller: str,
        key: str | None,
        payload: dict[str, Any],
        write: Callable[[], dict[str, Any]],
    ) -> dict[str, Any]:
        """`write()`, or the answer the first request with this key got. `payload` is everything else
        that shapes the write (body and path); it must be JSON-serialisable."""
        if key is None:
            return write()
        if not _KEY.match(key):
            raise InvalidInput(f"{HEADER}: 1 to 255 printable characters without spaces", HEADER)
        request = {"operation": operation, "caller": caller, "key": key, "payload": payload}
        try:
            return self._apply_once(request=request, write=write)
        except IdempotencyValidationError:
            raise InvalidInput(f"{HEADER}: already used for a different request", HEADER) from None
        except IdempotencyAlreadyInProgressError:
            raise Conflict(f"{HEADER}: the first request with this key is still being processed") from None
