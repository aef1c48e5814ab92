"""`python -m devstack` (what `make dev` runs): the whole local stack in the foreground.

The first start (or one after `--reset`) starts moto, creates the resources of template.yaml and
seeds the demo users and the demo catalog; a clean stop (Ctrl-C, SIGTERM) saves the emulators'
state in the data dir, and the next start restores it instead of creating and seeding. Prints one
line saying it is ready with the URL; /health answers 503 "starting" until then.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from backbeat.media import ffmpeg
from backbeat.royalties.demo import seed_demo_stack
from backbeat_ops.dataset import Catalog
from backbeat_ops.reindex import ReindexReport
from devstack import warm_engine
from devstack.demo_audio import (
    DEFAULT_AUDIO_DIR,
    DEFAULT_CACHE_DIR,
    DemoAudio,
    find_tracks,
    media_for,
    pipeline_fingerprint,
)
from devstack.demo_listening import start_demo_listening
from devstack.demo_recs import start_demo_recs
from devstack.faults import PLAN_VARIABLE, use_plan_from_environment
from devstack.persistence import DataDir, DataDirInUse, rebase, template_fingerprint
from devstack.resources import Deployment
from devstack.search_snapshot import create_indices, load_documents
from devstack.seed import (
    DEFAULT_CATALOG_DIR,
    index_catalog_in_bulk,
    load_demo_catalog,
    seed_demo_users,
    stderr_progress,
    write_catalog_in_process,
)
from devstack.stack import LOCAL_ENVIRONMENT, ROOT, Devstack

STATE_FILE = ROOT / ".devstack" / "state.json"
DATA_DIR = ROOT / ".devstack" / "data"


def write_state(stack: Devstack, path: Path) -> None:
    """Tell local tools (the `backbeat` CLI, benchmarks) where this stack is."""
    assert stack.deployment is not None
    state = {
        "pid": os.getpid(),
        "url": stack.url,
        "environment": {key: os.environ[key] for key in LOCAL_ENVIRONMENT} | {"AWS_ENDPOINT_URL": stack.moto_endpoint},
        "outputs": stack.deployment.outputs,
        # each function's own environment as the template gives it (benchmarks import handlers in-process)
        "functions": {spec.code_dir.name: dict(spec.environment) for spec in stack.deployment.functions},
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


def endpoints(stack: Devstack) -> dict[str, str]:
    """The endpoints a deployment names, saved with it so a restore can move it onto new ones."""
    return {
        "gateway": stack.url,
        "websocket": f"ws://{stack.host}:{stack.port}",
        "moto": stack.moto_endpoint,
        "search": str(stack.search_server.url) if stack.search_server else "",
    }


class Restorer:
    """Loads the data dir's snapshot into a new stack (`Devstack.restore`): moto's backends and the
    deployment, moved onto this start's endpoints, at once; the search indices are created at once
    and their documents loaded in the background (`load_search`), since the search engine indexes
    only about a thousand documents a second and the demo catalog alone has 93k."""

    def __init__(self, data: DataDir, phases: dict[str, float], keep_search_warm: float = 0) -> None:
        self.data = data
        self.phases = phases
        self.keep_search_warm = keep_search_warm
        self.search_files: list[Path] = []

    def __call__(self, stack: Devstack) -> Deployment | None:
        restored = self.data.load()
        if restored is None:
            return None
        self.phases["load moto snapshot"] = restored.seconds
        adopted = warm_engine.adopt(self.data.path, restored.search_generation) if self.keep_search_warm else None
        if adopted is not None:
            stack.search_engine = lambda: adopted
            _say("search: the engine kept warm since the last stop is adopted, its indices as that stop left them")
        search = stack.start_search()
        if restored.search_dump is not None and adopted is None:
            try:
                self.search_files = create_indices(search, restored.search_dump)
            except Exception as error:
                self.data.abandon(f"its search indices could not be created ({error})")
                stack.search_server.close()
                stack.search_server = None
                return None
        saved = restored.endpoints
        current = endpoints(stack)
        moved = {saved[key]: current[key] for key in saved if key in current}
        deployment: Deployment = rebase(restored.deployment, moved)
        _say(f"state: restored the stack saved at {restored.saved_at} from {self.data.snapshot}")
        return deployment

    def load_search(self, stack: Devstack, interrupted: Callable[[], bool]) -> None:
        """Load the saved search documents; the stack serves meanwhile (/health says starting)."""
        if not self.search_files:
            return
        size = sum(path.stat().st_size for path in self.search_files) / 1e6
        _say(
            f"serving on {stack.url} (users, playlists, catalog, media restored); loading the search indices "
            f"({size:.0f} MB) before the stack is ready: searches answer partly until then"
        )
        mark = time.perf_counter()
        loaded: list[int] = []
        failure: list[BaseException] = []

        def load() -> None:
            try:
                loaded.append(load_documents(stack.output("SearchEndpoint"), self.search_files))
            except BaseException as error:  # reported by the waiting thread
                failure.append(error)

        loader = threading.Thread(target=load, name="search-restore", daemon=True)
        loader.start()
        while loader.is_alive() and not interrupted():
            loader.join(0.2)
        if failure:
            raise RuntimeError(f"the saved search indices could not be loaded: {failure[0]}")
        self.phases["load search documents"] = time.perf_counter() - mark
        _say(f"search: {sum(loaded):,} documents restored in {self.phases['load search documents']:.1f} s")


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
    parser.add_argument(
        "--data-dir", type=Path, default=DATA_DIR, help="where the stack's state is kept between starts"
    )
    parser.add_argument("--reset", action="store_true", help="start clean: delete the state kept in --data-dir")
    parser.add_argument(
        "--keep-search-warm",
        type=float,
        default=0,
        metavar="SECONDS",
        help="keep the search engine running this long after a clean stop, for the next start to adopt "
        "instead of indexing the saved documents again (`python -m devstack.warm_engine --stop` ends it)",
    )
    parser.add_argument(
        "--demo-listening",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="once ready, replay synthetic listeners' plays (from Last.fm 2K) in the background, once per data dir",
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

    data = DataDir(args.data_dir, template_fingerprint(ROOT), log=_say)
    try:
        data.acquire()
    except DataDirInUse as error:
        _say(str(error))
        return 1
    if args.reset:
        data.reset()
        warm_engine.stop(args.data_dir)
    phases: dict[str, float] = {}
    restorer = Restorer(data, phases, args.keep_search_warm)
    stack = Devstack(host=args.host, port=args.port, log=_say, ready=False, restore=restorer)
    if args.keep_search_warm:
        stack.search_engine = lambda: warm_engine.start(args.data_dir, args.keep_search_warm)
    try:
        mark = time.perf_counter()
        # The event source mappings start after the bulk load: the seeded catalog is indexed in one
        # bulk reindex, and the catalog stream is read from LATEST, as a production backfill would be.
        stack.start(pollers=False)
        phases["start emulators and gateway"] = time.perf_counter() - mark - sum(phases.values())
        unhealthy = {name: state for name, state in stack.component_health().items() if state not in ("ok", "starting")}
        if unhealthy:
            raise RuntimeError(f"components not up: {unhealthy}")
        _say(f"gateway on {stack.url}, AWS APIs (moto) on {stack.moto_endpoint}; state in {args.data_dir}")
        assert stack.deployment is not None
        if stack.restored:
            # Every stream is read from LATEST: the records before the stop were passed on by the pollers
            # of the previous run (which stopped only after the gateway did), and replaying them from
            # TRIM_HORIZON would apply each again. SQS messages not yet consumed are in the snapshot.
            sources = frozenset(mapping.source_arn for mapping in stack.deployment.mappings)
            stack.start_pollers(begin_at_latest=sources)
            write_state(stack, args.state_file)
            restorer.load_search(stack, lambda: stop_requested[0])
        else:
            if not args.no_seed:
                seed(stack, args, phases)
            catalog_stream = stack.deployment.resolver.get_att("CatalogTable", "StreamArn")
            stack.start_pollers(begin_at_latest=frozenset() if args.no_seed else frozenset({catalog_stream}))
            write_state(stack, args.state_file)
        stack.ready = True
        ready[0] = True
        if (plan := use_plan_from_environment()) is not None:
            _say(f"faults: {plan.model_dump_json(exclude_defaults=True)} (from {PLAN_VARIABLE})")
        total = time.perf_counter() - started
        _say("phases: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items()))
        print(f"Backbeat devstack ready at {stack.url} ({total:.1f} s)", flush=True)
        if args.demo_listening and not args.no_seed:
            listening = start_demo_listening(
                stack,
                catalog_dir=args.catalog_dir,
                catalog_limit=args.catalog_limit,
                data_dir=args.data_dir,
                snapshot=data.snapshot,
                stopping=lambda: stop_requested[0],
                log=_say,
            )
            start_demo_recs(stack, listening, stopping=lambda: stop_requested[0], log=_say)
        while not stop_requested[0]:
            time.sleep(0.2)
        _say("stopping")
        save(stack, data, args.keep_search_warm)
        return 0
    except KeyboardInterrupt:
        _say("stopped during start-up (state not saved: the snapshot from before, if any, is kept)")
        return 0
    except Exception as error:
        _say(f"failed: {error}")
        raise
    finally:
        args.state_file.unlink(missing_ok=True)
        stack.stop()
        data.release()


def seed(stack: Devstack, args: argparse.Namespace, phases: dict[str, float]) -> None:
    """A first start: the demo users, the demo catalog (written into moto in-process while the demo
    tracks encode) and its search index."""
    assert stack.deployment is not None
    mark = time.perf_counter()
    seed_demo_users(stack.url, stack.deployment.tables["UsersTable"])
    _say("demo users: free@demo.backbeat.dev, premium@demo.backbeat.dev")
    holders = seed_demo_stack(stack.deployment.ref("RoyaltiesTable"), stack.deployment.ref("RoyaltiesBucket"))
    _say(f"royalties: {holders} synthetic rights holders; every demo song gets synthetic splits")
    demo = None if args.no_demo_audio else start_demo_audio(stack, args.audio_dir, args.audio_cache)
    phases["demo users and audio start"] = time.perf_counter() - mark
    if not args.catalog_dir.is_dir():
        _say(f"no demo catalog at {args.catalog_dir}: starting with an empty catalog")
        if demo:
            mark = time.perf_counter()
            demo.wait()
            phases["demo audio wait"] = time.perf_counter() - mark
        return
    mark = time.perf_counter()
    catalog = load_demo_catalog(args.catalog_dir, args.catalog_limit)
    phases["catalog read"] = time.perf_counter() - mark
    # The search engine (its own process, the other core) indexes the catalog while this process
    # writes it into moto; the demo songs' documents follow once their encodes are done.
    indexer = CatalogIndexer(stack.output("SearchEndpoint"), catalog, demo, phases)
    indexer.start()
    report = write_catalog_in_process(
        stack.deployment.tables["CatalogTable"],
        catalog,
        progress=stderr_progress("catalog"),
        media_for=media_for(demo.media_ids) if demo else None,
    )
    phases["catalog"] = report.seconds
    _say(
        f"catalog: {report.songs} songs, {report.albums} albums, {report.artists} artists "
        f"in {report.seconds:.1f} s ({report.songs_per_second:,.0f} songs/s)"
    )
    indexed = indexer.wait()
    _say(
        f"search index: {indexed.documents} documents in {indexed.seconds:.1f} s "
        f"({indexed.documents_per_second:,.0f} docs/s); later catalog changes arrive through its stream"
    )
    if demo:
        _say(f"demo audio: every catalog song plays one of the {len(demo.media_ids)} demo tracks")


class CatalogIndexer(threading.Thread):
    """One bulk reindex of the seeded catalog and then of the ready demo songs, in the background."""

    def __init__(self, endpoint: str, catalog: Catalog, demo: DemoAudio | None, phases: dict[str, float]) -> None:
        super().__init__(name="catalog-index", daemon=True)
        self.endpoint = endpoint
        self.catalog = catalog
        self.demo = demo
        self.phases = phases
        self.report: ReindexReport | None = None
        self.failure: BaseException | None = None

    def demo_songs(self) -> Iterator[dict[str, Any]]:
        if self.demo is not None:
            mark = time.perf_counter()
            songs = self.demo.wait()
            self.phases["demo audio wait (while indexing)"] = time.perf_counter() - mark
            yield from songs

    def run(self) -> None:
        try:
            self.report = index_catalog_in_bulk(self.endpoint, self.catalog, self.demo_songs())
        except BaseException as error:  # reported by wait()
            self.failure = error

    def wait(self) -> ReindexReport:
        mark = time.perf_counter()
        while self.is_alive():
            self.join(0.2)
        self.phases["search index (after the catalog)"] = time.perf_counter() - mark
        if self.failure is not None or self.report is None:
            raise RuntimeError(f"indexing the demo catalog failed: {self.failure}")
        self.phases["search index"] = self.report.seconds
        return self.report


def save(stack: Devstack, data: DataDir, keep_search_warm: float = 0) -> None:
    """Stop serving, let the pollers pass on what the last requests wrote, and snapshot the emulators;
    with `keep_search_warm`, leave the search engine running for the next start to adopt."""
    assert stack.deployment is not None
    stack.stop_serving(settle=1.0)
    mark = time.perf_counter()
    generation = uuid.uuid4().hex if keep_search_warm else ""
    try:
        timings = data.save(stack.deployment, endpoints(stack), stack.output("SearchEndpoint"), generation)
    except Exception as error:  # the stack still stops; the previous snapshot, if any, is kept
        _say(f"state: could not save ({type(error).__name__}: {error}); the previous snapshot is kept")
        return
    parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
    _say(f"state: saved to {data.snapshot} in {time.perf_counter() - mark:.1f} s ({parts})")
    if generation and warm_engine.release(data.path, generation, keep_search_warm):
        window = f"{keep_search_warm / 60:.0f} min" if keep_search_warm >= 120 else f"{keep_search_warm:.0f} s"
        _say(f"search: the engine stays up {window} for the next start to adopt (`make stop` ends it now)")


if __name__ == "__main__":
    sys.exit(main())
