"""/me/devices in-process (moto): register with an RSA key, at most five, list, remove; another
user's device is never found."""

# ruff: noqa: F811 - the fixtures dl and people are imported from downloads_support

from __future__ import annotations

from typing import Any

import pytest

from backbeat.downloads.models import QUOTA, DownloadItem, QuotaItem
from tests.unit.downloads_support import (  # noqa: F401 - fixtures
    SONGS,
    People,
    Stack,
    call,
    dl,
    ec_public_pem,
    people,
    register,
    rsa_public_pem,
)


def new_device(name: str = "Phone", key: str | None = None, kind: str = "phone") -> dict[str, Any]:
    return {"name": name, "type": kind, "publicKey": key if key is not None else rsa_public_pem()}


def test_a_device_registers_with_its_key_and_is_listed_only_to_its_owner(
    dl: Stack, people: People, context: Any
) -> None:
    status, device = call(dl.module, context, "POST", "/me/devices", people.premium, new_device())
    assert status == 201
    assert device["name"] == "Phone" and device["type"] == "phone"
    assert device["publicKey"].startswith("-----BEGIN PUBLIC KEY-----")
    assert device["quota"]["devices"] == 1 and device["quota"]["deviceLimit"] == 5

    status, mine = call(dl.module, context, "GET", "/me/devices", people.premium)
    assert status == 200 and [d["deviceId"] for d in mine["items"]] == [device["deviceId"]]
    status, theirs = call(dl.module, context, "GET", "/me/devices", people.other)
    assert status == 200 and theirs["items"] == [] and theirs["quota"]["devices"] == 0
    assert call(dl.module, context, "GET", "/me/devices", None)[0] == 401


def test_the_sixth_device_gets_409_naming_the_limit_and_removing_one_frees_a_slot(
    dl: Stack, people: People, context: Any
) -> None:
    ids = [register(dl.module, context, people.premium, name=f"Device {n}") for n in range(5)]
    status, body = call(dl.module, context, "POST", "/me/devices", people.premium, new_device("Sixth"))
    assert status == 409 and body["error"]["code"] == "Conflict"
    assert "at most 5 devices" in body["error"]["message"]
    assert len(call(dl.module, context, "GET", "/me/devices", people.premium)[1]["items"]) == 5
    # Another user's devices do not count against this one.
    assert call(dl.module, context, "POST", "/me/devices", people.other, new_device())[0] == 201

    status, removed = call(dl.module, context, "DELETE", f"/me/devices/{ids[0]}", people.premium)
    assert status == 200 and removed["removed"] is True and removed["quota"]["devices"] == 4
    register(dl.module, context, people.premium, name="Replacement")
    assert call(dl.module, context, "DELETE", f"/me/devices/{ids[0]}", people.premium)[0] == 404


def test_removing_a_device_frees_its_downloads_and_only_its_own(dl: Stack, people: People, context: Any) -> None:
    keep = register(dl.module, context, people.premium, name="Keep")
    drop = register(dl.module, context, people.premium, name="Drop")
    for device, songs in ((keep, SONGS[:2]), (drop, SONGS[:5])):
        assert (
            call(dl.module, context, "POST", "/downloads", people.premium, {"deviceId": device, "songIds": songs})[0]
            == 202
        )
    assert QuotaItem.get(people.premium, QUOTA).songs == 7

    status, removed = call(dl.module, context, "DELETE", f"/me/devices/{drop}", people.premium)
    assert status == 200 and removed["freedDownloads"] == 5
    assert removed["quota"]["songs"] == 2 and removed["quota"]["devices"] == 1
    held = [item.device_id for item in DownloadItem.query(people.premium, DownloadItem.sk.startswith("DL#"))]
    assert held == [keep, keep]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("not a key", "not a PEM"),
        (rsa_public_pem(1024), "at least 2048 bits"),
        (ec_public_pem(), "must be an RSA key"),
    ],
)
def test_a_device_key_that_is_not_rsa_2048_gets_422(
    dl: Stack, people: People, context: Any, key: str, message: str
) -> None:
    status, body = call(dl.module, context, "POST", "/me/devices", people.premium, new_device(key=key))
    assert status == 422 and body["error"]["field"] == "publicKey" and message in body["error"]["message"]
    assert call(dl.module, context, "GET", "/me/devices", people.premium)[1]["items"] == []


def test_bad_device_bodies_get_422_naming_the_field(dl: Stack, people: People, context: Any) -> None:
    status, body = call(dl.module, context, "POST", "/me/devices", people.premium, new_device(name=""))
    assert status == 422 and "name" in body["error"]["message"]
    status, body = call(dl.module, context, "POST", "/me/devices", people.premium, new_device(kind="toaster"))
    assert status == 422 and "type" in body["error"]["message"]


def test_another_users_device_is_404_and_untouched(dl: Stack, people: People, context: Any) -> None:
    theirs = register(dl.module, context, people.other)
    status, body = call(dl.module, context, "DELETE", f"/me/devices/{theirs}", people.premium)
    assert status == 404 and body["error"]["code"] == "NotFound"
    listed = call(dl.module, context, "GET", "/me/devices", people.other)[1]["items"]
    assert [d["deviceId"] for d in listed] == [theirs]
    assert call(dl.module, context, "DELETE", "/me/devices/not-an-id", people.premium)[0] == 404
