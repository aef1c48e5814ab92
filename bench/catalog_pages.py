"""Catalog pages through the gateway: GET /songs/{id}, /artists/{id} and /albums/{id}, in one run.

    .venv/bin/python bench/catalog_pages.py [--requests 300] [--state .devstack/state.json]
                                            [--catalog-limit N]

With `--state`, uses a running devstack found through its state file (`make dev` writes
`.devstack/state.json`; `python -m devstack --state-file PATH` writes another); without it, starts
its own `make dev` (full demo catalog, no demo audio: pages do not need it) and stops it.
Logs in as the free demo user, then for random songs of the seeded catalog (the first
`--catalog-limit` songs when the stack was started with that flag) requests the song, its artist
and its album in turn, sequentially from one client on loopback, so the three routes see the same
stack under the same load. Prints p50/p99 per route
and each page's ratio to the song page.

A song page is one GetItem; an artist page is a Query on the `byArtist` index and an album page a
GetItem plus a Query on `byAlbum` (docs/decisions.md 27 says how the emulator answers index queries).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backbeat_ops.dataset import load_catalog  # noqa: E402
from bench.foundation import devstack_args, percentile, start_make_dev, stop_make_dev  # noqa: E402
from tests.support import CATALOG_DIR, http  # noqa: E402

DEMO_PASSWORD = "listen-to-the-music"
ROUTES = ("song", "artist", "album")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="requests per route")
    parser.add_argument("--state", type=Path, default=None, help="a running devstack's state file")
    parser.add_argument("--catalog-limit", type=int, default=None, help="the stack's --catalog-limit, if any")
    parser.add_argument("--catalog-dir", type=Path, default=CATALOG_DIR)
    args = parser.parse_args()

    if args.state is None:
        state = Path(tempfile.mkdtemp()) / "state.json"
        flags = ["--no-demo-audio", *devstack_args(args)]
        process, _port, _ready, _lines = start_make_dev(state, *flags)
        try:
            measure(json.loads(state.read_text())["url"], args)
        finally:
            stop_make_dev(process)
        return
    if not args.state.is_file():
        sys.exit(f"no running devstack: {args.state} does not exist (start `make dev` or pass --state)")
    measure(str(json.loads(args.state.read_text())["url"]), args)


def measure(url: str, args: argparse.Namespace) -> None:
    status, login, _ = http("POST", f"{url}/auth/login", {"email": "free@demo.backbeat.dev", "password": DEMO_PASSWORD})
    if status != 200:
        sys.exit(f"login failed ({status}): {login}")
    token = login["accessToken"]

    catalog = load_catalog(args.catalog_dir)
    if args.catalog_limit is not None:
        catalog = catalog.first(args.catalog_limit)
    songs = random.Random(7).sample(catalog.songs, min(args.requests, len(catalog.songs)))
    paths = {
        "song": [f"/songs/{song.id}" for song in songs],
        "artist": [f"/artists/{song.artist_id}" for song in songs],
        "album": [f"/albums/{song.album_id}" for song in songs],
    }
    for route in ROUTES:  # warm every execution environment first (cold starts are not page latency)
        http("GET", url + paths[route][0], token=token)

    samples: dict[str, list[float]] = {route: [] for route in ROUTES}
    for index in range(len(songs)):
        for route in ROUTES:
            started = time.perf_counter()
            status, body, _ = http("GET", url + paths[route][index], token=token)
            samples[route].append(time.perf_counter() - started)
            if status != 200:
                sys.exit(f"GET {paths[route][index]} answered {status}: {body}")

    song_p50 = percentile(samples["song"], 50)
    print(f"catalog pages through the gateway at {url}: {len(songs)} requests per route, sequential")
    print(f"{'route':<22}{'p50 ms':>10}{'p99 ms':>10}{'p50 / song':>12}")
    for route, template in zip(ROUTES, ("/songs/{id}", "/artists/{id}", "/albums/{id}"), strict=True):
        p50, p99 = percentile(samples[route], 50), percentile(samples[route], 99)
        print(f"GET {template:<18}{p50 * 1000:>10.1f}{p99 * 1000:>10.1f}{p50 / song_p50:>11.1f}x")


if __name__ == "__main__":
    main()
