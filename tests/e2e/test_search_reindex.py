"""An operator rebuilds the search index from the catalog table with the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import start_devstack, stop_devstack
from tests.support import CATALOG_DIR, ROOT, http

pytestmark = pytest.mark.e2e


def test_backbeat_search_reindex_rebuilds_the_index(tmp_path: Path) -> None:
    if not CATALOG_DIR.is_dir():
        pytest.skip(f"the demo catalog is not at {CATALOG_DIR}")
    stack = start_devstack(tmp_path / "state.json", "--catalog-limit", "300", "--no-demo-audio")
    try:
        cli = Path(sys.executable).parent / "backbeat"
        env = {**os.environ, "BACKBEAT_DEVSTACK_STATE": str(stack.state_file)}
        result = subprocess.run(
            [cli, "search", "reindex"], env=env, capture_output=True, text=True, cwd=ROOT, timeout=600
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout.strip().splitlines()[-1])
        artists = report["documents"] - 600
        assert report["documents"] > 600 and artists > 0  # 300 songs, 300 singles, their artists
        assert "reindex" in result.stderr and "doc" in result.stderr  # the progress bar
        token = stack.login("free@demo.backbeat.dev", "listen-to-the-music")
        status, body, _ = http("GET", f"{stack.url}/search?q=lucky+man&type=song", token=token)
        assert status == 200 and body["songs"]["items"][0]["title"] == "Lucky Man"
    finally:
        assert stop_devstack(stack.process) == 0
