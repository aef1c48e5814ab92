"""POST/GET/DELETE /downloads in-process (moto): premium only, the caller's own device, what is
accepted and refused and why, the storage estimate, the preparation messages, signed URLs for ready
downloads, and deleting twice frees one slot."""

# ruff: noqa: F811 - the fixtures dl and people are imported from downloads_support

from __future__ import annotations

import math
from typing import Any

import pytest

from backbeat.downloads.models import READY, DownloadItem, download_key
from backbeat.media import signing
from tests.unit.downloads_support import (  # noqa: F401 - fixtures
    LINKED,
    SONG_MS,
    SONGS,
    UNENCODED,
    People,
    Stack,
    call,
    dl,
    people,
    queued,
    register,
)

UNKNOWN = "0000000000000000000000"
# 180 s at 160 kbps, plus the container: init segment, 18 segments' boxes and padding, a trun entry per frame.
ESTIMATE_180S_160K = 3_600_000 + 1_024 + 18 * (256 + 16) + math.ceil(180 * 48_000 / 1_024) * 8


def test_a_premium_request_is_202_with_job_accepted_refused_and_estimate(
    dl: Stack, people: People, context: Any
) -> None:
    device = register(dl.module, context, people.premium)
    queued(dl.aws)  # start from an empty queue
    wanted = [SONGS[0], SONGS[1], UNKNOWN, UNENCODED, SONGS[0], LINKED]
    status, answer = call(
        dl.module, context, "POST", "/downloads", people.premium, {"deviceId": device, "songIds": wanted}
    )
    assert status == 202, answer
    assert answer["jobId"] and answer["quality"] == "160k" and answer["deviceId"] == device
    assert [a["songId"] for a in answer["accepted"]] == [SONGS[0], SONGS[1], LINKED]
    assert all(a["estimatedBytes"] == ESTIMATE_180S_160K for a in answer["accepted"])
    assert answer["estimatedBytes"] == 3 * ESTIMATE_180S_160K
    assert [(r["songId"], r["reason"]) for r in answer["refused"]] == [
        (UNKNOWN, "not_found"),
        (UNENCODED, "not_available"),
    ]
    assert answer["quota"]["songs"] == 3 and answer["quota"]["songLimit"] == 10_000

    messages = sorted(queued(dl.aws), key=lambda m: wanted.index(m["songId"]))
    assert messages == [
        {"jobId": answer["jobId"], "userId": people.premium, "deviceId": device, "songId": song, "quality": "160k"}
        for song in (SONGS[0], SONGS[1], LINKED)
    ]

    # Asking again accepts nothing new and counts nothing twice.
    status, again = call(
        dl.module,
        context,
        "POST",
        "/downloads",
        people.premium,
        {"deviceId": device, "songIds": [SONGS[1], SONGS[2]], "quality": "very_high"},
    )
    assert status == 202 and again["quality"] == "320k"
    assert [a["songId"] for a in again["accepted"]] == [SONGS[2]]
    assert again["refused"] == [
        {"songId": SONGS[1], "reason": "already_downloaded", "message": "already downloaded to this device"}
    ]
    assert again["accepted"][0]["estimatedBytes"] > 2 * ESTIMATE_180S_160K - 100_000
    assert again["quota"]["songs"] == 4
    assert [m["songId"] for m in queued(dl.aws)] == [SONGS[2]]


def test_free_users_get_403_with_the_reason_and_nothing_is_queued(dl: Stack, people: People, context: Any) -> None:
    device = register(dl.module, context, people.free)
    queued(dl.aws)
    status, body = call(
        dl.module, context, "POST", "/downloads", people.free, {"deviceId": device, "songIds": SONGS[:2]}
    )
    assert status == 403 and body["error"]["code"] == "Forbidden"
    assert "Premium" in body["error"]["message"] and "free plan" in body["error"]["message"]
    assert queued(dl.aws) == []


def test_another_users_device_and_unknown_devices_get_404(dl: Stack, people: People, context: Any) -> None:
    theirs = register(dl.module, context, people.other)
    call(dl.module, context, "POST", "/downloads", people.other, {"deviceId": theirs, "songIds": SONGS[:1]})
    for device in (theirs, UNKNOWN):
        status, body = call(
            dl.module, context, "POST", "/downloads", people.premium, {"deviceId": device, "songIds": SONGS[:1]}
        )
        assert status == 404 and body["error"]["code"] == "NotFound"
        status, body = call(dl.module, context, "GET", "/downloads", people.premium, deviceId=device)
        assert status == 404 and "items" not in body
        assert call(dl.module, context, "DELETE", f"/downloads/{SONGS[0]}", people.premium, deviceId=device)[0] == 404
    assert len(call(dl.module, context, "GET", "/downloads", people.other, deviceId=theirs)[1]["items"]) == 1


def test_bad_requests_get_422_naming_the_field(dl: Stack, people: People, context: Any) -> None:
    device = register(dl.module, context, people.premium)
    for body, field in (
        ({"deviceId": device}, "songIds"),
        ({"deviceId": device, "songIds": SONGS[:1], "playlistId": UNKNOWN}, "songIds"),
        ({"deviceId": device, "songIds": SONGS[:1], "quality": "lossless"}, "quality"),
        ({"deviceId": device, "songIds": []}, "songIds"),
        ({"songIds": SONGS[:1]}, "deviceId"),
    ):
        status, answer = call(dl.module, context, "POST", "/downloads", people.premium, body)
        assert status == 422 and field in answer["error"]["message"], (body, answer)
    assert call(dl.module, context, "GET", "/downloads", people.premium)[0] == 422  # deviceId is required


def test_the_list_gives_ready_songs_a_signed_url_and_the_device_total(dl: Stack, people: People, context: Any) -> None:
    device = register(dl.module, context, people.premium)
    call(dl.module, context, "POST", "/downloads", people.premium, {"deviceId": device, "songIds": SONGS[:3]})
    # The preparation worker's part: the first song is ready, the second failed.
    media_bucket = dl.aws.ref("MediaBucket")
    DownloadItem(people.premium, download_key(device, SONGS[0])).update(
        actions=[
            DownloadItem.status.set(READY),
            DownloadItem.bytes.set(3_500_000),
            DownloadItem.bucket.set(media_bucket),
            DownloadItem.key.set(f"songs/{SONGS[0]}/master_160k.m3u8"),
            DownloadItem.content_key_id.set("ck-1"),
            DownloadItem.ready_at.set("2026-01-01T00:00:00.000Z"),
        ]
    )
    DownloadItem(people.premium, download_key(device, SONGS[1])).update(
        actions=[DownloadItem.status.set("failed"), DownloadItem.reason.set("no rendition")]
    )
    status, listed = call(dl.module, context, "GET", "/downloads", people.premium, deviceId=device)
    assert status == 200
    assert listed["total"] == 3 and listed["ready"] == 1 and listed["totalBytes"] == 3_500_000
    assert listed["estimatedBytes"] == 3 * ESTIMATE_180S_160K
    by_song = {item["songId"]: item for item in listed["items"]}
    assert by_song[SONGS[1]]["status"] == "failed" and by_song[SONGS[1]]["reason"] == "no rendition"
    assert "url" not in by_song[SONGS[1]] and "url" not in by_song[SONGS[2]]
    url = by_song[SONGS[0]]["url"]
    base = dl.module.settings.media_base_url.rstrip("/")
    assert url.startswith(base + "/")
    grant = signing.verify(dl.module.signer.secret, "/media" + url.removeprefix(base))
    assert grant.key == f"songs/{SONGS[0]}/master_160k.m3u8" and grant.cap_kbps == 160
    assert grant.user_tag == signing.user_tag(dl.module.signer.secret, people.premium)


def test_deleting_twice_frees_one_slot(dl: Stack, people: People, context: Any) -> None:
    device = register(dl.module, context, people.premium)
    queued(dl.aws)
    call(dl.module, context, "POST", "/downloads", people.premium, {"deviceId": device, "songIds": SONGS[:2]})
    assert sorted(m["songId"] for m in queued(dl.aws)) == sorted(SONGS[:2])
    status, first = call(dl.module, context, "DELETE", f"/downloads/{SONGS[0]}", people.premium, deviceId=device)
    assert status == 200 and first["freed"] is True and first["quota"]["songs"] == 1
    status, second = call(dl.module, context, "DELETE", f"/downloads/{SONGS[0]}", people.premium, deviceId=device)
    assert status == 200 and second["freed"] is False and second["quota"]["songs"] == 1
    listed = call(dl.module, context, "GET", "/downloads", people.premium, deviceId=device)[1]
    assert [item["songId"] for item in listed["items"]] == [SONGS[1]]
    # The freed slot can be taken again.
    request = {"deviceId": device, "songIds": SONGS}
    again = call(dl.module, context, "POST", "/downloads", people.premium, request)[1]
    assert [a["songId"] for a in again["accepted"]] == [SONGS[0], *SONGS[2:]]
    assert again["quota"]["songs"] == len(SONGS)
    # More than one SQS batch: every accepted song is queued exactly once.
    assert sorted(m["songId"] for m in queued(dl.aws)) == sorted([SONGS[0], *SONGS[2:]])


def test_songs_the_queue_does_not_take_are_refused_and_their_slots_freed(
    dl: Stack, people: People, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = register(dl.module, context, people.premium)
    missing = dl.module.queue.queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    monkeypatch.setattr(dl.module.queue, "queue_url", missing)
    status, answer = call(
        dl.module, context, "POST", "/downloads", people.premium, {"deviceId": device, "songIds": SONGS[:2]}
    )
    assert status == 202 and answer["accepted"] == [] and answer["estimatedBytes"] == 0
    assert [(r["songId"], r["reason"]) for r in answer["refused"]] == [
        (SONGS[0], "not_queued"),
        (SONGS[1], "not_queued"),
    ]
    assert answer["quota"]["songs"] == 0
    assert call(dl.module, context, "GET", "/downloads", people.premium, deviceId=device)[1]["items"] == []
