"""ABR simulator: the reference player with each controller, over recorded mobile throughput traces.

    .venv/bin/python bench/abr_simulator.py [--track elvish-theme] [--tune] [--tune-abandon] [--tune-survival]
        [--buffer-sweep]

Media: one real track from ../shared/datasets/audio/ encoded with ffmpeg (imageio-ffmpeg's binary) to
the ladder, AAC-LC stereo 96/128/160/256/320 kbps, HLS with fMP4 segments of 10 s, exactly the layout
the encode pipeline produces. The encode is cached in the temp directory. The player fetches the real
playlists, init segments and segments, so segment sizes (and the encoder's over- and undershoot) are
real.

Network: every trace of ../shared/datasets/bandwidth/{hsdpa-3g,fcc-hsdpa-test} (lines
`time_seconds Mbit_per_second`, looped when the song outlasts it), plus an 80 ms round trip per request.
A segment arrives in chunks: the first byte a round trip after the request, then what the trace
delivers in each 0.5 s, so the player reports progress and a controller can abandon the download (the
time and bytes until the cancel are spent). The traces were recorded for video (median ~1.3 Mbit/s);
at that rate every audio rung downloads in a fraction of its duration and any controller plays 320 kbps.
So throughput is divided by one factor, chosen so that the pooled median of all samples lands on the
geometric midpoint of the 160 and 256 kbps rungs (~202 kbps): the typical link then sustains the middle
of the ladder and the traces' dips and peaks decide between rungs. The factor is computed from the data
(not per controller) and printed.

Playback: the reference player as it ships (backbeat.client.player): the manifest's start rung is
128 kbps ("normal" quality's default) and lists 3 prebuffer segments, of which the player fetches the
first blind and lets the controller choose the rest; playback starts with the first segment; the target
buffer is the player's default, 120 s (it waits while the next segment would not fit); a stall is
counted whenever the buffer runs dry while playing. The ceiling is very_high (320 kbps, premium) so the
whole ladder is in play. `--buffer-sweep` repeats the all-traces run at other buffer targets (every
controller, BOLA's parameters derived for each).

Controllers: ours (backbeat.client.abr) and the baselines (backbeat.client.baselines): always-lowest,
throughput-only (harmonic mean of the last 5 downloads) and BOLA-BASIC (Q_max = the target buffer,
Q_low = one segment). Figures are means over traces. `--tune` grid-searches our controller's settings
on one trace set and reports them on the other; `--tune-abandon` does the same for the abandon rule's
knobs alone, `--tune-survival` for the upgrade guard's window (`survival_downloads`) alone.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "backbeat"))

from backbeat_client.abr import TARGET_BUFFER_SECONDS, AbrController, AbrSettings, BitrateController  # noqa: E402
from backbeat_client.baselines import AlwaysLowest, BolaBasic, ThroughputOnly  # noqa: E402
from backbeat_client.hls import parse_media_playlist  # noqa: E402
from backbeat_client.player import PlaybackStats, Player  # noqa: E402

LADDER_KBPS = [96, 128, 160, 256, 320]
SEGMENT_SECONDS = 10
START_KBPS = 128
ROUND_TRIP_SECONDS = 0.08
PROGRESS_SECONDS = 0.5  # a segment in flight reports its progress this often
DATASETS = ROOT.parent / "shared" / "datasets"
TRACE_SETS = ("hsdpa-3g", "fcc-hsdpa-test")
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


ControllerFactory = Callable[[], BitrateController]


def controllers(
    settings: AbrSettings, target_buffer_seconds: float = TARGET_BUFFER_SECONDS
) -> dict[str, ControllerFactory]:
    """Each controller for a player keeping `target_buffer_seconds` (ours and BOLA are told the target)."""
    ours = replace(settings, target_buffer_seconds=target_buffer_seconds)
    return {
        "ours (backbeat.client.abr)": lambda: AbrController(
            LADDER_KBPS, start_bitrate_kbps=START_KBPS, ceiling_kbps=320, settings=ours
        ),
        "always-lowest": lambda: AlwaysLowest(LADDER_KBPS),
        "throughput-only (harmonic mean of 5)": lambda: ThroughputOnly(LADDER_KBPS, start_bitrate_kbps=START_KBPS),
        "BOLA-BASIC": lambda: BolaBasic(
            LADDER_KBPS, target_buffer_seconds=target_buffer_seconds, segment_seconds=SEGMENT_SECONDS
        ),
    }


@dataclass
class Summary:
    rebuffer_ratio: float
    mean_bitrate_kbps: float
    switches_per_minute: float
    startup_seconds: float
    stalled_sessions: float


def simulate(
    factory: ControllerFactory,
    traces: list[Trace],
    scale: float,
    media: Path,
    target_buffer_seconds: float = TARGET_BUFFER_SECONDS,
) -> Summary:
    manifest = manifest_for(media)
    runs: list[PlaybackStats] = []
    for trace in traces:
        network = TraceNetwork(trace, scale, media)
        player = Player(
            manifest,
            network.fetch,
            controller=factory(),
            clock=network,
            open_download=network.open_download,
            target_buffer_seconds=target_buffer_seconds,
        )
        runs.append(player.run())
    return Summary(
        rebuffer_ratio=statistics.fmean(run.rebuffer_ratio for run in runs),
        mean_bitrate_kbps=statistics.fmean(run.mean_bitrate_kbps for run in runs),
        switches_per_minute=statistics.fmean(run.switches_per_minute for run in runs),
        startup_seconds=statistics.fmean(run.startup_delay_seconds for run in runs),
        stalled_sessions=sum(1 for run in runs if run.rebuffer_seconds > 0) / len(runs),
    )


def aims(summaries: dict[str, Summary], ours: str) -> dict[str, bool]:
    """The issue's aims, each against its own best baseline.

    1. Rebuffering: the best baseline is the one that rebuffers least (always-lowest, in practice).
    2. Mean bitrate: the best baseline is the one with the highest mean bitrate, whichever it is
       (throughput-only or BOLA-BASIC); `aim_details` also reports against each of them.
    3. Switches: against throughput-only, as the issue names it.
    Comparisons are strict, on the unrounded means.
    """
    baselines = {name: summary for name, summary in summaries.items() if name != ours}
    mine = summaries[ours]
    throughput_only = next(summary for name, summary in baselines.items() if name.startswith("throughput-only"))
    return {
        "rebuffering <= least-rebuffering baseline's": mine.rebuffer_ratio
        <= min(s.rebuffer_ratio for s in baselines.values()),
        "mean bitrate >= 90% of highest-bitrate baseline's": mine.mean_bitrate_kbps
        >= 0.9 * max(s.mean_bitrate_kbps for s in baselines.values()),
        "fewer switches than throughput-only": mine.switches_per_minute < throughput_only.switches_per_minute,
    }


def aim_details(summaries: dict[str, Summary], ours: str) -> list[str]:
    """Ours against each baseline, in the units of the aims (for the verdict, not the tuning)."""
    mine = summaries[ours]
    lines = []
    for name, other in summaries.items():
        if name == ours:
            continue
        lines.append(
            f"- vs {name}: rebuffering {100 * (mine.rebuffer_ratio - other.rebuffer_ratio):+.2f} points, "
            f"mean bitrate {mine.mean_bitrate_kbps / other.mean_bitrate_kbps - 1:+.1%}, "
            f"switches/min {mine.switches_per_minute - other.switches_per_minute:+.2f}"
        )
    return lines


def table(summaries: dict[str, Summary]) -> str:
    lines = [
        "| controller | rebuffer ratio | sessions with a stall | mean bitrate | switches/min | startup delay |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in summaries.items():
        lines.append(
            f"| {name} | {s.rebuffer_ratio:.2%} | {s.stalled_sessions:.0%} | {s.mean_bitrate_kbps:.1f} kbps "
            f"| {s.switches_per_minute:.2f} | {s.startup_seconds:.2f} s |"
        )
    return "\n".join(lines)


def score(summaries: dict[str, Summary], ours: str) -> tuple[int, float]:
    """Tuning objective: aims met first, then the listener's trade-off (bitrate minus stall cost)."""
    met = sum(aims(summaries, ours).values())
    mine = summaries[ours]
    return met, mine.mean_bitrate_kbps - 3000 * mine.rebuffer_ratio - 5 * mine.switches_per_minute


def _ours_on(job: tuple[AbrSettings, list[Trace], float, Path]) -> Summary:
    settings, traces, scale, media = job
    return simulate(next(iter(controllers(settings).values())), traces, scale, media)


TUNING_GRID = {
    "healthy_buffer_fraction": (0.15, 0.2, 0.25, 0.3),
    "upgrade_headroom": (1.1, 1.2, 1.3),
    "full_buffer_headroom": (1.0, 0.7, 0.5),
    "downgrade_safety": (0.5, 0.7, 0.9),
    "quiet_periods": ((1, 2), (2, 4)),  # segments_between_switches, segments_before_reversal
    "half_lives": ((2.0, 6.0), (3.0, 8.0)),  # fast, slow EWMA half-lives in seconds
}


def tune(traces: list[Trace], scale: float, media: Path) -> AbrSettings:
    """Grid search of our controller's settings on `traces` (the baselines have no knobs to tune)."""
    baseline_summaries = {
        name: simulate(factory, traces, scale, media)
        for name, factory in controllers(AbrSettings()).items()
        if not name.startswith("ours")
    }
    candidates = []
    for healthy, headroom, full, safety, (between, reversal), (fast, slow) in itertools.product(*TUNING_GRID.values()):
        candidates.append(
            replace(
                AbrSettings(),
                healthy_buffer_fraction=healthy,
                upgrade_headroom=headroom,
                full_buffer_headroom=full,
                downgrade_safety=safety,
                segments_between_switches=between,
                segments_before_reversal=reversal,
                fast_half_life_seconds=fast,
                slow_half_life_seconds=slow,
            )
        )
    with multiprocessing.get_context("fork").Pool() as pool:
        results = pool.map(_ours_on, [(settings, traces, scale, media) for settings in candidates])
    ours = next(iter(controllers(AbrSettings())))
    scores = [score({ours: summary, **baseline_summaries}, ours) for summary in results]
    return candidates[max(range(len(candidates)), key=scores.__getitem__)]


ABANDON_GRID = {
    "abandon_grace_seconds": (1.0, 2.0, 4.0),
    "abandon_window_seconds": (2.0, 3.0, 5.0),
    "abandon_safety": (1.0, 1.5, 2.0),
    "abandon_reserve_fraction": (0.0, 0.1, 0.2),
}


def tune_abandon(base: AbrSettings, traces: list[Trace], scale: float, media: Path) -> AbrSettings:
    """Grid search of rule 5's knobs on `traces`, the other settings fixed at `base`."""
    baseline_summaries = {
        name: simulate(factory, traces, scale, media)
        for name, factory in controllers(base).items()
        if not name.startswith("ours")
    }
    candidates = [
        replace(base, **dict(zip(ABANDON_GRID, values, strict=True)))
        for values in itertools.product(*ABANDON_GRID.values())
    ]
    with multiprocessing.get_context("fork").Pool() as pool:
        results = pool.map(_ours_on, [(settings, traces, scale, media) for settings in candidates])
    ours = next(iter(controllers(base)))
    scores = [score({ours: summary, **baseline_summaries}, ours) for summary in results]
    return candidates[max(range(len(candidates)), key=scores.__getitem__)]


SURVIVAL_GRID = (0, 3, 5, 8, 10, 12, 15, 20)  # survival_downloads (0: no survival guard)


def tune_survival(base: AbrSettings, traces: list[Trace], scale: float, media: Path) -> AbrSettings:
    """The upgrade guard's window (`survival_downloads`) on `traces`, the other settings fixed at `base`
    (one process: the grid is small)."""
    baseline_summaries = {
        name: simulate(factory, traces, scale, media)
        for name, factory in controllers(base).items()
        if not name.startswith("ours")
    }
    candidates = [replace(base, survival_downloads=window) for window in SURVIVAL_GRID]
    results = [_ours_on((settings, traces, scale, media)) for settings in candidates]
    ours = next(iter(controllers(base)))
    scores = [score({ours: summary, **baseline_summaries}, ours) for summary in results]
    for settings, summary, (met, value) in zip(candidates, results, scores, strict=True):
        print(
            f"  survival_downloads={settings.survival_downloads}: {summary.rebuffer_ratio:.4%} / "
            f"{summary.mean_bitrate_kbps:.1f} kbps / {summary.switches_per_minute:.2f} sw/min, "
            f"aims met {met}, objective {value:.2f}"
        )
    return candidates[max(range(len(candidates)), key=scores.__getitem__)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--track", default="elvish-theme", help="a track name in ../shared/datasets/audio/")
    parser.add_argument("--tune", action="store_true", help="grid-search our settings per trace set, cross-report")
    parser.add_argument(
        "--buffer-sweep", action="store_true", help="also run all traces at other player buffer targets"
    )
    parser.add_argument(
        "--tune-abandon",
        action="store_true",
        help="grid-search the abandon rule's knobs per trace set (other settings as they are), cross-report",
    )
    parser.add_argument(
        "--tune-survival",
        action="store_true",
        help="search the upgrade guard's window per trace set (other settings as they are), cross-report",
    )
    args = parser.parse_args()

    track = DATASETS / "audio" / f"{args.track}.ogg"
    ffmpeg = ffmpeg_exe()
    encoder = aac_encoder(ffmpeg)
    media = encode_ladder(track, encoder)
    trace_sets = {name: load_traces(name) for name in TRACE_SETS}
    pooled = [rate for traces in trace_sets.values() for trace in traces for rate in trace.rates_bps]
    midpoint_bps = (160 * 256) ** 0.5 * 1000
    scale = statistics.median(pooled) / midpoint_bps

    duration = parse_media_playlist((media / "128" / "index.m3u8").read_text(), MEDIA_HOST + "/s/128/i.m3u8")
    print(
        f"Track `{track.name}` ({duration.duration_seconds:.1f} s, {len(duration.segments)} segments), encoder "
        f"`{encoder}`" + ("" if encoder == "libfdk_aac" else " (libfdk_aac is not in this ffmpeg build)") + "."
    )
    print(
        f"Throughput scale: pooled median {statistics.median(pooled) / 1e6:.3f} Mbit/s / {scale:.2f} "
        f"= {midpoint_bps / 1000:.0f} kbps.\n"
    )
    print("| rung | measured bitrate | vs nominal |\n|---|---|---|")
    for kbps, measured in measured_bitrates(media).items():
        print(f"| {kbps} kbps | {measured:.1f} kbps | {measured / kbps - 1:+.1%} |")

    ours = next(iter(controllers(AbrSettings())))
    runs: list[tuple[str, AbrSettings, list[Trace]]] = []
    all_traces = [trace for traces in trace_sets.values() for trace in traces]
    runs.append((f"all {len(all_traces)} traces, default settings", AbrSettings(), all_traces))
    for name, traces in trace_sets.items():
        runs.append((f"{name} ({len(traces)} traces), default settings", AbrSettings(), traces))
    if args.tune:
        for tuned_on, held_out in (TRACE_SETS, TRACE_SETS[::-1]):
            settings = tune(trace_sets[tuned_on], scale, media)
            print(f"\nTuned on {tuned_on}: {settings}")
            runs.append((f"{held_out} (held out), tuned on {tuned_on}", settings, trace_sets[held_out]))
    if args.tune_abandon:
        for tuned_on, held_out in (TRACE_SETS, TRACE_SETS[::-1]):
            settings = tune_abandon(AbrSettings(), trace_sets[tuned_on], scale, media)
            print(f"\nAbandon rule tuned on {tuned_on}: {settings}")
            runs.append((f"{held_out} (held out), abandon rule tuned on {tuned_on}", settings, trace_sets[held_out]))
    if args.tune_survival:
        for tuned_on, held_out in (TRACE_SETS, TRACE_SETS[::-1]):
            print(f"\nUpgrade guard window on {tuned_on}:")
            settings = tune_survival(AbrSettings(), trace_sets[tuned_on], scale, media)
            print(f"Picked survival_downloads={settings.survival_downloads}")
            runs.append((f"{held_out} (held out), guard window tuned on {tuned_on}", settings, trace_sets[held_out]))
    for title, settings, traces in runs:
        summaries = {name: simulate(factory, traces, scale, media) for name, factory in controllers(settings).items()}
        print(f"\n### {title}\n\n{table(summaries)}\n")
        for aim, met in aims(summaries, ours).items():
            print(f"- {aim}: {'met' if met else 'NOT met'}")
        print("\n".join(aim_details(summaries, ours)))
    if args.buffer_sweep:
        print(f"\n### player buffer target (all {len(all_traces)} traces, default settings)\n")
        print("| target buffer | controller | rebuffer ratio | mean bitrate | switches/min |\n|---|---|---|---|---|")
        for target in (30.0, 60.0, TARGET_BUFFER_SECONDS, 240.0):
            for name, factory in controllers(AbrSettings(), target).items():
                s = simulate(factory, all_traces, scale, media, target)
                print(
                    f"| {target:.0f} s | {name} | {s.rebuffer_ratio:.2%} | {s.mean_bitrate_kbps:.1f} kbps "
                    f"| {s.switches_per_minute:.2f} |"
                )


if __name__ == "__main__":
    main()
