"""Everything the pipeline asks of ffmpeg, as argument lists and parsers of its output.

ffprobe is not always at hand (imageio-ffmpeg bundles only ffmpeg), so probing reads the stream
header ffmpeg prints for `-i` and then decodes the whole input to the null muxer: a header alone
does not prove that the audio decodes, and a decode pass is cheap next to the transcode. The decode
pass also says how much audio there really is: a truncated MP3 keeps the header (Xing/LAME frame)
that declares its full length, and an Ogg page with a bad checksum is dropped by the demuxer with an
error but without failing the decode.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from backbeat.errors import BackbeatError

# The ladder: AAC-LC stereo at these bitrates (kbps), lowest first.
LADDER_KBPS: tuple[int, ...] = (96, 128, 160, 256, 320)
SEGMENT_SECONDS = 10
SAMPLE_RATE = 48000
MASTER_PLAYLIST = "master.m3u8"
AAC_LC_CODEC = "mp4a.40.2"
# ffmpeg's native AAC encoder (the only one imageio-ffmpeg's build has; no libfdk_aac) with its
# two-loop coder, named explicitly: the `fast` coder gets closer to the nominal 320 kbps but reproduces
# the source less faithfully (docs/performance.md, "Encoder and rungs"; bench/encode.py).
AAC_OPTIONS: tuple[str, ...] = ("-aac_coder", "twoloop")


class InvalidMaster(BackbeatError):
    """The uploaded master is not something we can publish; retrying will not help."""

    code = "InvalidMaster"


class TranscodeFailed(BackbeatError):
    """ffmpeg could not finish (a transient condition such as a full disk is possible)."""

    code = "TranscodeFailed"


@dataclass(frozen=True)
class ProbeResult:
    format_name: str | None
    duration_seconds: float | None
    codec: str | None
    sample_rate: int | None
    channels: str | None
    decode_error: str | None = None
    # Seconds of audio in the input, from a decode pass that ran to its end (None otherwise: one
    # stopped by a decoder error says where the damage is, not how long the audio is).
    decoded_seconds: float | None = None
    # The header's duration is ffmpeg's estimate from the bitrate (an MP3 without a Xing/VBRI frame).
    duration_estimated: bool = False

    @property
    def seconds(self) -> float | None:
        """The length to publish: what decodes, else what the header declares."""
        return self.decoded_seconds if self.decoded_seconds is not None else self.duration_seconds


def ffmpeg_exe(configured: str = "") -> str:
    """The ffmpeg binary: configured path, else imageio-ffmpeg's bundled one, else `ffmpeg` on PATH."""
    if configured:
        return configured
    try:
        import imageio_ffmpeg  # type: ignore[import-untyped]

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except ImportError:
        found = shutil.which("ffmpeg")
        if not found:
            raise RuntimeError("no ffmpeg: set FFMPEG_PATH or install imageio-ffmpeg") from None
        return found


_DURATION = re.compile(r"Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_INPUT = re.compile(r"^Input #0, ([^,]+(?:,[^,]+)*?), from ", re.MULTILINE)
_AUDIO = re.compile(r"Stream #0:\d+(?:\[[^\]]*\])?(?:\([^)]*\))?: Audio: (\w+)[^,\n]*, (\d+) Hz, ([^,\n]+)")


_ESTIMATED = "Estimating duration from bitrate"
_OUT_TIME = re.compile(r"^out_time_us=(\d+)$", re.MULTILINE)
# How far the decoded audio may fall short of the declared duration before the master counts as truncated.
TRUNCATION_TOLERANCE_SECONDS = 0.5


def parse_progress(progress: str) -> float | None:
    """The last `out_time_us` of ffmpeg's `-progress` output, in seconds."""
    times = _OUT_TIME.findall(progress)
    return int(times[-1]) / 1e6 if times else None


def parse_probe(header: str, decode_error: str | None = None, decoded_seconds: float | None = None) -> ProbeResult:
    """Read the format, duration and first audio stream from ffmpeg's `-i` banner."""
    duration = _DURATION.search(header)
    audio = _AUDIO.search(header)
    container = _INPUT.search(header)
    seconds = None
    if duration:
        hours, minutes, secs = duration.groups()
        seconds = int(hours) * 3600 + int(minutes) * 60 + float(secs)
    return ProbeResult(
        format_name=container.group(1) if container else None,
        duration_seconds=seconds,
        codec=audio.group(1) if audio else None,
        sample_rate=int(audio.group(2)) if audio else None,
        channels=audio.group(3).strip() if audio else None,
        decode_error=decode_error,
        decoded_seconds=decoded_seconds,
        duration_estimated=_ESTIMATED in header,
    )


def validate_probe(probe: ProbeResult, size_bytes: int, max_seconds: float, min_seconds: float = 1.0) -> str | None:
    """The reason this master is refused, or None when it can be encoded."""
    if size_bytes == 0:
        return "empty file"
    if probe.format_name is None:
        return "not a recognised media file (corrupt or unknown format)"
    if probe.codec is None:
        return "no audio stream"
    if (  # before a decode error: a cut file often ends in half a frame, and "truncated" says more
        probe.duration_seconds is not None
        and probe.decoded_seconds is not None
        and not probe.duration_estimated
        and probe.decoded_seconds < probe.duration_seconds - TRUNCATION_TOLERANCE_SECONDS
    ):
        detail = f" ({probe.decode_error})" if probe.decode_error else ""
        return (
            f"truncated: {probe.decoded_seconds:.2f} s of audio decode but the header declares "
            f"{probe.duration_seconds:.2f} s{detail}"
        )
    if probe.decode_error:
        return f"audio does not decode: {probe.decode_error}"
    if probe.duration_seconds is None:
        return "unknown duration"
    seconds = probe.seconds
    assert seconds is not None
    if seconds < min_seconds:
        return f"too short: {seconds:.2f} s (minimum {min_seconds:g} s)"
    if seconds > max_seconds:
        return f"too long: {seconds:.0f} s (maximum {max_seconds:g} s)"
    return None


def probe(ffmpeg: str, source: Path, timeout: float = 300) -> ProbeResult:
    header = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-i", str(source)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
    ).stderr
    result = parse_probe(header)
    if result.codec is None:
        return result
    decoded = subprocess.run(
        decode_command(ffmpeg, source), capture_output=True, text=True, errors="replace", timeout=timeout, check=False
    )
    # Anything at level error is a fault in the audio: -xerror stops on decoder errors, but demuxer
    # errors (an Ogg page whose CRC does not match, dropped) leave the exit status at 0.
    errors = [line.strip() for line in decoded.stderr.splitlines() if line.strip()]
    if decoded.returncode != 0:
        stopped = errors[-1] if errors else f"ffmpeg exited {decoded.returncode}"
        return parse_probe(header, decode_error=stopped[:300])
    error = None
    if errors:
        error = (errors[0] + (f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""))[:300]
    return parse_probe(header, decode_error=error, decoded_seconds=parse_progress(decoded.stdout))


def decode_command(ffmpeg: str, source: Path) -> list[str]:
    """Decode the first audio stream to the null muxer, stopping at a decoder error; errors on
    stderr, the progress (out_time_us, how far it got) on stdout."""
    return [
        *(ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-v", "error", "-xerror", "-i", str(source)),
        *("-map", "0:a:0", "-f", "null", "-progress", "pipe:1", "-"),
    ]


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float
    true_peak_db: float


_INTEGRATED = re.compile(r"Integrated loudness:\s*\n\s*I:\s*(-?[\d.]+|-inf) LUFS")
_TRUE_PEAK = re.compile(r"True peak:\s*\n\s*Peak:\s*(-?[\d.]+|-inf) dBFS")


def parse_loudness(output: str) -> Loudness:
    """The EBU R128 summary that the ebur128 filter prints last (silence reads -inf; kept as -70)."""
    integrated = _INTEGRATED.findall(output)
    peak = _TRUE_PEAK.findall(output)
    if not integrated or not peak:
        raise TranscodeFailed("ffmpeg printed no EBU R128 summary")

    def number(text: str) -> float:
        return -70.0 if text == "-inf" else float(text)

    return Loudness(integrated_lufs=number(integrated[-1]), true_peak_db=number(peak[-1]))


def loudness_command(ffmpeg: str, source: Path) -> list[str]:
    return [
        *(ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-i", str(source)),
        *("-map", "0:a:0", "-af", "ebur128=peak=true", "-f", "null", "-"),
    ]


def measure_loudness(ffmpeg: str, source: Path, timeout: float = 600) -> Loudness:
    done = subprocess.run(
        loudness_command(ffmpeg, source), capture_output=True, text=True, errors="replace", timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise TranscodeFailed(f"loudness measurement failed: {done.stderr.strip()[-300:]}")
    return parse_loudness(done.stderr)


def rendition_name(bitrate_kbps: int) -> str:
    return f"{bitrate_kbps}k"


def media_playlist(bitrate_kbps: int) -> str:
    return f"master_{rendition_name(bitrate_kbps)}.m3u8"


def ladder_command(
    ffmpeg: str,
    source: Path,
    out_dir: Path,
    ladder: tuple[int, ...] = LADDER_KBPS,
    segment_seconds: int = SEGMENT_SECONDS,
    encoder_options: tuple[str, ...] = AAC_OPTIONS,
) -> list[str]:
    """One ffmpeg run that decodes once and encodes every rung: AAC-LC stereo, HLS with fMP4 (CMAF)
    segments, one media playlist per rung and a master playlist listing them, all in `out_dir`.
    `encoder_options` go after the codec's (bench/encode.py compares settings through it)."""
    maps: list[str] = []
    bitrates: list[str] = []
    for index, kbps in enumerate(ladder):
        maps += ["-map", "0:a:0"]
        bitrates += [f"-b:a:{index}", f"{kbps}k"]
    stream_map = " ".join(f"a:{index},name:{rendition_name(kbps)}" for index, kbps in enumerate(ladder))
    return [
        *(ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-v", "error", "-y", "-i", str(source)),
        *maps,
        *("-vn", "-c:a", "aac", "-profile:a", "aac_low", "-ac", "2", "-ar", str(SAMPLE_RATE)),
        *encoder_options,
        *bitrates,
        *("-f", "hls", "-hls_time", str(segment_seconds), "-hls_playlist_type", "vod"),
        *("-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4"),
        *("-hls_segment_filename", str(out_dir / "master_%v_%05d.m4s")),
        *("-master_pl_name", MASTER_PLAYLIST, "-var_stream_map", stream_map),
        str(out_dir / "master_%v.m3u8"),
    ]


def transcode(ffmpeg: str, source: Path, out_dir: Path, timeout: float = 900) -> list[Path]:
    """Run the ladder; the files written, master playlist first."""
    out_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ladder_command(ffmpeg, source, out_dir), capture_output=True, text=True, errors="replace", timeout=timeout
    )
    master = out_dir / MASTER_PLAYLIST
    if done.returncode != 0 or not master.is_file():
        raise TranscodeFailed(f"ffmpeg exited {done.returncode}: {done.stderr.strip()[-300:]}")
    return [master, *sorted(path for path in out_dir.iterdir() if path != master)]
