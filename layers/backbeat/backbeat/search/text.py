"""Text normalisation shared by queries and re-ranking (mirrors the index's `folding` analyzer)."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lowercase, strip diacritics, collapse whitespace: `Beyoncé  Knowles` -> `beyonce knowles`."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())
