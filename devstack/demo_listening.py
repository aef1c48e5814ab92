"""Demo listening for the local stack (`python -m devstack --demo-listening`, which `make dev` passes):
once the stack is ready, a background thread replays the synthetic listeners of
`backbeat_ops.listening` through `POST /events/playback`, so charts, taste profiles and the event
lake have a history to show. Once they are in, the same play records are copied into the latest
month that has closed (`backbeat_ops.demo_month`), so that month's paying royalties run can
be shown too (the listening itself falls in the last 28 days).

It runs once per data dir: when it has sent everything it writes `demo-listening.json` in the data
dir. A later start that restores a snapshot saved after that does not send again; a start from
clean state (first start, `--reset`, a discarded snapshot), or one restoring a snapshot older than
the marker (the stack stopped without saving after the replay), sends again. An interrupted replay
writes no marker and is sent again whole at the next start: event ids are deterministic, so what
was already accepted is answered `duplicate`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from backbeat.identity import service as identity
from backbeat.identity.models import bind_users_table
from backbeat_ops.dataset import load_catalog
from backbeat_ops.lastfm import DEFAULT_LASTFM_DIR, load_lastfm, match_artists, matched_plays
from backbeat_ops.listening import CatalogSong, generate_listening
from backbeat_ops.listening_sender import ListeningSender
from devstack.persistence import META_FILE
from devstack.seed import DEMO_PASSWORD
from devstack.stack import Devstack

MARKER = "demo-listening.json"


def already_sent(data_dir: Path, snapshot: Path, restored: bool) -> bool:
    """Whether the restored state already holds the demo listening (see the module's docstring)."""
    marker = data_dir / MARKER
    meta = snapshot / META_FILE
    if not restored or not marker.is_file() or not meta.is_file():
        return False
    return marker.stat().st_mtime <= meta.stat().st_mtime


def replay(
    stack: Devstack,
    catalog_dir: Path,
    catalog_limit: int | None,
    marker: Path,
    stopping: Callable[[], bool],
    log: Callable[[str], None],
    lastfm_dir: Path = DEFAULT_LASTFM_DIR,
) -> None:
    """Generate the demo listening for the seeded catalog and send it; write the marker when done."""
    assert stack.deployment is not None
    catalog = load_catalog(catalog_dir)
    catalog = catalog.first(catalog_limit) if catalog_limit is not None else catalog
    lastfm = load_lastfm(lastfm_dir)
    match = match_artists(lastfm, (artist.id for artist in catalog.artists))
    songs = [
        CatalogSong(song.id, song.artist_id, song.album_id, song.duration_ms, hit=song.popularity >= 100)
        for song in catalog.songs
    ]
    listening = generate_listening(matched_plays(lastfm, match), songs, datetime.now(UTC))
    if not listening.listeners:
        log("demo listening: no Last.fm listener has enough artists in this catalog; nothing to replay")
        return
    log(
        f"demo listening: {len(listening.listeners)} synthetic listeners (listener-0001@demo.backbeat.dev ..., "
        f"password {DEMO_PASSWORD!r}) replay {listening.play_count:,} plays ({listening.event_count:,} events) "
        f"from Last.fm listening in the background"
    )
    bind_users_table(stack.deployment.tables["UsersTable"])
    sender = ListeningSender(
        stack.url,
        DEMO_PASSWORD,
        log=lambda message: log(f"demo listening: {message}"),
        set_tier=identity.set_tier,
        stopping=stopping,
    )
    report = sender.send(listening)
    if stopping() or report.listeners < len(listening.listeners):
        log(f"demo listening: interrupted after {report.summary()}; the next start sends it again")
        return
    month, landed = land_closed_month(stack)
    marker.write_text(
        json.dumps({"sentAt": datetime.now(UTC).isoformat(), "summary": report.summary()}, indent=2), encoding="utf-8"
    )
    log(f"demo listening: done, {report.summary()}; {landed} plays copied into {month} (closed: a paying run)")


def land_closed_month(stack: Devstack, settle_seconds: float = 3.0) -> tuple[str, int]:
    """The demo's play records, once the plays consumer has written them all (their number stops
    changing), copied into the latest closed month (see `backbeat_ops.demo_month`)."""
    from backbeat.aws import client
    from backbeat.royalties.monthly import Terms
    from backbeat_ops.demo_month import land_demo_month, latest_closed_month, play_records

    assert stack.deployment is not None
    outputs = stack.deployment.outputs
    dynamodb = client("dynamodb")
    seen = -1
    for _ in range(20):
        count = sum(1 for _ in play_records(dynamodb, outputs["PlaysTableName"]))
        if count == seen:
            break
        seen = count
        time.sleep(settle_seconds)
    month = latest_closed_month(datetime.now(UTC), Terms().grace_days)
    stream = outputs["PlaysDeliveryStreamName"]
    return month, land_demo_month(dynamodb, client("firehose"), outputs["PlaysTableName"], stream, month)


def start_demo_listening(
    stack: Devstack,
    *,
    catalog_dir: Path,
    catalog_limit: int | None,
    data_dir: Path,
    snapshot: Path,
    stopping: Callable[[], bool],
    log: Callable[[str], None],
) -> threading.Thread | None:
    """Start the replay in a background thread unless the state already holds it."""
    if already_sent(data_dir, snapshot, stack.restored):
        log(f"demo listening: already in this state ({data_dir / MARKER})")
        return None
    if not catalog_dir.is_dir() or not (DEFAULT_LASTFM_DIR / "artists.dat").is_file():
        log(f"demo listening: needs the demo catalog ({catalog_dir}) and Last.fm 2K ({DEFAULT_LASTFM_DIR}); skipped")
        return None
    (data_dir / MARKER).unlink(missing_ok=True)  # whatever it said was about another state

    def run() -> None:
        try:
            replay(stack, catalog_dir, catalog_limit, data_dir / MARKER, stopping, log)
        except Exception as error:  # the stack keeps serving; the next start tries again
            log(f"demo listening: failed ({type(error).__name__}: {error}); the next start tries again")

    thread = threading.Thread(target=run, name="demo-listening", daemon=True)
    thread.start()
    return thread
