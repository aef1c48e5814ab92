"""Reference adaptation rules the seed's controller is measured against, each as its source describes it.

- `AlwaysLowest`: the lowest rung of the ladder, whatever happens. Rebuffers least, sounds worst.
- `ThroughputOnly`: rate-based adaptation as used for the "RB" baseline of Yin et al. (MPC, SIGCOMM
  2015) and Pensieve: the highest rung at or below the harmonic mean of the last five segment download
  rates (times a safety factor, 1 there; dash.js's throughput rule uses 0.9). The harmonic mean damps
  single fast outliers; nothing looks at the buffer.
- `BolaBasic`: BOLA-BASIC from Spiteri, Urgaonkar and Sitaraman, "BOLA: Near-Optimal Bitrate Adaptation
  for Online Videos" (INFOCOM 2016). For buffer level Q (in segments) it picks the rung m maximising
  (V * v_m + V * gamma_p - Q) / S_m, with utilities v_m = ln(S_m / S_1) and sizes S_m proportional to
  the bitrates. V = (Q_max - 1) / (v_M + gamma_p) as in the paper, so the top rung is reached as the
  buffer approaches its capacity Q_max; gamma_p is set so that the two lowest rungs' objectives are
  equal at Q_low (below Q_low BOLA keeps the lowest rung), as dash.js and Puffer derive it from the
  paper. No throughput estimate at all: the buffer alone drives it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence


class AlwaysLowest:
    """The lowest rung, always."""

    def __init__(self, ladder_kbps: Sequence[int]) -> None:
        self.lowest_kbps = min(ladder_kbps)

    def choose(self, *, buffer_seconds: float, segment_seconds: float) -> int:
        return self.lowest_kbps

    def record_download(self, *, size_bytes: int, seconds: float) -> None:
        return None


class ThroughputOnly:
    """Highest rung at or below `safety` times the harmonic mean of the last `window` download rates."""

    def __init__(
        self, ladder_kbps: Sequence[int], *, start_bitrate_kbps: int, window: int = 5, safety: float = 1.0
    ) -> None:
        self.ladder = sorted(set(ladder_kbps))
        self.start_kbps = start_bitrate_kbps
        self.safety = safety
        self.rates_kbps: deque[float] = deque(maxlen=window)

    def record_download(self, *, size_bytes: int, seconds: float) -> None:
        self.rates_kbps.append(size_bytes * 8 / 1000 / max(seconds, 1e-3))

    def estimate_kbps(self) -> float | None:
        if not self.rates_kbps:
            return None
        return len(self.rates_kbps) / sum(1 / rate for rate in self.rates_kbps)

    def choose(self, *, buffer_seconds: float, segment_seconds: float) -> int:
        estimate = self.estimate_kbps()
        if estimate is None:
            return self.start_kbps
        fitting = [rung for rung in self.ladder if rung <= estimate * self.safety]
        return fitting[-1] if fitting else self.ladder[0]


def bola_parameters(
    ladder_kbps: Sequence[int], *, max_buffer_segments: float, low_buffer_segments: float
) -> tuple[float, float]:
    """(V, gamma_p) for BOLA-BASIC over this ladder (sizes proportional to bitrates).

    Two conditions fix the two parameters: V * (v_M + gamma_p) = Q_max - 1 (the paper's choice of V), and
    (V*gamma_p - Q_low) / S_1 = (V*(v_2 + gamma_p) - Q_low) / S_2 (lowest two rungs tie at Q_low).
    Solving them gives gamma_p = (Q_low * d * v_M + (Q_max - 1) * S_1 * v_2) / (d * (Q_max - 1 - Q_low)),
    with d = S_2 - S_1.
    """
    sizes = sorted(set(ladder_kbps))
    if len(sizes) < 2:
        return 1.0, 1.0
    if not 0 < low_buffer_segments < max_buffer_segments - 1:
        raise ValueError("need 0 < Q_low < Q_max - 1")
    utilities = [math.log(size / sizes[0]) for size in sizes]
    difference = sizes[1] - sizes[0]
    gamma_p = (
        low_buffer_segments * difference * utilities[-1] + (max_buffer_segments - 1) * sizes[0] * utilities[1]
    ) / (difference * (max_buffer_segments - 1 - low_buffer_segments))
    v = (max_buffer_segments - 1) / (utilities[-1] + gamma_p)
    return v, gamma_p


class BolaBasic:
    """BOLA-BASIC: the buffer level alone picks the rung (see the module docstring)."""

    def __init__(
        self,
        ladder_kbps: Sequence[int],
        *,
        target_buffer_seconds: float,
        segment_seconds: float,
        low_buffer_seconds: float | None = None,
    ) -> None:
        self.ladder = sorted(set(ladder_kbps))
        max_segments = target_buffer_seconds / segment_seconds
        low_segments = (low_buffer_seconds if low_buffer_seconds is not None else segment_seconds) / segment_seconds
        self.v, self.gamma_p = bola_parameters(
            self.ladder, max_buffer_segments=max_segments, low_buffer_segments=low_segments
        )
        self.utilities = [math.log(rung / self.ladder[0]) for rung in self.ladder]

    def choose(self, *, buffer_seconds: float, segment_seconds: float) -> int:
        level = buffer_seconds / segment_seconds
        scores = [
            (self.v * utility + self.v * self.gamma_p - level) / rung
            for utility, rung in zip(self.utilities, self.ladder, strict=True)
        ]
        return self.ladder[max(range(len(scores)), key=scores.__getitem__)]

    def record_download(self, *, size_bytes: int, seconds: float) -> None:
        return None
