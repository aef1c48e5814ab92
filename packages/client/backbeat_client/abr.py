"""The adaptive-bitrate controller: which rung of the ladder to fetch the next segment from.

The rules, in the order they are checked (each for a reason a listener would notice). "Healthy" and
"low" are shares of the player's target buffer (120 s by default, `backbeat_client.player`).

1. The user's quality is a ceiling (low 96, normal 128, high 160, very_high 320 kbps; free accounts at
   most 160). Never fetch above what the listener chose or may play.
2. Rebuffering is the worst outcome: when the buffer is below 20% of the target buffer, or would fall
   below it while the next segment downloads at the current rung, step down at once, to a rung the
   throughput estimate sustains. Safety downgrades ignore the hysteresis.
3. A rung the throughput no longer sustains is left once the buffer stops being healthy (below 25% of
   the target); while the buffer is healthy the controller rides out dips instead of switching (audio
   segments are long, a full buffer covers a short fade).
4. Upgrades need throughput headroom, a healthy buffer that the new rung's download leaves healthy, and
   a quiet period since the last switch, longer after a downgrade so that a downgrade is not
   immediately reversed. An audible quality change every few seconds is worse than a steady lower rate.
   The headroom asked for depends on the buffer, as in buffer-based schemes (BOLA, dash.js's DYNAMIC
   rule): 1.1x the new rung's bitrate at the healthy level, falling linearly to 0.5x with a full
   buffer, where a rung above the measured throughput is paid for out of a buffer that rule 3 lets
   drain back to the healthy level before stepping down. And the new rung must survive a collapse the
   link has already shown: its download at the slowest rate among the last `survival_downloads`
   downloads (abandoned ones included) must leave the buffer at or above the 20% of rule 2. The
   estimate forgets a collapse within seconds; the buffer spent on a higher rung just before the next
   one is what stalls.

5. A download that falls far behind is abandoned (as dash.js's AbandonRequestsRule does), while it is in
   flight: the player reports each chunk as it arrives, and once `abandon_grace_seconds` have passed the
   controller estimates the time the rest of the segment needs at the in-flight rate (the lower of the
   rate since the request and the rate over the last `abandon_window_seconds`). When that time, times
   `abandon_safety`, is more than the buffer holds, the download is cancelled and the same segment
   re-requested at a lower rung: the highest lower rung that fits the in-flight rate (with the
   downgrade safety) and whose whole download fits the buffer, else the lowest. As in dash.js the
   restart must pay: the lower rung's whole segment must be smaller than what is left of the current
   one. A buffer that can absorb the slow download is left to absorb it, and the lowest rung is never
   abandoned (there is nothing lower). dash.js compares the estimate with 1.8 segment durations and
   only looks at downloads while the buffer is below its stable level (12 s); with a 120 s buffer the
   buffer itself is the measure of what can be afforded.

Throughput is estimated as in dash.js: two exponentially weighted moving averages of the segment
download rates, weighted by download time, with a fast and a slow half-life (2 s and 6 s as tuned;
dash.js uses 3 s and 8 s, the estimator's own defaults); the lower of the two is used, so the estimate
falls fast and rises slowly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

QUALITY_CEILINGS_KBPS: dict[str, int] = {"low": 96, "normal": 128, "high": 160, "very_high": 320}
FREE_TIER_CAP_KBPS = 160
TARGET_BUFFER_SECONDS = 120.0  # the reference player's default (backbeat_client.player)


def quality_ceiling_kbps(quality: str, *, premium: bool) -> int:
    """The highest bitrate the listener may get: their chosen quality, capped at 160 kbps when free."""
    ceiling = QUALITY_CEILINGS_KBPS[quality]
    return ceiling if premium else min(ceiling, FREE_TIER_CAP_KBPS)


class BitrateController(Protocol):
    """What the player asks of an adaptation rule: a rung per segment, told how each download went."""

    def choose(self, *, buffer_seconds: float, segment_seconds: float) -> int:
        """The bitrate (kbps, one of the ladder's) for the next segment."""
        ...

    def record_download(self, *, size_bytes: int, seconds: float) -> None:
        """One finished segment download, for the throughput estimate."""
        ...


@runtime_checkable
class AbandonsRequests(Protocol):
    """A controller that can give up on a segment download in flight (rule 5 of this module)."""

    def abandon(
        self,
        *,
        bitrate_kbps: int,
        bytes_received: int,
        total_bytes: int,
        elapsed_seconds: float,
        buffer_seconds: float,
        segment_seconds: float,
    ) -> int | None:
        """Called as each chunk arrives: the lower rung to re-request the segment at, or None to go on."""
        ...

    def start_download(self) -> None:
        """A new segment download begins (progress reports from here on belong to it)."""
        ...


class ThroughputEstimator:
    """Two download-time-weighted EWMAs of the download rate (kbps); the estimate is the lower one.

    Weighting by download time (rather than per sample) means a long download counts for more than a
    short one, and the half-lives are in seconds of measurement, independent of segment length. The
    zero-bias correction keeps the first samples from being pulled towards zero.
    """

    def __init__(self, *, fast_half_life_seconds: float = 3.0, slow_half_life_seconds: float = 8.0) -> None:
        self._half_lives = (fast_half_life_seconds, slow_half_life_seconds)
        self._averages = [0.0, 0.0]
        self._total_weight = 0.0

    def add_sample(self, *, size_bytes: int, seconds: float) -> None:
        seconds = max(seconds, 1e-3)
        rate_kbps = size_bytes * 8 / 1000 / seconds
        for index, half_life in enumerate(self._half_lives):
            alpha = 0.5 ** (seconds / half_life)
            self._averages[index] = alpha * self._averages[index] + (1 - alpha) * rate_kbps
        self._total_weight += seconds

    def estimate_kbps(self) -> float | None:
        """The conservative estimate, or None before the first sample."""
        if self._total_weight == 0:
            return None
        corrected = [
            average / (1 - 0.5 ** (self._total_weight / half_life))
            for average, half_life in zip(self._averages, self._half_lives, strict=True)
        ]
        return min(corrected)


@dataclass(frozen=True)
class AbrSettings:
    """The controller's knobs. Defaults were tuned on the hsdpa-3g traces (bench/abr_simulator.py)."""

    target_buffer_seconds: float = TARGET_BUFFER_SECONDS  # the player's; the thresholds are shares of it
    panic_buffer_fraction: float = 0.2  # below this share of the target buffer: step down now
    healthy_buffer_fraction: float = 0.25  # at or above it: upgrades allowed, dips ridden out
    upgrade_headroom: float = 1.1  # throughput needed at the healthy level, as a multiple of the new rung's bitrate
    full_buffer_headroom: float = 0.5  # the same with a full buffer (linear in between; below 1 the buffer pays)
    downgrade_safety: float = 0.9  # share of the estimate a rung must fit in when stepping down
    segments_between_switches: int = 1  # quiet period after any switch
    segments_before_reversal: int = 2  # quiet period before upgrading after a downgrade
    fast_half_life_seconds: float = 2.0
    slow_half_life_seconds: float = 6.0
    abandon_requests: bool = True  # rule 5: cancel a download that falls far behind and re-request lower
    abandon_grace_seconds: float = 2.0  # no verdict on a download younger than this
    abandon_window_seconds: float = 5.0  # the recent in-flight rate is measured over this window
    abandon_safety: float = 2.0  # the rest of the download, times this, must fit in the buffer above the reserve
    abandon_reserve_fraction: float = 0.0  # share of the target buffer a download may not eat into
    survival_downloads: int = 10  # rule 4: an upgrade must survive the slowest of these many recent downloads


@dataclass(frozen=True)
class AbandonDecision:
    """Why rule 5 gave up on a download (for logs and tests)."""

    to_kbps: int
    in_flight_kbps: float
    remaining_seconds: float


class AbandonRule:
    """Rule 5 on its own, so that it can also be put in front of another controller (bench only).

    It keeps the progress of the download in flight (reset by `start_download`) to measure the recent
    in-flight rate.
    """

    def __init__(self, ladder_kbps: Sequence[int], settings: AbrSettings) -> None:
        self.ladder = sorted(set(ladder_kbps))
        self.settings = settings
        self._progress: list[tuple[float, int]] = []

    def start_download(self) -> None:
        self._progress = []

    def check(
        self,
        *,
        bitrate_kbps: int,
        bytes_received: int,
        total_bytes: int,
        elapsed_seconds: float,
        buffer_seconds: float,
        segment_seconds: float,
    ) -> AbandonDecision | None:
        settings = self.settings
        self._progress.append((elapsed_seconds, bytes_received))
        lower = [rung for rung in self.ladder if rung < bitrate_kbps]
        remaining_bytes = total_bytes - bytes_received
        if not lower or remaining_bytes <= 0 or elapsed_seconds < settings.abandon_grace_seconds:
            return None
        rate_kbps = self._in_flight_kbps(elapsed_seconds, bytes_received)
        remaining_seconds = remaining_bytes * 8 / 1000 / rate_kbps if rate_kbps > 0 else float("inf")
        affordable = buffer_seconds - settings.abandon_reserve_fraction * settings.target_buffer_seconds
        if remaining_seconds * settings.abandon_safety <= affordable:
            return None  # the buffer absorbs it

        # Sizes scale with the nominal bitrates, as in dash.js (the real size is only known once requested).
        def whole_seconds(rung: int) -> float:
            size = total_bytes * rung / bitrate_kbps
            return size * 8 / 1000 / rate_kbps if rate_kbps > 0 else float("inf")

        fitting = [
            rung
            for rung in lower
            if rung <= rate_kbps * settings.downgrade_safety
            and whole_seconds(rung) * settings.abandon_safety <= affordable
        ]
        target = fitting[-1] if fitting else lower[0]
        if total_bytes * target / bitrate_kbps >= remaining_bytes:
            return None  # restarting lower would not arrive sooner than the rest of this one
        return AbandonDecision(target, rate_kbps, remaining_seconds)

    def _in_flight_kbps(self, elapsed_seconds: float, bytes_received: int) -> float:
        """The lower of the rate since the request and the rate over the recent window."""
        overall = bytes_received * 8 / 1000 / max(elapsed_seconds, 1e-3)
        since = elapsed_seconds - self.settings.abandon_window_seconds
        earlier = [(at, received) for at, received in self._progress if at <= since]
        if not earlier:
            return overall
        at, received = earlier[-1]
        recent = (bytes_received - received) * 8 / 1000 / max(elapsed_seconds - at, 1e-3)
        return min(overall, recent)


@dataclass(frozen=True)
class Switch:
    """One change of rung, with the rule that made it (for stats and logs)."""

    segment_index: int
    from_kbps: int
    to_kbps: int
    reason: str


class AbrController:
    """The seed's controller; see the module docstring for the rules and why."""

    def __init__(
        self,
        ladder_kbps: Sequence[int],
        *,
        start_bitrate_kbps: int,
        ceiling_kbps: int,
        settings: AbrSettings | None = None,
    ) -> None:
        if not ladder_kbps:
            raise ValueError("the ladder is empty")
        self.settings = settings or AbrSettings()
        ladder = sorted(set(ladder_kbps))
        # The ceiling binds even if the manifest offers more; the lowest rung stays if nothing fits.
        self.ladder = [rung for rung in ladder if rung <= ceiling_kbps] or ladder[:1]
        self.current_kbps = self._highest_at_most(start_bitrate_kbps)
        self.estimator = ThroughputEstimator(
            fast_half_life_seconds=self.settings.fast_half_life_seconds,
            slow_half_life_seconds=self.settings.slow_half_life_seconds,
        )
        self.switches: list[Switch] = []
        self.abandonments: list[AbandonDecision] = []
        self._abandon_rule = AbandonRule(self.ladder, self.settings)
        self._segment_index = 0
        self._last_switch_index: int | None = None
        self._last_switch_was_down = False
        self._recent_rates_kbps: list[float] = []  # the last `survival_downloads` download rates, oldest first

    def record_download(self, *, size_bytes: int, seconds: float) -> None:
        self.estimator.add_sample(size_bytes=size_bytes, seconds=seconds)
        self._remember_rate(size_bytes, seconds)

    def _remember_rate(self, size_bytes: int, seconds: float) -> None:
        self._recent_rates_kbps.append(size_bytes * 8 / 1000 / max(seconds, 1e-3))
        del self._recent_rates_kbps[: -max(self.settings.survival_downloads, 1)]

    def start_download(self) -> None:
        self._abandon_rule.start_download()

    def abandon(
        self,
        *,
        bitrate_kbps: int,
        bytes_received: int,
        total_bytes: int,
        elapsed_seconds: float,
        buffer_seconds: float,
        segment_seconds: float,
    ) -> int | None:
        """Rule 5: the rung to re-request the in-flight segment at, or None to let it finish."""
        if not self.settings.abandon_requests:
            return None
        decision = self._abandon_rule.check(
            bitrate_kbps=bitrate_kbps,
            bytes_received=bytes_received,
            total_bytes=total_bytes,
            elapsed_seconds=elapsed_seconds,
            buffer_seconds=buffer_seconds,
            segment_seconds=segment_seconds,
        )
        if decision is None:
            return None
        # What arrived is a measurement too (the collapse it shows is why the segment is abandoned).
        self.record_download(size_bytes=bytes_received, seconds=elapsed_seconds)
        self.abandonments.append(decision)
        # The re-request counts as a switch of the segment just chosen (its index is one behind).
        index = max(self._segment_index - 1, 0)
        self.switches.append(Switch(index, bitrate_kbps, decision.to_kbps, "downgrade: abandon"))
        self._last_switch_was_down = True
        self._last_switch_index = index
        self.current_kbps = decision.to_kbps
        self._abandon_rule.start_download()
        return decision.to_kbps

    def choose(self, *, buffer_seconds: float, segment_seconds: float) -> int:
        """The rung for the next segment (called once per segment, in order)."""
        choice, reason = self._decide(buffer_seconds, segment_seconds)
        if choice != self.current_kbps:
            self.switches.append(Switch(self._segment_index, self.current_kbps, choice, reason))
            self._last_switch_was_down = choice < self.current_kbps
            self._last_switch_index = self._segment_index
            self.current_kbps = choice
        self._segment_index += 1
        return choice

    def _decide(self, buffer_seconds: float, segment_seconds: float) -> tuple[int, str]:
        settings = self.settings
        current = self.current_kbps
        estimate = self.estimator.estimate_kbps()
        if estimate is None:
            return current, "no estimate yet"
        panic_seconds = settings.panic_buffer_fraction * settings.target_buffer_seconds
        healthy_seconds = settings.healthy_buffer_fraction * settings.target_buffer_seconds
        lower = [rung for rung in self.ladder if rung < current]

        # Rule 2: the buffer is (or is about to be) nearly empty.
        projected = buffer_seconds - current * segment_seconds / estimate
        if lower and (buffer_seconds < panic_seconds or projected < panic_seconds):
            fitting = [rung for rung in lower if rung <= estimate * settings.downgrade_safety]
            return (fitting[-1] if fitting else lower[0]), "downgrade: buffer low"

        quiet = self._segments_since_switch()
        # Rule 3: the current rung is not sustained and the buffer is no longer healthy.
        if lower and estimate < current and buffer_seconds < healthy_seconds:
            if quiet >= settings.segments_between_switches:
                fitting = [rung for rung in lower if rung <= estimate * settings.downgrade_safety]
                return (fitting[-1] if fitting else lower[0]), "downgrade: throughput"
            return current, "hold"

        # Rule 4: upgrade with headroom, a healthy buffer and after the quiet period. The headroom asked
        # for shrinks as the buffer fills (the buffer pays for a shortfall), and the new rung's download
        # must leave the buffer healthy, so that an upgrade never sets off rule 2 or 3 at the next segment;
        # at the slowest recent rate it must at least stay clear of rule 2.
        needed_quiet = (
            settings.segments_before_reversal if self._last_switch_was_down else settings.segments_between_switches
        )
        if buffer_seconds >= healthy_seconds and quiet >= needed_quiet:
            headroom = self._upgrade_headroom(buffer_seconds, healthy_seconds, segment_seconds)
            higher = [
                rung
                for rung in self.ladder
                if rung > current
                and estimate >= headroom * rung
                and buffer_seconds - rung * segment_seconds / estimate >= healthy_seconds
                and self._survives_slowest_recent(rung, buffer_seconds, segment_seconds, panic_seconds)
            ]
            if higher:
                return higher[-1], "upgrade: headroom"
        return current, "hold"

    def _survives_slowest_recent(
        self, rung: int, buffer_seconds: float, segment_seconds: float, panic_seconds: float
    ) -> bool:
        """Whether `rung`'s download at the slowest recent download rate leaves the buffer at the panic level."""
        if self.settings.survival_downloads <= 0 or not self._recent_rates_kbps:
            return True
        slowest = max(min(self._recent_rates_kbps), 1e-3)
        return buffer_seconds - rung * segment_seconds / slowest >= panic_seconds

    def _upgrade_headroom(self, buffer_seconds: float, healthy_seconds: float, segment_seconds: float) -> float:
        """`upgrade_headroom` at the healthy level, falling linearly to `full_buffer_headroom` at a full buffer."""
        settings = self.settings
        full_seconds = max(settings.target_buffer_seconds - segment_seconds, healthy_seconds)
        if full_seconds <= healthy_seconds:
            return settings.upgrade_headroom
        share = min(max((buffer_seconds - healthy_seconds) / (full_seconds - healthy_seconds), 0.0), 1.0)
        return settings.upgrade_headroom + share * (settings.full_buffer_headroom - settings.upgrade_headroom)

    def _segments_since_switch(self) -> int:
        if self._last_switch_index is None:
            return 1 << 30  # no switch yet: nothing to be quiet about
        return self._segment_index - self._last_switch_index

    def _highest_at_most(self, bitrate_kbps: int) -> int:
        fitting = [rung for rung in self.ladder if rung <= bitrate_kbps]
        return fitting[-1] if fitting else self.ladder[0]
