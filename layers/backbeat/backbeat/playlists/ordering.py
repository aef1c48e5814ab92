"""Fractional indexes: string keys whose byte order is the playlist order.

A key is an *integer part* (a head letter giving its length, then base-62 digits) and an optional
*fraction* (base-62 digits, never ending in ``0``). Between any two keys there is always another,
so an insert or a move writes only the items it inserts or moves. Appends and prepends step the
integer part (keys grow logarithmically); repeated inserts into one gap deepen the fraction by
about one character per six inserts, which `needs_respace` detects so the caller can spread a few
neighbours out again.

Keys use only ``0-9A-Za-z``, whose ASCII order is the digit order, so DynamoDB (UTF-8 byte order)
and Python sort them the same way.
"""

from __future__ import annotations

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_INDEX = {digit: value for value, digit in enumerate(DIGITS)}
_SMALLEST_INTEGER = "A" + "0" * 26
MAX_KEY_LENGTH = 96  # beyond this an edit spreads its neighbours out again (see `needs_respace`)


class OrderingError(ValueError):
    """A key is malformed or the bounds are out of order (a bug in the caller, not bad input)."""


def _integer_length(head: str) -> int:
    if "a" <= head <= "z":
        return ord(head) - ord("a") + 2
    if "A" <= head <= "Z":
        return ord("Z") - ord(head) + 2
    raise OrderingError(f"invalid key head {head!r}")


def _integer_part(key: str) -> str:
    length = _integer_length(key[0])
    if length > len(key):
        raise OrderingError(f"invalid key {key!r}")
    return key[:length]


def validate_key(key: str) -> None:
    if not key or key == _SMALLEST_INTEGER:
        raise OrderingError(f"invalid key {key!r}")
    integer = _integer_part(key)
    if any(ch not in _INDEX for ch in key[1:]) or key[len(integer) :].endswith("0"):
        raise OrderingError(f"invalid key {key!r}")


def _midpoint(a: str, b: str | None) -> str:
    """A fraction strictly between fractions `a` and `b` (`b` None = 1); no trailing zeros."""
    if b is not None:
        n = 0
        while n < len(b) and (a[n] if n < len(a) else "0") == b[n]:
            n += 1
        if n > 0:
            return b[:n] + _midpoint(a[n:], b[n:])
    digit_a = _INDEX[a[0]] if a else 0
    digit_b = _INDEX[b[0]] if b is not None else len(DIGITS)
    if digit_b - digit_a > 1:
        return DIGITS[(digit_a + digit_b + 1) // 2]
    if b is not None and len(b) > 1:
        return b[:1]
    return DIGITS[digit_a] + _midpoint(a[1:], None)


def _increment(integer: str) -> str | None:
    head, digits = integer[0], list(integer[1:])
    for index in range(len(digits) - 1, -1, -1):
        value = _INDEX[digits[index]] + 1
        if value < len(DIGITS):
            digits[index] = DIGITS[value]
            return head + "".join(digits)
        digits[index] = "0"
    if head == "Z":
        return "a0"
    if head == "z":
        return None
    new_head = chr(ord(head) + 1)
    if new_head > "a":
        digits.append("0")
    else:
        digits.pop()
    return new_head + "".join(digits)


def _decrement(integer: str) -> str | None:
    head, digits = integer[0], list(integer[1:])
    for index in range(len(digits) - 1, -1, -1):
        value = _INDEX[digits[index]] - 1
        if value >= 0:
            digits[index] = DIGITS[value]
            return head + "".join(digits)
        digits[index] = DIGITS[-1]
    if head == "a":
        return "Z" + DIGITS[-1]
    if head == "A":
        return None
    new_head = chr(ord(head) - 1)
    if new_head < "Z":
        digits.append(DIGITS[-1])
    else:
        digits.pop()
    return new_head + "".join(digits)


def key_between(a: str | None, b: str | None) -> str:
    """A key strictly between `a` and `b`; None means the start (for `a`) or the end (for `b`)."""
    if a is not None:
        validate_key(a)
    if b is not None:
        validate_key(b)
    if a is not None and b is not None and a >= b:
        raise OrderingError(f"{a!r} >= {b!r}")
    if a is None:
        if b is None:
            return "a0"
        integer_b = _integer_part(b)
        fraction_b = b[len(integer_b) :]
        if integer_b == _SMALLEST_INTEGER:
            return integer_b + _midpoint("", fraction_b)
        if integer_b < b:
            return integer_b
        before = _decrement(integer_b)
        if before is None:
            raise OrderingError("cannot decrement any more")
        return before
    integer_a = _integer_part(a)
    fraction_a = a[len(integer_a) :]
    if b is None:
        after = _increment(integer_a)
        return integer_a + _midpoint(fraction_a, None) if after is None else after
    integer_b = _integer_part(b)
    fraction_b = b[len(integer_b) :]
    if integer_a == integer_b:
        return integer_a + _midpoint(fraction_a, fraction_b)
    after = _increment(integer_a)
    if after is None:
        raise OrderingError("cannot increment any more")
    if after < b:
        return after
    return integer_a + _midpoint(fraction_a, None)


def keys_between(a: str | None, b: str | None, count: int) -> list[str]:
    """`count` ascending keys strictly between `a` and `b`, spread out (short keys for large counts)."""
    if count <= 0:
        return []
    if count == 1:
        return [key_between(a, b)]
    if b is None:
        keys = [key_between(a, None)]
        while len(keys) < count:
            keys.append(key_between(keys[-1], None))
        return keys
    if a is None:
        keys = [key_between(None, b)]
        while len(keys) < count:
            keys.append(key_between(None, keys[-1]))
        return list(reversed(keys))
    middle = count // 2
    pivot = key_between(a, b)
    return [*keys_between(a, pivot, middle), pivot, *keys_between(pivot, b, count - middle - 1)]


def needs_respace(keys: list[str]) -> bool:
    return any(len(key) > MAX_KEY_LENGTH for key in keys)


RESPACE_WINDOW = 20  # neighbours re-keyed on each side when a gap has become too deep


def place(order: list[tuple[str, str]], index: int, count: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Keys for `count` entries inserted before position `index` of `order` (``(id, key)`` pairs in
    key order, the entries being moved already left out), and the neighbours to re-key.

    `order` must run at least ``RESPACE_WINDOW + 1`` entries past `index`, or to the end of the
    list. Usually the answer is `count` keys between the two neighbours and nothing to re-key; when
    those keys would be longer than `MAX_KEY_LENGTH`, up to `RESPACE_WINDOW` neighbours on each side
    get fresh keys spread evenly between the entries just outside them, so keys stay short and an
    edit still writes O(1) items.
    """
    if not 0 <= index <= len(order):
        raise OrderingError(f"index {index} outside 0..{len(order)}")
    left = order[index - 1][1] if index > 0 else None
    right = order[index][1] if index < len(order) else None
    keys = keys_between(left, right, count)
    if not needs_respace(keys):
        return keys, []
    low = max(0, index - RESPACE_WINDOW)
    high = min(len(order), index + RESPACE_WINDOW)
    outer_left = order[low - 1][1] if low > 0 else None
    outer_right = order[high][1] if high < len(order) else None
    fresh = keys_between(outer_left, outer_right, (index - low) + count + (high - index))
    rekeyed = [(order[i][0], fresh[i - low]) for i in range(low, index)]
    rekeyed += [(order[i][0], fresh[(index - low) + count + (i - index)]) for i in range(index, high)]
    return fresh[index - low : index - low + count], rekeyed
