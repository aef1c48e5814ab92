"""Splits files are checked whole: a bad row is named and nothing of the file is taken; odd thirds
and producers' points are fine; the synthetic demo splits always sum to 100 % per right."""

from __future__ import annotations

import pytest

from backbeat.errors import InvalidInput
from backbeat.royalties.demo import demo_holders, demo_rows, demo_splits
from backbeat.royalties.splits import SHARE_UNITS, SplitsRegister, parse_holders, parse_splits

HEADER = "songId,right,holder,role,share\n"
GOOD = (
    HEADER
    + "song-a,recording,artist-1,artist,20\n"
    + "song-a,recording,label-1,label,76\n"
    + "song-a,recording,prod-1,producer,4\n"
    + "song-a,publishing,writer-1,songwriter,33.3334\n"
    + "song-a,publishing,writer-2,songwriter,33.3333\n"
    + "song-a,publishing,writer-3,songwriter,33.3333\n"
)
KNOWN_SONGS = {"song-a", "song-b"}
KNOWN_HOLDERS = {"artist-1", "label-1", "prod-1", "writer-1", "writer-2", "writer-3"}


def parse(text: str):  # type: ignore[no-untyped-def]
    return parse_splits(text, lambda songs: songs - KNOWN_SONGS, lambda holders: holders - KNOWN_HOLDERS)


def test_a_good_file_with_odd_thirds_and_points_is_taken() -> None:
    splits = parse(GOOD)["song-a"]
    assert sum(s.units for s in splits if s.right == "recording") == SHARE_UNITS
    assert {s.holder: s.percent for s in splits if s.right == "publishing"} == {
        "writer-1": "33.3334",
        "writer-2": "33.3333",
        "writer-3": "33.3333",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("song-a,publishing,writer-3,songwriter,33.3333", "song-a,publishing,writer-3,songwriter,33.3332"),
            "row 7: the publishing shares of song song-a sum to 99.9999 %, not 100 %",
        ),
        (("song-a,recording,label-1,label,76", "song-a,recording,label-9,label,76"), "row 3: unknown holder label-9"),
        (
            ("song-a,recording,prod-1,producer,4", "song-a,recording,prod-1,producer,4.00001"),
            "row 4: share '4.00001' has more than 4",
        ),
        (
            ("song-a,recording,prod-1,producer,4", "song-a,recording,prod-1,songwriter,4"),
            "row 4: role 'songwriter' does not hold a recording",
        ),
        (("song-a,recording,prod-1,producer,4", "song-a,mechanical,prod-1,producer,4"), "row 4: right 'mechanical'"),
    ],
)
def test_a_bad_row_is_named_and_refuses_the_whole_file(change: tuple[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse(GOOD.replace(*change))


def test_an_unknown_song_and_a_missing_right_are_named() -> None:
    with pytest.raises(InvalidInput, match="row 8: unknown song song-x"):
        parse(GOOD + "song-x,recording,artist-1,artist,100\nsong-x,publishing,writer-1,songwriter,100\n")
    with pytest.raises(InvalidInput, match="row 8: song song-b has no publishing splits"):
        parse(GOOD + "song-b,recording,artist-1,artist,100\n")
    with pytest.raises(InvalidInput, match="the header must be"):
        parse("song,right,holder,role,share\n")


def test_holders_files_are_checked_too() -> None:
    assert [h.holder_id for h in parse_holders("holderId,name,kind\nlabel-1,Label One,label\n")] == ["label-1"]
    with pytest.raises(InvalidInput, match="row 3: kind 'drummer'"):
        parse_holders("holderId,name,kind\nlabel-1,Label One,label\nx,X,drummer\n")


def test_the_register_round_trips_to_the_same_bytes() -> None:
    register = SplitsRegister(parse(GOOD), synthetic=True)
    data = register.to_bytes()
    again = SplitsRegister.from_bytes(data)
    assert again.to_bytes() == data and again.synthetic
    assert again.merged({"song-b": demo_splits("song-b", "artist-1")}).songs["song-a"] == register.songs["song-a"]


def test_demo_splits_are_deterministic_realistic_and_whole() -> None:
    holders = {h.holder_id for h in demo_holders()}
    shapes = set()
    for index in range(400):
        song = f"song-{index}"
        splits = demo_splits(song, "artist-x")
        assert splits == demo_splits(song, "artist-x")
        for right in ("recording", "publishing"):
            assert sum(s.units for s in splits if s.right == right) == SHARE_UNITS
        assert {s.holder for s in splits} <= holders | {"artist-x"}
        shapes.add(tuple(sorted((s.right, s.role) for s in splits)))
    assert len(shapes) > 10  # self-released, points, co-writers, publishers: many shapes
    rows = list(demo_rows([("song-1", "artist-x")]))
    text = HEADER + "".join(",".join(row) + "\n" for row in rows)
    parsed = parse_splits(text, lambda songs: set(), lambda names: set())
    assert parsed["song-1"] == demo_splits("song-1", "artist-x")  # the rows import back to the same splits
