"""Exact money: amounts are integer cents in memory and decimal strings outside it, never floats.

`largest_remainder` is the one rounding rule: shares of a whole number of units, each the floor of
its exact value, with the units left over given one each to the largest remainders; ties go to the
smaller key, so the same inputs always round the same way.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import TypeVar

from backbeat.errors import InvalidInput

K = TypeVar("K", bound=Hashable)

CENT = Decimal("0.01")


def parse_amount(text: str, what: str = "amount") -> int:
    """A non-negative decimal amount of currency (at most 2 decimal places) as integer cents."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise InvalidInput(f"{what} must be a decimal amount such as 1234.56, got {text!r}") from None
    if not value.is_finite() or value < 0:
        raise InvalidInput(f"{what} must be a non-negative amount, got {text!r}")
    if value != value.quantize(CENT):
        raise InvalidInput(f"{what} has more than 2 decimal places: {text!r}")
    return int(value * 100)


def parse_signed_cents(text: str) -> int:
    """A stored decimal amount that may be negative (an adjustment): "-0.05" -> -5."""
    negative = text.startswith("-")
    cents = parse_amount(text[1:] if negative else text)
    return -cents if negative else cents


def cents_to_str(cents: int) -> str:
    """Integer cents as a decimal string with two places: 1234 -> "12.34", -5 -> "-0.05"."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def ratio_str(numerator: int, denominator: int, places: int = 10) -> str:
    """numerator / denominator (non-negative integers) as a decimal string rounded half-even to
    `places` decimal places ("0.0000000000" when the denominator is 0). Integer arithmetic only."""
    scale = 10**places
    if denominator == 0:
        return f"0.{'0' * places}"
    quotient, remainder = divmod(numerator * scale, denominator)
    if remainder * 2 > denominator or (remainder * 2 == denominator and quotient % 2 == 1):
        quotient += 1
    whole, fraction = divmod(quotient, scale)
    return f"{whole}.{fraction:0{places}d}"


def percent_of(cents: int, percent: Decimal) -> int:
    """`percent` % of `cents`, rounded half-even to the cent (the pool of a tier's revenue)."""
    exact = Decimal(cents) * percent / Decimal(100)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def largest_remainder(total: int, numerators: Mapping[K, int], denominator: int) -> dict[K, int]:
    """Split `total` units over the keys in proportion `numerators[key] / denominator`, where the
    numerators add up to exactly ``total * denominator`` (the exact shares sum to the total).

    Each key gets the floor of its exact share; the units left over go one each to the largest
    remainders, ties to the smaller key. The result sums to `total` and no share is negative.
    """
    if sum(numerators.values()) != total * denominator:
        raise ValueError("the exact shares do not add up to the total")
    return apportion(total, numerators, denominator)


def apportion(target: int, numerators: Mapping[K, int], denominator: int) -> dict[K, int]:
    """`target` units over the keys by the exact shares `numerators[key] / denominator`, where the
    target is within one unit per key above the sum of the floors (a rounded total: a holder's
    payment split over their statement lines). Floors first, then one unit each to the largest
    remainders, ties to the smaller key."""
    if denominator <= 0:
        raise ValueError("the denominator must be positive")
    shares: dict[K, int] = {}
    remainders: list[tuple[int, K]] = []
    for key, numerator in numerators.items():
        if numerator < 0:
            raise ValueError("a share cannot be negative")
        whole, remainder = divmod(numerator, denominator)
        shares[key] = whole
        remainders.append((remainder, key))
    left = target - sum(shares.values())
    if left < 0 or left > len(remainders):
        raise ValueError(f"cannot apportion {target} over shares whose floors sum to {target - left}")
    if left:
        # the largest remainders first; equal remainders in key order (keys are strings or tuples of them)
        remainders.sort(key=lambda item: (-item[0], item[1]))  # type: ignore[arg-type]
        for _remainder, key in remainders[:left]:
            shares[key] += 1
    return shares


def split_evenly(total: int, weights: Mapping[K, int]) -> dict[K, int]:
    """Split `total` units in proportion to integer `weights` (largest remainder); all zero -> all zero."""
    weight_sum = sum(weights.values())
    if weight_sum == 0:
        if total:
            raise ValueError("nothing to split the total over")
        return dict.fromkeys(weights, 0)
    return largest_remainder(total, {key: total * weight for key, weight in weights.items()}, weight_sum)
