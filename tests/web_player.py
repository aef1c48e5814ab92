"""The web player as tests and benchmarks drive it: its build, its JavaScript budget, and Debian's
Chromium through Playwright (never Playwright's own browser download)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT

WEB = ROOT / "web"
DIST = WEB / "dist"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Chromium's own sandbox needs user namespaces that containers and CI rarely grant; the pages are ours.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def budget_bytes() -> int:
    """The gzipped JavaScript budget (hls.js excluded) that web/package.json sets."""
    return int(json.loads((WEB / "package.json").read_text())["config"]["jsBudgetGzipBytes"])


def shipped_js(dist: Path = DIST) -> dict[str, int]:
    """Each built JavaScript chunk but hls.js's, with its gzipped size (level 9, as servers send it)."""
    return {
        path.name: len(gzip.compress(path.read_bytes(), 9))
        for path in sorted((dist / "assets").glob("*.js"))
        if not path.name.startswith("hls-")
    }


def missing_tools() -> list[str]:
    missing = [] if os.access(CHROMIUM, os.X_OK) else ["chromium"]
    return missing + [tool for tool in ("node", "npm") if shutil.which(tool) is None]


def needs_browser() -> pytest.MarkDecorator:
    """Skip, saying what to install, where Chromium, Node.js or npm is missing."""
    missing = missing_tools()
    return pytest.mark.skipif(
        bool(missing),
        reason=f"{' and '.join(missing)} missing: `bash scripts/system-deps` (run by `make test`) installs it",
    )


def _stale() -> bool:
    index = DIST / "index.html"
    if not index.is_file():
        return True
    built = index.stat().st_mtime
    names = ("index.html", "package.json", "package-lock.json", "vite.config.ts")
    sources = [*WEB.joinpath("src").rglob("*"), *(WEB / name for name in names)]
    return any(path.is_file() and path.stat().st_mtime > built for path in sources)


def ensure_built() -> None:
    """`npm ci && npm run build` in web/ when the build is missing or older than its sources (what
    `make web` does), so a test on a fresh clone runs against the current player."""
    if not _stale():
        return
    for command in (["npm", "ci", "--no-audit", "--no-fund"], ["npm", "run", "build"]):
        if command[1] == "ci" and (WEB / "node_modules" / ".package-lock.json").is_file():
            continue
        done = subprocess.run(command, cwd=WEB, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed in {WEB}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
