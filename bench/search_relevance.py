"""Search relevance on the real demo catalog with generated queries.

    .venv/bin/python bench/search_relevance.py [--queries 1000] [--seed 7] [--split held-out]
        [--candidates 50] [--typos always,when-not-found] [--catalog-limit N]

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

Songs and artists are split in two halves by a hash of their id: choices such as the number of
candidates fetched per type are made on `--split tuning`; the figures to publish are those of
`--split held-out` (the default), which no choice has seen. Each pair of a `--candidates` size and
a `--typos` pass (`always`: one typo-tolerant query, as before; `when-not-found`: the words as typed
first, typo-tolerant only when no document holds them all) is one column, so production and what it
replaced are compared in one run, on the same queries.
"""

from __future__ import annotations

import argparse
import math
import random
import string
import sys
import time
import zlib
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backbeat.search import service  # noqa: E402
from backbeat.search.engine import connect  # noqa: E402
from backbeat.search.ranking import CANDIDATES  # noqa: E402
from backbeat.search.service import TypoPass  # noqa: E402
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


SPLITS = ("tuning", "held-out")


def split_of(entity_id: str) -> str:
    """A stable half of the catalog per id (not Python's salted hash)."""
    return SPLITS[zlib.crc32(entity_id.encode()) % 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--split", choices=SPLITS, default="held-out", help="tune on tuning, publish held-out")
    parser.add_argument(
        "--candidates", default=str(CANDIDATES), help="comma list of candidates per type, one column each"
    )
    parser.add_argument(
        "--typos", default="always,when-not-found", help="comma list of typo passes (service.search), one column each"
    )
    parser.add_argument("--catalog-limit", type=int, default=None, help="index the first N songs only (quick)")
    args = parser.parse_args()
    columns: list[tuple[int, TypoPass]] = [
        (int(size), cast(TypoPass, typos))
        for size in dict.fromkeys(args.candidates.split(","))
        for typos in dict.fromkeys(args.typos.split(","))
    ]
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
        songs = [song for song in catalog.songs if split_of(song.id) == args.split]
        sample = rng.sample(songs, min(args.queries, len(songs)))
        typed = [(song, typo(f"{song.title} {song.artist_name}", rng)) for song in sample]
        typos = [(song, query) for song, query in typed if query is not None]
        accented = [
            a
            for a in catalog.artists
            if split_of(a.id) == args.split and fold(a.name) != a.name.casefold() and fold(a.name).isascii()
        ]

        Column = tuple[int, TypoPass]
        exact: dict[Column, float] = {}
        mrr: dict[Column, float] = {}
        diacritics: dict[Column, float] = {}
        seconds: dict[Column, float] = {}
        typo_seconds: dict[Column, float] = {}
        for column in columns:
            size, passes = column
            started = time.perf_counter()
            hits = 0
            for song in sample:
                query = f"{song.title} {song.artist_name}"
                result = service.search(index, query, ["song"], 10, 0, candidates=size, typos=passes)
                items = result["songs"]["items"]
                hits += bool(items) and same_song(items[0], song)
            seconds[column] = time.perf_counter() - started
            exact[column] = hits / len(sample)

            reciprocal_ranks: list[float] = []
            started = time.perf_counter()
            for song, query in typos:
                items = service.search(index, query, ["song"], 10, 0, candidates=size, typos=passes)["songs"]["items"]
                rank = next((i + 1 for i, item in enumerate(items) if same_song(item, song)), None)
                reciprocal_ranks.append(1 / rank if rank else 0.0)
            typo_seconds[column] = time.perf_counter() - started
            mrr[column] = sum(reciprocal_ranks) / len(reciprocal_ranks)

            found = 0
            for artist in accented:
                result = service.search(index, fold(artist.name), ["artist"], 10, 0, candidates=size, typos=passes)
                items = result["artists"]
                found += bool(items["items"]) and fold(items["items"][0]["name"]) == fold(artist.name)
            diacritics[column] = found / len(accented) if accented else float("nan")

        suggest_hits = 0  # suggestions do not depend on the candidates fetched for search
        for song in sample:
            prefix = song.title[: max(1, math.ceil(len(song.title) * 0.6))]
            suggestions = service.suggest(index, prefix, 10)["suggestions"]
            suggest_hits += any(s["type"] == "song" and fold(s["text"]) == fold(song.title) for s in suggestions)

    n = len(sample)
    print()
    print(
        f"split: {args.split} ({len(songs)} of {len(catalog.songs)} songs); "
        "columns: candidates fetched per type, and when typos are forgiven"
    )
    print()
    print("| measure | " + " | ".join(f"{size} candidates, typos {passes}" for size, passes in columns) + " | aim |")
    print("|---|" + "---|" * len(columns) + "---|")

    def row(name: str, values: dict[Column, float], aim: str, unit: str = "") -> None:
        cells = " | ".join(f"{values[c]:.3f}{unit}" if unit == "" else f"{values[c]:.1f}{unit}" for c in columns)
        print(f"| {name} | {cells} | {aim} |")

    row(f"exact `title artist`, top-1 ({n} queries)", exact, ">= 0.95")
    row(f"one typo in a 5+ letter word, MRR@10 ({len(typos)} queries)", mrr, ">= 0.85")
    row(f"artists typed without diacritics, top-1 ({len(accented)} artists)", diacritics, ">= 0.9")
    row(
        f"suggestions contain the title after typing 60% ({n} titles)",
        dict.fromkeys(columns, suggest_hits / n),
        ">= 0.85",
    )
    row(
        "mean engine+rerank time per exact query (in-process)", {k: v / n * 1000 for k, v in seconds.items()}, "", " ms"
    )
    row(
        "mean engine+rerank time per one-typo query (in-process)",
        {k: v / len(typos) * 1000 for k, v in typo_seconds.items()},
        "",
        " ms",
    )


if __name__ == "__main__":
    main()
