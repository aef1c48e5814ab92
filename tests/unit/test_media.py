"""Probe validation, the ffmpeg output parsers and the ladder command, without running ffmpeg."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from backbeat.media import ffmpeg
from backbeat.media.masters import MasterMetadata, content_hash, master_key, song_id_for_key
from backbeat.media.pipeline import failure_reason

OGG_BANNER = """Input #0, ogg, from 'master':
  Duration: 00:00:26.84, start: 0.000000, bitrate: 81 kb/s
  Stream #0:0: Audio: vorbis, 44100 Hz, stereo, fltp, 112 kb/s
    Metadata:
      TITLE           : Elf Land
At least one output file must be specified
"""

EBUR128_SUMMARY = """[Parsed_ebur128_0 @ 0x1] Summary:

  Integrated loudness:
    I:         -18.3 LUFS
    Threshold: -29.1 LUFS

  Loudness range:
    LRA:         6.6 LU

  True peak:
    Peak:       -6.3 dBFS
"""


def good(**overrides: object) -> ffmpeg.ProbeResult:
    fields: dict[str, object] = {
        "format_name": "ogg",
        "duration_seconds": 26.84,
        "codec": "vorbis",
        "sample_rate": 44100,
        "channels": "stereo",
    }
    return ffmpeg.ProbeResult(**(fields | overrides))  # type: ignore[arg-type]


def test_the_banner_gives_format_duration_and_audio_stream() -> None:
    probe = ffmpeg.parse_probe(OGG_BANNER)
    assert probe == good()


def test_a_banner_of_garbage_has_no_format() -> None:
    probe = ffmpeg.parse_probe("[in#0 @ 0x1] Error opening input: Invalid data found when processing input\n")
    assert probe.format_name is None and probe.codec is None


def test_a_video_without_audio_has_no_codec() -> None:
    banner = "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'x':\n  Duration: 00:00:10.00, start: 0\n"
    banner += "  Stream #0:0[0x1](und): Video: h264 (High), yuv420p, 640x360, 25 fps\n"
    probe = ffmpeg.parse_probe(banner)
    assert probe.format_name == "mov,mp4,m4a,3gp,3g2,mj2" and probe.codec is None


def test_an_mp4_audio_stream_with_language_and_id_is_found() -> None:
    banner = "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'x':\n  Duration: 00:03:01.50, start: 0\n"
    banner += "  Stream #0:0[0x1](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, stereo, fltp, 256 kb/s\n"
    probe = ffmpeg.parse_probe(banner)
    assert (probe.codec, probe.sample_rate, probe.duration_seconds) == ("aac", 48000, 181.5)


@pytest.mark.parametrize(
    ("probe", "size", "reason"),
    [
        (good(), 0, "empty file"),
        (good(format_name=None, codec=None), 100, "not a recognised media file"),
        (good(codec=None), 100, "no audio stream"),
        (good(decode_error="Invalid data"), 100, "audio does not decode"),
        (good(duration_seconds=None), 100, "unknown duration"),
        (good(decoded_seconds=13.4), 100, "truncated: 13.40 s of audio decode but the header declares 26.84 s"),
        (good(decoded_seconds=0.4, duration_estimated=True), 100, "too short: 0.40 s"),
        (
            good(decoded_seconds=13.4, decode_error="backstep -1"),
            100,
            "truncated: 13.40 s of audio decode but the header declares 26.84 s (backstep -1)",
        ),
        (good(duration_seconds=0.2), 100, "too short"),
        (good(duration_seconds=3600.0), 100, "too long"),
    ],
)
def test_refused_masters_say_why(probe: ffmpeg.ProbeResult, size: int, reason: str) -> None:
    refused = ffmpeg.validate_probe(probe, size, max_seconds=1200)
    assert refused is not None and refused.startswith(reason)


def test_a_good_master_is_accepted() -> None:
    assert ffmpeg.validate_probe(good(), 274_273, max_seconds=1200) is None
    # The header's duration is rounded to 10 ms; a decode that ends a hair either side of it is whole.
    assert ffmpeg.validate_probe(good(decoded_seconds=26.841179), 274_273, max_seconds=1200) is None
    assert ffmpeg.validate_probe(good(decoded_seconds=26.5), 274_273, max_seconds=1200) is None


def test_an_estimated_duration_gives_way_to_what_decodes() -> None:
    banner = OGG_BANNER.replace(
        "Input #0, ogg", "[mp3 @ 0x1] Estimating duration from bitrate, this may be inaccurate\n"
    )
    banner += "Input #0, mp3, from 'master':\n"
    probe = ffmpeg.parse_probe(banner, decoded_seconds=20.0)
    assert probe.duration_estimated and probe.seconds == 20.0
    assert ffmpeg.validate_probe(probe, 100, max_seconds=1200) is None  # not "truncated": the header only guessed
    assert not ffmpeg.parse_probe(OGG_BANNER).duration_estimated and ffmpeg.parse_probe(OGG_BANNER).seconds == 26.84


def test_the_decode_pass_reports_how_far_it_got() -> None:
    command = ffmpeg.decode_command("ffmpeg", Path("/in/master"))
    assert "-xerror" in command and command[command.index("-progress") + 1] == "pipe:1"
    assert command[command.index("-v") + 1] == "error" and command[command.index("-map") + 1] == "0:a:0"
    progress = "out_time_us=500000\nprogress=continue\nout_time_us=N/A\nout_time_us=26841179\nprogress=end\n"
    assert ffmpeg.parse_progress(progress) == 26.841179
    assert ffmpeg.parse_progress("out_time_us=N/A\nprogress=end\n") is None


def test_loudness_summary() -> None:
    assert ffmpeg.parse_loudness(EBUR128_SUMMARY) == ffmpeg.Loudness(-18.3, -6.3)
    silent = EBUR128_SUMMARY.replace("-18.3 LUFS", "-inf LUFS").replace("-6.3 dBFS", "-inf dBFS")
    assert ffmpeg.parse_loudness(silent) == ffmpeg.Loudness(-70.0, -70.0)
    with pytest.raises(ffmpeg.TranscodeFailed):
        ffmpeg.parse_loudness("no summary")


def test_the_ladder_command_encodes_every_rung_once_into_hls_fmp4() -> None:
    command = ffmpeg.ladder_command("ffmpeg", Path("/in/master"), Path("/out"))
    assert command[0] == "ffmpeg" and command[command.index("-i") + 1] == "/in/master"
    assert command.count("-map") == len(ffmpeg.LADDER_KBPS) == 5
    bitrates = [command[i + 1] for i, arg in enumerate(command) if arg.startswith("-b:a:")]
    assert bitrates == ["96k", "128k", "160k", "256k", "320k"]
    options = dict(itertools.pairwise(command))
    assert options["-c:a"] == "aac" and options["-profile:a"] == "aac_low" and options["-ac"] == "2"
    assert options["-aac_coder"] == "twoloop"  # docs/performance.md, "Encoder and rungs"
    assert options["-f"] == "hls" and options["-hls_time"] == "10" and options["-hls_segment_type"] == "fmp4"
    assert options["-hls_playlist_type"] == "vod" and options["-master_pl_name"] == "master.m3u8"
    assert options["-var_stream_map"] == "a:0,name:96k a:1,name:128k a:2,name:160k a:3,name:256k a:4,name:320k"
    assert command[-1] == "/out/master_%v.m3u8"
    assert ffmpeg.media_playlist(96) == "master_96k.m3u8"
    tried = ffmpeg.ladder_command("ffmpeg", Path("/in/master"), Path("/out"), encoder_options=("-aac_coder", "fast"))
    assert dict(itertools.pairwise(tried))["-aac_coder"] == "fast" and tried.index("-aac_coder") < tried.index("-b:a:0")


def test_same_bytes_same_key_same_song() -> None:
    key = master_key(content_hash(b"abc"))
    assert key == master_key(content_hash(b"abc")) != master_key(content_hash(b"abd"))
    assert song_id_for_key(key) == song_id_for_key(key) and len(song_id_for_key(key)) == 22
    with pytest.raises(ValueError):
        song_id_for_key("elsewhere/abc")


def test_metadata_survives_s3_ascii_headers() -> None:
    metadata = MasterMetadata(title="Élan — 夜", artist="Sigur Rós", album="Ágætis byrjun")
    encoded = metadata.to_s3()
    assert all(value.isascii() for value in encoded.values())
    assert MasterMetadata.from_s3(encoded) == metadata
    with pytest.raises(ValueError):
        MasterMetadata.from_s3({"title": "x"})


def test_the_failure_reason_is_the_lambda_error_message() -> None:
    cause = '{"errorMessage": "empty file", "errorType": "InvalidMaster"}'
    assert failure_reason({"Error": "InvalidMaster", "Cause": cause}) == "empty file"
    assert failure_reason({"Error": "States.Timeout", "Cause": ""}) == "States.Timeout"
