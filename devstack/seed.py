"""Demo data for the local stack: the demo users and the demo catalog (with genres from the Last.fm
tags of its artists, where the Last.fm 2K dataset is at hand)."""

from __future__ import annotations

import gc
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any

from backbeat.catalog.models import bind_catalog_table
from backbeat.identity import service as identity
from backbeat.identity.models import bind_users_table
from backbeat_ops.dataset import Catalog, load_catalog
from backbeat_ops.genres import artist_genres
from backbeat_ops.lastfm import DEFAULT_LASTFM_DIR, load_lastfm, match_artists
from backbeat_ops.reindex import ReindexReport
from backbeat_ops.seed import SeedReport, seed_catalog
from devstack.search_engine import BULK_DOCUMENTS

# Local demo only: these accounts exist in the devstack, never in a deployed stack.
DEMO_PASSWORD = "listen-to-the-music"
DEMO_USERS = {"free@demo.backbeat.dev": "free", "premium@demo.backbeat.dev": "premium"}
DEFAULT_CATALOG_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "catalog"


def post_json(url: str, body: dict[str, object], token: str | None = None) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def seed_demo_users(api_url: str, users_table: str) -> None:
    """Sign the demo users up through the API (409 when they exist) and set their tiers."""
    bind_users_table(users_table)
    for email, tier in DEMO_USERS.items():
        status, body = post_json(f"{api_url}/auth/signup", {"email": email, "password": DEMO_PASSWORD})
        if status not in (201, 409):
            raise RuntimeError(f"cannot create demo user {email}: {status} {body}")
        identity.set_tier(email, tier)


def seed_demo_catalog(
    catalog_table: str,
    directory: Path = DEFAULT_CATALOG_DIR,
    limit: int | None = None,
    progress: Callable[[int, int], object] | None = None,
    media_for: Callable[[str], str | None] | None = None,
) -> tuple[Catalog, SeedReport]:
    catalog = load_demo_catalog(directory, limit)
    bind_catalog_table(catalog_table)
    return catalog, seed_catalog(catalog, progress=progress, media_for=media_for)


@contextmanager
def _no_garbage_collection() -> Iterator[None]:
    """The seed makes millions of long-lived objects and no cycles worth collecting: the collector
    would walk the growing heap again and again (a third of the seed's time). Afterwards the seeded
    objects are moved out of the collector's sight for good (`gc.freeze`)."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


@contextmanager
def _item_size_checked_once() -> Iterator[None]:
    """moto checks an item's 400 KB limit by re-measuring the whole item on each attribute it sets
    (quadratic in the attributes, ~70% of a put of a catalog song with its audio features). While
    seeding, each item is measured once, whole, instead. Other writes in that window (a demo track's
    encode) are measured the same way."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    original = Item.__init__

    def measured_once(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        converted = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(len(key.encode()) + value.size() for key, value in converted.items()) > 405000:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.update(self.attrs, converted)

    Item.__init__ = measured_once  # type: ignore[method-assign]
    try:
        yield
    finally:
        Item.__init__ = original  # type: ignore[method-assign]


@contextmanager
def _unstreamed(table: Any) -> Iterator[None]:
    """No stream records for the table's writes meanwhile (moto appends one per write to its shard)."""
    shard, table.stream_shard = table.stream_shard, None
    try:
        yield
    finally:
        table.stream_shard = shard


def load_demo_catalog(
    directory: Path = DEFAULT_CATALOG_DIR,
    limit: int | None = None,
    lastfm_dir: Path = DEFAULT_LASTFM_DIR,
    log: Callable[[str], object] = lambda message: print(f"devstack: {message}", file=sys.stderr, flush=True),
) -> Catalog:
    """The demo catalog (its first `limit` songs), its artists' genres taken from Last.fm tags."""
    catalog = load_catalog(directory)
    catalog = catalog.first(limit) if limit is not None else catalog
    try:
        lastfm = load_lastfm(lastfm_dir)
    except FileNotFoundError:
        log(f"no Last.fm dataset at {lastfm_dir}: the demo catalog has no genres")
        return catalog
    match = match_artists(lastfm, (artist.id for artist in catalog.artists))
    catalog.genres = artist_genres(lastfm, match)
    log(f"genres: {match.summary()}; {len(catalog.genres):,} catalog artists have genres")
    return catalog


def write_catalog_in_process(
    catalog_table: str,
    catalog: Catalog,
    progress: Callable[[int, int], object] | None = None,
    media_for: Callable[[str], str | None] | None = None,
    region: str = "us-east-1",
    account_id: str = "123456789012",
) -> SeedReport:
    """The demo catalog written straight into this process's moto DynamoDB backend (the devstack's
    moto server runs in-process): the same items `seed_catalog` writes through BatchWriteItem, without
    an HTTP round trip, request parsing and response per 25 items.

    The table's stream gets no record for these writes: its readers start at LATEST once the seed is
    indexed in bulk, as a production backfill's would, so no one would ever read them, and each record
    costs moto two JSON images of the item (a quarter of the seed's CPU) and the snapshot their bytes."""
    from moto.dynamodb.models import dynamodb_backends

    from backbeat_ops.seed import song_items  # the items the API-level seed writes, not a copy

    bind_catalog_table(catalog_table)
    backend = dynamodb_backends[account_id][region]
    started = time.perf_counter()
    total = len(catalog.songs) + len(catalog.albums) + len(catalog.artists)
    with _item_size_checked_once(), _no_garbage_collection(), _unstreamed(backend.get_table(catalog_table)):
        for done, item in enumerate(song_items(catalog, media_for), start=1):
            backend.put_item(catalog_table, item.serialize())
            if progress and (done % 5000 == 0 or done == total):
                progress(done, total)
    return SeedReport(
        songs=len(catalog.songs),
        albums=len(catalog.albums),
        artists=len(catalog.artists),
        seconds=time.perf_counter() - started,
    )


def stderr_progress(label: str) -> Callable[[int, int], None]:
    last = [-1]

    def report(done: int, total: int) -> None:
        percent = done * 100 // max(total, 1)
        if percent // 10 != last[0] // 10 or done == total:
            last[0] = percent
            print(f"  {label}: {done}/{total} items ({percent}%)", file=sys.stderr, flush=True)

    return report


def index_catalog_in_bulk(endpoint: str, catalog: Catalog, extra: Iterable[dict[str, Any]] = ()) -> ReindexReport:
    """Index the seeded catalog with one bulk reindex of the items the seed wrote (what
    `backbeat search reindex` does from a table scan, without re-reading 93k items from moto)."""
    from opensearchpy import OpenSearch

    from backbeat_ops.reindex import reindex
    from backbeat_ops.seed import catalog_items

    # The local engine, busy with ~93k documents on a machine that is also seeding and encoding, may
    # take longer than a Lambda's 10 s timeout over one bulk request.
    client = OpenSearch(hosts=[endpoint], timeout=300, max_retries=2, retry_on_timeout=True)
    return reindex(client, "", chain(catalog_items(catalog), extra), chunk_size=BULK_DOCUMENTS)
