"""Pro-rata against user-centric: what every holder (artists first among them) would be paid for a
month under each model, from the same counts, written as reports/<YYYY-MM>/models.csv."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from backbeat.analytics.engines import LakeEngine
from backbeat.royalties.money import cents_to_str
from backbeat.royalties.monthly import Terms, compute_month
from backbeat.royalties.store import RoyaltiesStore

COLUMNS = ["holderId", "role", "proRata", "userCentric", "difference"]


@dataclass
class Comparison:
    key: str
    csv: bytes
    rows: list[dict[str, Any]]


def compare_models(engine: LakeEngine, store: RoyaltiesStore, month: str, terms: Terms) -> Comparison:
    pro_rata = compute_month(engine, store, month, "pro-rata", terms).allocation
    user_centric = compute_month(engine, store, month, "user-centric", terms).allocation
    rows: list[dict[str, Any]] = []
    for holder in sorted(set(pro_rata.holders) | set(user_centric.holders)):
        lines = pro_rata.holders.get(holder) or user_centric.holders[holder]
        roles = sorted({line.role for line in lines.values()})
        a = pro_rata.total(holder) if holder in pro_rata.holders else 0
        b = user_centric.total(holder) if holder in user_centric.holders else 0
        rows.append(
            {
                "holderId": holder,
                "role": "+".join(roles),
                "proRata": cents_to_str(a),
                "userCentric": cents_to_str(b),
                "difference": cents_to_str(b - a),
            }
        )
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    body = out.getvalue().encode("utf-8")
    key = f"reports/{month}/models.csv"
    store.put_object(key, body)
    return Comparison(key, body, rows)
