"""The month's money, exactly: each tier's pool over its songs, each song's money over its rights
and holders, rounded to the cent once per holder and tier (largest remainder), then each holder's
cents over their statement lines (largest remainder again), so that

- for every tier, the holders' payments add up to the pool to the cent;
- for every holder, the statement lines add up to the payment to the cent;
- nothing is negative, and the same inputs give the same cents.

A song's money in a tier is ``pool * weight / total weight``: the weight is its billable plays
(pro-rata), or, for the premium tier under the user-centric model, the micro-units that its
listeners' money gave it (`user_centric_weights`). Within a song, the publishing right takes
`publishing_percent` % and the recording right the rest; each right goes to its holders by their
shares. Every exact amount in a tier has the same denominator, so the arithmetic is integers only.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from backbeat.royalties.money import largest_remainder, split_evenly
from backbeat.royalties.splits import SHARE_UNITS, Split, SplitsRegister

MICRO_PER_CENT = 10_000  # the user-centric step divides listeners' money in millionths of a unit

SongKey = tuple[str, str]  # (songId, artistId)
LineKey = tuple[str, str]  # (songId, right)


@dataclass(frozen=True)
class SongTally:
    """A song's billable plays in a tier and its weight there (plays, or money in micro-units)."""

    plays: int
    weight: int


class SongFigures:
    """A song's billable plays and per-stream rate in each tier: the same on all its lines."""

    __slots__ = ("plays", "rates")

    def __init__(self) -> None:
        self.plays: dict[str, int] = {}  # tier -> the song's billable plays
        self.rates: dict[str, tuple[int, int]] = {}  # tier -> song money / plays (cents)


class StatementLine:
    """One line of a holder's statement: a right of a song that the holder has a share of, with the
    song's figures and the line's cents in each tier it was played in (a plain slotted class: a
    month makes one per holder, song and right, so it is built as cheaply as Python allows)."""

    __slots__ = ("artist_id", "cents", "figures", "right", "role", "song_id", "units")

    def __init__(self, song_id: str, artist_id: str, right: str, role: str, units: int, figures: SongFigures) -> None:
        self.song_id = song_id
        self.artist_id = artist_id
        self.right = right
        self.role = role
        self.units = units  # the holder's share of the right, millionths
        self.figures = figures
        self.cents: dict[str, int] = {}  # tier -> this line's cents

    @property
    def plays(self) -> dict[str, int]:
        return self.figures.plays

    @property
    def rates(self) -> dict[str, tuple[int, int]]:
        return self.figures.rates

    @property
    def amount(self) -> int:
        return sum(self.cents.values())


@dataclass
class TierResult:
    tier: str
    revenue: int  # cents
    pool: int  # cents
    billable_plays: int
    total_paid: int = 0
    statements: int = 0


@dataclass
class Allocation:
    tiers: dict[str, TierResult]
    holders: dict[str, dict[LineKey, StatementLine]]  # holder -> its lines

    def payment(self, holder: str) -> dict[str, int]:
        """The holder's cents per tier."""
        paid: dict[str, int] = {}
        for line in self.holders[holder].values():
            for tier, cents in line.cents.items():
                paid[tier] = paid.get(tier, 0) + cents
        return paid

    def total(self, holder: str) -> int:
        return sum(line.amount for line in self.holders[holder].values())


def pro_rata_weights(counts: Iterable[tuple[str, str, str, int]]) -> dict[str, dict[SongKey, SongTally]]:
    """Rows (tier, songId, artistId, plays) -> tier -> song -> tally weighed by plays."""
    tiers: dict[str, dict[SongKey, SongTally]] = {}
    for tier, song, artist, plays in counts:
        if plays > 0:
            tiers.setdefault(tier, {})[(song, artist)] = SongTally(plays, plays)
    return tiers


def user_centric_weights(pool: int, listens: Iterable[tuple[str, str, str, int]]) -> dict[SongKey, SongTally]:
    """Rows (userId, songId, artistId, plays) of one tier -> song -> tally weighed by money: the pool
    (in micro-units) split equally between the tier's listeners, and each listener's part over the
    songs they played in proportion to their plays (largest remainder, ties by id, at both steps)."""
    by_listener: dict[str, dict[SongKey, int]] = {}
    for user, song, artist, plays in listens:
        if plays > 0:
            by_listener.setdefault(user, {})[(song, artist)] = plays
    if not by_listener:
        return {}
    money = split_evenly(pool * MICRO_PER_CENT, dict.fromkeys(by_listener, 1))
    weights: dict[SongKey, int] = {}
    plays_of: dict[SongKey, int] = {}
    for user, songs in by_listener.items():
        for song, micro in split_evenly(money[user], songs).items():
            weights[song] = weights.get(song, 0) + micro
            plays_of[song] = plays_of.get(song, 0) + songs[song]
    return {song: SongTally(plays_of[song], weight) for song, weight in weights.items()}


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a while: building a month's hundreds of thousands of
    lines (none of them in a reference cycle) would otherwise trigger collections that traverse all
    of them again and again, which costs more than the lines themselves."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@gc_paused()
def allocate(
    revenue: Mapping[str, int],
    pools: Mapping[str, int],
    tallies: Mapping[str, Mapping[SongKey, SongTally]],
    register: SplitsRegister,
    publishing_percent: int,
) -> Allocation:
    """Every tier's pool (cents) over the holders of the songs in `tallies` (see the module)."""
    rights_percent = {"recording": 100 - publishing_percent, "publishing": publishing_percent}
    holders: dict[str, dict[LineKey, StatementLine]] = {}
    results: dict[str, TierResult] = {}
    songs_seen: dict[str, _Song] = {}  # each song's lines, made once for all tiers
    for tier in sorted(pools):
        pool = pools[tier]
        songs = tallies.get(tier, {})
        plays = sum(tally.plays for tally in songs.values())
        result = TierResult(tier, revenue.get(tier, 0), pool, plays)
        results[tier] = result
        total_weight = sum(tally.weight for tally in songs.values())
        if total_weight == 0 or pool == 0:
            continue  # no billable plays: nothing can be paid from this tier's pool this month
        denominator = total_weight * 100 * SHARE_UNITS
        # holder -> their lines in this tier, in line-key order (songs in order, a song's rights in
        # order), and each line's exact cents times the denominator
        exact: defaultdict[str, tuple[list[StatementLine], list[int]]] = defaultdict(lambda: ([], []))
        for (song_id, artist), tally in sorted(songs.items()):
            song = songs_seen.get(song_id)
            if song is None:
                splits = register.splits_for(song_id, artist)
                song = songs_seen[song_id] = _Song(song_id, artist, splits, rights_percent, holders)
            song_numerator = pool * tally.weight  # the song's cents = song_numerator / total_weight
            song.figures.plays[tier] = tally.plays
            song.figures.rates[tier] = (song_numerator, total_weight * tally.plays)
            for holder, line, parts in song.lines:
                lines, numerators = exact[holder]
                lines.append(line)
                numerators.append(song_numerator * parts)
        paid = largest_remainder(pool, {holder: sum(held[1]) for holder, held in exact.items()}, denominator)
        for holder, (lines, numerators) in exact.items():
            _pay_lines(tier, paid[holder], lines, numerators, denominator)
        result.total_paid = sum(paid.values())
        result.statements = len(exact)
    return Allocation(results, holders)


class _Song:
    """A song's statement lines (added to their holders' statements as they are made), each with
    its part of the song's money: the right's percent times the holder's units of it."""

    __slots__ = ("figures", "lines")

    def __init__(
        self,
        song_id: str,
        artist_id: str,
        splits: list[Split],
        rights_percent: dict[str, int],
        holders: dict[str, dict[LineKey, StatementLine]],
    ) -> None:
        self.figures = figures = SongFigures()
        self.lines: list[tuple[str, StatementLine, int]] = []
        for right, holder, role, units in sorted(splits):  # in right order: a holder's lines in key order
            line = StatementLine(song_id, artist_id, right, role, units, figures)
            held = holders.get(holder)
            if held is None:
                holders[holder] = {(song_id, right): line}
            else:
                held[(song_id, right)] = line
            self.lines.append((holder, line, units * rights_percent[right]))


def _pay_lines(tier: str, target: int, lines: list[StatementLine], numerators: list[int], denominator: int) -> None:
    """A holder's payment in a tier over their lines there (in line-key order): `money.apportion`
    (floors, then a cent each to the largest remainders, ties to the smaller line key) on the
    lines themselves."""
    wholes = [numerator // denominator for numerator in numerators]
    left = target - sum(wholes)
    if left < 0 or left > len(lines):
        raise ValueError(f"cannot apportion {target} over shares whose floors sum to {target - left}")
    for line, whole in zip(lines, wholes, strict=True):
        line.cents[tier] = whole
    if left:
        remainders = [numerator % denominator for numerator in numerators]
        # the largest remainders first: a stable sort keeps equal remainders in line-key order
        for index in sorted(range(len(lines)), key=remainders.__getitem__, reverse=True)[:left]:
            lines[index].cents[tier] += 1
