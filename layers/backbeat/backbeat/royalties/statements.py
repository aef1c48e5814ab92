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

from backbeat.royalties.allocation import Allocation, SongFigures, StatementLine, gc_paused
from backbeat.royalties.money import cents_to_str, ratio_str
from backbeat.royalties.splits import share_percent


def statement_columns(tiers: Sequence[str]) -> list[str]:
    columns = ["songId", "artistId", "right", "role", "share"]
    for tier in tiers:
        columns += [f"{tier}Plays", f"{tier}Rate", f"{tier}Amount"]
    return [*columns, "amount"]


def _csv_text(cells: Sequence[str]) -> str:
    """Cells as they are in a CSV line, without the line's end (quoted where they need it)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([*cells, ""])  # a last empty cell: never a lone one
    return out.getvalue()[:-2]


class StatementCache:
    """Cells that one run's statements share, as CSV text: each song's ids, and its plays and
    per-stream rate in each tier (the same on every line of the song, whoever holds it), rates,
    amounts, shares, rights and roles. Only ids, rights and roles can need quoting; figures never do."""

    def __init__(self) -> None:
        self.songs: dict[SongFigures, tuple[str, list[str], list[int]]] = {}  # ids, cells and plays per tier
        self.rates: dict[tuple[int, int], str] = {}
        self.amounts: dict[int, str] = {}
        self.shares: dict[int, str] = {}
        self.fields: dict[str, str] = {}

    def song(self, line: StatementLine, tiers: Sequence[str]) -> tuple[str, list[str], list[int]]:
        figures = line.figures
        cells: list[str] = []
        plays: list[int] = []
        for tier in tiers:
            numerator, denominator = figures.rates.get(tier, (0, 0))
            rate = self.rates.get((numerator, denominator))
            if rate is None:
                rate = self.rates[(numerator, denominator)] = ratio_str(numerator, denominator * 100)
            plays.append(figures.plays.get(tier, 0))
            cells.append(f"{plays[-1]},{rate}")
        song = self.songs[figures] = _csv_text([line.song_id, line.artist_id]), cells, plays
        return song

    def amount(self, cents: int) -> str:
        text = self.amounts[cents] = cents_to_str(cents)
        return text

    def share(self, units: int) -> str:
        text = self.shares[units] = share_percent(units)
        return text

    def field(self, value: str) -> str:
        text = self.fields[value] = _csv_text([value])
        return text


def statement_csv(allocation: Allocation, holder: str, cache: StatementCache | None = None) -> bytes:
    """The holder's statement. `cache` keeps the cells that one run's statements share."""
    tiers = sorted(allocation.tiers)
    cache = StatementCache() if cache is None else cache
    songs, amounts, shares, fields = cache.songs, cache.amounts, cache.shares, cache.fields
    text = [_csv_text(statement_columns(tiers))]
    cents_total = [0] * len(tiers)
    plays_total = [0] * len(tiers)
    indexed = list(enumerate(tiers))
    for (_song_id, right), line in sorted(allocation.holders[holder].items()):
        ids, song_cells, song_plays = songs.get(line.figures) or cache.song(line, tiers)
        cells = [
            ids,
            fields.get(right) or cache.field(right),
            fields.get(line.role) or cache.field(line.role),
            shares.get(line.units) or cache.share(line.units),
        ]
        amount = 0
        line_cents = line.cents
        for index, tier in indexed:
            cents = line_cents.get(tier, 0)
            amount += cents
            cents_total[index] += cents
            plays_total[index] += song_plays[index]
            cells += (song_cells[index], amounts.get(cents) or cache.amount(cents))
        cells.append(amounts.get(amount) or cache.amount(amount))
        text.append(",".join(cells))
    total_row = ["TOTAL", "", "", "", ""]
    for plays, cents in zip(plays_total, cents_total, strict=True):
        total_row += [str(plays), "", cents_to_str(cents)]
    text.append(_csv_text([*total_row, cents_to_str(sum(cents_total))]))
    text.append("")
    return "\n".join(text).encode("utf-8")


def statements_of(allocation: Allocation) -> dict[str, bytes]:
    """Every holder's statement (holders in order), sharing one cache."""
    cache = StatementCache()
    with gc_paused():
        return {holder: statement_csv(allocation, holder, cache) for holder in sorted(allocation.holders)}


def run_digest(summary: object, statements: dict[str, bytes]) -> str:
    """A fingerprint of a run's figures: the same figures, the same digest (reruns are recognised)."""
    digest = hashlib.sha256(json.dumps(summary, sort_keys=True, separators=(",", ":")).encode())
    for holder in sorted(statements):
        digest.update(holder.encode() + b"\0" + hashlib.sha256(statements[holder]).digest())
    return digest.hexdigest()
