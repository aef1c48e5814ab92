"""Last.fm tags -> catalog genres.

Listeners tag artists freely on Last.fm: next to genres ("rock", "trip-hop") stand years and decades
("80s", "2008"), opinions ("awesome", "seen live"), where an artist is from ("british"), who sings
("female vocalists") and private labels ("songs for gil"). An artist's genres are its most used tags
once those are cleaned away: lower-case, spelling variants merged (`ALIASES`), noise dropped by the
readable rules of `clean_tag`, at most `MAX_GENRES`, the most used first (ties: the tag more listeners
use across the dataset, then alphabetical), so the result is the same on every run.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from backbeat_ops.lastfm import ArtistMatch, LastFm

MAX_GENRES = 5
# A tag fewer listeners than this use anywhere in the dataset is a private label, not a genre.
MIN_TAG_LISTENERS = 3
MAX_TAG_LENGTH = 30
# A tag that is also an artist's name ("madonna", "the beatles") says "sounds like", not a genre,
# unless it is this widely used (as "electronic", "ambient" and "soundtrack", which are artists too).
MIN_LISTENERS_OF_ARTIST_NAMED_TAG = 100

# Spelling variants of one genre -> the spelling kept.
ALIASES = {
    "hip hop": "hip-hop",
    "hiphop": "hip-hop",
    "trip hop": "trip-hop",
    "r&b": "rnb",
    "r'n'b": "rnb",
    "rhythm and blues": "rnb",
    "synth pop": "synthpop",
    "synth-pop": "synthpop",
    "electro pop": "electropop",
    "post rock": "post-rock",
    "post punk": "post-punk",
    "nu-metal": "nu metal",
    "rock and roll": "rock n roll",
    "rock 'n' roll": "rock n roll",
    "power pop": "powerpop",
    "jpop": "j-pop",
    "jrock": "j-rock",
    "kpop": "k-pop",
    "drum n bass": "drum and bass",
    "dnb": "drum and bass",
    "singer songwriter": "singer-songwriter",
}

# Years and decades: "2008", "80s", "80's", "1990s", "00s".
_YEAR_OR_DECADE = re.compile(r"^(\d{2}|\d{4})'?s?$")

# Tags that say something other than the genre: listening, opinion, mood words that are not styles,
# who sings, where from, and the TV shows a song was heard in.
NOT_GENRES = frozenset(
    {
        # opinion and personal collections
        "seen live", "favorites", "favourites", "favorite", "favourite", "my favorite", "love", "loved",
        "awesome", "amazing", "beautiful", "sexy", "cool", "catchy", "fun", "happy", "sad", "sweet", "cute",
        "hot", "nice", "perfect", "brilliant", "genius", "legend", "fantastic", "lovely", "epic", "classic",
        "the best", "best", "addictive", "memories", "funny", "<3", "love at first listen", "love it",
        "guilty pleasure", "guilty pleasures", "fucking awesome", "best song ever", "ultimate favorite",
        "favorite songs", "favorite artists", "fav artists", "love songs", "check out", "to listen",
        # who sings
        "female vocalists", "female vocalist", "male vocalists", "male vocalist", "female", "male",
        "vocal", "vocalist", "diva", "female fronted", "guitar virtuoso",
        # how it was released or heard
        "cover", "covers", "remix", "remixes", "live", "under 2000 listeners", "albums i own",
        "gossip girl", "the vampire diaries", "melrose place", "american idol", "one tree hill", "glee",
        # where from
        "american", "british", "uk", "usa", "english", "german", "french", "canadian", "japanese",
        "brazilian", "brasil", "brazil", "swedish", "spanish", "russian", "polish", "italian", "icelandic",
        "australian", "finnish", "korean", "scottish", "irish", "turkish", "norwegian", "dutch", "danish",
        "belgian", "greek", "mexican", "argentina", "romanian", "portuguese", "israeli", "austrian",
        "swiss", "hungarian", "czech", "ukrainian", "chilean", "colombian", "new zealand", "welsh",
        "nederlands", "deutsch", "norway", "jamaica", "berlin", "california", "london", "new york",
        # titles, instruments and weather
        "king of pop", "queen of pop", "guitar", "piano", "saxophone", "rain", "old school",
    }
)  # fmt: skip


# A tag with any of these words is an opinion or a playlist of the tagger ("great song", "best of
# 2009", "my favourite band"), whatever else it says.
OPINION_WORDS = frozenset(
    {"favorite", "favourite", "favorites", "favourites", "fav", "favs", "best", "great", "good", "love",
     "loved", "awesome", "amazing", "song", "songs", "my", "listen", "listened", "heard", "own", "check"}
)  # fmt: skip


def clean_tag(tag: str) -> str | None:
    """The genre a tag names, or None when it names none (a year, an opinion, a place, ...)."""
    cleaned = " ".join(tag.replace("_", " ").casefold().split())
    cleaned = ALIASES.get(cleaned, cleaned)
    if not cleaned or len(cleaned) > MAX_TAG_LENGTH or not any(char.isalpha() for char in cleaned):
        return None
    if _YEAR_OR_DECADE.match(cleaned) or cleaned in NOT_GENRES or OPINION_WORDS & set(cleaned.split()):
        return None
    return cleaned


def artist_genres(lastfm: LastFm, match: ArtistMatch, limit: int = MAX_GENRES) -> dict[str, list[str]]:
    """catalog artist id -> up to `limit` genres, most used first; artists without any are left out.
    A tag that is the artist's own name ("britney spears" on Britney Spears), or another artist's
    (unless very widely used), is no genre either."""
    listeners_of: Counter[str] = Counter()  # how many listeners use a genre anywhere (for ties)
    genre_of: dict[int, str | None] = {}
    artist_names = {clean_tag(name) for name in lastfm.artists.values()}
    for tag_id, tag in lastfm.tags.items():
        users = lastfm.tag_users.get(tag_id, 0)
        genre = clean_tag(tag) if users >= MIN_TAG_LISTENERS else None
        if genre in artist_names and users < MIN_LISTENERS_OF_ARTIST_NAMED_TAG:
            genre = None
        genre_of[tag_id] = genre
        if genre:
            listeners_of[genre] += users
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for artist_id, catalog_id in match.catalog_ids.items():
        own_name = clean_tag(lastfm.artists[artist_id])
        for tag_id, taggings in lastfm.taggings.get(artist_id, Counter()).items():
            if (genre := genre_of.get(tag_id)) and genre != own_name:
                counts[catalog_id][genre] += taggings
    return {
        catalog_id: sorted(tags, key=lambda genre: (-tags[genre], -listeners_of[genre], genre))[:limit]
        for catalog_id, tags in sorted(counts.items())
        if tags
    }
