"""Search relevance on the real demo catalog with generated queries.

    .venv/bin/python bench/search_relevance.py [--queries 1000] [--seed 7] [--catalog-limit N]

Indexes the whole catalog (or its first N songs with `--catalog-limit`: a quick check, not a figure)
into a fresh in-memory engine (osmem-server) with the production mapping
and runs the production query and re-ranking code (`backbeat.search.service`) -- no gateway, so
these are relevance figures, not latency. Queries:

- exact: "<title> <artist>" -> is the song top-1?
- typo: the same with one typo (drop, swap or substitute a letter) in a word of 5+ letters -> MRR@10
- diacritics: artist names with diacritics, typed without them -> is the artist top-1?
- suggest: the first 60% of a title -> do the suggestions contain that title?

A result counts as the intended song when its folded title and artist equal the intended ones (the
dataset has the same recording under several ids).
"""

from __future__ import annotations

import argparse
import math
import random
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backbeat.search import service  # noqa: E402
from backbeat.search.engine import connect  # noqa: E402
from backbeat.search.text import fold  # noqa: E402
from backbeat_ops.dataset import Song, load_catalog  # noqa: E402
from backbeat_ops.reindex import reindex  # noqa: E402
from backbeat_ops.seed import catalog_items  # noqa: E402
from tests.support import CATALOG_DIR  # noqa: E402


def typo(text: str, rng: random.Random) -> str | None:
    words = text.split(" ")
    candidates = [i for i, word in enumerate(words) if len(word) >= 5 and word.isalpha()]
    if not candidates:
        return None
    index = rng.choice(candidates)
    word = words[index]
    position = rng.randrange(0, len(word) - 1)  # any letter (a swap takes it and the next)
    kind = rng.choice(["drop", "swap", "substitute"])
    if kind == "drop":
        word = word[:position] + word[position + 1 :]
    elif kind == "swap":
        word = word[:position] + word[position + 1] + word[position] + word[position + 2 :]
    else:
        replacement = rng.choice([c for c in string.ascii_lowercase if c != word[position].lower()])
        word = word[:position] + replacement + word[position + 1 :]
    words[index] = word
    return " ".join(words)


def same_song(item: dict, song: Song) -> bool:
    return fold(item["title"]) == fold(song.title) and fold(item["artist"]["name"]) == fold(song.artist_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--catalog-limit", type=int, default=None, help="index the first N songs only (quick)")
    args = parser.parse_args()
    from osmem_server import OsmemServer

    catalog = load_catalog(CATALOG_DIR)
    if args.catalog_limit:
        catalog = catalog.first(args.catalog_limit)
    rng = random.Random(args.seed)
    with OsmemServer.start(japanese=False) as server:
        client = connect(server.url)
        report = reindex(client, "", catalog_items(catalog))
        print(f"indexed {report.documents} documents in {report.seconds:.1f} s ({report.documents_per_second:,.0f}/s)")
        index = service.SearchIndex(client, "")
        sample = rng.sample(catalog.songs, args.queries)

        started = time.perf_counter()
        exact_hits = 0
        for song in sample:
            items = service.search(index, f"{song.title} {song.artist_name}", ["song"], 10, 0)["songs"]["items"]
            exact_hits += bool(items) and same_song(items[0], song)
        exact_seconds = time.perf_counter() - started

        reciprocal_ranks: list[float] = []
        for song in sample:
            query = typo(f"{song.title} {song.artist_name}", rng)
            if query is None:
                continue
            items = service.search(index, query, ["song"], 10, 0)["songs"]["items"]
            rank = next((i + 1 for i, item in enumerate(items) if same_song(item, song)), None)
            reciprocal_ranks.append(1 / rank if rank else 0.0)

        accented = [a for a in catalog.artists if fold(a.name) != a.name.casefold() and fold(a.name).isascii()]
        diacritic_hits = 0
        for artist in accented:
            items = service.search(index, fold(artist.name), ["artist"], 10, 0)["artists"]["items"]
            diacritic_hits += bool(items) and fold(items[0]["name"]) == fold(artist.name)

        suggest_hits = 0
        for song in sample:
            typed = song.title[: max(1, math.ceil(len(song.title) * 0.6))]
            suggestions = service.suggest(index, typed, 10)["suggestions"]
            suggest_hits += any(s["type"] == "song" and fold(s["text"]) == fold(song.title) for s in suggestions)

    n = len(sample)
    print()
    print("| measure | figure | aim |")
    print("|---|---|---|")
    print(f"| exact `title artist`, top-1 ({n} queries) | {exact_hits / n:.3f} | >= 0.95 |")
    mrr = sum(reciprocal_ranks) / len(reciprocal_ranks)
    print(f"| one typo in a 5+ letter word, MRR@10 ({len(reciprocal_ranks)} queries) | {mrr:.3f} | >= 0.85 |")
    diacritics = f"{diacritic_hits / len(accented):.3f}" if accented else "n/a (none in this catalog)"
    print(f"| artists typed without diacritics, top-1 ({len(accented)} artists) | {diacritics} | >= 0.9 |")
    print(f"| suggestions contain the title after typing 60% ({n} titles) | {suggest_hits / n:.3f} | >= 0.85 |")
    print(f"| mean engine+rerank time per exact query (in-process) | {exact_seconds / n * 1000:.1f} ms | |")


if __name__ == "__main__":
    main()
