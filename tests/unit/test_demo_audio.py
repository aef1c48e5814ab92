"""The demo-only link of catalog songs to the demo tracks, and the on-disk cache of their encodes
that spares later `make dev` starts the encoding."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from backbeat.catalog.models import META, SongItem, new_song, song_key
from backbeat.media import ffmpeg
from backbeat.media.masters import MasterMetadata
from devstack.demo_audio import (
    DemoAudio,
    DemoTrack,
    ffmpeg_identity,
    find_tracks,
    media_for,
    pipeline_fingerprint,
)
from tests.support import ROOT

AUDIO = ROOT.parent / "shared" / "datasets" / "audio"


def test_every_song_links_to_one_track_stably_and_evenly() -> None:
    ids = [f"media{n}" for n in range(10)]
    pick = media_for(ids)
    songs = [f"song-{n}" for n in range(20_000)]
    counts = collections.Counter(pick(song) for song in songs)
    assert set(counts) == set(ids)
    assert min(counts.values()) > 0.8 * len(songs) / len(ids)  # no track left with a sliver
    assert [pick(song) for song in songs[:100]] == [media_for(list(ids))(song) for song in songs[:100]]
    assert media_for([])("song-1") is None


@pytest.mark.skipif(not AUDIO.is_dir(), reason=f"no demo audio at {AUDIO}")
def test_the_demo_tracks_are_read_with_their_tags_and_content_ids() -> None:
    tracks = find_tracks(AUDIO, ffmpeg.ffmpeg_exe())
    assert len(tracks) == len(list(AUDIO.glob("*.ogg")))
    by_file = {track.path.name: track for track in tracks}
    elf = by_file["elf-land.ogg"]
    assert elf.metadata == MasterMetadata(
        title="Elf Land", artist="Aleksi Aubry-Carlson", album="The Battle for Wesnoth OST"
    )
    assert abs(elf.seconds - 26.84) < 0.05
    assert len({track.song_id for track in tracks}) == len(tracks)


def test_the_fingerprint_follows_the_ffmpeg_build_not_its_path() -> None:
    def build(path: str) -> str:
        return {"/opt/a/ffmpeg": "ffmpeg version 9.0 1000", "/opt/b/ffmpeg": "ffmpeg version 9.0 1000"}.get(
            path, "ffmpeg version 5.1 2000"
        )

    assert pipeline_fingerprint("/opt/a/ffmpeg", build) == pipeline_fingerprint("/opt/b/ffmpeg", build)
    assert pipeline_fingerprint("/opt/a/ffmpeg", build) != pipeline_fingerprint("/usr/bin/ffmpeg", build)
    assert "ffmpeg version" in ffmpeg_identity(ffmpeg.ffmpeg_exe())


def _ready_song(media_bucket: str, song_id: str) -> None:
    s3 = boto3.client("s3")
    for name, body in (("master.m3u8", b"#EXTM3U\n"), ("init_0.mp4", b"init"), ("master_96k_00000.m4s", b"seg")):
        s3.put_object(Bucket=media_bucket, Key=f"songs/{song_id}/{name}", Body=body)
    new_song(
        song_id,
        title="Elf Land",
        artist_id="a",
        artist_name="A",
        album_id="b",
        album_title="B",
        album_type="single",
        duration_ms=26840,
        status="ready",
        renditions=[{"bitrateKbps": 96, "playlistKey": f"songs/{song_id}/master_96k.m3u8"}],
        loudness={"integratedLufs": -18.5, "truePeakDb": -2.0},
    ).save()


def _demo(aws: Any, tmp_path: Path, track: DemoTrack, fingerprint: str = "v1") -> DemoAudio:
    return DemoAudio(
        [track],
        masters_bucket=aws.outputs["MastersBucketName"],
        media_bucket=aws.outputs["MediaBucketName"],
        catalog_table=aws.outputs["CatalogTableName"],
        cache_dir=tmp_path / "cache",
        fingerprint=fingerprint,
        log=lambda message: None,
    )


def test_encoded_tracks_are_cached_and_restored_without_a_second_encode(aws, tmp_path) -> None:  # type: ignore[no-untyped-def]
    master = tmp_path / "track.ogg"
    master.write_bytes(b"not really audio, the encode is not under test here")
    track = DemoTrack(path=master, song_id="DemoSongAAAAAAAAAAAAAA", metadata=MasterMetadata("T", "A"), seconds=26.8)
    s3 = boto3.client("s3")
    media, masters = aws.outputs["MediaBucketName"], aws.outputs["MastersBucketName"]

    first = _demo(aws, tmp_path, track)
    first.start()  # cache miss: the master goes to the masters bucket, whose upload starts the encode
    assert first.pending == [track]
    assert s3.list_objects_v2(Bucket=masters).get("KeyCount") == 1
    _ready_song(media, track.song_id)  # what the encode state machine leaves behind
    items = first.wait(timeout=5)
    assert [(item["id"], item["status"]) for item in items] == [(track.song_id, "ready")]  # plain, as indexed
    cached = tmp_path / "cache" / "v1" / track.song_id
    assert [p.name for p in cached.parent.iterdir()] == [track.song_id]  # no staging left behind
    assert sorted(p.name for p in (cached / "files").iterdir()) == ["init_0.mp4", "master.m3u8", "master_96k_00000.m4s"]
    assert json.loads((cached / "song.json").read_text())["status"] == {"S": "ready"}

    # A fresh stack: empty buckets, no song. The cache puts both back; nothing is uploaded to encode.
    for bucket in (media, masters):
        for found in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=found["Key"])
    SongItem(pk=song_key(track.song_id), sk=META).delete()
    second = _demo(aws, tmp_path, track)
    second.start()
    assert second.pending == [] and second.restored == 1
    assert s3.list_objects_v2(Bucket=masters).get("KeyCount") == 0
    restored = s3.get_object(Bucket=media, Key=f"songs/{track.song_id}/master_96k_00000.m4s")
    assert restored["Body"].read() == b"seg"
    song = SongItem.get(song_key(track.song_id), META)
    assert song.status == "ready" and song.loudness.as_dict() == {"integratedLufs": -18.5, "truePeakDb": -2.0}

    # A damaged entry (a file lost or cut short) is a miss, not a silent restore of broken media.
    (cached / "files" / "master_96k_00000.m4s").write_bytes(b"s")
    damaged = _demo(aws, tmp_path, track)
    damaged.start()
    assert damaged.pending == [track] and damaged.restored == 0

    # A pipeline change (new fingerprint) misses the cache and encodes again.
    third = _demo(aws, tmp_path, track, fingerprint="v2")
    third.start()
    assert third.pending == [track]
