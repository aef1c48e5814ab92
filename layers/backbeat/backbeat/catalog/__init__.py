"""The catalog: songs, albums and artists."""
