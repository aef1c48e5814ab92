"""Opaque, deterministic 22-character ids (the shape of a Spotify id: base62 of 128 bits)."""

from __future__ import annotations

import hashlib

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 22


def base62_id(*parts: str) -> str:
    """A stable id for the given natural key: the same parts always give the same id."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    number = int.from_bytes(digest[:16], "big")
    chars = []
    for _ in range(ID_LENGTH):
        number, remainder = divmod(number, 62)
        chars.append(_ALPHABET[remainder])
    return "".join(reversed(chars))


def is_valid_id(value: str) -> bool:
    return len(value) == ID_LENGTH and all(ch in _ALPHABET for ch in value)
