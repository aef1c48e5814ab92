"""Synthetic splits for the demo catalog (the README says they are synthetic): deterministic from
each song's id, with the shapes real splits have: a label taking most of the recording, producers'
points, co-writers in odd thirds, a publisher's half of the publishing, self-released songs.

Nothing is stored per song: the register of a demo stack is marked synthetic and a song's splits
are computed when a run needs them (`SplitsRegister.splits_for`), so seeding costs a few hundred
holder items. The demo holders that are not catalog artists (labels, publishers, songwriters, producers) come
from small fixed pools, so a holder's statement gathers many songs, as a real label's does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from backbeat.royalties.splits import SHARE_UNITS, Holder, Split
from backbeat.royalties.store import RoyaltiesStore

POOLS = {"label": 40, "publisher": 20, "songwriter": 400, "producer": 120}
PERCENT = SHARE_UNITS // 100


def demo_holders() -> list[Holder]:
    return [
        Holder(_holder(kind, number), f"Demo {kind.title()} {number:03d} (synthetic)", kind)
        for kind, size in POOLS.items()
        for number in range(size)
    ]


def _holder(kind: str, number: int) -> str:
    return f"demo-{kind}-{number:03d}"


NAMES = {kind: [_holder(kind, number) for number in range(size)] for kind, size in POOLS.items()}
ARTIST_SHARES = tuple(percent * PERCENT for percent in (15, 18, 20, 25, 50))
PRODUCER_POINTS = tuple(points * PERCENT for points in (0, 3, 4, 5))


def _draws(song_id: str) -> bytes:
    """Deterministic numbers for a song (the same id, the same splits, on every machine)."""
    return hashlib.sha256(f"backbeat-demo-splits:{song_id}".encode()).digest()


def demo_splits(song_id: str, artist_id: str) -> list[Split]:
    """A song's synthetic splits, in order (a run computes them for every song it pays: cheaply)."""
    draw = _draws(song_id)
    if draw[0] % 10 == 0:  # self-released: the artist holds the master
        splits = [Split("recording", artist_id, "artist", SHARE_UNITS)]
    else:
        artist_share = ARTIST_SHARES[draw[1] % 5]
        producer_points = PRODUCER_POINTS[draw[2] % 4]
        splits = [Split("recording", artist_id, "artist", artist_share)]
        if producer_points:
            splits.append(
                Split("recording", NAMES["producer"][draw[3] % POOLS["producer"]], "producer", producer_points)
            )
        label = NAMES["label"][draw[4] % POOLS["label"]]
        splits.append(Split("recording", label, "label", SHARE_UNITS - artist_share - producer_points))
    songwriters = NAMES["songwriter"]
    writers = [songwriters[draw[6 + index] % POOLS["songwriter"]] for index in range(draw[9] % 3 + 1)]
    if draw[5] % 3:  # two songs in three are (co-)written by their artist
        writers.insert(0, artist_id)
    writers = sorted(set(writers))
    published = draw[10] % 5 != 0  # one song in five is self-published: the writers hold it all
    writer_total = SHARE_UNITS // 2 if published else SHARE_UNITS
    if published:
        splits.append(
            Split(
                "publishing", NAMES["publisher"][draw[11] % POOLS["publisher"]], "publisher", SHARE_UNITS - writer_total
            )
        )
    # equal co-writers: thirds come out as 33.3334 / 33.3333 / 33.3333 (the largest remainder rule:
    # the units left over go to the first writers by id)
    each, left = divmod(writer_total, len(writers))
    splits += [
        Split("publishing", writer, "songwriter", each + (1 if index < left else 0))
        for index, writer in enumerate(writers)
    ]
    splits.sort()
    return splits


def demo_rows(songs: Iterable[tuple[str, str]]) -> Iterable[list[str]]:
    """The demo splits of (songId, artistId) pairs as rows of an import file (`import-splits`)."""
    for song, artist in songs:
        for split in demo_splits(song, artist):
            yield [song, split.right, split.holder, split.role, split.percent]


def seed_demo_royalties(store: RoyaltiesStore) -> int:
    """A demo stack's rights: the synthetic holders, and a register that gives every song without
    imported splits its synthetic ones. Returns the holders written."""
    written = store.put_holders(demo_holders())
    register = store.load_register()
    register.synthetic = True
    store.save_register(register)
    return written


def seed_demo_stack(table: str, bucket: str) -> int:
    """`seed_demo_royalties` on a stack's royalties table and bucket (the devstack's first start)."""
    from backbeat.aws import client

    return seed_demo_royalties(RoyaltiesStore(client("dynamodb"), client("s3"), table, bucket))
