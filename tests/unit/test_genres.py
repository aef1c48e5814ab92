"""Last.fm tags become catalog genres: cleaned, deterministic, matched to catalog artists by name,
and shown on the song and the artist."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from backbeat.catalog.models import artist_id_for
from backbeat.catalog.views import song_view
from backbeat.plain import item_of
from backbeat_ops.dataset import Album, Artist, Catalog, Song
from backbeat_ops.genres import MAX_GENRES, artist_genres, clean_tag
from backbeat_ops.lastfm import DEFAULT_LASTFM_DIR, LastFm, load_lastfm, match_artists
from backbeat_ops.seed import song_items

CATALOG_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "catalog"


@pytest.mark.parametrize(
    ("tag", "genre"),
    [
        ("Rock", "rock"),
        ("  Post-Rock ", "post-rock"),
        ("post rock", "post-rock"),
        ("Hip Hop", "hip-hop"),
        ("hip-hop", "hip-hop"),
        ("Synth Pop", "synthpop"),
        ("female fronted metal", "female fronted metal"),
        ("80s pop", "80s pop"),
    ],
)
def test_genre_tags_are_kept_lower_case_with_one_spelling(tag: str, genre: str) -> None:
    assert clean_tag(tag) == genre


@pytest.mark.parametrize(
    "tag",
    ["seen live", "Seen Live", "80s", "80's", "1990s", "2008", "00s", "favorites", "awesome", "<3",
     "female vocalists", "british", "USA", "cover", "gossip girl", "x" * 31, "!!!", "great song",
     "My Favourite Band", "best of 2009", "songs to check out"],
)  # fmt: skip
def test_years_opinions_places_and_voices_are_not_genres(tag: str) -> None:
    assert clean_tag(tag) is None


def _lastfm() -> LastFm:
    """Three artists; tags with how many listeners gave each artist each tag."""
    tags = {1: "Rock", 2: "seen live", 3: "Grunge", 4: "alternative", 5: "90s", 6: "songs for gil", 7: "Pearl Jam"}
    tags |= {8: "hard rock", 9: "Hip Hop", 10: "hip-hop", 11: "rap", 12: "pop", 13: "Nirvana"}
    return LastFm(
        artists={10: "Pearl Jam", 20: "the notorious b.i.g.", 30: "Nobody In The Catalog", 40: "nirvana"},
        tags=tags,
        taggings={
            10: Counter({1: 9, 2: 12, 3: 9, 4: 4, 5: 6, 6: 20, 7: 5, 8: 2, 12: 1, 13: 7}),
            20: Counter({9: 3, 10: 4, 11: 5}),
            30: Counter({1: 50}),
        },
        tag_users={1: 90, 2: 80, 3: 10, 4: 40, 5: 30, 6: 1, 7: 4, 8: 12, 9: 8, 10: 9, 11: 7, 12: 60, 13: 20},
        plays={1: {10: 500, 30: 500}, 2: {20: 100}},
    )


def test_an_artist_gets_its_most_used_genres_without_noise_nor_its_own_name() -> None:
    lastfm = _lastfm()
    pearl_jam, biggie = artist_id_for("PEARL  JAM"), artist_id_for("The Notorious B.I.G.")
    match = match_artists(lastfm, [pearl_jam, biggie, artist_id_for("Someone Else")])

    genres = artist_genres(lastfm, match)

    # "seen live" and "90s" are noise, "songs for gil" one listener's label, "pearl jam" its own name,
    # "nirvana" another artist's;
    # rock and grunge tie on 9 taggings: the tag more listeners use anywhere comes first.
    assert genres[pearl_jam] == ["rock", "grunge", "alternative", "hard rock", "pop"]
    # "Hip Hop" and "hip-hop" are one genre (3 + 4 taggings), ahead of rap (5).
    assert genres[biggie] == ["hip-hop", "rap"]
    assert artist_genres(lastfm, match, limit=2)[pearl_jam] == ["rock", "grunge"]
    assert artist_genres(lastfm, match) == genres  # deterministic


def test_artists_match_by_normalised_name_and_the_match_rate_is_reported() -> None:
    lastfm = _lastfm()
    match = match_artists(lastfm, [artist_id_for("pearl jam"), artist_id_for("THE NOTORIOUS B.I.G.")])

    assert match.catalog_ids == {10: artist_id_for("Pearl Jam"), 20: artist_id_for("the notorious b.i.g.")}
    assert match.rate == pytest.approx(2 / 4)
    assert match.play_share == pytest.approx(600 / 1100)
    assert "2 of 4 Last.fm artists" in match.summary()


def _catalog(genres: dict[str, list[str]]) -> Catalog:
    artist_id = artist_id_for("Pearl Jam")
    song = Song(
        id="0" * 21 + "1",
        title="Even Flow",
        artist_id=artist_id,
        artist_name="Pearl Jam",
        album_id="A" * 22,
        album_title="Even Flow",
        album_type="single",
        track_number=1,
        duration_ms=293_000,
        popularity=100,
        audio_features={},
        decade="90s",
    )
    album = Album(
        id=song.album_id,
        title=song.title,
        album_type="single",
        artist_id=artist_id,
        artist_name="Pearl Jam",
        track_count=1,
    )
    artist = Artist(artist_id, "Pearl Jam", [song.id])
    return Catalog(songs=[song], albums=[album], artists=[artist], genres=genres)


def test_seeded_songs_and_artists_carry_their_artists_genres_into_the_views() -> None:
    genres = {artist_id_for("Pearl Jam"): ["grunge", "rock"]}
    items = {item.entity: item_of(item) for item in song_items(_catalog(genres))}

    assert items["artist"]["genres"] == ["grunge", "rock"]
    assert items["song"]["genres"] == ["grunge", "rock"]
    assert song_view(items["song"])["genres"] == ["grunge", "rock"]


def test_a_song_without_genres_has_an_empty_list_in_its_view_and_no_attribute() -> None:
    items = {item.entity: item_of(item) for item in song_items(_catalog({}))}

    assert "genres" not in items["song"] and "genres" not in items["artist"]
    assert song_view(items["song"])["genres"] == []


@pytest.fixture(scope="module")
def real_lastfm() -> LastFm:
    if not (DEFAULT_LASTFM_DIR / "artists.dat").is_file():
        pytest.skip(f"the Last.fm 2K dataset is not at {DEFAULT_LASTFM_DIR}")
    return load_lastfm(DEFAULT_LASTFM_DIR)


def test_real_last_fm_artists_are_found_in_the_real_catalog_with_readable_genres(real_lastfm: LastFm) -> None:
    from backbeat_ops.dataset import load_catalog

    if not CATALOG_DIR.is_dir():
        pytest.skip(f"the demo catalog is not at {CATALOG_DIR}")
    catalog = load_catalog(CATALOG_DIR)
    match = match_artists(real_lastfm, (artist.id for artist in catalog.artists))

    names = {real_lastfm.artists[artist_id] for artist_id in match.catalog_ids}
    assert {"Michael Jackson", "Pearl Jam", "Britney Spears", "Mary J. Blige"} <= names
    assert match.rate > 0.1 and match.play_share > 0.5  # the listened artists are the known ones
    genres = artist_genres(real_lastfm, match)
    assert "grunge" in genres[artist_id_for("Pearl Jam")]
    assert "britney spears" not in genres[artist_id_for("Britney Spears")]
    assert "madonna" not in {genre for listed in genres.values() for genre in listed}
    assert "electronic" in genres[artist_id_for("Daft Punk")]
    every = [genre for listed in genres.values() for genre in listed]
    assert all(len(listed) <= MAX_GENRES for listed in genres.values())
    assert all(genre == genre.lower() for genre in every)
    assert not {"seen live", "80s", "female vocalists", "favorites"} & set(every)
