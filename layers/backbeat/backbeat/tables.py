"""Binding pynamodb models to the deployed tables' names, once per execution environment; and a
transaction tried again when another request's write collided with it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model

T = TypeVar("T")


def bind_models(table_name: str, *models: type[Model]) -> None:
    """Point `models` (all the entity classes of one table) at `table_name`: the name comes from the
    function's settings at cold start, so the class definitions cannot carry it."""
    for model in models:
        if model.Meta.table_name == table_name and model._connection is not None:
            continue  # already bound: keep the connection (and its client) of the environment
        model.Meta.table_name = table_name
        model._connection = None  # drop a connection bound to another table name


def cancellation_reasons(error: TransactWriteError) -> list[str | None]:
    """Why each action of a cancelled transaction failed (None: it did not), in the order pynamodb
    sends them: condition checks, deletes, puts, updates (not the order they were added)."""
    return [reason.code if reason is not None else None for reason in (error.cancellation_reasons or [])]


def collided(error: Exception) -> bool:
    """A transaction DynamoDB cancelled only because another request was writing one of its items at
    the same moment (`TransactionConflict`): nothing was written, and trying again is safe. A failed
    condition is not a collision: it is an answer."""
    if not isinstance(error, TransactWriteError):
        return False
    if error.cause_response_code == "TransactionConflictException":
        return True
    codes = set(cancellation_reasons(error))
    return "TransactionConflict" in codes and "ConditionalCheckFailed" not in codes


def write_transaction(write: Callable[[], T], attempts: int = 4) -> T:
    """`write()` (one TransactWriteItems), tried again after a short jittered pause when another
    request's write collided with it, at most `attempts` times in all."""
    for attempt in range(attempts):
        try:
            return write()
        except Exception as error:
            if attempt == attempts - 1 or not collided(error):
                raise
            time.sleep(random.uniform(0.01, 0.03) * 2**attempt)
    raise AssertionError("unreachable")
