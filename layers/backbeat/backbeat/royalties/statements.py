"""One statement per rights holder and month: a CSV of its lines (a song's right that the holder has
a share of) with the song's billable plays, per-stream rate and the holder's amount in each tier,
and a last TOTAL line equal to the holder's payment. The bytes depend on the figures only (no
timestamps, fixed order), so a rerun of the same month writes the same file."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence

from backbeat.royalties.allocation import Allocation
from backbeat.royalties.money import cents_to_str, ratio_str
from backbeat.royalties.splits import share_percent


def statement_columns(tiers: Sequence[str]) -> list[str]:
    columns = ["songId", "artistId", "right", "role", "share"]
    for tier in tiers:
        columns += [f"{tier}Plays", f"{tier}Rate", f"{tier}Amount"]
    return [*columns, "amount"]


def statement_csv(allocation: Allocation, holder: str, rates: dict[tuple[int, int], str] | None = None) -> bytes:
    """The holder's statement. `rates` caches formatted per-stream rates across one run's statements
    (a song's rate is the same on each of its holders' lines)."""
    tiers = sorted(allocation.tiers)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(statement_columns(tiers))
    totals = dict.fromkeys(tiers, 0)
    rates = {} if rates is None else rates
    for _key, line in sorted(allocation.holders[holder].items()):
        row: list[str] = [line.song_id, line.artist_id, line.right, line.role, share_percent(line.units)]
        for tier in tiers:
            numerator, denominator = line.rates.get(tier, (0, 0))
            cents = line.cents.get(tier, 0)
            totals[tier] += cents
            rate = rates.get((numerator, denominator))
            if rate is None:
                rate = rates[(numerator, denominator)] = ratio_str(numerator, denominator * 100)
            row += [str(line.plays.get(tier, 0)), rate, cents_to_str(cents)]
        writer.writerow([*row, cents_to_str(line.amount)])
    total_row = ["TOTAL", "", "", "", ""]
    for tier in tiers:
        total_row += [str(sum(line.plays.get(tier, 0) for line in allocation.holders[holder].values())), ""]
        total_row.append(cents_to_str(totals[tier]))
    writer.writerow([*total_row, cents_to_str(sum(totals.values()))])
    return out.getvalue().encode("utf-8")


def run_digest(summary: object, statements: dict[str, bytes]) -> str:
    """A fingerprint of a run's figures: the same figures, the same digest (reruns are recognised)."""
    digest = hashlib.sha256(json.dumps(summary, sort_keys=True, separators=(",", ":")).encode())
    for holder in sorted(statements):
        digest.update(holder.encode() + b"\0" + hashlib.sha256(statements[holder]).digest())
    return digest.hexdigest()
