"""Recommendation training: time and peak memory of `backbeat_recs.training.train` (weighted ALS +
the item model, the weekly workflow's training) and of building the served model (ANN indexes).

    .venv/bin/python bench/recs_training.py [--data demo|synthetic|both] [--scale 1.0]

- demo: the devstack's demo listeners (`backbeat_ops.listening` over the whole demo catalog, as
  `make dev` replays them), weighted by listening time in full plays, as the export computes it;
  plus building the served model over the whole catalog.
- synthetic: 1 M listeners x 100 k songs x 50 M plays at --scale 1 (Zipf-like song popularity,
  log-normal listener activity; `backbeat_recs.synthetic.random_plays`) as columns, made a matrix
  by `Interactions.from_columns` (the training job's path from the export's Parquet columns);
  --scale 0.1 is 100 k x 10 k x 5 M. Training only (no catalog to build a served model over).

Each measurement runs in a child process of its own, so the peak resident memory reported (the
child's ru_maxrss) is that run's: the data, the training and what it keeps. BACKBEAT_RECS_THREADS
bounds ALS's threads (default: every core).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [
    str(ROOT),
    str(ROOT / "layers" / "backbeat"),
    str(ROOT / "packages" / "recs"),
    str(ROOT / "packages" / "ops"),
]


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def demo() -> dict[str, object]:
    from backbeat_ops.dataset import load_catalog
    from backbeat_ops.lastfm import load_lastfm, match_artists, matched_plays
    from backbeat_ops.listening import CatalogSong, generate_listening
    from backbeat_recs.catalog import DEFAULT_CATALOG_DIR, demo_catalog_data
    from backbeat_recs.training import build_model, train

    catalog = load_catalog(DEFAULT_CATALOG_DIR)
    lastfm = load_lastfm()
    match = match_artists(lastfm, (artist.id for artist in catalog.artists))
    songs = [CatalogSong(s.id, s.artist_id, s.album_id, s.duration_ms, hit=s.popularity >= 100) for s in catalog.songs]
    listening = generate_listening(matched_plays(lastfm, match), songs, datetime.now(UTC))
    weights: dict[tuple[str, str], float] = {}
    plays = 0
    for email, listener_plays in listening.plays.items():
        for play in listener_plays:
            key = (email, play.song.id)
            weights[key] = weights.get(key, 0.0) + min(play.played_ms / max(play.song.duration_ms, 1), 1.0)
            plays += 1
    rows = [(user, song, weight) for (user, song), weight in weights.items()]
    started = time.perf_counter()
    collaborative = train(rows)
    trained = time.perf_counter() - started
    data = demo_catalog_data()
    started = time.perf_counter()
    model = build_model(
        "bench",
        collaborative,
        data.song_ids,
        data.song_artists,
        data.song_genres,
        data.raw_features,
        data.content,
        data.artists,
        data.artist_vectors,
    )
    built = time.perf_counter() - started
    return {
        "data": "demo",
        "listeners": collaborative.users,
        "songs": len(collaborative.items),
        "plays": plays,
        "pairs": collaborative.interactions,
        "trainSeconds": round(trained, 1),
        "buildSeconds": round(built, 1),
        "catalogSongs": len(model.catalog.song_ids),
        "peakMiB": round(peak_mib()),
    }


def synthetic(scale: float) -> dict[str, object]:
    from backbeat_recs.data import Interactions
    from backbeat_recs.synthetic import random_plays
    from backbeat_recs.training import train

    users, items, plays = int(1_000_000 * scale), int(100_000 * scale), int(50_000_000 * scale)
    started = time.perf_counter()
    columns = random_plays(users, items, plays)
    generated = time.perf_counter() - started
    generated_mib = peak_mib()
    started = time.perf_counter()
    interactions = Interactions.from_columns(*columns)  # the training job's path from the export's columns
    del columns
    built = time.perf_counter() - started
    started = time.perf_counter()
    collaborative = train(interactions)
    trained = time.perf_counter() - started
    return {
        "data": f"synthetic x{scale:g}",
        "listeners": interactions.shape[0],
        "songs": interactions.shape[1],
        "plays": plays,
        "pairs": interactions.nnz,
        "itemModelSongs": collaborative.details.get("itemModelItems"),
        "generateSeconds": round(generated, 1),
        "matrixSeconds": round(built, 1),
        "trainSeconds": round(trained, 1),
        "alsSeconds": collaborative.details.get("alsSeconds"),
        "alsIterationSeconds": collaborative.details.get("alsIterationSeconds"),
        "itemModelSeconds": collaborative.details.get("itemModelSeconds"),
        "generatedPeakMiB": round(generated_mib),
        "peakMiB": round(peak_mib()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", choices=["demo", "synthetic", "both"], default="both")
    parser.add_argument("--scale", type=float, default=1.0, help="the synthetic matrix's size (1 = 1M x 100k x 50M)")
    parser.add_argument("--child", choices=["demo", "synthetic"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = demo() if args.child == "demo" else synthetic(args.scale)
        print(json.dumps(result))
        return
    kinds = ["demo", "synthetic"] if args.data == "both" else [args.data]
    print(f"cores: {os.cpu_count()}, BACKBEAT_RECS_THREADS={os.environ.get('BACKBEAT_RECS_THREADS', 'all')}")
    for kind in kinds:
        command = [sys.executable, __file__, "--child", kind, "--scale", str(args.scale)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        result = json.loads(output.strip().splitlines()[-1])
        print("  ".join(f"{key}={value}" for key, value in result.items()), flush=True)


if __name__ == "__main__":
    main()
