"""The money, exactly (hypothesis): for random pools, plays and splits, under both models, every
tier's payments sum to its pool to the cent, every holder's statement lines sum to the holder's
payment, nobody is paid a negative amount, and a rerun gives the same bytes."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backbeat.royalties.allocation import allocate, pro_rata_weights, user_centric_weights
from backbeat.royalties.money import (
    cents_to_str,
    largest_remainder,
    parse_amount,
    parse_signed_cents,
    percent_of,
    split_evenly,
)
from backbeat.royalties.splits import SHARE_UNITS, Split, SplitsRegister
from backbeat.royalties.statements import statement_csv

SONGS = [f"song{index}" for index in range(8)]
HOLDERS = [f"holder{index}" for index in range(6)]


@st.composite
def splits_for_song(draw: st.DrawFn) -> list[Split]:
    splits: list[Split] = []
    for right, role in (("recording", "label"), ("publishing", "songwriter")):
        holders = draw(st.lists(st.sampled_from(HOLDERS), min_size=1, max_size=4, unique=True))
        cuts = sorted(
            draw(
                st.lists(
                    st.integers(1, SHARE_UNITS - 1), min_size=len(holders) - 1, max_size=len(holders) - 1, unique=True
                )
            )
        )
        bounds = [0, *cuts, SHARE_UNITS]
        splits += [Split(right, h, role, bounds[i + 1] - bounds[i]) for i, h in enumerate(holders)]
    return sorted(splits)


registers = st.dictionaries(st.sampled_from(SONGS), splits_for_song(), max_size=len(SONGS)).map(SplitsRegister)
listens = st.lists(
    st.tuples(
        st.sampled_from(["free", "premium"]),
        st.sampled_from(["u1", "u2", "u3", "u4"]),
        st.sampled_from(SONGS),
        st.integers(1, 5000),
    ),
    max_size=40,
    unique_by=lambda row: row[:3],
)
revenues = st.fixed_dictionaries({"free": st.integers(0, 10**9), "premium": st.integers(0, 10**9)})


def compute(revenue: dict[str, int], rows: list[tuple[str, str, str, int]], register: SplitsRegister, model: str):  # type: ignore[no-untyped-def]
    pools = {tier: percent_of(amount, __import__("decimal").Decimal(70)) for tier, amount in revenue.items()}
    counts: dict[tuple[str, str, str], int] = {}
    for tier, _user, song, plays in rows:
        counts[(tier, song, "artist-" + song)] = counts.get((tier, song, "artist-" + song), 0) + plays
    tallies = pro_rata_weights([(t, s, a, p) for (t, s, a), p in counts.items()])
    if model == "user-centric":
        premium = [(u, s, "artist-" + s, p) for t, u, s, p in rows if t == "premium"]
        tallies["premium"] = user_centric_weights(pools["premium"], premium)
    return allocate(revenue, pools, tallies, register, publishing_percent=20)


@settings(max_examples=150, deadline=None)
@given(revenues, listens, registers, st.sampled_from(["pro-rata", "user-centric"]))
def test_payments_sum_to_each_pool_and_lines_to_each_payment(revenue, rows, register, model) -> None:  # type: ignore[no-untyped-def]
    allocation = compute(revenue, rows, register, model)
    for tier, result in allocation.tiers.items():
        paid = sum(allocation.payment(holder).get(tier, 0) for holder in allocation.holders)
        assert paid == result.total_paid
        # every cent of the pool is paid when anything was played in the tier, nothing otherwise
        assert paid == (result.pool if result.billable_plays else 0)
    for holder, lines in allocation.holders.items():
        assert all(cents >= 0 for line in lines.values() for cents in line.cents.values())
        body = statement_csv(allocation, holder).decode()
        *line_rows, total_row = list(csv.DictReader(io.StringIO(body)))
        line_sum = sum(parse_amount(row["amount"]) for row in line_rows)
        assert line_sum == allocation.total(holder) == parse_amount(total_row["amount"])


@settings(max_examples=60, deadline=None)
@given(revenues, listens, registers, st.sampled_from(["pro-rata", "user-centric"]))
def test_a_rerun_gives_the_same_statements_byte_for_byte(revenue, rows, register, model) -> None:  # type: ignore[no-untyped-def]
    first = compute(revenue, rows, register, model)
    second = compute(revenue, list(reversed(rows)), SplitsRegister.from_bytes(register.to_bytes()), model)
    assert sorted(first.holders) == sorted(second.holders)
    for holder in first.holders:
        assert statement_csv(first, holder) == statement_csv(second, holder)


@given(st.integers(0, 10**12), st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 10**6), min_size=1))
def test_largest_remainder_pays_the_total_and_never_a_negative_share(total, weights) -> None:  # type: ignore[no-untyped-def]
    if sum(weights.values()) == 0:
        return
    shares = split_evenly(total, weights)
    assert sum(shares.values()) == total
    assert all(share >= 0 for share in shares.values())
    weight_sum = sum(weights.values())
    for key, share in shares.items():  # each share is its exact value rounded down or up
        assert abs(share * weight_sum - total * weights[key]) < weight_sum


def test_equal_remainders_go_to_the_smaller_key_whatever_the_order() -> None:
    assert split_evenly(100, {"b": 1, "a": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}
    assert split_evenly(100, {"c": 1, "a": 1, "b": 1}) == {"a": 34, "b": 33, "c": 33}
    assert largest_remainder(2, {"y": 5, "x": 5, "z": 10}, 10) == {"x": 1, "y": 0, "z": 1}  # x, y tie: x


def test_amounts_are_exact_decimals_and_refuse_fractions_of_a_cent() -> None:
    assert parse_amount("1234.56") == 123456
    assert parse_amount("0.1") == 10
    assert cents_to_str(123456) == "1234.56" and cents_to_str(-5) == "-0.05"
    assert parse_signed_cents("-0.05") == -5
    with pytest.raises(Exception, match="more than 2 decimal places"):
        parse_amount("1.005")
    with pytest.raises(Exception, match="non-negative"):
        parse_amount("-1")
    assert percent_of(1001, __import__("decimal").Decimal(70)) == 701  # 700.7 -> 701


def test_a_statement_quotes_ids_and_roles_that_need_it() -> None:
    register = SplitsRegister(
        {
            'so,ng "1"': [
                Split("publishing", "h", "song\nwriter", 1_000_000),
                Split("recording", "h", "artist", 1_000_000),
            ]
        }
    )
    tallies = pro_rata_weights([("free", 'so,ng "1"', "art,ist", 3)])
    allocation = allocate({"free": 100}, {"free": 70}, tallies, register, publishing_percent=20)
    rows = list(csv.reader(io.StringIO(statement_csv(allocation, "h").decode())))
    assert rows[1][:4] == ['so,ng "1"', "art,ist", "publishing", "song\nwriter"]
    assert rows[2][:4] == ['so,ng "1"', "art,ist", "recording", "artist"]
    assert [row[-1] for row in rows[1:]] == ["0.14", "0.56", "0.70"]
