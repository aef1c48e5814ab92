"""Exploration candidates: songs from genres the listener has not played, by artists they have not
played, with popularity damped (score = (1 + listeners) ** DAMPING: the genre's big songs still come
first, but a song with 100 times the listeners scores ~2.5 times as much, not 100 times).

Which new genres: those nearest the listener's taste first (a genre shares artists' tag space with
what they play: the artists ANN index), then the most played ones; the choice rotates by a
per-listener, per-week offset so that a listener sees other corners week after week."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from backbeat.recs.generators.common import RECENT_PLAYS, as_model, excluded
from backbeat.recs.types import Candidate, ListenerContext, Source

DAMPING = 0.2
GENRES = 6
SONGS_PER_GENRE = 4
NEAR_ARTISTS = 50


def _offset(user_id: str | None, today: datetime, size: int) -> int:
    if size <= 0:
        return 0
    week = today.isocalendar()
    digest = hashlib.sha256(f"{user_id}:{week.year}-{week.week}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % size


class ExplorationGenerator:
    source: Source = "exploration"

    def __init__(self, today: datetime | None = None) -> None:
        self.today = today

    def candidates(self, context: ListenerContext, model: object | None, limit: int) -> list[Candidate]:
        recs = as_model(model)
        if recs is None or limit <= 0:
            return []
        played = list(context.recent_song_ids[:RECENT_PLAYS]) + list(context.heard_song_ids)
        known_artists = set(context.artist_weights) | {a for s in played if (a := recs.song_artist(s)) is not None}
        known_genres = set(context.genre_weights) | {genre for song in played for genre in recs.song_genres(song)}
        near: list[str] = []
        for artist, _ in recs.similar_artists(sorted(known_artists), NEAR_ARTISTS) if known_artists else []:
            for song in recs.artist_songs(artist, 1):
                near.extend(genre for genre in recs.song_genres(song) if genre not in near)
        others = [genre for genre in recs.genres() if genre not in near]
        fresh = [genre for genre in near + others if genre not in known_genres]
        if not fresh:
            return []
        window = fresh[: GENRES * 3]
        start = _offset(context.user_id, self.today or datetime.now(UTC), len(window))
        chosen = (window[start:] + window[:start])[:GENRES]
        skip = excluded(context)
        scores: dict[str, float] = {}
        per_genre = max(SONGS_PER_GENRE, -(-limit // len(chosen)))
        for genre in chosen:
            taken = 0
            for song in recs.genre_songs(genre, per_genre * 10):
                if taken >= per_genre:
                    break
                if song in skip or song in scores or recs.song_artist(song) in known_artists:
                    continue
                scores[song] = (1.0 + recs.popularity(song)) ** DAMPING
                taken += 1
        ranked = sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]
        return [Candidate(song, score, self.source) for song, score in ranked]
