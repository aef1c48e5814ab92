"""Content candidates: songs whose standardised audio features (danceability, energy, valence,
tempo, acousticness, ...) are nearest, by cosine through the content ANN index, to the mean of what
the listener played recently (and of the seeds: seed songs, the seed artists' and genres' top songs).
A new listener with seeds gets an answer; one with neither plays nor seeds gets none."""

from __future__ import annotations

from backbeat.recs.generators.common import RECENT_PLAYS, as_model, excluded
from backbeat.recs.types import Candidate, ListenerContext, Source

SEED_SONGS_PER_ARTIST = 5
SEED_SONGS_PER_GENRE = 10


class ContentGenerator:
    source: Source = "content"

    def candidates(self, context: ListenerContext, model: object | None, limit: int) -> list[Candidate]:
        recs = as_model(model)
        if recs is None or limit <= 0:
            return []
        basis = list(context.recent_song_ids[:RECENT_PLAYS]) + list(context.seed_song_ids)
        for artist in context.seed_artist_ids:
            basis.extend(recs.artist_songs(artist, SEED_SONGS_PER_ARTIST))
        for genre in context.seed_genres:
            basis.extend(recs.genre_songs(genre, SEED_SONGS_PER_GENRE))
        profile = recs.content_profile(basis)
        if profile is None:
            return []
        skip = excluded(context)
        hits = recs.nearest_songs("content", profile, limit, exclude=sorted(skip))
        return [Candidate(song, score, self.source) for song, score in hits if song not in skip][:limit]
