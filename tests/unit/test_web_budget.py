"""The web player's JavaScript budget: what a listener downloads before the first page shows (every
built chunk but hls.js, which loads on the first play), gzipped, stays under the budget that
web/package.json sets (`config.jsBudgetGzipBytes`, decision 40). The build is `make web`; `make test`
and `make dev` run it first."""

from __future__ import annotations

import pytest

from tests.support import ROOT
from tests.web_player import budget_bytes, shipped_js

DIST = ROOT / "web" / "dist"


def test_the_shipped_javascript_outside_hls_js_stays_under_the_budget() -> None:
    if not (DIST / "index.html").is_file():
        pytest.skip(f"the web player is not built ({DIST} is missing): `make web` builds it")
    chunks = shipped_js(DIST)
    assert chunks, f"no JavaScript in {DIST / 'assets'}"
    assert any(name.startswith("index-") for name in chunks), chunks
    total = sum(chunks.values())
    assert total <= budget_bytes(), f"{total} gzipped bytes of JS (budget {budget_bytes()}): {chunks}"
