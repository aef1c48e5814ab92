"""Read the HetRec 2011 Last.fm 2K dataset (`../shared/datasets/lastfm-2k/`) and match its artists
to catalog artists.

What the demo uses of it: the artists' names (to find them in the catalog), the tags listeners gave
them (genres, `backbeat_ops.genres`) and each listener's play count per artist (demo listening,
`backbeat_ops.listening`). The files are tab-separated with a header row; `artists.dat` is UTF-8,
`tags.dat` Latin-1 (as the dataset's readme says).

An artist matches by its normalised name (`backbeat.catalog.models.normalize_name`), the natural
key the catalog derives an artist's id from: the match is `artist_id_for(name)` being a catalog artist.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from backbeat.catalog.models import artist_id_for

DEFAULT_LASTFM_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "datasets" / "lastfm-2k"


@dataclass(frozen=True)
class LastFm:
    artists: dict[int, str]  # artistID -> name
    tags: dict[int, str]  # tagID -> tag as typed
    taggings: dict[int, Counter[int]]  # artistID -> tagID -> how many listeners gave the artist that tag
    tag_users: dict[int, int]  # tagID -> how many listeners use the tag at all
    plays: dict[int, dict[int, int]]  # userID -> artistID -> play count


def _rows(path: Path, encoding: str = "utf-8") -> Iterator[list[str]]:
    with path.open(encoding=encoding, newline="") as handle:
        next(handle, None)  # the header row
        for line in handle:
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) >= 2:
                yield fields


def load_lastfm(directory: Path = DEFAULT_LASTFM_DIR) -> LastFm:
    """Raises FileNotFoundError when the dataset is not in `directory`."""
    if not (directory / "artists.dat").is_file():
        raise FileNotFoundError(f"no Last.fm dataset (artists.dat) in {directory}")
    artists = {int(row[0]): row[1] for row in _rows(directory / "artists.dat")}
    tags = {int(row[0]): row[1] for row in _rows(directory / "tags.dat", encoding="latin-1")}
    taggings: defaultdict[int, Counter[int]] = defaultdict(Counter)
    users_of_tag: defaultdict[int, set[int]] = defaultdict(set)
    for row in _rows(directory / "user_taggedartists.dat"):
        taggings[int(row[1])][int(row[2])] += 1
        users_of_tag[int(row[2])].add(int(row[0]))
    plays: defaultdict[int, dict[int, int]] = defaultdict(dict)
    for row in _rows(directory / "user_artists.dat"):
        plays[int(row[0])][int(row[1])] = int(row[2])
    return LastFm(
        artists=artists,
        tags=tags,
        taggings=dict(taggings),
        tag_users={tag_id: len(users) for tag_id, users in users_of_tag.items()},
        plays=dict(plays),
    )


@dataclass(frozen=True)
class ArtistMatch:
    """Last.fm artists found in the catalog: `catalog_ids` maps a Last.fm artistID to the catalog
    artist id. `play_share` is the share of all Last.fm plays that went to matched artists."""

    catalog_ids: dict[int, str]
    lastfm_artists: int
    catalog_artists: int
    play_share: float

    @property
    def matched(self) -> int:
        return len(self.catalog_ids)

    @property
    def rate(self) -> float:
        """Matched Last.fm artists / Last.fm artists."""
        return self.matched / self.lastfm_artists if self.lastfm_artists else 0.0

    def summary(self) -> str:
        return (
            f"{self.matched:,} of {self.lastfm_artists:,} Last.fm artists found in the catalog "
            f"({self.rate:.1%}; {len(set(self.catalog_ids.values())):,} of {self.catalog_artists:,} catalog artists), "
            f"{self.play_share:.1%} of Last.fm plays"
        )


def match_artists(lastfm: LastFm, catalog_artist_ids: Iterable[str]) -> ArtistMatch:
    """Find each Last.fm artist in the catalog by its normalised name."""
    known = set(catalog_artist_ids)
    catalog_ids = {
        artist_id: catalog_id
        for artist_id, name in lastfm.artists.items()
        if (catalog_id := artist_id_for(name)) in known
    }
    total = matched = 0
    for counts in lastfm.plays.values():
        for artist_id, count in counts.items():
            total += count
            matched += count if artist_id in catalog_ids else 0
    return ArtistMatch(
        catalog_ids=catalog_ids,
        lastfm_artists=len(lastfm.artists),
        catalog_artists=len(known),
        play_share=matched / total if total else 0.0,
    )


def matched_plays(lastfm: LastFm, match: ArtistMatch) -> dict[int, dict[str, int]]:
    """Each Last.fm listener's play counts on catalog artists (userID -> catalog artist id -> plays);
    listeners with no matched artist are left out."""
    result: dict[int, dict[str, int]] = {}
    for user_id, counts in lastfm.plays.items():
        on_catalog: dict[str, int] = {}
        for artist_id, count in counts.items():
            if (catalog_id := match.catalog_ids.get(artist_id)) is not None:
                on_catalog[catalog_id] = on_catalog.get(catalog_id, 0) + count
        if on_catalog:
            result[user_id] = on_catalog
    return result
