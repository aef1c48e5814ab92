"""Ingest -> S3 -> EventBridge -> the encode state machine -> catalog, on a devstack of its own:
a real OGG becomes a 5-rung HLS/fMP4 ladder, the same bytes again start nothing, and random bytes
fail with a reason."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import RunningStack, start_devstack, stop_devstack
from tests.support import ROOT

AUDIO = ROOT.parent / "shared" / "datasets" / "audio"
TRACK = AUDIO / "elf-land.ogg"

pytestmark = pytest.mark.skipif(not TRACK.is_file(), reason=f"no demo audio at {AUDIO}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_devstack(
        tmp_path_factory.mktemp("encode") / "state.json", "--catalog-limit", "50", "--no-demo-audio"
    )
    yield running
    stop_devstack(running.process)


def ingest(stack: RunningStack, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    environment = os.environ | {"BACKBEAT_DEVSTACK_STATE": str(stack.state_file)}
    command = [sys.executable, "-m", "backbeat.cli", "ingest", str(path), *extra]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120, check=False)


def aws(stack: RunningStack, service: str) -> Any:
    environment = stack.state["environment"]
    return boto3.client(
        service,
        endpoint_url=environment["AWS_ENDPOINT_URL"],
        region_name=environment["AWS_REGION"],
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
    )


def executions(stack: RunningStack) -> int:
    arn = stack.state["outputs"]["EncodeStateMachineArn"]
    return len(aws(stack, "stepfunctions").list_executions(stateMachineArn=arn)["executions"])


def source_duration(path: Path) -> float:
    from backbeat.media import ffmpeg

    probe = ffmpeg.probe(ffmpeg.ffmpeg_exe(), path)
    assert probe.duration_seconds is not None
    return probe.duration_seconds


def test_a_real_track_becomes_a_five_rung_hls_ladder(stack: RunningStack) -> None:
    done = ingest(stack, TRACK, "--title", "Elf Land", "--artist", "Aleksi Aubry-Carlson", "--wait")
    assert done.returncode == 0, done.stderr
    song_id = done.stdout.strip().splitlines()[-1]
    assert len(song_id) == 22

    s3 = aws(stack, "s3")
    bucket = stack.state["outputs"]["MediaBucketName"]

    def read(key: str) -> str:
        return str(s3.get_object(Bucket=bucket, Key=f"songs/{song_id}/{key}")["Body"].read().decode())

    master = read("master.m3u8")
    variants = re.findall(r"^(master_\d+k\.m3u8)$", master, re.MULTILINE)
    assert variants == [f"master_{kbps}k.m3u8" for kbps in (96, 128, 160, 256, 320)]
    assert master.count('CODECS="mp4a.40.2"') == 5
    expected = source_duration(TRACK)
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
        TableName=stack.state["outputs"]["CatalogTableName"], Key={"pk": {"S": f"SONG#{song_id}"}, "sk": {"S": "META"}}
    )["Item"]
    assert item["status"]["S"] == "ready"
    assert len(item["renditions"]["L"]) == 5
    assert -70 < float(item["loudness"]["M"]["integratedLufs"]["N"]) < 0
    assert abs(int(item["durationMs"]["N"]) - expected * 1000) < 500

    # The same bytes again: the same id and no second execution.
    before = executions(stack)
    again = ingest(stack, TRACK, "--title", "Elf Land", "--artist", "Aleksi Aubry-Carlson", "--wait")
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
