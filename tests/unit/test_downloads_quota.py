"""The quotas under concurrency (moto, serialised as DynamoDB would be): exactly the song limit and
exactly 5 devices however the requests interleave; partial acceptance; deleting twice frees one.

The song limit is lowered to 300 here so that seeding stays quick; `bench/downloads_quota.py` runs
the same race at 10,000 on the devstack."""

# ruff: noqa: F811 - the fixtures dl and people are imported from downloads_support

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from backbeat.downloads import quota
from backbeat.downloads.models import QUOTA, DeviceItem, DownloadItem, QuotaItem, device_key, download_key, now
from backbeat.errors import Conflict
from devstack.moto_patches import patch_moto_dynamodb_isolation
from tests.unit.downloads_support import People, Stack, dl, people, register, rsa_public_pem  # noqa: F401 - fixtures

LIMIT = 300


@pytest.fixture(autouse=True)
def _small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quota, "MAX_SONGS", LIMIT)


@pytest.fixture(autouse=True)
def _transactions_are_isolated() -> None:
    """moto checks a transaction's conditions and writes without a lock; DynamoDB serialises them.
    The devstack applies the same patch."""
    patch_moto_dynamodb_isolation()


def wanted(user_id: str, device_id: str, songs: list[str]) -> list[DownloadItem]:
    return [
        DownloadItem(
            user_id,
            download_key(device_id, song),
            device_id=device_id,
            song_id=song,
            quality="160k",
            job_id="job",
            status="queued",
            estimated_bytes=1,
            requested_at=now(),
        )
        for song in songs
    ]


def seed(user_id: str, device_id: str, count: int) -> None:
    """`count` downloads, written through the quota functions (so the counter equals the items)."""
    songs = [f"seed{n:05d}" for n in range(count)]
    assert len(quota.reserve_downloads(user_id, device_id, wanted(user_id, device_id, songs)).accepted) == count


def stored_downloads(user_id: str) -> int:
    return sum(1 for _ in DownloadItem.query(user_id, DownloadItem.sk.startswith("DL#"), attributes_to_get=["sk"]))


def test_twenty_parallel_requests_of_fifty_take_exactly_the_hundred_left(
    dl: Stack, people: People, context: Any
) -> None:
    user = people.premium
    devices = [register(dl.module, context, user, name=f"D{n}") for n in range(2)]
    seed(user, devices[0], LIMIT - 100)

    def request(index: int) -> quota.Reservation:
        device = devices[index % 2]
        songs = [f"req{index:02d}-{n:02d}" for n in range(50)]
        return quota.reserve_downloads(user, device, wanted(user, device, songs))

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(request, range(20)))
    assert sum(len(r.accepted) for r in results) == 100
    assert sum(len(r.over_quota) for r in results) == 900
    assert QuotaItem.get(user, QUOTA, consistent_read=True).songs == LIMIT
    assert stored_downloads(user) == LIMIT


def test_a_request_past_the_limit_takes_what_is_left_in_order(dl: Stack, people: People, context: Any) -> None:
    user = people.premium
    device = register(dl.module, context, user)
    seed(user, device, LIMIT - 30)
    songs = [f"late{n:02d}" for n in range(50)]
    result = quota.reserve_downloads(user, device, wanted(user, device, songs))
    assert [item.song_id for item in result.accepted] == songs[:30]
    assert result.over_quota == songs[30:]
    # A song already held is neither refused for quota nor counted again.
    again = quota.reserve_downloads(user, device, wanted(user, device, songs[:2]))
    assert again.accepted == [] and again.already == songs[:2] and again.over_quota == []
    # Deleting twice frees one slot, which the next request takes.
    key = download_key(device, songs[0])
    assert quota.release_downloads(user, [key]) == 1
    assert quota.release_downloads(user, [key]) == 0
    assert quota.usage(user).songs == LIMIT - 1
    assert [
        i.song_id for i in quota.reserve_downloads(user, device, wanted(user, device, songs[40:])).accepted
    ] == songs[40:41]


def test_twenty_parallel_registrations_make_exactly_five_devices(dl: Stack, people: People) -> None:
    user = people.premium

    def add(index: int) -> bool:
        device_id = uuid.uuid4().hex[:22]
        device = DeviceItem(
            user,
            device_key(device_id),
            device_id=device_id,
            name=f"D{index}",
            type="phone",
            public_key=rsa_public_pem(),
            created_at=now(),
        )
        try:
            quota.add_device(device)
        except Conflict:
            return False
        return True

    with ThreadPoolExecutor(max_workers=20) as pool:
        added = list(pool.map(add, range(20)))
    assert added.count(True) == 5
    assert quota.usage(user).devices == 5
    assert sum(1 for _ in DeviceItem.query(user, DeviceItem.sk.startswith("DEVICE#"))) == 5
