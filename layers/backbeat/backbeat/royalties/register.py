"""Importing holders and splits: a whole file is checked against the catalog and the registered
holders before anything is written, and then written at once (the splits register is one object),
so a file with one bad row changes nothing."""

from __future__ import annotations

from typing import Any

from backbeat.catalog.models import META, artist_key, song_key
from backbeat.royalties.splits import parse_holders, parse_splits
from backbeat.royalties.store import RoyaltiesStore


def import_holders(store: RoyaltiesStore, text: str) -> dict[str, Any]:
    """Register the holders of a `holderId,name,kind` file (labels, songwriters, publishers, producers)."""
    holders = parse_holders(text)
    store.put_holders(holders)
    return {"holders": len(holders)}


def import_splits(store: RoyaltiesStore, catalog_table: str, text: str) -> dict[str, Any]:
    """Replace the splits of every song of a `songId,right,holder,role,share` file, all or nothing."""

    def unknown_songs(songs: set[str]) -> set[str]:
        keys = [(song_key(song), META) for song in sorted(songs)]
        found = store.existing_catalog_items(catalog_table, keys)
        return {song for song in songs if song_key(song) not in found}

    def unknown_holders(holders: set[str]) -> set[str]:
        artists = store.existing_catalog_items(catalog_table, [(artist_key(h), META) for h in sorted(holders)])
        rest = {holder for holder in holders if artist_key(holder) not in artists}
        return rest - store.known_holders(rest) if rest else set()

    splits = parse_splits(text, unknown_songs, unknown_holders)
    register = store.load_register().merged(splits)
    store.save_register(register)
    return {"songs": len(splits), "rows": sum(len(rows) for rows in splits.values()), "registered": len(register.songs)}
