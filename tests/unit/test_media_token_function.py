"""The CloudFront Function that guards /media in AWS (`MediaTokenFunction` in template.yaml) is a port
of `backbeat.media.signing.verify`: run its code from the template under Node.js and check it takes
exactly the decisions the Python does, on genuine, tampered, expired and over-the-cap paths."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from typing import Any

import pytest

from backbeat.errors import Forbidden
from backbeat.media import signing
from devstack.template import load_template
from tests.support import ROOT

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="no Node.js (scripts/system-deps installs it)")

SECRET = "edge-test-signing-key"
SONG = "SongAAAAAAAAAAAAAAAAAA"
RESOLVE = "{{resolve:secretsmanager:${MediaSigningSecret}:SecretString}}"


def function_code() -> str:
    code = load_template(ROOT / "template.yaml")["Resources"]["MediaTokenFunction"]["Properties"]["FunctionCode"]
    source = str(code["Fn::Sub"])
    assert RESOLVE in source and source.count("${") == 1  # the secret is the only substitution
    return source.replace(RESOLVE, SECRET)


def run_at_edge(uris: list[str]) -> list[dict[str, Any]]:
    """`handler(event)` of the function for each viewer-request URI, in a fresh Node.js process."""
    events = [{"version": "1.0", "request": {"method": "GET", "uri": uri, "headers": {}}} for uri in uris]
    harness = function_code() + (
        "\nconst events = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "\nprocess.stdout.write(JSON.stringify(events.map(handler)));\n"
    )
    done = subprocess.run(
        ["node", "-e", harness], input=json.dumps(events), capture_output=True, text=True, timeout=60, check=True
    )
    return list(json.loads(done.stdout))


def python_decision(uri: str) -> str | None:
    """The origin key the Python check grants, or None when it refuses."""
    try:
        return signing.verify(SECRET.encode(), uri).key
    except Forbidden:
        return None


def test_the_edge_function_decides_as_the_python_does() -> None:
    expiry = int(time.time()) + 600
    good = signing.sign(SECRET.encode(), user_id="alice", song_id=SONG, cap_kbps=160, expiry=expiry)
    expired = signing.sign(SECRET.encode(), user_id="alice", song_id=SONG, cap_kbps=160, expiry=int(time.time()) - 1)
    foreign = signing.sign(b"another key", user_id="alice", song_id=SONG, cap_kbps=160, expiry=expiry)
    uris = [
        f"/media/{good}/songs/{SONG}/master_160k_max.m3u8",
        f"/media/{good}/songs/{SONG}/master_160k.m3u8",
        f"/media/{good}/songs/{SONG}/master_160k_init_2.mp4",
        f"/media/{good}/songs/{SONG}/master_96k_00007.m4s",
        f"/media/{good}/songs/{SONG}/master_320k_00000.m4s",  # above the cap
        f"/media/{good}/songs/{SONG}/master_320k_max.m3u8",
        f"/media/{good}/songs/{SONG}/init_4.mp4",  # named after no rung: the edge cannot tell its rung
        f"/media/{good}/songs/{SONG}/init_0.mp4",
        f"/media/{good}/songs/{SONG}/master.m3u8",  # the full master, every rung
        f"/media/{good}/songs/{SONG}/master_max160k.m3u8",
        f"/media/{good}/songs/{SONG}/master_320k_00001.cmfa",  # another packager's naming of the rung
        f"/media/{good}/songs/{SONG}/master_320kInit.mp4",
        f"/media/{good}/songs/SongBBBBBBBBBBBBBBBBBB/init_0.mp4",  # another song
        f"/media/{good.replace('.160.', '.320.')}/songs/{SONG}/master_320k.m3u8",  # a raised cap
        f"/media/{good[:-1]}{'A' if good[-1] != 'A' else 'B'}/songs/{SONG}/init_0.mp4",  # forged
        f"/media/{expired}/songs/{SONG}/init_0.mp4",
        f"/media/{foreign}/songs/{SONG}/init_0.mp4",
        f"/media/{good}/songs/{SONG}/../init_0.mp4",
        f"/media/{good}/songs/{SONG}/a/init_0.mp4",
        f"/media/{good}/other/{SONG}/init_0.mp4",
        f"/songs/{SONG}/init_0.mp4",  # straight at the origin path
        "/media/",
    ]
    answers = run_at_edge(uris)
    for uri, answer in zip(uris, answers, strict=True):
        granted = python_decision(uri)
        if granted is None:
            assert answer.get("statusCode") == 403, (uri, answer)
            assert answer["headers"]["access-control-allow-origin"] == {"value": "*"}  # readable by web players
        else:
            # Allowed: the token is stripped, so the cache key (and the S3 key) is the object itself.
            assert answer.get("uri") == "/" + granted, (uri, answer)
    assert sum(python_decision(uri) is not None for uri in uris) == 4  # the cases are not all refusals
