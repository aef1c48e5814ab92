"""Data access for the connections table (pynamodb): who is connected, who listens to what.

| entity                  | pk             | sk             |
|-------------------------|----------------|----------------|
| connection              | ``CONN#<id>``  | ``META``       |
| subscription, by socket | ``CONN#<id>``  | ``SUB#<playlistId>`` |
| subscription, by list   | ``PL#<playlistId>`` | ``CONN#<id>`` |

Every record carries `expiresAt` (epoch seconds, the table's TTL attribute): API Gateway closes a
WebSocket after two hours at most, so records that `$disconnect` did not remove expire on their own.

The playlists themselves, and who may read them, belong to the playlists context
(`backbeat.playlists`); this table only names them by id.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from backbeat.tables import bind_models

META = "META"
SUBSCRIPTION_PREFIX = "SUB#"


def connection_key(connection_id: str) -> str:
    return f"CONN#{connection_id}"


def subscription_key(playlist_id: str) -> str:
    return f"{SUBSCRIPTION_PREFIX}{playlist_id}"


def subscribed_playlist(sort_key: str) -> str | None:
    """The playlist a socket's record subscribes to, or None when the record is not a subscription."""
    return sort_key.removeprefix(SUBSCRIPTION_PREFIX) if sort_key.startswith(SUBSCRIPTION_PREFIX) else None


def listeners_key(playlist_id: str) -> str:
    return f"PL#{playlist_id}"


class ConnectionModel(Model):
    class Meta:
        table_name = "unbound"  # set by bind_connections_table() at cold start

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = NumberAttribute(attr_name="expiresAt")


class ConnectionItem(ConnectionModel):
    connection_id = UnicodeAttribute(attr_name="connectionId")
    user_id = UnicodeAttribute(attr_name="userId")
    connected_at = UnicodeAttribute(attr_name="connectedAt")


class SubscriptionItem(ConnectionModel):
    connection_id = UnicodeAttribute(attr_name="connectionId")
    playlist_id = UnicodeAttribute(attr_name="playlistId")
    user_id = UnicodeAttribute(attr_name="userId")
    since_version = NumberAttribute(attr_name="sinceVersion", default=0)


def bind_connections_table(table_name: str) -> None:
    bind_models(table_name, ConnectionModel, ConnectionItem, SubscriptionItem)
