"""Playlists: ordered tracks with fractional indexes, gapless versions and an append-only change log."""
