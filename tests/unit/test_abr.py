"""The ABR client as a listener would notice it: start rung, downgrades before stalls, no upgrade without
headroom, quality ceilings, no oscillation; HLS playlist reading; the player loop over a fake network."""

from __future__ import annotations

import contextlib
import http.server
import itertools
import threading
from collections.abc import Iterator

import pytest

from backbeat_client.abr import (
    TARGET_BUFFER_SECONDS,
    AbrController,
    AbrSettings,
    ThroughputEstimator,
    quality_ceiling_kbps,
)
from backbeat_client.baselines import AlwaysLowest, BolaBasic, bola_parameters
from backbeat_client.hls import parse_media_playlist, resolve_uri
from backbeat_client.player import HttpDownload, Player
from tests.support import abandon_verdict

LADDER = [96, 128, 160, 256, 320]
SEGMENT = 10.0


def controller(start: int = 128, ceiling: int = 320, **settings: object) -> AbrController:
    return AbrController(LADDER, start_bitrate_kbps=start, ceiling_kbps=ceiling, settings=AbrSettings(**settings))  # type: ignore[arg-type]


def feed(abr: AbrController, kbps: float, seconds: float = 4.0) -> None:
    """One download at `kbps` taking `seconds`."""
    abr.record_download(size_bytes=int(kbps * 1000 / 8 * seconds), seconds=seconds)


def test_starts_at_the_start_rung_before_any_measurement() -> None:
    assert controller(start=128).choose(buffer_seconds=0, segment_seconds=SEGMENT) == 128
    assert controller(start=200).choose(buffer_seconds=0, segment_seconds=SEGMENT) == 160  # rounded down to a rung


def test_downgrades_when_the_buffer_falls_below_a_fifth_of_the_target() -> None:
    abr = controller(start=256, target_buffer_seconds=30, full_buffer_headroom=1.2)  # no buffer-paid upgrade
    feed(abr, 300)  # enough for 256 in steady state, so only the buffer can trigger it
    assert abr.choose(buffer_seconds=25, segment_seconds=SEGMENT) == 256
    assert abr.choose(buffer_seconds=5.9, segment_seconds=SEGMENT) < 256  # 20% of 30 s = 6 s
    assert abr.switches[-1].reason == "downgrade: buffer low"
    default = controller(start=256, full_buffer_headroom=1.2)  # the default target, 120 s: the line is at 24 s
    feed(default, 300)
    assert default.choose(buffer_seconds=100, segment_seconds=SEGMENT) == 256
    assert default.choose(buffer_seconds=23.9, segment_seconds=SEGMENT) < 256


def test_does_not_upgrade_without_throughput_headroom() -> None:
    abr = controller(start=128, target_buffer_seconds=30, upgrade_headroom=1.2, full_buffer_headroom=1.2)
    for _ in range(6):
        feed(abr, 160 * 1.1)  # sustains 160 but without the 20% headroom
        assert abr.choose(buffer_seconds=25, segment_seconds=SEGMENT) == 128
    for _ in range(6):
        feed(abr, 160 * 1.5)
    assert abr.choose(buffer_seconds=25, segment_seconds=SEGMENT) == 160


def test_default_headroom_at_the_healthy_level() -> None:
    settings = AbrSettings()
    healthy = settings.healthy_buffer_fraction * settings.target_buffer_seconds
    abr = controller(start=128)
    for _ in range(6):
        feed(abr, 160 * 0.99 * settings.upgrade_headroom)  # just short of the headroom for 160
        assert abr.choose(buffer_seconds=healthy + 8, segment_seconds=SEGMENT) == 128
    for _ in range(6):
        feed(abr, 160 * 1.5)
    assert abr.choose(buffer_seconds=healthy + 8, segment_seconds=SEGMENT) == 160


def test_a_full_buffer_relaxes_the_headroom_but_a_low_one_does_not() -> None:
    # 200 kbps measured: 256 lacks the 1.1x headroom, but a nearly full 120 s buffer pays for a rung
    # above the throughput.
    low = controller(start=160)
    full = controller(start=160)
    for abr in (low, full):
        for _ in range(6):
            feed(abr, 200)
    assert low.choose(buffer_seconds=40, segment_seconds=SEGMENT) == 160
    assert full.choose(buffer_seconds=110, segment_seconds=SEGMENT) > 200
    strict = controller(start=160, full_buffer_headroom=1.1)  # without the buffer-based relaxation
    for _ in range(6):
        feed(strict, 200)
    assert strict.choose(buffer_seconds=110, segment_seconds=SEGMENT) == 160


def test_an_upgrade_must_leave_the_buffer_healthy() -> None:
    settings = AbrSettings()
    healthy = settings.healthy_buffer_fraction * settings.target_buffer_seconds
    abr = controller(start=128)
    for _ in range(6):
        feed(abr, 200)  # 160 fits with headroom, and takes 8 s to download
    assert abr.choose(buffer_seconds=healthy + 5, segment_seconds=SEGMENT) == 128  # would end 3 s short of healthy
    assert abr.choose(buffer_seconds=healthy + 9, segment_seconds=SEGMENT) == 160


def test_an_upgrade_must_survive_the_slowest_recent_download() -> None:
    # A collapse to 40 kbps, then a recovered link: the estimate soon allows 160, but 160's download at
    # 40 kbps takes 40 s, so the upgrade waits until the buffer holds that above the 20% panic level (24 s).
    def recovered(**settings: object) -> AbrController:
        abr = controller(start=128, **settings)
        feed(abr, 40, seconds=10)
        for _ in range(6):
            feed(abr, 400)
        return abr

    assert recovered().choose(buffer_seconds=60, segment_seconds=SEGMENT) == 128  # 60 - 40 < 24
    assert recovered().choose(buffer_seconds=65, segment_seconds=SEGMENT) == 160  # 65 - 40 >= 24 (256: 64 s, no)
    assert recovered(survival_downloads=0).choose(buffer_seconds=60, segment_seconds=SEGMENT) > 128  # guard off


def test_the_upgrade_guard_forgets_a_collapse_after_its_window() -> None:
    abr = controller(start=128)
    feed(abr, 40, seconds=10)
    for _ in range(AbrSettings().survival_downloads):
        feed(abr, 400)  # the collapse is now older than the last `survival_downloads` downloads
    assert abr.choose(buffer_seconds=60, segment_seconds=SEGMENT) > 128


def test_an_abandoned_download_counts_for_the_upgrade_guard() -> None:
    def after_an_abandon(**settings: object) -> AbrController:
        abr = controller(start=160, **settings)
        for _ in range(6):
            feed(abr, 400)
        abr.start_download()
        # 10 s into a 160 kbps segment at 20 kbps, with 30 s of buffer: abandoned for the lowest rung.
        lower = abr.abandon(
            bitrate_kbps=160,
            bytes_received=20 * 1000 // 8 * 10,
            total_bytes=160 * 1000 // 8 * 10,
            elapsed_seconds=10,
            buffer_seconds=30,
            segment_seconds=SEGMENT,
        )
        assert lower == 96
        for _ in range(6):
            feed(abr, 400)
        for _ in range(AbrSettings().segments_before_reversal):
            assert abr.choose(buffer_seconds=60, segment_seconds=SEGMENT) == 96  # the quiet period after it
        return abr

    # The estimate has recovered, but 128's download at 20 kbps (64 s) would empty a 60 s buffer.
    assert after_an_abandon().choose(buffer_seconds=60, segment_seconds=SEGMENT) == 96
    assert after_an_abandon().choose(buffer_seconds=100, segment_seconds=SEGMENT) > 96
    assert after_an_abandon(survival_downloads=0).choose(buffer_seconds=60, segment_seconds=SEGMENT) > 96


def test_does_not_upgrade_with_an_unhealthy_buffer() -> None:
    abr = controller(start=128)
    for _ in range(6):
        feed(abr, 2000)
    assert abr.choose(buffer_seconds=25, segment_seconds=SEGMENT) == 128  # healthy is 30 s of 120
    assert abr.choose(buffer_seconds=40, segment_seconds=SEGMENT) == 320


@pytest.mark.parametrize(
    ("quality", "premium", "ceiling"),
    [
        ("low", True, 96),
        ("normal", False, 128),
        ("high", True, 160),
        ("very_high", False, 160),
        ("very_high", True, 320),
    ],
)
def test_never_exceeds_the_quality_ceiling_or_the_free_cap(quality: str, premium: bool, ceiling: int) -> None:
    assert quality_ceiling_kbps(quality, premium=premium) == ceiling
    abr = controller(start=320, ceiling=ceiling)
    choices = [abr.choose(buffer_seconds=28, segment_seconds=SEGMENT)]
    for _ in range(20):
        feed(abr, 5000)
        choices.append(abr.choose(buffer_seconds=28, segment_seconds=SEGMENT))
    assert max(choices) == ceiling


def test_throughput_hovering_at_a_rung_boundary_switches_boundedly() -> None:
    abr = controller(start=160)
    boundary = 256 * AbrSettings().upgrade_headroom  # the upgrade threshold to 256 at a healthy buffer
    buffer = 45.0
    choices = []
    for index in range(60):
        feed(abr, boundary * (1.08 if index % 2 else 0.92))
        choice = abr.choose(buffer_seconds=buffer, segment_seconds=SEGMENT)
        choices.append(choice)
    switches = sum(1 for a, b in itertools.pairwise(choices) if a != b)
    assert switches <= 2


def test_a_downgrade_is_not_immediately_reversed() -> None:
    abr = controller(start=256)
    feed(abr, 1000)
    abr.choose(buffer_seconds=4, segment_seconds=SEGMENT)  # panic: down
    down = abr.current_kbps
    assert down < 256
    picks = []
    for _ in range(3):
        feed(abr, 1000)
        picks.append(abr.choose(buffer_seconds=60, segment_seconds=SEGMENT))
    assert picks[0] == down  # not straight back up


def test_throughput_estimate_falls_fast_and_rises_slowly() -> None:
    estimator = ThroughputEstimator()
    estimator.add_sample(size_bytes=100_000, seconds=1)  # 800 kbps
    assert estimator.estimate_kbps() == pytest.approx(800)
    estimator.add_sample(size_bytes=25_000, seconds=1)  # a dip to 200 kbps
    dipped = estimator.estimate_kbps()
    assert dipped is not None and dipped < 600


def test_bola_picks_higher_rungs_as_the_buffer_grows() -> None:
    bola = BolaBasic(LADDER, target_buffer_seconds=30, segment_seconds=SEGMENT)
    picks = [bola.choose(buffer_seconds=level, segment_seconds=SEGMENT) for level in range(0, 21)]
    assert picks[0] == 96
    assert picks == sorted(picks)
    assert picks[-1] == 320
    v, gamma_p = bola_parameters(LADDER, max_buffer_segments=3, low_buffer_segments=1)
    assert v > 0 and gamma_p > 0


PLAYLIST = """#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:10
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MAP:URI="init.mp4"
#EXTINF:10.005,
seg_000.m4s
#EXTINF:9.98,
seg_001.m4s
#EXTINF:4.5,
../other/seg_002.m4s?own=1
#EXT-X-ENDLIST
"""


def test_media_playlist_relative_uris_keep_the_signature_query() -> None:
    url = "https://media.example/songs/s1/128/index.m3u8?exp=1&sig=abc"
    playlist = parse_media_playlist(PLAYLIST, url)
    assert playlist.target_duration_seconds == 10
    assert playlist.init_url == "https://media.example/songs/s1/128/init.mp4?exp=1&sig=abc"
    assert [s.url for s in playlist.segments] == [
        "https://media.example/songs/s1/128/seg_000.m4s?exp=1&sig=abc",
        "https://media.example/songs/s1/128/seg_001.m4s?exp=1&sig=abc",
        "https://media.example/songs/s1/other/seg_002.m4s?own=1",
    ]
    assert playlist.duration_seconds == pytest.approx(24.485)
    assert resolve_uri("https://cdn.example/x.m4s", url) == "https://cdn.example/x.m4s?exp=1&sig=abc"


def test_a_master_playlist_is_not_a_media_playlist() -> None:
    with pytest.raises(ValueError):
        parse_media_playlist("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=128000\n128/index.m3u8\n", "https://m/x.m3u8")
    with pytest.raises(ValueError):
        parse_media_playlist("hello", "https://m/x.m3u8")


class FakeNetwork:
    """A clock and a fetch serving a synthetic song at a constant link rate (kbps) plus a round trip."""

    def __init__(self, link_kbps: float, segments: int = 20, round_trip: float = 0.05) -> None:
        self.link_kbps, self.round_trip, self.time = link_kbps, round_trip, 0.0
        self.segments = segments
        self.requested: list[str] = []

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        self.time += seconds

    def fetch(self, url: str) -> bytes:
        self.requested.append(url)
        assert url.endswith("?sig=t"), url
        path = url.split("?")[0].removeprefix("https://media.test/s/")
        rung, name = path.split("/")
        if name == "index.m3u8":
            lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:10", '#EXT-X-MAP:URI="init.mp4"']
            for index in range(self.segments):
                lines += ["#EXTINF:10.0,", f"seg_{index:03d}.m4s"]
            data = ("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n").encode()
        elif name == "init.mp4":
            data = b"i" * 700
        else:
            data = b"a" * int(int(rung) * 1000 / 8 * SEGMENT)
        self.time += self.round_trip + len(data) * 8 / 1000 / self.link_kbps
        return data


def manifest(start: int = 128, ladder: list[int] = LADDER) -> dict[str, object]:
    return {
        "songId": "s",
        "durationMs": 200_000,
        "segmentSeconds": 10,
        "codec": "mp4a.40.2",
        "renditions": [{"bitrateKbps": r, "playlistUrl": f"https://media.test/s/{r}/index.m3u8?sig=t"} for r in ladder],
        "masterPlaylistUrl": "https://media.test/s/master.m3u8?sig=t",
        "startBitrateKbps": start,
        "prebuffer": [f"https://media.test/s/{start}/seg_{i:03d}.m4s?sig=t" for i in range(3)],
        "expiresAt": "2100-01-01T00:00:00Z",
    }


def test_player_on_a_fast_link_never_rebuffers_and_climbs() -> None:
    network = FakeNetwork(link_kbps=2000)
    stats = Player(manifest(), network.fetch, clock=network).run()
    assert stats.rebuffer_seconds == 0
    assert stats.segment_bitrates_kbps[0] == 128  # the prebuffer's first segment, fetched blind
    assert stats.segment_bitrates_kbps[-1] == 320
    assert stats.switches <= 2
    assert len(stats.segment_bitrates_kbps) == 20
    assert 0 < stats.startup_delay_seconds < 1.5
    assert network.requested[0] == "https://media.test/s/128/index.m3u8?sig=t"


def test_player_on_a_slow_link_downgrades() -> None:
    network = FakeNetwork(link_kbps=110)
    stats = Player(manifest(start=160), network.fetch, clock=network).run()
    assert stats.segment_bitrates_kbps[-1] == 96
    assert stats.mean_bitrate_kbps < 130
    assert stats.rebuffer_ratio < 0.1


def test_player_respects_the_manifest_ladder_as_ceiling() -> None:
    network = FakeNetwork(link_kbps=5000)
    stats = Player(manifest(start=128, ladder=[96, 128, 160]), network.fetch, clock=network).run()
    assert max(stats.segment_bitrates_kbps) == 160


def test_player_fetches_only_the_first_prebuffer_segment_blind() -> None:
    # A link slower than the start rung: a whole 128 kbps prebuffer would stall on its second segment;
    # the controller sees the first download and picks the lowest rung for the next ones.
    network = FakeNetwork(link_kbps=110)
    stats = Player(manifest(start=128), network.fetch, clock=network, controller=AlwaysLowest(LADDER)).run()
    assert stats.segment_bitrates_kbps[:3] == [128, 96, 96]
    assert stats.rebuffer_seconds == 0


def test_player_default_buffer_is_two_minutes_and_the_controller_knows_it() -> None:
    network = FakeNetwork(link_kbps=5000, segments=30)
    player = Player(manifest(), network.fetch, clock=network)
    assert player.target_buffer_seconds == TARGET_BUFFER_SECONDS == 120
    assert isinstance(player.controller, AbrController)
    assert player.controller.settings.target_buffer_seconds == 120
    short = Player(manifest(), network.fetch, clock=network, target_buffer_seconds=30)
    assert isinstance(short.controller, AbrController)
    assert short.controller.settings.target_buffer_seconds == 30
    buffered = []
    original = player.controller.choose

    def spy(*, buffer_seconds: float, segment_seconds: float) -> int:
        buffered.append(buffer_seconds)
        return original(buffer_seconds=buffer_seconds, segment_seconds=segment_seconds)

    player.controller.choose = spy  # type: ignore[method-assign]
    player.run()
    assert max(buffered) > 100  # the player filled well past the old 30 s before waiting
    assert max(buffered) <= 120


# Rule 5: abandoning a download that falls far behind.

SEGMENT_BYTES_160 = int(160 * 1000 / 8 * SEGMENT)


def test_abandons_a_collapsing_download_and_keeps_a_healthy_one() -> None:
    collapsing = controller(start=160)
    # 80 s for the segment, 40 s of buffer
    verdict = abandon_verdict(collapsing, rung=160, kbps=20, seconds=6, buffer=40, segment=SEGMENT)
    assert verdict is not None and verdict < 160
    assert collapsing.current_kbps == verdict
    assert collapsing.switches[-1].reason == "downgrade: abandon"
    healthy = controller(start=160)
    assert abandon_verdict(healthy, rung=160, kbps=250, seconds=6, buffer=40, segment=SEGMENT) is None
    assert healthy.abandonments == []


def test_abandons_when_the_rate_collapses_midway() -> None:
    abr = controller(start=160)
    abr.start_download()
    verdicts = []
    received = 0
    for step in range(1, 21):
        received += int((300 if step <= 4 else 5) * 1000 / 8 * 0.5)  # 2 s at 300 kbps, then 5 kbps
        verdicts.append(
            abr.abandon(
                bitrate_kbps=160,
                bytes_received=received,
                total_bytes=SEGMENT_BYTES_160,
                elapsed_seconds=step * 0.5,
                buffer_seconds=40 - step * 0.5,
                segment_seconds=SEGMENT,
            )
        )
    # The rate since the request still looks fine for a while; the recent window sees the collapse.
    assert any(verdict is not None for verdict in verdicts)


def test_never_abandons_when_the_buffer_can_absorb_it() -> None:
    abr = controller(start=160)
    # 40 kbps: the segment needs 40 s in all, a full buffer of 110 s covers it with room to spare.
    assert abandon_verdict(abr, rung=160, kbps=40, seconds=8, buffer=110, segment=SEGMENT) is None
    off = controller(start=160, abandon_requests=False)
    assert abandon_verdict(off, rung=160, kbps=5, seconds=8, buffer=30, segment=SEGMENT) is None


def test_never_abandons_the_lowest_rung_nor_goes_below_it() -> None:
    abr = controller(start=96)
    assert abandon_verdict(abr, rung=96, kbps=0, seconds=8, buffer=5, segment=SEGMENT) is None  # nothing lower to go to
    stalled = controller(start=320)
    # nothing arrives at all
    verdict = abandon_verdict(stalled, rung=320, kbps=0, seconds=4, buffer=20, segment=SEGMENT)
    assert verdict == min(LADDER)


def test_the_re_request_fits_the_in_flight_rate() -> None:
    abr = controller(start=320)
    # 150 kbps in flight: the rest of the 320 kbps segment needs 19 s, twice that is more than the 28 s of
    # buffer left; 128 fits the rate (with the downgrade safety) and twice its whole download fits the buffer.
    verdict = abandon_verdict(abr, rung=320, kbps=150, seconds=3, buffer=30, segment=SEGMENT)
    assert verdict == 128


def test_no_abandon_before_the_grace_time() -> None:
    abr = controller(start=160, abandon_grace_seconds=2.0)
    assert abandon_verdict(abr, rung=160, kbps=0, seconds=1.5, buffer=10, segment=SEGMENT) is None


class CollapsingNetwork(FakeNetwork):
    """FakeNetwork whose segments arrive in 0.5 s chunks, at `after_kbps` once the clock passes `collapse_at`."""

    def __init__(self, link_kbps: float, after_kbps: float, collapse_at: float, segments: int = 20) -> None:
        super().__init__(link_kbps, segments)
        self.after_kbps, self.collapse_at = after_kbps, collapse_at
        self.cancelled = 0

    def rate(self) -> float:
        return self.after_kbps if self.time >= self.collapse_at else self.link_kbps

    def open_download(self, url: str) -> SimulatedDownload:
        self.requested.append(url)
        rung = int(url.split("?")[0].removeprefix("https://media.test/s/").split("/")[0])
        return SimulatedDownload(self, b"a" * int(rung * 1000 / 8 * SEGMENT))


class SimulatedDownload:
    def __init__(self, network: CollapsingNetwork, data: bytes) -> None:
        self.network, self.data, self.total_bytes = network, data, len(data)
        self._cancelled = False

    def chunks(self) -> Iterator[bytes]:
        self.network.time += self.network.round_trip
        sent = 0
        while sent < len(self.data) and not self._cancelled:
            size = int(self.network.rate() * 1000 / 8 * 0.5)
            self.network.time += 0.5
            yield self.data[sent : sent + size]
            sent += size

    def cancel(self) -> None:
        self._cancelled = True
        self.network.cancelled += 1


def test_player_abandons_a_collapsing_download_and_re_requests_the_segment_lower() -> None:
    # The player reaches 320 kbps; the link collapses early in a 320 kbps download (at 56 s), when
    # restarting at 96 kbps costs less than the rest of the 320 kbps segment.
    network = CollapsingNetwork(link_kbps=400, after_kbps=30, collapse_at=56)
    player = Player(manifest(), network.fetch, clock=network, open_download=network.open_download)
    stats = player.run()
    assert stats.abandoned_requests >= 1 and network.cancelled == stats.abandoned_requests
    assert 0 < stats.wasted_bytes < stats.bytes_downloaded
    assert len(stats.segment_bitrates_kbps) == 20  # every segment played once
    # The abandoned segment was requested again, at a lower rung.
    segments = [url.split("?")[0].rsplit("/", 2)[-2:] for url in network.requested if "seg_" in url]
    repeated = [name for _, name in segments if sum(1 for _, other in segments if other == name) > 1]
    assert repeated
    rungs = [int(rung) for rung, name in segments if name == repeated[0]]
    assert rungs == sorted(rungs, reverse=True) and rungs[-1] < rungs[0]
    assert min(stats.segment_bitrates_kbps) >= min(LADDER)
    assert isinstance(player.controller, AbrController)
    assert player.controller.abandonments


def test_player_without_progress_never_abandons() -> None:
    network = CollapsingNetwork(link_kbps=400, after_kbps=30, collapse_at=56)
    stats = Player(manifest(), network.fetch, clock=network).run()  # whole-segment fetches: one chunk each
    assert stats.abandoned_requests == 0 and stats.wasted_bytes == 0


def test_http_download_reads_in_chunks_and_cancels() -> None:
    body = bytes(range(256)) * 1024  # 256 KiB

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/s/128/seg_000.m4s?sig=t"
        whole = HttpDownload(url, chunk_bytes=16 * 1024)
        assert whole.total_bytes == len(body)
        chunks = list(whole.chunks())
        assert b"".join(chunks) == body and len(chunks) > 1
        partial = HttpDownload(url, chunk_bytes=16 * 1024)
        first = next(partial.chunks())
        partial.cancel()
        assert 0 < len(first) < len(body)
        assert list(partial.chunks()) == []  # nothing more after a cancel
    finally:
        server.shutdown()
        server.server_close()
