"""The ordering scheme against a plain list: any sequence of inserts, removes and moves leaves the
keys strictly increasing, in the order the list has, and short."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from backbeat.playlists.ordering import MAX_KEY_LENGTH, RESPACE_WINDOW, key_between, keys_between, place


class KeyedList:
    """What the service does, in memory: entries sorted by key; an edit writes only what `place` returns."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.counter = 0

    def order(self) -> list[tuple[str, str]]:
        return sorted(self.keys.items(), key=lambda entry: entry[1])

    def insert(self, index: int, count: int) -> list[str]:
        names = [f"n{self.counter + i}" for i in range(count)]
        self.counter += count
        keys, rekeyed = place(self.order()[: index + RESPACE_WINDOW + 1], index, count)
        self.keys.update(rekeyed)
        self.keys.update(zip(names, keys, strict=True))
        return names

    def remove(self, index: int) -> None:
        del self.keys[self.order()[index][0]]

    def move(self, start: int, before: int, length: int) -> None:
        order = self.order()
        moving = order[start : start + length]
        rest = order[:start] + order[start + length :]
        at = before - length if before > start else before
        keys, rekeyed = place(rest[: at + RESPACE_WINDOW + 1], at, length)
        self.keys.update(rekeyed)
        self.keys.update((name, key) for (name, _), key in zip(moving, keys, strict=True))


edits = st.lists(
    st.tuples(st.sampled_from(["insert", "remove", "move"]), st.floats(0, 1), st.floats(0, 1), st.integers(1, 5)),
    max_size=120,
)


@settings(max_examples=200, deadline=None)
@given(edits)
def test_keys_follow_a_plain_list_through_random_edits(steps: list[tuple[str, float, float, int]]) -> None:
    model: list[str] = []
    keyed = KeyedList()
    for kind, a, b, n in steps:
        if kind == "insert" or not model:
            index = round(a * len(model))
            names = keyed.insert(index, n)
            model[index:index] = names
        elif kind == "remove":
            index = min(len(model) - 1, int(a * len(model)))
            keyed.remove(index)
            del model[index]
        else:
            start = min(len(model) - 1, int(a * len(model)))
            length = min(n, len(model) - start)
            before = round(b * len(model))
            if start < before < start + length:
                before = start
            keyed.move(start, before, length)
            moving = model[start : start + length]
            rest = model[:start] + model[start + length :]
            at = before - length if before > start else before
            model = rest[:at] + moving + rest[at:]
        order = keyed.order()
        assert [name for name, _ in order] == model
        keys = [key for _, key in order]
        assert len(set(keys)) == len(keys)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=1, max_size=400))
def test_keys_stay_short_under_inserts_into_one_gap(places: list[int]) -> None:
    """Hammering one spot (the worst case for fractional indexes) never grows keys without bound."""
    keyed = KeyedList()
    keyed.insert(0, 2)
    for offset in places:
        keyed.insert(min(1 + offset, len(keyed.keys)), 1)
    assert max(len(key) for key in keyed.keys.values()) <= MAX_KEY_LENGTH + RESPACE_WINDOW


def test_appending_ten_thousand_tracks_keeps_keys_short() -> None:
    keys = [key_between(None, None)]
    for _ in range(9_999):
        keys.append(key_between(keys[-1], None))
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert max(len(key) for key in keys) <= 4


def test_keys_between_spreads_keys_out() -> None:
    keys = keys_between("a0", "a1", 50)
    assert keys == sorted(keys) and len(set(keys)) == 50
    assert all("a0" < key < "a1" for key in keys)
    assert max(len(key) for key in keys) <= 4
