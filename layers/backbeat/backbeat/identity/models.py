"""Data access for the users table (pynamodb)."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from backbeat.tables import bind_models

TIERS = ("free", "premium")


class ByEmailIndex(GlobalSecondaryIndex["UserItem"]):
    class Meta:
        index_name = "byEmail"
        projection = AllProjection()

    email = UnicodeAttribute(hash_key=True)


class UserItem(Model):
    class Meta:
        table_name = "unbound"  # set by bind_users_table() at cold start

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    email = UnicodeAttribute()
    tier = UnicodeAttribute(default="free")
    created_at = UTCDateTimeAttribute(attr_name="createdAt", default=lambda: datetime.now(UTC))

    by_email = ByEmailIndex()


def bind_users_table(table_name: str) -> None:
    bind_models(table_name, UserItem)
