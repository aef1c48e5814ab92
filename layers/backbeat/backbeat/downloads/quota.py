"""The quotas, exact under concurrency: at most 5 devices and 10,000 downloaded songs per user.

One item per user (``sk = QUOTA``) counts `devices` and `songs`. Every write that adds a device or
downloads is one DynamoDB transaction that adds to the counter under the condition that the limit
still holds *after* the addition (``songs <= 10,000 - n``) and puts the new items under
``attribute_not_exists``. Removals delete the items (each conditioned on still existing) and subtract
in the same transaction. So the counters always equal the items, and however many requests race,
DynamoDB commits them one at a time against the counter: none can overshoot by one. A request that
loses a race rereads the counter and the items it wanted, takes what is left, and tries again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from backbeat.downloads.models import QUOTA, DeviceItem, DownloadItem, QuotaItem, device_key
from backbeat.errors import Conflict, NotFound, ServiceUnavailable
from backbeat.tables import cancellation_reasons

MAX_DEVICES = 5
MAX_SONGS = 10_000
# A transaction holds 100 items: the device check, the counter, and the downloads.
SONGS_PER_TRANSACTION = 98
DEADLINE_SECONDS = 8.0  # under the function's timeout
RETRY_BASE_SECONDS = 0.01
RETRY_CAP_SECONDS = 0.5

T = TypeVar("T")


@dataclass(frozen=True)
class Usage:
    songs: int
    devices: int

    def view(self) -> dict[str, int]:
        return {
            "songs": self.songs,
            "songLimit": MAX_SONGS,
            "songsLeft": max(0, MAX_SONGS - self.songs),
            "devices": self.devices,
            "deviceLimit": MAX_DEVICES,
        }


@dataclass
class Reservation:
    """What one reservation did with the downloads it was given."""

    accepted: list[DownloadItem] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # song ids the device already holds
    over_quota: list[str] = field(default_factory=list)


def connection() -> Connection:
    return QuotaItem._get_connection().connection


def usage(user_id: str) -> Usage:
    try:
        item = QuotaItem.get(user_id, QUOTA, consistent_read=True)
    except DoesNotExist:
        return Usage(0, 0)
    return Usage(int(item.songs or 0), int(item.devices or 0))


def _retrying(attempt: Callable[[], T | None]) -> T:
    """Run `attempt` until it returns a value; None means it lost a race and should run again."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    tries = 0
    while True:
        result = attempt()
        if result is not None:
            return result
        tries += 1
        if time.monotonic() > deadline:
            raise ServiceUnavailable("too many concurrent changes to your downloads; try again")
        time.sleep(random.uniform(0, min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**tries)))


# ------------------------------------------------------------------------------------ devices
def add_device(device: DeviceItem) -> Usage:
    """Put the device and count it, or Conflict when the user already has MAX_DEVICES."""

    def attempt() -> Usage | None:
        try:
            with TransactWrite(connection=connection()) as transaction:
                transaction.update(
                    QuotaItem(device.user_id, QUOTA),
                    actions=[QuotaItem.devices.add(1)],
                    condition=QuotaItem.devices.does_not_exist() | (QuotaItem.devices < MAX_DEVICES),
                )
                transaction.save(device, condition=DeviceItem.sk.does_not_exist())
        except TransactWriteError as error:
            reasons = cancellation_reasons(error)  # condition checks, deletes, puts, then updates
            if reasons[-1:] == ["ConditionalCheckFailed"]:
                raise Conflict(f"at most {MAX_DEVICES} devices per user can hold downloads; remove one first") from None
            if reasons[:1] == ["ConditionalCheckFailed"]:
                raise Conflict(f"device {device.device_id} is already registered") from None
            return None  # a concurrent transaction on the counter: try again
        return usage(device.user_id)

    return _retrying(attempt)


def remove_device(user_id: str, device_id: str) -> bool:
    """Delete the device item and uncount it; False when it was already gone."""

    def attempt() -> bool | None:
        try:
            with TransactWrite(connection=connection()) as transaction:
                transaction.delete(DeviceItem(user_id, device_key(device_id)), condition=DeviceItem.sk.exists())
                transaction.update(QuotaItem(user_id, QUOTA), actions=[QuotaItem.devices.add(-1)])
        except TransactWriteError as error:
            if cancellation_reasons(error)[:1] == ["ConditionalCheckFailed"]:
                return False
            return None
        return True

    return _retrying(attempt)


# ---------------------------------------------------------------------------------- downloads
def _existing(user_id: str, items: Sequence[DownloadItem]) -> set[str]:
    """The sort keys among `items` that are already stored (strongly consistent)."""
    keys = [(user_id, item.sk) for item in items]
    found: set[str] = set()
    for start in range(0, len(keys), 100):
        chunk = keys[start : start + 100]
        found |= {
            stored.sk
            for stored in DownloadItem.batch_get(chunk, consistent_read=True, attributes_to_get=["userId", "sk"])
        }
    return found


def _reserve_chunk(user_id: str, device_id: str, wanted: list[DownloadItem], result: Reservation) -> None:
    """Reserve up to SONGS_PER_TRANSACTION downloads in one transaction, retrying lost races."""

    def attempt() -> bool | None:
        stored = _existing(user_id, wanted)
        fresh = [item for item in wanted if item.sk not in stored]
        left = max(0, MAX_SONGS - usage(user_id).songs)
        taking, over = fresh[:left], fresh[left:]
        if taking:
            try:
                with TransactWrite(connection=connection()) as transaction:
                    transaction.condition_check(
                        DeviceItem, user_id, device_key(device_id), condition=DeviceItem.sk.exists()
                    )
                    transaction.update(
                        QuotaItem(user_id, QUOTA),
                        actions=[QuotaItem.songs.add(len(taking))],
                        condition=QuotaItem.songs.does_not_exist() | (QuotaItem.songs <= MAX_SONGS - len(taking)),
                    )
                    for item in taking:
                        transaction.save(item, condition=DownloadItem.sk.does_not_exist())
            except TransactWriteError as error:
                if cancellation_reasons(error)[:1] == ["ConditionalCheckFailed"]:
                    raise NotFound(f"device {device_id!r} not found") from None
                return None  # the counter moved or one of the songs arrived meanwhile: reread
        result.accepted += taking
        result.already += [item.song_id for item in wanted if item.sk in stored]
        result.over_quota += [item.song_id for item in over]
        return True

    _retrying(attempt)


def reserve_downloads(user_id: str, device_id: str, wanted: Sequence[DownloadItem]) -> Reservation:
    """Store and count as many of `wanted` (in order) as the quota allows; none already on the device
    is stored or counted twice."""
    result = Reservation()
    for start in range(0, len(wanted), SONGS_PER_TRANSACTION):
        _reserve_chunk(user_id, device_id, list(wanted[start : start + SONGS_PER_TRANSACTION]), result)
    return result


def release_downloads(user_id: str, keys: Sequence[str]) -> int:
    """Delete the downloads with these sort keys and uncount them; returns how many were freed (a
    download already gone frees nothing, so deleting twice frees one slot)."""
    freed = 0
    for start in range(0, len(keys), SONGS_PER_TRANSACTION + 1):
        chunk = list(keys[start : start + SONGS_PER_TRANSACTION + 1])

        def attempt(chunk: list[str] = chunk) -> int | None:
            present = sorted(_existing(user_id, [DownloadItem(user_id, sk) for sk in chunk]))
            if not present:
                return 0
            try:
                with TransactWrite(connection=connection()) as transaction:
                    for sk in present:
                        transaction.delete(DownloadItem(user_id, sk), condition=DownloadItem.sk.exists())
                    transaction.update(QuotaItem(user_id, QUOTA), actions=[QuotaItem.songs.add(-len(present))])
            except TransactWriteError:
                return None  # one was deleted meanwhile: reread
            return len(present)

        freed += _retrying(attempt)
    return freed
