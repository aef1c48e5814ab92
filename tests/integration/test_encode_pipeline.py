"""Ingest -> S3 -> EventBridge -> the encode state machine -> catalog, on the session devstack:
a real OGG becomes a 5-rung HLS/fMP4 ladder, the same bytes again start nothing, and random bytes
fail with a reason. Then every master format (the OGG, and MP3, FLAC, M4A and Opus made from it)
ingests, is checked with ffprobe (not our own parser) and plays through POST /stream; damaged real
files (a truncated MP3, byte-garbled OGG and FLAC) fail with a reason.

Every master here is made in this session with a tag of its own (tests.support.fresh_copy), so its
bytes and its song id are new: the shared stack's demo song made from the same track is never
re-encoded under the other tests' feet."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningStack
from tests.support import DEMO_TRACK, fresh_copy, http, needs_demo_audio, plain_get

FFPROBE = shutil.which("ffprobe")
LADDER = (96, 128, 160, 256, 320)

pytestmark = [pytest.mark.integration, needs_demo_audio()]
needs_ffprobe = pytest.mark.skipif(
    FFPROBE is None, reason="no ffprobe on PATH: scripts/system-deps installs it (make test runs it)"
)


@pytest.fixture(scope="module")
def stack(devstack: RunningStack) -> RunningStack:
    return devstack


@pytest.fixture(scope="module")
def track(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo OGG with new bytes (and so a song id of its own on the shared stack)."""
    return fresh_copy(DEMO_TRACK, tmp_path_factory.mktemp("track"))


def ingest(stack: RunningStack, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return stack.cli("ingest", str(path), *extra)


def aws(stack: RunningStack, service: str) -> Any:
    return stack.client(service)


def executions(stack: RunningStack) -> int:
    arn = stack.stack_output("EncodeStateMachineArn")
    return len(aws(stack, "stepfunctions").list_executions(stateMachineArn=arn)["executions"])


def source_duration(path: Path) -> float:
    from backbeat.media import ffmpeg

    probe = ffmpeg.probe(ffmpeg.ffmpeg_exe(), path)
    assert probe.duration_seconds is not None
    return probe.duration_seconds


def test_a_real_track_becomes_a_five_rung_hls_ladder(stack: RunningStack, track: Path) -> None:
    done = ingest(stack, track, "--title", "Elf Land", "--artist", "Aleksi Aubry-Carlson", "--wait")
    assert done.returncode == 0, done.stderr
    song_id = done.stdout.strip().splitlines()[-1]
    assert len(song_id) == 22

    s3 = aws(stack, "s3")
    bucket = stack.stack_output("MediaBucketName")

    def read(key: str) -> str:
        return str(s3.get_object(Bucket=bucket, Key=f"songs/{song_id}/{key}")["Body"].read().decode())

    master = read("master.m3u8")
    variants = re.findall(r"^(master_\d+k\.m3u8)$", master, re.MULTILINE)
    assert variants == [f"master_{kbps}k.m3u8" for kbps in (96, 128, 160, 256, 320)]
    assert master.count('CODECS="mp4a.40.2"') == 5
    expected = source_duration(track)
    for variant in variants:
        playlist = read(variant)
        assert int(re.search(r"#EXT-X-TARGETDURATION:(\d+)", playlist).group(1)) <= 11  # type: ignore[union-attr]
        init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', playlist)
        assert init, "fMP4 playlists name their init segment"
        segments = re.findall(r"^(\S+\.m4s)$", playlist, re.MULTILINE)
        assert segments and all(s3.head_object(Bucket=bucket, Key=f"songs/{song_id}/{s}") for s in segments)
        init_segment = s3.get_object(Bucket=bucket, Key=f"songs/{song_id}/{init.group(1)}")["Body"].read()
        assert init_segment[4:8] == b"ftyp"  # an ISO BMFF (fMP4) init segment
        total = sum(float(value) for value in re.findall(r"#EXTINF:([\d.]+),", playlist))
        assert abs(total - expected) <= 0.5, (variant, total, expected)

    item = aws(stack, "dynamodb").get_item(
        TableName=stack.stack_output("CatalogTableName"), Key={"pk": {"S": f"SONG#{song_id}"}, "sk": {"S": "META"}}
    )["Item"]
    assert item["status"]["S"] == "ready"
    assert len(item["renditions"]["L"]) == 5
    assert -70 < float(item["loudness"]["M"]["integratedLufs"]["N"]) < 0
    assert abs(int(item["durationMs"]["N"]) - expected * 1000) < 500

    # The same bytes again: the same id and no second execution.
    before = executions(stack)
    again = ingest(stack, track, "--title", "Elf Land", "--artist", "Aleksi Aubry-Carlson", "--wait")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == song_id
    assert executions(stack) == before


def test_random_bytes_fail_with_a_reason(stack: RunningStack, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(random.Random(4).randbytes(64_000))
    done = ingest(stack, corrupt, "--title", "Noise", "--artist", "Nobody", "--wait")
    assert done.returncode != 0
    assert len(done.stdout.strip().splitlines()[-1]) == 22
    assert "failed to encode:" in done.stderr
    reason = done.stderr.split("failed to encode:", 1)[1].strip()
    assert any(word in reason for word in ("corrupt", "decode", "no audio")), reason


# --- every master format, checked with ffprobe ------------------------------------------------------

# How each master is made from the OGG with the pipeline's own (bundled) ffmpeg. The MP3 and the M4A
# carry tags and cover art (an attached picture is a video stream), as ripped and purchased files do.
MASTER_ENCODES: dict[str, list[str]] = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "192k", "-id3v2_version", "3"],
    "flac": ["-c:a", "flac"],
    "m4a": ["-c:a", "aac", "-b:a", "192k"],
    "opus": ["-c:a", "libopus", "-b:a", "128k"],
}
WITH_COVER = {"mp3", "m4a"}


def ffprobe(*args: str) -> dict[str, Any]:
    assert FFPROBE
    done = subprocess.run([FFPROBE, "-v", "error", "-of", "json", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.fixture(scope="module")
def masters(tmp_path_factory: pytest.TempPathFactory, track: Path) -> dict[str, Path]:
    from backbeat.media.ffmpeg import ffmpeg_exe

    directory = tmp_path_factory.mktemp("masters")
    exe = ffmpeg_exe()
    cover = directory / "cover.png"
    quiet = (exe, "-hide_banner", "-nostdin", "-v", "error", "-y")
    subprocess.run([*quiet, "-f", "lavfi", "-i", "color=c=navy:s=320x320", "-frames:v", "1", str(cover)], check=True)
    made = {"ogg": track}
    for extension, codec in MASTER_ENCODES.items():
        target = directory / f"elf-land.{extension}"
        inputs, maps = ["-i", str(track)], ["-map", "0:a:0"]
        if extension in WITH_COVER:
            inputs += ["-i", str(cover)]
            maps += ["-map", "1:v", "-c:v", "png", "-disposition:v", "attached_pic"]
        # The copy's own name as a tag: these bytes are new in every session, like the OGG's.
        tags = ["-metadata", "title=Elf Land", "-metadata", "artist=Aleksi Aubry-Carlson"]
        tags += ["-metadata", f"comment={track.stem}"]
        subprocess.run([*quiet, *inputs, *maps, *codec, *tags, str(target)], check=True, timeout=60)
        made[extension] = target
    return made


@pytest.fixture(scope="module")
def premium_token(stack: RunningStack) -> str:
    email = f"premium-{uuid.uuid4().hex[:8]}@formats.test"
    status, body, _ = http("POST", f"{stack.url}/auth/signup", {"email": email, "password": "a-long-password"})
    assert status == 201, body
    done = stack.cli("users", "set-tier", email, "premium")
    assert done.returncode == 0, done.stderr
    return stack.login(email, "a-long-password")


def download_song(stack: RunningStack, song_id: str, directory: Path) -> Path:
    s3, bucket = aws(stack, "s3"), stack.stack_output("MediaBucketName")
    prefix = f"songs/{song_id}/"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    directory.mkdir(parents=True)
    for entry in listed:
        s3.download_file(bucket, entry["Key"], str(directory / entry["Key"].removeprefix(prefix)))
    return directory


@needs_ffprobe
@pytest.mark.parametrize("extension", ["ogg", *MASTER_ENCODES])
def test_every_master_format_ingests_checks_out_with_ffprobe_and_plays(
    stack: RunningStack, masters: dict[str, Path], premium_token: str, tmp_path: Path, extension: str
) -> None:
    master = masters[extension]
    source = ffprobe("-show_entries", "format=duration:stream=codec_type", str(master))
    source_seconds = float(source["format"]["duration"])
    kinds = sorted(stream["codec_type"] for stream in source["streams"])
    assert kinds == (["audio", "video"] if extension in WITH_COVER else ["audio"])  # the cover is a video stream
    started = time.perf_counter()
    done = ingest(stack, master, "--title", f"Elf Land ({extension})", "--artist", "Aleksi Aubry-Carlson", "--wait")
    ready_after = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    song_id = done.stdout.strip().splitlines()[-1]
    item = aws(stack, "dynamodb").get_item(
        TableName=stack.stack_output("CatalogTableName"), Key={"pk": {"S": f"SONG#{song_id}"}, "sk": {"S": "META"}}
    )["Item"]
    assert item["status"]["S"] == "ready"
    assert abs(int(item["durationMs"]["N"]) / 1000 - source_seconds) <= 0.5

    local = download_song(stack, song_id, tmp_path / "song")
    # The master playlist: five rungs, lowest first, each AAC-LC stereo in ffprobe's eyes.
    text = (local / "master.m3u8").read_text()
    assert re.findall(r"^master_(\d+)k\.m3u8$", text, re.MULTILINE) == [str(kbps) for kbps in LADDER]
    assert re.findall(r'CODECS="([^"]+)"', text) == ["mp4a.40.2"] * 5
    programs = ffprobe(
        "-show_entries", "program_tags=variant_bitrate:stream=codec_name,profile,channels", str(local / "master.m3u8")
    )["programs"]
    assert len(programs) == 5
    assert all(
        [(s["codec_name"], s["profile"], s["channels"]) for s in p["streams"]] == [("aac", "LC", 2)] for p in programs
    )
    measured = {}
    for kbps in LADDER:
        playlist = (local / f"master_{kbps}k.m3u8").read_text()
        assert int(re.search(r"#EXT-X-TARGETDURATION:(\d+)", playlist).group(1)) <= 11  # type: ignore[union-attr]
        init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', playlist)
        segments = re.findall(r"^(master_\d+k_\d{5}\.m4s)$", playlist, re.MULTILINE)
        assert init and segments and segments[0] == f"master_{kbps}k_00000.m4s"
        # The rung as one fragmented MP4 (init segment + media segments), as a player appends them.
        joined = tmp_path / f"{kbps}k.mp4"
        joined.write_bytes(b"".join((local / name).read_bytes() for name in [init.group(1), *segments]))
        probed = ffprobe("-show_entries", "stream=codec_name,profile,channels:format=format_name,duration", str(joined))
        assert [(s["codec_name"], s["profile"], s["channels"]) for s in probed["streams"]] == [("aac", "LC", 2)]
        assert "mp4" in probed["format"]["format_name"]
        rung_seconds = float(probed["format"]["duration"])
        assert abs(rung_seconds - source_seconds) <= 0.5, (kbps, rung_seconds, source_seconds)
        media_bytes = sum((local / name).stat().st_size for name in segments)
        measured[kbps] = round(media_bytes * 8 / 1000 / rung_seconds, 1)
    print(
        f"\n{extension}: ready {ready_after:.1f} s after ingest; source {source_seconds:.3f} s; kbps {measured}",
        file=sys.stderr,
    )

    # It plays: a premium listener's manifest, and its prebuffer (init + first segments) by plain GETs.
    status, manifest, _ = http("POST", f"{stack.url}/stream/{song_id}", {"quality": "very_high"}, token=premium_token)
    assert status == 200, manifest
    assert [r["bitrateKbps"] for r in manifest["renditions"]] == list(LADDER)
    fetched = [plain_get(url)[:2] for url in manifest["prebuffer"]]
    assert all(code == 200 and data for code, data in fetched)
    assert fetched[0][1][4:8] == b"ftyp" and all(
        data[4:8] == b"styp" and b"moof" in data[:512] for _, data in fetched[1:]
    )
    played = tmp_path / "prebuffer.mp4"
    played.write_bytes(b"".join(data for _, data in fetched))
    audio = ffprobe("-show_entries", "stream=codec_name,profile:format=duration", str(played))
    assert [(s["codec_name"], s["profile"]) for s in audio["streams"]] == [("aac", "LC")]
    assert float(audio["format"]["duration"]) > 0


def garble(data: bytes, seed: int) -> bytes:
    """Overwrite one byte in every 997 of the middle third: the header is intact, the audio is not."""
    damaged, rng = bytearray(data), random.Random(seed)
    for index in range(len(data) // 3, 2 * len(data) // 3, 997):
        damaged[index] = rng.randrange(256)
    return bytes(damaged)


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("truncated mp3", ("truncated",)),  # its LAME header still declares the whole length
        ("garbled ogg", ("CRC mismatch",)),  # the demuxer drops the pages but the decode exits 0
        ("garbled flac", ("does not decode",)),
    ],
)
def test_a_damaged_real_file_fails_with_a_reason(
    stack: RunningStack, masters: dict[str, Path], tmp_path: Path, damage: str, words: tuple[str, ...]
) -> None:
    kind, extension = damage.split()
    data = masters[extension].read_bytes()
    damaged = tmp_path / f"damaged.{extension}"
    damaged.write_bytes(data[: len(data) // 2] if kind == "truncated" else garble(data, seed=len(extension)))
    done = ingest(stack, damaged, "--title", damage, "--artist", "Nobody", "--wait")
    assert done.returncode != 0, done.stdout
    assert "failed to encode:" in done.stderr, done.stderr
    reason = done.stderr.split("failed to encode:", 1)[1].strip()
    assert any(word in reason for word in words), reason
