"""Encode bench: the pipeline's transcode (one ffmpeg run, 5 rungs, HLS/fMP4) on real tracks.

    .venv/bin/python bench/encode.py [--tracks elvish-theme sad frantic-old] [--repeat 3] [--compare]
                                     [--ffmpeg /usr/bin/ffmpeg]

For each track: the probe, loudness and transcode steps' wall-clock time (the fastest of `--repeat`
runs; the machine may be shared) and per minute of audio, then each rung's measured bitrate
(media-segment bytes * 8 / playlist duration, init segments left out) against its nominal one, and
its signal-to-distortion ratio against the source (ffmpeg's `asdr` filter, the source resampled to
48 kHz, the rung's 1024 priming samples skipped; the mean of both channels). SDR is a waveform
measure, not a perceptual one: it says which of two settings of one encoder reproduces the source
more faithfully, not how either sounds.

`--compare` runs the candidate encoder settings as well (coder, cutoff, noise substitution and
intensity stereo), through `ladder_command`'s `encoder_options`, so the layout is the pipeline's.
`--ffmpeg` encodes with another binary (e.g. Debian's) for comparison; SDR is measured with the
bundled one, which has `asdr`.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "backbeat"))

from backbeat.media import ffmpeg  # noqa: E402

T = TypeVar("T")
AUDIO = ROOT.parent / "shared" / "datasets" / "audio"
PRIMING_SAMPLES = 1024  # the AAC encoder's delay; the fMP4 segments carry no edit list that trims it
CANDIDATES: dict[str, tuple[str, ...]] = {
    "twoloop (pipeline)": ffmpeg.AAC_OPTIONS,
    "fast coder": ("-aac_coder", "fast"),
    "fast coder on 320 only": ("-aac_coder:a:4", "fast"),
    "twoloop, -cutoff 24000": ("-aac_coder", "twoloop", "-cutoff", "24000"),
    "twoloop, no PNS, no intensity stereo": ("-aac_coder", "twoloop", "-aac_pns", "0", "-aac_is", "0"),
}


def timed(function: Callable[[], T], repeat: int) -> tuple[float, T]:
    """The fastest of `repeat` runs (the machine may be shared) and the last run's result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    assert result is not None
    return best, result


def transcode(exe: str, source: Path, out: Path, options: tuple[str, ...]) -> bool:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    command = ffmpeg.ladder_command(exe, source, out, encoder_options=options)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"ffmpeg failed: {done.stderr.strip()[-500:]}")
    return True


def rung_files(out: Path, kbps: int) -> tuple[float, list[Path], Path]:
    playlist = (out / ffmpeg.media_playlist(kbps)).read_text()
    seconds = sum(float(value) for value in re.findall(r"#EXTINF:([\d.]+),", playlist))
    init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', playlist)
    assert init, "fMP4 playlists name their init segment"
    return seconds, [out / name for name in re.findall(r"^(\S+\.m4s)$", playlist, re.MULTILINE)], out / init.group(1)


def sdr(source: Path, joined: Path) -> float:
    graph = (
        f"[0:a]aresample={ffmpeg.SAMPLE_RATE},aformat=fltp:{ffmpeg.SAMPLE_RATE}:stereo[a];"
        f"[1:a]atrim=start_sample={PRIMING_SAMPLES},asetpts=PTS-STARTPTS,aformat=fltp:{ffmpeg.SAMPLE_RATE}:stereo[b];"
        "[a][b]asdr"
    )
    command = [ffmpeg.ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(source), "-i", str(joined)]
    done = subprocess.run([*command, "-filter_complex", graph, "-f", "null", "-"], capture_output=True, text=True)
    values = [float(value) for value in re.findall(r"SDR ch\d+: (-?[\d.]+|inf) dB", done.stderr)]
    return statistics.fmean(values) if values else float("nan")


def measure(out: Path, source: Path) -> dict[int, tuple[float, float]]:
    """Each rung's (measured kbps, SDR dB)."""
    measured = {}
    for kbps in ffmpeg.LADDER_KBPS:
        seconds, segments, init = rung_files(out, kbps)
        joined = out / f"{kbps}k-joined.mp4"
        joined.write_bytes(init.read_bytes() + b"".join(path.read_bytes() for path in segments))
        size = sum(path.stat().st_size for path in segments)
        measured[kbps] = (size * 8 / 1000 / seconds, sdr(source, joined))
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", nargs="+", default=["elvish-theme", "sad", "frantic-old"])
    parser.add_argument("--repeat", type=int, default=3, help="runs per step; the fastest is reported")
    parser.add_argument("--compare", action="store_true", help="also run the candidate encoder settings")
    parser.add_argument("--ffmpeg", default="", help="the ffmpeg to encode with (default: the pipeline's)")
    args = parser.parse_args()
    exe = ffmpeg.ffmpeg_exe(args.ffmpeg)
    version = subprocess.run([exe, "-version"], capture_output=True, text=True).stdout.split("\n", 1)[0]
    print(f"{version} ({exe})\n")
    settings = CANDIDATES if args.compare else {"twoloop (pipeline)": ffmpeg.AAC_OPTIONS}
    work = Path(tempfile.mkdtemp(prefix="backbeat-encode-"))
    rows: list[str] = []
    summary = ""
    try:
        for name in args.tracks:
            source = AUDIO / f"{name}.ogg"
            probe_seconds, probed = timed(partial(ffmpeg.probe, exe, source), args.repeat)
            assert probed.seconds
            minutes = probed.seconds / 60
            loudness_seconds, _ = timed(partial(ffmpeg.measure_loudness, exe, source), args.repeat)
            print(f"## {source.name} ({probed.seconds:.1f} s)\n")
            print(f"probe {probe_seconds:.2f} s, loudness {loudness_seconds:.2f} s\n")
            print("| setting | transcode | per min of audio | " + " | ".join(f"{k}" for k in ffmpeg.LADDER_KBPS) + " |")
            print("|---" * (3 + len(ffmpeg.LADDER_KBPS)) + "|")
            for setting, options in settings.items():
                out = work / f"{name}-{len(rows)}"
                seconds, _ = timed(partial(transcode, exe, source, out, options), args.repeat)
                cells = [
                    f"{kbps_measured:.1f} ({kbps_measured / kbps - 1:+.1%}, {sdr_db:.1f} dB)"
                    for kbps, (kbps_measured, sdr_db) in measure(out, source).items()
                ]
                print(f"| {setting} | {seconds:.2f} s | {seconds / minutes:.2f} s | " + " | ".join(cells) + " |")
                rows.append(setting)
                if setting == "twoloop (pipeline)":
                    total = (probe_seconds + loudness_seconds + seconds) / minutes
                    summary = f"probe + loudness + transcode: {total:.2f} s per minute of audio"
            print(f"\n{summary}\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
