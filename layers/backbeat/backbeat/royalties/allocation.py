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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from backbeat.royalties.money import apportion, largest_remainder, split_evenly
from backbeat.royalties.splits import SHARE_UNITS, Split, SplitsRegister

MICRO_PER_CENT = 10_000  # the user-centric step divides listeners' money in millionths of a unit

SongKey = tuple[str, str]  # (songId, artistId)
LineKey = tuple[str, str]  # (songId, right)


@dataclass(frozen=True)
class SongTally:
    """A song's billable plays in a tier and its weight there (plays, or money in micro-units)."""

    plays: int
    weight: int


@dataclass(slots=True)
class StatementLine:
    song_id: str
    artist_id: str
    right: str
    role: str
    units: int  # the holder's share of the right, millionths
    plays: dict[str, int] = field(default_factory=dict)  # tier -> the song's billable plays
    rates: dict[str, tuple[int, int]] = field(default_factory=dict)  # tier -> song money / plays (cents)
    cents: dict[str, int] = field(default_factory=dict)  # tier -> this line's cents

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
    song_splits: dict[str, list[Split]] = {}  # each song's splits, looked up once for all tiers
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
        exact: dict[str, dict[LineKey, int]] = {}
        for (song, artist), tally in sorted(songs.items()):
            song_numerator = pool * tally.weight  # the song's cents = song_numerator / total_weight
            splits = song_splits.get(song)
            if splits is None:
                splits = song_splits[song] = register.splits_for(song, artist)
            for split in splits:
                numerator = song_numerator * rights_percent[split.right] * split.units
                lines = holders.setdefault(split.holder, {})
                key = (song, split.right)
                line = lines.get(key)
                if line is None:
                    line = lines[key] = StatementLine(song, artist, split.right, split.role, split.units)
                line.plays[tier] = tally.plays
                line.rates[tier] = (song_numerator, total_weight * tally.plays)
                exact.setdefault(split.holder, {})[key] = numerator
        holder_exact = {holder: sum(numerators.values()) for holder, numerators in exact.items()}
        paid = largest_remainder(pool, holder_exact, denominator)
        for holder, line_numerators in exact.items():
            for key, cents in apportion(paid[holder], line_numerators, denominator).items():
                holders[holder][key].cents[tier] = cents
        result.total_paid = sum(paid.values())
        result.statements = len(exact)
    return Allocation(results, holders)
