"""Rights holders and splits.

Every song carries two rights, each split between holders in shares that sum to exactly 100 %:
the recording (artist, label, and producers' points) and the publishing (songwriters, publishers).
A share is a decimal percentage with at most four places (``33.3333``), held as an integer number
of millionths of the whole (`SHARE_UNITS` = 100 %), so sums are exact.

The register of splits is one document (`SplitsRegister`); an import validates a whole file first
and changes the register only if every row is good, naming the first bad row otherwise.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from backbeat.errors import InvalidInput

SHARE_UNITS = 1_000_000  # 100 % in millionths (a share of 33.3333 % is 333_333 units)
RIGHTS = ("recording", "publishing")
ROLES = {"recording": ("artist", "label", "producer"), "publishing": ("songwriter", "publisher")}
HOLDER_KINDS = ("artist", "label", "songwriter", "publisher", "producer")
SPLITS_HEADER = ["songId", "right", "holder", "role", "share"]
HOLDERS_HEADER = ["holderId", "name", "kind"]


class Split(NamedTuple):
    """One holder's share of one right of a song (a tuple: cheap to make, ordered by its fields)."""

    right: str
    holder: str
    role: str
    units: int  # millionths of the right

    @property
    def percent(self) -> str:
        """The share as the percentage an import file gives it (``33.3333``)."""
        return share_percent(self.units)


def share_percent(units: int) -> str:
    """Millionths of a right as the percentage with four places: 333_333 -> "33.3333"."""
    whole, part = divmod(units, 10_000)
    return f"{whole}.{part:04d}"


@dataclass(frozen=True)
class Holder:
    holder_id: str
    name: str
    kind: str


def parse_share(text: str) -> int:
    """``33.3333`` -> 333_333 units; refuses anything but a decimal in (0, 100] with <= 4 places."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"share {text!r} is not a decimal percentage") from None
    if not value.is_finite() or value <= 0 or value > 100:
        raise ValueError(f"share {text!r} must be above 0 and at most 100")
    units = value * 10_000
    if units != units.to_integral_value():
        raise ValueError(f"share {text!r} has more than 4 decimal places")
    return int(units)


def _rows(text: str, header: list[str], what: str) -> Iterable[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    if [name.strip() for name in reader.fieldnames or []] != header:
        raise InvalidInput(f"{what}: the header must be {','.join(header)}, got {','.join(reader.fieldnames or [])}")
    for number, row in enumerate(reader, start=2):  # row 1 is the header
        if None in row or any(value is None for value in row.values()):
            raise InvalidInput(f"{what}: row {number}: expected {len(header)} columns")
        yield number, {key.strip(): (value or "").strip() for key, value in row.items()}


def parse_holders(text: str) -> list[Holder]:
    """A holders file (`holderId,name,kind`), all of it or an error naming the first bad row."""
    holders: dict[str, Holder] = {}
    for number, row in _rows(text, HOLDERS_HEADER, "holders file"):
        holder_id, name, kind = row["holderId"], row["name"], row["kind"]
        if not holder_id or "#" in holder_id or "/" in holder_id:
            raise InvalidInput(f"holders file: row {number}: holderId {holder_id!r} is empty or has '#' or '/'")
        if not name:
            raise InvalidInput(f"holders file: row {number}: holder {holder_id} has no name")
        if kind not in HOLDER_KINDS:
            raise InvalidInput(f"holders file: row {number}: kind {kind!r} is not one of {', '.join(HOLDER_KINDS)}")
        if holder_id in holders:
            raise InvalidInput(f"holders file: row {number}: holder {holder_id} appears twice")
        holders[holder_id] = Holder(holder_id, name, kind)
    if not holders:
        raise InvalidInput("holders file: no rows")
    return list(holders.values())


def parse_splits(
    text: str,
    unknown_songs: Callable[[set[str]], set[str]],
    unknown_holders: Callable[[set[str]], set[str]],
) -> dict[str, list[Split]]:
    """A splits file (`songId,right,holder,role,share`) as song -> splits, or an `InvalidInput`
    naming the first bad row: a malformed value, an unknown song or holder, a holder named twice in
    one right, or a right whose shares do not sum to exactly 100 % (or a song missing a right).
    `unknown_songs` / `unknown_holders` answer which of the given ids the catalog does not know."""
    songs: dict[str, list[Split]] = {}
    first_row: dict[str, int] = {}
    last_row: dict[tuple[str, str], int] = {}
    seen: set[tuple[str, str, str]] = set()
    for number, row in _rows(text, SPLITS_HEADER, "splits file"):
        song, right, holder, role = row["songId"], row["right"], row["holder"], row["role"]
        where = f"splits file: row {number}"
        if not song or not holder:
            raise InvalidInput(f"{where}: songId and holder are required")
        if right not in RIGHTS:
            raise InvalidInput(f"{where}: right {right!r} is not recording or publishing")
        if role not in ROLES[right]:
            raise InvalidInput(f"{where}: role {role!r} does not hold a {right} right ({', '.join(ROLES[right])})")
        try:
            units = parse_share(row["share"])
        except ValueError as error:
            raise InvalidInput(f"{where}: {error}") from None
        if (song, right, holder) in seen:
            raise InvalidInput(f"{where}: holder {holder} appears twice in the {right} of song {song}")
        seen.add((song, right, holder))
        songs.setdefault(song, []).append(Split(right, holder, role, units))
        first_row.setdefault(song, number)
        last_row[(song, right)] = number
    if not songs:
        raise InvalidInput("splits file: no rows")
    for song, splits in songs.items():
        for right in RIGHTS:
            total = sum(split.units for split in splits if split.right == right)
            if (song, right) not in last_row:
                raise InvalidInput(f"splits file: row {first_row[song]}: song {song} has no {right} splits")
            if total != SHARE_UNITS:
                shown = Decimal(total) / Decimal(10_000)
                raise InvalidInput(
                    f"splits file: row {last_row[(song, right)]}: the {right} shares of song {song} "
                    f"sum to {shown} %, not 100 %"
                )
    missing_songs = unknown_songs(set(songs))
    if missing_songs:
        song = min(missing_songs, key=lambda name: first_row[name])
        raise InvalidInput(f"splits file: row {first_row[song]}: unknown song {song}")
    holders = {split.holder for splits in songs.values() for split in splits}
    missing_holders = unknown_holders(holders)
    if missing_holders:
        number, holder = _first_row_naming(text, missing_holders)
        raise InvalidInput(f"splits file: row {number}: unknown holder {holder}")
    return {song: sorted(splits) for song, splits in songs.items()}


def _first_row_naming(text: str, holders: set[str]) -> tuple[int, str]:
    for number, row in _rows(text, SPLITS_HEADER, "splits file"):
        if row["holder"] in holders:
            return number, row["holder"]
    raise AssertionError("unreachable: the holder came from the file")


def default_splits(artist_id: str) -> list[Split]:
    """The splits of a song that has none registered: its artist holds both rights whole (a
    self-released, self-written song), so its money is still paid to someone who exists."""
    return [
        Split("publishing", artist_id, "songwriter", SHARE_UNITS),
        Split("recording", artist_id, "artist", SHARE_UNITS),
    ]


@dataclass
class SplitsRegister:
    """Every song's splits; stored as one gzipped JSON document, so an import replaces it at once.

    A demo stack's register is `synthetic`: a song without imported splits gets the deterministic
    synthetic ones of `backbeat.royalties.demo` (computed when asked, so seeding costs nothing);
    otherwise such a song gets `default_splits`."""

    songs: dict[str, list[Split]] = field(default_factory=dict)
    synthetic: bool = False

    def merged(self, imported: Mapping[str, list[Split]]) -> SplitsRegister:
        """This register with the imported songs' splits replacing theirs (other songs kept)."""
        return SplitsRegister({**self.songs, **imported}, self.synthetic)

    def splits_for(self, song_id: str, artist_id: str) -> list[Split]:
        registered = self.songs.get(song_id)
        if registered:
            return registered
        if self.synthetic:
            from backbeat.royalties.demo import demo_splits

            return demo_splits(song_id, artist_id)
        return default_splits(artist_id)

    def to_bytes(self) -> bytes:
        document = {
            song: [[split.right, split.holder, split.role, split.units] for split in splits]
            for song, splits in sorted(self.songs.items())
        }
        body = {"format": 1, "songs": document, "synthetic": self.synthetic}
        text = json.dumps(body, separators=(",", ":"), sort_keys=True)
        return gzip.compress(text.encode("utf-8"), mtime=0)  # mtime 0: the same register, the same bytes

    @classmethod
    def from_bytes(cls, data: bytes) -> SplitsRegister:
        document = json.loads(gzip.decompress(data))
        songs = {song: [Split(*row) for row in rows] for song, rows in document["songs"].items()}
        return cls(songs, bool(document.get("synthetic", False)))

    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()
