"""Tag candidates: songs of the artists nearest, in Last.fm tag space (TF-IDF + SVD, the artists ANN
index), to the artists the listener likes (taste weights, recent plays, seed artists and the seed
songs' artists); each similar artist's most played songs, scored by the artist's similarity and
decaying down its list. Seed genres add their most played songs."""

from __future__ import annotations

from backbeat.recs.generators.common import RECENT_PLAYS, as_model, excluded
from backbeat.recs.types import Candidate, ListenerContext, Source

LIKED_ARTISTS = 10
SIMILAR_ARTISTS = 25
SONGS_PER_ARTIST = 3


class TagsGenerator:
    source: Source = "tags"

    def candidates(self, context: ListenerContext, model: object | None, limit: int) -> list[Candidate]:
        recs = as_model(model)
        if recs is None or limit <= 0:
            return []
        liked: dict[str, float] = dict(context.artist_weights)
        for song in list(context.recent_song_ids[:RECENT_PLAYS]) + list(context.seed_song_ids):
            if (artist := recs.song_artist(song)) is not None:
                liked[artist] = liked.get(artist, 0.0) + 1.0
        seeds = list(dict.fromkeys(context.seed_artist_ids))
        most_liked = sorted(liked, key=lambda artist: -liked[artist])[:LIKED_ARTISTS]
        basis = seeds + [artist for artist in most_liked if artist not in seeds]
        skip = excluded(context)
        scores: dict[str, float] = {}
        for artist, similarity in recs.similar_artists(basis, SIMILAR_ARTISTS) if basis else []:
            fresh = [song for song in recs.artist_songs(artist, SONGS_PER_ARTIST * 3) if song not in skip]
            for rank, song in enumerate(fresh[:SONGS_PER_ARTIST]):
                scores[song] = max(scores.get(song, 0.0), similarity / (1.0 + 0.5 * rank))
        for genre in context.seed_genres:
            for rank, song in enumerate(recs.genre_songs(genre, limit * 2)):
                if song not in skip:
                    scores[song] = max(scores.get(song, 0.0), 1.0 / (1.0 + 0.1 * rank))
        ranked = sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]
        return [Candidate(song, score, self.source) for song, score in ranked]
