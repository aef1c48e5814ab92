"""The tier cap covers every file of a rung: what a free listener's media token opens, over the
stream function in moto with media laid out as ffmpeg writes it (init segments named by variant
index, `init_0.mp4` .. `init_4.mp4`, and the full `master.m3u8` beside the rungs)."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from backbeat.errors import Forbidden
from backbeat.media import signing
from tests.unit.conftest import load_function
from tests.unit.test_stream import SONG, _call, _seed


def _objects(bucket: str) -> dict[str, bytes]:
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"songs/{SONG}/").get("Contents", [])
    return {str(o["Key"]).rsplit("/", 1)[1]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def _token_and_base(url: str) -> tuple[str, str]:
    parts = urlsplit(url).path.split("/")
    return parts[-4], url.split(f"/{parts[-4]}/")[0]


def _files_reachable(objects: dict[str, bytes], master: str) -> set[str]:
    """Every file a player reaches from the master playlist it is given."""
    reached = {master}
    for playlist in re.findall(r"^(\S+\.m3u8)$", objects[master].decode(), re.M):
        reached.add(playlist)
        text = objects[playlist].decode()
        reached |= set(re.findall(r'URI="([^"]+)"', text)) | set(re.findall(r"^([^#\s]\S*)$", text, re.M))
    return reached


@pytest.fixture
def stream(aws: Any) -> Any:
    _seed(aws)
    return load_function("stream", aws)


def test_a_free_listener_reaches_only_files_of_rungs_up_to_160_and_each_opens(aws, context, stream) -> None:  # type: ignore[no-untyped-def]
    status, free = _call(stream, context, "free-user", {"quality": "very_high"})
    assert status == 200, free
    objects = _objects(aws.outputs["MediaBucketName"])
    master = free["masterPlaylistUrl"].rsplit("/", 1)[1]
    reached = _files_reachable(objects, master)
    token, _ = _token_and_base(free["masterPlaylistUrl"])
    for file in reached:
        assert file in objects, f"{file} is named by a playlist but not stored"
        assert signing.verify(stream.SECRET, f"/media/{token}/songs/{SONG}/{file}").file == file
    assert {signing.rung_of(file) for file in reached} == {96, 128, 160}
    assert any(file.endswith(".mp4") for file in reached)  # the init segments are among them


def test_a_free_token_opens_no_file_of_a_higher_rung_nor_the_full_master(aws, context, stream) -> None:  # type: ignore[no-untyped-def]
    status, premium = _call(stream, context, "premium-user", {"quality": "very_high"})
    assert status == 200 and premium["masterPlaylistUrl"].endswith("/master_320k_max.m3u8")
    status, free = _call(stream, context, "free-user", {"quality": "very_high"})
    assert status == 200
    token, _ = _token_and_base(free["masterPlaylistUrl"])
    objects = _objects(aws.outputs["MediaBucketName"])
    # the 320 kbps rung's files under both names are stored, and none of them opens
    assert {"init_4.mp4", "master_320k.m3u8", "master_320k_init_4.mp4", "master_320k_00000.m4s"} <= set(objects)
    opened, refused = set(), set()
    for file in objects:
        try:
            signing.verify(stream.SECRET, f"/media/{token}/songs/{SONG}/{file}")
            opened.add(file)
        except Forbidden:
            refused.add(file)
    assert all((signing.rung_of(file) or 999) <= 160 for file in opened)
    assert {"master.m3u8", "init_4.mp4", "init_0.mp4", "master_320k_init_4.mp4", "master_320k_max.m3u8"} <= refused
    assert all(file in refused for file in objects if (signing.rung_of(file) or 999) > 160)


def test_every_rung_playlist_names_only_its_own_rungs_files_after_a_manifest(aws, context, stream) -> None:  # type: ignore[no-untyped-def]
    before = _objects(aws.outputs["MediaBucketName"])
    assert 'URI="init_4.mp4"' in before["master_320k.m3u8"].decode()  # as the encoder wrote it
    status, premium = _call(stream, context, "premium-user", {"quality": "very_high"})
    assert status == 200
    objects = _objects(aws.outputs["MediaBucketName"])
    for index, rendition in enumerate(premium["renditions"]):
        playlist = rendition["playlistUrl"].rsplit("/", 1)[1]
        kbps = rendition["bitrateKbps"]
        assert playlist == f"master_{kbps}k.m3u8"  # the same names: players and caches see no new file
        named = _files_reachable({**objects, "m": f"#EXTM3U\n{playlist}\n".encode()}, "m") - {"m"}
        assert {signing.rung_of(file) for file in named} == {kbps}
        assert objects[f"master_{kbps}k_init_{index}.mp4"] == objects[f"init_{index}.mp4"]  # byte for byte
    # a second manifest (another cold start, say) finds nothing left to rename and changes nothing
    stream.store._texts.clear()
    assert _call(stream, context, "premium-user", {"quality": "very_high"})[0] == 200
    assert _objects(aws.outputs["MediaBucketName"]) == objects


def test_urls_live_as_long_as_the_song_plus_the_margin_and_a_new_manifest_renews_them(aws, context, stream) -> None:  # type: ignore[no-untyped-def]
    margin = stream.settings.stream_url_margin_seconds
    before = time.time()
    status, first = _call(stream, context, "free-user", {"quality": "high"})
    after = time.time()
    assert status == 200
    expiry = int(_token_and_base(first["masterPlaylistUrl"])[0].split(".")[0])
    assert before + 50 + margin <= expiry <= after + 50 + margin + 1  # the seeded song lasts 50 s
    assert margin < 3600  # not hours: a leaked URL soon opens nothing
    with pytest.raises(Forbidden, match="expired"):
        signing.verify(stream.SECRET, urlsplit(first["masterPlaylistUrl"]).path, now=expiry)
    status, again = _call(stream, context, "free-user", {"quality": "high"})
    assert status == 200 and again["masterPlaylistUrl"].rsplit("/", 1)[1] == "master_160k_max.m3u8"
