"""The A/B split: listeners divided deterministically between the promoted model and a challenger.

A listener's arm follows from a hash of the experiment and their id, never from a coin toss or a
stored assignment: every request, every execution environment and the weekly Discover Weekly job
put one listener in the same arm, and a new experiment (another challenger) reshuffles everyone.
The experiment is named by the two model versions, so the answer and the playback events say which
models were compared.

When the registry holds no challenger the split is *inert*: everyone gets the promoted model and
the answer says so (``"variant": {"name": "promoted:<version>", "inert": true}``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

Arm = Literal["promoted", "challenger"]
BUCKETS = 10_000
NO_MODEL = "none"


def version_of(model: Any | None) -> str:
    return str(getattr(model, "version", NO_MODEL)) if model is not None else NO_MODEL


def bucket_of(experiment: str, user_id: str) -> int:
    """The listener's bucket in [0, BUCKETS) for this experiment (SHA-256: uniform, stable)."""
    digest = hashlib.sha256(f"{experiment}\x00{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


@dataclass(frozen=True)
class Assignment:
    arm: Arm
    model: Any | None
    experiment: str | None
    inert: bool

    @property
    def name(self) -> str:
        """What travels in the playback events' context: the arm and the model version."""
        return f"{self.arm}:{version_of(self.model)}"

    def view(self) -> dict[str, Any]:
        return {"name": self.name, "arm": self.arm, "experiment": self.experiment, "inert": self.inert}


@dataclass(frozen=True)
class Split:
    promoted: Any | None
    challenger: Any | None = None
    challenger_share: float = 0.5

    @property
    def experiment(self) -> str | None:
        if self.challenger is None or self.promoted is None:
            return None
        return f"{version_of(self.promoted)}~{version_of(self.challenger)}"

    def assign(self, user_id: str | None) -> Assignment:
        experiment = self.experiment
        if experiment is None or user_id is None or self.challenger_share <= 0:
            return Assignment("promoted", self.promoted, experiment, inert=True)
        in_challenger = bucket_of(experiment, user_id) < round(self.challenger_share * BUCKETS)
        if in_challenger:
            return Assignment("challenger", self.challenger, experiment, inert=False)
        return Assignment("promoted", self.promoted, experiment, inert=False)


def variant_report_sql(since: str) -> str:
    """Plays, listening time and skip rate per variant since a day (YYYY-MM-DD), from the lake: each
    play takes the variant its events carried (`context.variant`, raw events: the deduplicated
    `events` view keeps only the flat context columns), its figures from the `plays` view."""
    day = date.fromisoformat(since).isoformat()  # a day, never free text, goes into the SQL
    return f"""
WITH assigned AS (
  SELECT playid AS playId, max(context.variant) AS variant
  FROM events_raw
  WHERE dt >= '{day}' AND context.variant IS NOT NULL
  GROUP BY playid
)
SELECT
  assigned.variant AS variant,
  count(*) AS plays,
  count(DISTINCT plays.userId) AS listeners,
  round(sum(plays.playedMs) / 60000.0, 1) AS listeningMinutes,
  round(avg(CASE WHEN plays.ended = 'skipped' THEN 1.0 ELSE 0.0 END), 4) AS skipRate,
  sum(CASE WHEN plays.billable THEN 1 ELSE 0 END) AS billablePlays
FROM plays JOIN assigned ON assigned.playId = plays.playId
WHERE plays.dt >= '{day}'
GROUP BY assigned.variant
ORDER BY assigned.variant
"""  # noqa: S608
