"""The reference player: StreamManifest -> prebuffer -> segment-by-segment loop, with playback stats.

It does not decode audio; it keeps the playback clock a real player would: the buffer fills as
segments arrive and drains in wall time once playback has started, and an empty buffer while playing
is a rebuffer (a stall the listener hears). All I/O goes through an injected `fetch(url) -> bytes` and
all time through an injected `Clock`, so the same loop runs against the devstack in real time, against
fakes in tests, and against recorded network traces in the simulator (bench/abr_simulator.py).

The manifest is the `POST /stream/{songId}` answer: `renditions` (already capped to what the listener
may play), `startBitrateKbps`, and `prebuffer`, the start rung's init segment and first segment URLs. The
start rung's media playlist is fetched first for its init segment (`#EXT-X-MAP`), which fMP4 audio cannot
be decoded without. Only the prebuffer segments playback waits for (`start_after_segments`, one by
default) are fetched blind, before anything is known of the link; from then on the controller chooses
each segment, with the first download's rate already measured. A prebuffer fetched whole at the start
rung would stall on a link slower than that rung, whatever the controller (a 10 s buffer cannot cover a
second segment that takes longer than 10 s to arrive).

Segments are read as they arrive, not whole: `open_download(url)` gives a `Download` whose chunks the
player takes one by one, draining the buffer as time passes and reporting the progress to the
controller, which may abandon the download (rule 5 of `backbeat_client.abr`): the player then cancels
it and requests the same segment at the rung the controller names. The bytes already received are
wasted and counted (`wasted_bytes`, `abandoned_requests`). Progress is only reported once playback has
started: before that there is no buffer to protect. `HttpDownload` is the real thing over HTTP(S);
without `open_download` each segment is one `fetch` (one chunk, so nothing can be abandoned).

Playback reporting: given a `PlayTracker` (`backbeat_client.reporting`), the player reports the play
as the listener hears it: `start` when playback starts, `progress` every 15 s listened (stalls do not
count), and `end` once the buffered audio has played out after the last segment (so `run()` then
lasts until the song ends on the player's clock). Without one, `run()` returns after the last segment.

Buffer policy: the player keeps up to `target_buffer_seconds` (120 s by default) of audio ahead of the
playhead and waits while the next segment would not fit. Audio is cheap to prefetch (two minutes at
160 kbps is 2.4 MB) and a long buffer is what carries a listener through a tunnel or a cell handover,
so music players keep far more than the few seconds a video player does; two minutes bounds what a
skip wastes.
"""

from __future__ import annotations

import contextlib
import http.client
import queue
import socket
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from backbeat_client.abr import (
    TARGET_BUFFER_SECONDS,
    AbandonsRequests,
    AbrController,
    AbrSettings,
    BitrateController,
)
from backbeat_client.hls import MediaPlaylist, parse_media_playlist

if TYPE_CHECKING:
    from backbeat_client.reporting import PlayTracker

Fetch = Callable[[str], bytes]
REPORTING_STEP_SECONDS = 1.0


class Download(Protocol):
    """One segment request in flight."""

    @property
    def total_bytes(self) -> int | None:
        """The size announced (Content-Length), if any."""
        ...

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives; an empty chunk when a progress interval passed without data."""
        ...

    def cancel(self) -> None:
        """Give up on the rest (the connection is dropped)."""
        ...


OpenDownload = Callable[[str], Download]


class WholeDownload:
    """A `fetch` as a download of one chunk (nothing to report before it is all there)."""

    def __init__(self, fetch: Fetch, url: str) -> None:
        self._fetch, self._url = fetch, url
        self.total_bytes: int | None = None

    def chunks(self) -> Iterator[bytes]:
        data = self._fetch(self._url)
        self.total_bytes = len(data)
        yield data

    def cancel(self) -> None:
        return None


class HttpDownload:
    """A GET over HTTP(S) read in chunks by a background thread, so progress is reported every
    `progress_seconds` even while nothing arrives, and `cancel()` drops the connection at once."""

    def __init__(
        self, url: str, *, chunk_bytes: int = 16 * 1024, progress_seconds: float = 0.25, timeout: float = 30.0
    ) -> None:
        parts = urlsplit(url)
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._connection = connection_class(parts.netloc, timeout=timeout)
        self._connection.connect()
        self._socket: socket.socket | None = self._connection.sock
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        self._connection.request("GET", target or "/")
        self._response = self._connection.getresponse()
        if self._response.status != 200:
            self.cancel()
            raise OSError(f"GET {url}: HTTP {self._response.status}")
        length = self._response.getheader("Content-Length")
        self.total_bytes: int | None = int(length) if length else None
        self._chunk_bytes, self._progress_seconds = chunk_bytes, progress_seconds
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue()
        self._cancelled = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while not self._cancelled.is_set():
                data = self._response.read1(self._chunk_bytes)
                if not data:
                    break
                self._queue.put(data)
            self._queue.put(None)
        except Exception as error:  # handed to the reader; after a cancel nobody is listening
            self._queue.put(error)

    def chunks(self) -> Iterator[bytes]:
        try:
            while not self._cancelled.is_set():
                try:
                    item = self._queue.get(timeout=self._progress_seconds)
                except queue.Empty:
                    yield b""
                    continue
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._connection.close()  # done, failed or abandoned: the connection is not reused

    def cancel(self) -> None:
        self._cancelled.set()
        if self._socket is not None:
            # Shutting the socket down wakes the reading thread (its read ends); closing alone would not.
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
            self._socket.close()
            self._socket = None


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    """Real time, for playing against a running stack."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class PlaybackStats:
    """What the listener experienced, and what it cost."""

    startup_delay_seconds: float = 0.0
    rebuffer_seconds: float = 0.0
    rebuffer_events: int = 0
    segment_bitrates_kbps: list[int] = field(default_factory=list)
    segment_durations_seconds: list[float] = field(default_factory=list)
    bytes_downloaded: int = 0
    requests: int = 0
    abandoned_requests: int = 0  # segment downloads cancelled in flight and re-requested lower
    wasted_bytes: int = 0  # what those had received (included in bytes_downloaded)

    @property
    def played_seconds(self) -> float:
        return sum(self.segment_durations_seconds)

    @property
    def rebuffer_ratio(self) -> float:
        """Stalled time over stalled plus played time (after playback started)."""
        total = self.played_seconds + self.rebuffer_seconds
        return self.rebuffer_seconds / total if total else 0.0

    @property
    def mean_bitrate_kbps(self) -> float:
        """Nominal bitrate of the rungs played, weighted by segment duration."""
        played = self.played_seconds
        weighted = zip(self.segment_bitrates_kbps, self.segment_durations_seconds, strict=True)
        return sum(rate * duration for rate, duration in weighted) / played if played else 0.0

    @property
    def switches(self) -> int:
        rates = self.segment_bitrates_kbps
        return sum(1 for before, after in pairwise(rates) if before != after)

    @property
    def switches_per_minute(self) -> float:
        return self.switches / (self.played_seconds / 60) if self.played_seconds else 0.0


class Player:
    """One playback of one manifest. `run()` fetches everything and returns the stats."""

    def __init__(
        self,
        manifest: Mapping[str, Any],
        fetch: Fetch,
        *,
        controller: BitrateController | None = None,
        clock: Clock | None = None,
        open_download: OpenDownload | None = None,
        target_buffer_seconds: float = TARGET_BUFFER_SECONDS,
        start_after_segments: int = 1,
        reporting: PlayTracker | None = None,
    ) -> None:
        self.manifest = manifest
        self.fetch = fetch
        self.open_download: OpenDownload = open_download or (lambda url: WholeDownload(fetch, url))
        self.clock = clock or WallClock()
        self.target_buffer_seconds = target_buffer_seconds
        self.start_after_segments = start_after_segments
        self.playlist_urls = {int(r["bitrateKbps"]): str(r["playlistUrl"]) for r in manifest["renditions"]}
        if not self.playlist_urls:
            raise ValueError("the manifest has no renditions")
        ladder = sorted(self.playlist_urls)
        self.start_kbps = max([rung for rung in ladder if rung <= int(manifest["startBitrateKbps"])] or ladder[:1])
        self.controller: BitrateController = controller or AbrController(
            ladder,
            start_bitrate_kbps=self.start_kbps,
            ceiling_kbps=ladder[-1],
            settings=AbrSettings(target_buffer_seconds=target_buffer_seconds),
        )
        self.reporting = reporting
        self.stats = PlaybackStats()
        self._segment_ends: list[float] = []  # playback time at which each fetched segment ends
        self._played_seconds = 0.0
        self._playlists: dict[int, MediaPlaylist] = {}
        self._inits_fetched: set[int] = set()
        self._buffer_seconds = 0.0
        self._playing = False
        self._stalled = False
        self._started_at = 0.0
        self._last_tick = 0.0

    def run(self) -> PlaybackStats:
        self._started_at = self._last_tick = self.clock.now()
        start_playlist = self._media_playlist(self.start_kbps)
        self._ensure_init(self.start_kbps)
        # The manifest's prebuffer leads with the init segment, which `_ensure_init` has fetched. Of its
        # segments, only those playback waits for are fetched before the controller has a measurement.
        prebuffer = [str(url) for url in self.manifest.get("prebuffer") or [] if url != start_playlist.init_url]
        prebuffer = prebuffer[: min(len(start_playlist.segments), self.start_after_segments)]
        for index, url in enumerate(prebuffer):
            self._download_segment(index, self.start_kbps, url)
        for index in range(len(prebuffer), len(start_playlist.segments)):
            duration = start_playlist.segments[index].duration_seconds
            self._wait_for_room(duration)
            bitrate = self.controller.choose(buffer_seconds=self._buffer_seconds, segment_seconds=duration)
            self._download_segment(index, bitrate)
        if self.reporting is not None:
            self._pass_time(self._buffer_seconds)  # the listener hears the rest of the song
            self.reporting.end()
        return self.stats

    def _media_playlist(self, bitrate: int) -> MediaPlaylist:
        if bitrate not in self._playlists:
            url = self.playlist_urls[bitrate]
            self._playlists[bitrate] = parse_media_playlist(self._get(url).decode(), url)
        return self._playlists[bitrate]

    def _ensure_init(self, bitrate: int) -> None:
        init_url = self._playlists[bitrate].init_url
        if init_url and bitrate not in self._inits_fetched:
            self._get(init_url)
            self._inits_fetched.add(bitrate)

    def _get(self, url: str) -> bytes:
        data = self.fetch(url)
        self.stats.requests += 1
        self.stats.bytes_downloaded += len(data)
        self._tick()
        return data

    def _download_segment(self, index: int, bitrate: int, url: str | None = None) -> None:
        """Segment `index` at `bitrate` (from the prebuffer's `url` if given), re-requested lower each time
        the controller abandons it."""
        while True:
            playlist = self._media_playlist(bitrate)
            self._ensure_init(bitrate)
            segment = playlist.segments[index]
            lower = self._read_segment(url or segment.url, bitrate, segment.duration_seconds)
            if lower is None:
                break
            bitrate, url = lower, None
        self._buffer_seconds += segment.duration_seconds
        self.stats.segment_bitrates_kbps.append(bitrate)
        self.stats.segment_durations_seconds.append(segment.duration_seconds)
        self._segment_ends.append((self._segment_ends[-1] if self._segment_ends else 0.0) + segment.duration_seconds)
        self._stalled = False
        if not self._playing and len(self.stats.segment_bitrates_kbps) >= self.start_after_segments:
            self._playing = True
            self.stats.startup_delay_seconds = self.clock.now() - self._started_at
            if self.reporting is not None:
                self.reporting.start(bitrate_kbps=self.stats.segment_bitrates_kbps[0])

    def _read_segment(self, url: str, bitrate: int, duration: float) -> int | None:
        """Read one segment chunk by chunk; None when it arrived, or the rung the controller abandoned it for."""
        controller = self.controller if isinstance(self.controller, AbandonsRequests) else None
        if controller is not None:
            controller.start_download()
        started = self.clock.now()
        download = self.open_download(url)
        received = 0
        lower: int | None = None
        for chunk in download.chunks():
            received += len(chunk)
            self._tick()
            total = download.total_bytes or round(bitrate * 1000 / 8 * duration)  # nominal size if unannounced
            if controller is None or not self._playing or received >= total:
                continue
            lower = controller.abandon(
                bitrate_kbps=bitrate,
                bytes_received=received,
                total_bytes=total,
                elapsed_seconds=self.clock.now() - started,
                buffer_seconds=self._buffer_seconds,
                segment_seconds=duration,
            )
            if lower is not None and lower < bitrate:
                download.cancel()
                break
            lower = None
        self.stats.requests += 1
        self.stats.bytes_downloaded += received
        self._tick()
        if lower is not None:
            self.stats.abandoned_requests += 1
            self.stats.wasted_bytes += received
            return lower
        self.controller.record_download(size_bytes=received, seconds=self.clock.now() - started)
        return None

    def _wait_for_room(self, next_duration: float) -> None:
        """Keep at most the target buffer: wait until the next segment fits (only once playing)."""
        self._tick()
        excess = self._buffer_seconds + next_duration - self.target_buffer_seconds
        if self._playing and excess > 0:
            self._pass_time(excess)

    def _pass_time(self, seconds: float) -> None:
        """Wait `seconds` while playing; in steps of at most a second when reporting, so that progress
        is reported close to each 15 s listened rather than at the end of a long wait."""
        step = REPORTING_STEP_SECONDS if self.reporting is not None else seconds
        while seconds > 0:
            waited = min(step, seconds)
            self.clock.sleep(waited)
            self._tick()
            seconds -= waited

    def _tick(self) -> None:
        """Drain the buffer by the wall time since the last tick; count a stall when it runs dry."""
        now = self.clock.now()
        elapsed, self._last_tick = now - self._last_tick, now
        if not self._playing or elapsed <= 0:
            return
        if self._buffer_seconds >= elapsed:
            self._buffer_seconds -= elapsed
            self._played(elapsed)
            return
        self._played(self._buffer_seconds)
        self.stats.rebuffer_seconds += elapsed - self._buffer_seconds
        self._buffer_seconds = 0.0
        if not self._stalled:
            self.stats.rebuffer_events += 1
            self._stalled = True

    def _played(self, seconds: float) -> None:
        """The listener heard `seconds` more; the tracker learns where playback is and at which rung."""
        self._played_seconds += seconds
        if self.reporting is None or not self._segment_ends:
            return
        playing = min(bisect_right(self._segment_ends, self._played_seconds), len(self._segment_ends) - 1)
        played_ms = round(self._played_seconds * 1000)
        self.reporting.advance(
            played_ms=played_ms, position_ms=played_ms, bitrate_kbps=self.stats.segment_bitrates_kbps[playing]
        )
