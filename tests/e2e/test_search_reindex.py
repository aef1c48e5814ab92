"""An operator rebuilds the search index from the catalog table with the CLI.

This test keeps a small devstack of its own (300 songs, no demo audio) rather than the session's:
`backbeat search reindex` reads the table with a scan, and moto re-reads the whole table for every
1 MB page, so a rebuild of the full demo catalog takes over three minutes on two cores (about 200 s
idle; 65 s already for 5,000 songs), while this stack starts and rebuilds in well under a minute. The
rebuild itself is safe on a shared stack (fresh physical indices, aliases swapped when complete).

To show the rebuild reads the table, one song's document is deleted from the engine first: only the
rebuild can bring it back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from backbeat_ops.dataset import Catalog, load_catalog
from tests.conftest import RunningStack, start_devstack, stop_devstack
from tests.support import CATALOG_DIR, http

pytestmark = pytest.mark.e2e
SONGS = 300


@pytest.fixture(scope="module")
def small_catalog() -> Catalog:
    if not CATALOG_DIR.is_dir():
        pytest.skip(f"the demo catalog is not at {CATALOG_DIR}")
    return load_catalog(CATALOG_DIR).first(SONGS)


@pytest.fixture(scope="module")
def stack(small_catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    state = tmp_path_factory.mktemp("reindex") / "state.json"
    running = start_devstack(state, "--catalog-limit", str(SONGS), "--no-demo-audio")
    yield running
    assert stop_devstack(running.process) == 0


def _song_ids(stack: RunningStack, token: str, query: str) -> list[str]:
    status, body, _ = http("GET", f"{stack.url}/search?{urlencode({'q': query, 'type': 'song'})}", token=token)
    assert status == 200, body
    return [item["id"] for item in body["songs"]["items"]]


def test_backbeat_search_reindex_rebuilds_the_index(stack: RunningStack, small_catalog: Catalog) -> None:
    from backbeat.search.engine import connect, index_name
    from devstack.seed import DEMO_PASSWORD

    token = stack.login("free@demo.backbeat.dev", DEMO_PASSWORD)
    lost = small_catalog.songs[-1]
    query = f"{lost.title} {lost.artist_name}"
    assert lost.id in _song_ids(stack, token, query)
    engine = connect(stack.stack_output("SearchEndpoint"))
    engine.delete(index=index_name("", "song"), id=lost.id, refresh=True)
    assert lost.id not in _song_ids(stack, token, query)

    result = stack.cli("search", "reindex")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    catalog = small_catalog
    assert report["documents"] == len(catalog.songs) + len(catalog.albums) + len(catalog.artists)
    assert "reindex" in result.stderr and "doc" in result.stderr  # the progress bar

    assert lost.id in _song_ids(stack, token, query)
    assert catalog.songs[0].id in _song_ids(stack, token, "lucky man montgomery gentry")
    assert len(engine.indices.get_alias(name=index_name("", "song"))) == 1  # the old generation is gone
