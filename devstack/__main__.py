"""`python -m devstack` (what `make dev` runs): the whole local stack in the foreground.

Starts moto, creates the resources of template.yaml, seeds the demo users and the demo catalog,
prints one line saying it is ready with the URL, and stops everything on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import signal
import sys
import time
from pathlib import Path

from backbeat.media import ffmpeg
from devstack.demo_audio import (
    DEFAULT_AUDIO_DIR,
    DEFAULT_CACHE_DIR,
    DemoAudio,
    find_tracks,
    media_for,
    pipeline_fingerprint,
)
from devstack.seed import (
    DEFAULT_CATALOG_DIR,
    index_catalog_in_bulk,
    seed_demo_catalog,
    seed_demo_users,
    stderr_progress,
)
from devstack.stack import LOCAL_ENVIRONMENT, ROOT, Devstack

STATE_FILE = ROOT / ".devstack" / "state.json"


def write_state(stack: Devstack, path: Path) -> None:
    """Tell local tools (the `backbeat` CLI, benchmarks) where this stack is."""
    assert stack.deployment is not None
    state = {
        "pid": os.getpid(),
        "url": stack.url,
        "environment": {key: os.environ[key] for key in LOCAL_ENVIRONMENT} | {"AWS_ENDPOINT_URL": stack.moto_endpoint},
        "outputs": stack.deployment.outputs,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2), encoding="utf-8")


def start_demo_audio(stack: Devstack, audio_dir: Path, cache_dir: Path) -> DemoAudio | None:
    ffmpeg_path = ffmpeg.ffmpeg_exe(os.environ.get("FFMPEG_PATH", ""))
    tracks = find_tracks(audio_dir, ffmpeg_path)
    if not tracks:
        _say(f"no demo audio at {audio_dir}: catalog songs will not be playable")
        return None
    assert stack.deployment is not None
    demo = DemoAudio(
        tracks,
        masters_bucket=stack.output("MastersBucketName"),
        media_bucket=stack.output("MediaBucketName"),
        catalog_table=stack.deployment.tables["CatalogTable"],
        cache_dir=cache_dir,
        fingerprint=pipeline_fingerprint(ffmpeg_path),
        log=_say,
    )
    demo.start()
    return demo


def _say(message: str) -> None:
    print(f"devstack: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--catalog-dir", type=Path, default=DEFAULT_CATALOG_DIR)
    parser.add_argument("--catalog-limit", type=int, default=None, help="seed only the first N songs")
    parser.add_argument("--state-file", type=Path, default=STATE_FILE, help="where to tell local tools about the stack")
    parser.add_argument("--no-seed", action="store_true", help="start empty: no demo users, no catalog")
    parser.add_argument("--audio-dir", type=Path, default=DEFAULT_AUDIO_DIR, help="the demo tracks")
    parser.add_argument("--audio-cache", type=Path, default=DEFAULT_CACHE_DIR, help="encoded demo tracks")
    parser.add_argument(
        "--no-demo-audio", action="store_true", help="do not encode the demo tracks nor link catalog songs to them"
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    # A plain flag: a signal handler must not take locks (Event.set would, and a second signal
    # arriving inside the first handler would deadlock on the Event's own lock).
    stop_requested = [False]
    ready = [False]

    def request_stop(signum: int, _frame: object) -> None:
        first = not stop_requested[0]
        stop_requested[0] = True
        if first and not ready[0]:
            raise KeyboardInterrupt  # interrupt start-up (seeding takes a minute); `finally` cleans up

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack to stderr
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    stack = Devstack(host=args.host, port=args.port, log=_say)
    try:
        # The event source mappings start after the bulk load: the seeded catalog is indexed in one
        # bulk reindex, and the catalog stream is read from LATEST, as a production backfill would be.
        stack.start(pollers=False)
        stack.wait_healthy()
        _say(f"gateway on {stack.url}, AWS APIs (moto) on {stack.moto_endpoint}")
        if not args.no_seed:
            assert stack.deployment is not None
            seed_demo_users(stack.url, stack.deployment.tables["UsersTable"])
            _say("demo users: free@demo.backbeat.dev, premium@demo.backbeat.dev")
            demo = None if args.no_demo_audio else start_demo_audio(stack, args.audio_dir, args.audio_cache)
            if args.catalog_dir.is_dir():
                catalog, report = seed_demo_catalog(
                    stack.deployment.tables["CatalogTable"],
                    args.catalog_dir,
                    limit=args.catalog_limit,
                    progress=stderr_progress("catalog"),
                    media_for=media_for(demo.media_ids) if demo else None,
                )
                _say(
                    f"catalog: {report.songs} songs, {report.albums} albums, {report.artists} artists "
                    f"in {report.seconds:.1f} s ({report.songs_per_second:,.0f} songs/s)"
                )
                demo_songs = demo.wait() if demo else []
                indexed = index_catalog_in_bulk(stack.output("SearchEndpoint"), catalog, demo_songs)
                _say(
                    f"search index: {indexed.documents} documents in {indexed.seconds:.1f} s "
                    f"({indexed.documents_per_second:,.0f} docs/s); later catalog changes arrive through its stream"
                )
                if demo:
                    _say(f"demo audio: every catalog song plays one of the {len(demo.media_ids)} demo tracks")
            else:
                _say(f"no demo catalog at {args.catalog_dir}: starting with an empty catalog")
                if demo:
                    demo.wait()
        assert stack.deployment is not None
        catalog_stream = stack.deployment.resolver.get_att("CatalogTable", "StreamArn")
        stack.start_pollers(begin_at_latest=frozenset() if args.no_seed else frozenset({catalog_stream}))
        write_state(stack, args.state_file)
        print(
            f"Backbeat devstack ready at {stack.url} ({time.perf_counter() - started:.1f} s)",
            flush=True,
        )
        ready[0] = True
        while not stop_requested[0]:
            time.sleep(0.2)
        _say("stopping")
        return 0
    except KeyboardInterrupt:
        _say("stopped during start-up")
        return 0
    except Exception as error:
        _say(f"failed: {error}")
        raise
    finally:
        args.state_file.unlink(missing_ok=True)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
