"""The ABR simulator's world: the track encoded to the ladder, the recorded throughput traces, and a
simulated network whose transfers take as long as a (scaled) trace dictates.

Media: one real track from ../shared/datasets/audio/ encoded with ffmpeg (imageio-ffmpeg's binary) to
the ladder, AAC-LC stereo 96/128/160/256/320 kbps, HLS with fMP4 segments of 10 s, exactly the layout
the encode pipeline produces. The encode is cached in the temp directory. The player fetches the real
playlists, init segments and segments, so segment sizes (and the encoder's over- and undershoot) are
real.

Network: the traces of ../shared/datasets/bandwidth/<set>/ (lines `time_seconds Mbit_per_second`, looped
when the song outlasts them), divided by one scale factor, plus an 80 ms round trip per request. A
segment arrives in chunks: the first byte a round trip after the request, then what the trace delivers
in each 0.5 s, so the player reports progress and a controller can abandon the download (the time and
bytes until the cancel are spent).
"""

from __future__ import annotations

import bisect
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from backbeat_client.hls import parse_media_playlist

ROOT = Path(__file__).resolve().parent.parent
LADDER_KBPS = [96, 128, 160, 256, 320]
SEGMENT_SECONDS = 10
START_KBPS = 128
ROUND_TRIP_SECONDS = 0.08
PROGRESS_SECONDS = 0.5  # a segment in flight reports its progress this often
DATASETS = ROOT.parent / "shared" / "datasets"
MEDIA_HOST = "https://media.backbeat.invalid"


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def aac_encoder(ffmpeg: str) -> str:
    """libfdk_aac when this ffmpeg has it (better at high rates), else the native `aac`."""
    encoders = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    return "libfdk_aac" if " libfdk_aac " in encoders else "aac"


def encode_ladder(track: Path, encoder: str) -> Path:
    """The track as HLS/fMP4 at every rung, under <tmp>/backbeat-abr/<track>-<encoder>/<kbps>/ (cached)."""
    out = Path(tempfile.gettempdir()) / "backbeat-abr" / f"{track.stem}-{encoder}"
    ffmpeg = ffmpeg_exe()
    for kbps in LADDER_KBPS:
        rung = out / str(kbps)
        if (rung / "index.m3u8").exists():
            continue
        rung.mkdir(parents=True, exist_ok=True)
        # fmt: off
        subprocess.run([
            ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-i", str(track), "-vn",
            "-c:a", encoder, "-b:a", f"{kbps}k", "-ac", "2", "-ar", "44100",
            "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_segment_type", "fmp4",
            "-hls_playlist_type", "vod", "-hls_fmp4_init_filename", "init.mp4",
            "-hls_segment_filename", str(rung / "seg_%03d.m4s"), str(rung / "index.m3u8.part"),
        ], check=True)
        # fmt: on
        # ffmpeg names the playlist after its output; move it into place last so a crash never leaves a
        # playlist without its segments behind.
        (rung / "index.m3u8.part").rename(rung / "index.m3u8")
    return out


def measured_bitrates(media: Path) -> dict[int, float]:
    """Each rung's media-segment bytes * 8 / playlist duration, in kbps."""
    measured = {}
    for kbps in LADDER_KBPS:
        playlist = parse_media_playlist((media / str(kbps) / "index.m3u8").read_text(), f"{MEDIA_HOST}/x/index.m3u8")
        size = sum(
            (media / str(kbps) / urlsplit(s.url).path.rsplit("/", 1)[-1]).stat().st_size for s in playlist.segments
        )
        measured[kbps] = size * 8 / 1000 / playlist.duration_seconds
    return measured


@dataclass
class Trace:
    name: str
    times: list[float]
    rates_bps: list[float]  # unscaled bits per second

    @property
    def duration(self) -> float:
        return self.times[-1] - self.times[0]


def load_traces(trace_set: str) -> list[Trace]:
    traces = []
    for path in sorted((DATASETS / "bandwidth" / trace_set).iterdir()):
        rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
        times = [float(row[0]) for row in rows]
        traces.append(Trace(path.name, times, [float(row[1]) * 1e6 for row in rows]))
    return traces


class TraceNetwork:
    """A simulated clock and a `fetch` whose transfers take as long as the (scaled) trace dictates."""

    def __init__(self, trace: Trace, scale: float, media: Path) -> None:
        self.trace, self.scale, self.media = trace, scale, media
        self.time = 0.0

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.time += max(seconds, 0.0)

    def fetch(self, url: str) -> bytes:
        path = urlsplit(url).path.split("/", 2)[2]  # /<song>/<kbps>/<file>
        data = (self.media / path).read_bytes()
        self.time += ROUND_TRIP_SECONDS  # the first byte arrives a round trip after the request
        self.time += self.transfer_seconds(len(data) * 8)
        return data

    def open_download(self, url: str) -> TraceDownload:
        path = urlsplit(url).path.split("/", 2)[2]
        return TraceDownload(self, (self.media / path).read_bytes())

    def bits_within(self, seconds: float) -> float:
        """Integrate the piecewise-constant trace from now over `seconds`: the bits it delivers."""
        times, rates = self.trace.times, self.trace.rates_bps
        elapsed, bits = 0.0, 0.0
        while seconds - elapsed > 1e-9:
            position = (self.time + elapsed) % self.trace.duration + times[0]
            index = min(bisect.bisect_right(times, position) - 1, len(times) - 2)
            window = min(max(times[index + 1] - position, 1e-6), seconds - elapsed)
            bits += window * rates[index] / self.scale
            elapsed += window
        return bits

    def transfer_seconds(self, bits: float) -> float:
        """Integrate the piecewise-constant trace from now until `bits` have arrived."""
        times, rates = self.trace.times, self.trace.rates_bps
        elapsed, remaining = 0.0, bits
        while remaining > 1e-9:
            position = (self.time + elapsed) % self.trace.duration + times[0]
            index = min(bisect.bisect_right(times, position) - 1, len(times) - 2)
            rate = rates[index] / self.scale
            window = max(times[index + 1] - position, 1e-6)
            if window * rate >= remaining:
                return elapsed + remaining / rate
            remaining -= window * rate
            elapsed += window
        return elapsed


class TraceDownload:
    """A segment arriving over the trace: first byte after a round trip, then whatever the trace delivers
    in each `PROGRESS_SECONDS` as one chunk, the last one at the exact time the final byte arrives (so a
    download that runs to the end takes exactly as long as `TraceNetwork.fetch`). A cancelled download
    has cost the time until the cancel and the bytes received."""

    def __init__(self, network: TraceNetwork, data: bytes) -> None:
        self.network, self.data = network, data
        self.total_bytes: int | None = len(data)
        self._cancelled = False

    def chunks(self) -> Iterator[bytes]:
        network = self.network
        network.time += ROUND_TRIP_SECONDS
        total_bits, delivered_bits, sent = len(self.data) * 8, 0.0, 0
        while not self._cancelled and sent < len(self.data):
            bits = network.bits_within(PROGRESS_SECONDS)
            if delivered_bits + bits >= total_bits:
                network.time += network.transfer_seconds(total_bits - delivered_bits)
                yield self.data[sent:]
                return
            network.time += PROGRESS_SECONDS
            delivered_bits += bits
            upto = int(delivered_bits // 8)
            yield self.data[sent:upto]
            sent = upto

    def cancel(self) -> None:
        self._cancelled = True


def manifest_for(media: Path) -> dict[str, Any]:
    """A StreamManifest as `POST /stream/{songId}` would answer (signed URLs carry a query string)."""
    query = "?sig=simulated"
    start = parse_media_playlist(
        (media / str(START_KBPS) / "index.m3u8").read_text(), f"{MEDIA_HOST}/s/{START_KBPS}/index.m3u8{query}"
    )
    return {
        "songId": media.name,
        "durationMs": round(start.duration_seconds * 1000),
        "segmentSeconds": SEGMENT_SECONDS,
        "codec": "mp4a.40.2",
        "renditions": [
            {"bitrateKbps": kbps, "playlistUrl": f"{MEDIA_HOST}/s/{kbps}/index.m3u8{query}"} for kbps in LADDER_KBPS
        ],
        "masterPlaylistUrl": f"{MEDIA_HOST}/s/master.m3u8{query}",
        "startBitrateKbps": START_KBPS,
        "prebuffer": [segment.url for segment in start.segments[:3]],
        "expiresAt": "2100-01-01T00:00:00Z",
    }
