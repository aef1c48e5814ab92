"""`backbeat`: the operators' command line.

It talks to the running devstack of the checkout it is run from (found through the state file that
`make dev` writes to `.devstack/state.json`) or, with `--stack NAME`, to a deployed stack (found
through the stack's CloudFormation outputs).

    backbeat users set-tier EMAIL premium|free
    backbeat users set-role EMAIL operator|listener
    backbeat artists link EMAIL ARTIST_ID
    backbeat search reindex [--segments N]
    backbeat ingest FILE --title T --artist A [--album B] [--wait]
    backbeat plays list --user EMAIL [--limit N] [--json]
    backbeat royalties import-splits|revenue set|run MONTH|compare MONTH ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from backbeat.errors import BackbeatError
from backbeat_ops import analytics_cli, artists_cli, discover_cli
from backbeat_ops.plays_cli import register as register_plays
from backbeat_ops.recs_cli import register as register_recs
from backbeat_ops.royalties_cli import register as register_royalties

STATE_FILE = Path(".devstack") / "state.json"


def find_devstack_state(start: Path | None = None) -> dict[str, Any]:
    explicit = os.environ.get("BACKBEAT_DEVSTACK_STATE")
    if explicit:
        return dict(json.loads(Path(explicit).read_text(encoding="utf-8")))
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / STATE_FILE
        if candidate.is_file():
            return dict(json.loads(candidate.read_text(encoding="utf-8")))
    raise SystemExit("backbeat: no running devstack found (start it with `make dev`), or pass --stack NAME")


def stack_outputs(stack: str | None) -> dict[str, str]:
    """Resource names of the target stack; points AWS clients at the devstack when there is no --stack."""
    if stack:
        import boto3

        description = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
        return {item["OutputKey"]: item["OutputValue"] for item in description.get("Outputs", [])}
    state = find_devstack_state()
    os.environ.update(state["environment"])
    return dict(state["outputs"])


def _set_tier(args: argparse.Namespace) -> dict[str, Any]:
    from backbeat.identity import service
    from backbeat.identity.models import bind_users_table

    outputs = stack_outputs(args.stack)
    bind_users_table(outputs["UsersTableName"])
    return service.set_tier(args.email, args.tier)


def _reindex(args: argparse.Namespace) -> dict[str, Any]:
    """Rebuild the search indices from the catalog table, with a progress bar on stderr."""
    from tqdm import tqdm

    from backbeat.search.engine import connect
    from backbeat_ops.reindex import reindex
    from backbeat_ops.scan import count_items, scan_items

    outputs = stack_outputs(args.stack)
    table = outputs["CatalogTableName"]
    client = connect(outputs["SearchEndpoint"], os.environ.get("AWS_REGION", "us-east-1"))
    with tqdm(total=count_items(table) or None, unit="doc", desc="reindex", file=sys.stderr) as bar:
        done = [0]

        def progress(count: int, _total: int | None) -> None:
            bar.update(count - done[0])
            done[0] = count

        report = reindex(client, args.prefix, scan_items(table, segments=args.segments), progress=progress)
    return {
        "documents": report.documents,
        "seconds": round(report.seconds, 1),
        "documentsPerSecond": round(report.documents_per_second),
    }


def _ingest(args: argparse.Namespace) -> str | None:
    """Upload a master under its content hash; the song id follows from the bytes, so a second
    ingest of the same file finds the object already there and starts no second encode."""
    from backbeat.aws import client
    from backbeat.media.masters import MasterMetadata, upload_master

    outputs = stack_outputs(args.stack)
    metadata = MasterMetadata(title=args.title, artist=args.artist, album=args.album)
    data = Path(args.file).read_bytes()
    song_id, uploaded = upload_master(client("s3"), outputs["MastersBucketName"], data, metadata)
    if not uploaded:
        print(f"backbeat: {args.file} was ingested before (same bytes): song {song_id}", file=sys.stderr)
    if not args.wait:
        return song_id
    print(song_id, flush=True)  # the id is the last stdout line whether the encode succeeds or not
    _wait_for_song(outputs["CatalogTableName"], song_id, args.timeout)
    return None


def _wait_for_song(table: str, song_id: str, timeout: float) -> None:
    """Poll the song's status in the catalog until it is ready; failed (or the timeout) is an error."""
    from backbeat.catalog.models import META, SongItem, bind_catalog_table, song_key
    from backbeat.errors import BackbeatError

    bind_catalog_table(table)
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            song = SongItem.get(song_key(song_id), META, consistent_read=True)
            status, reason = song.status, song.reason
        except SongItem.DoesNotExist:
            status, reason = "pending", None
        if status != last:
            print(f"backbeat: song {song_id}: {status}", file=sys.stderr)
            last = status
        if status == "ready":
            return
        if status == "failed":
            raise BackbeatError(f"song {song_id} failed to encode: {reason}")
        time.sleep(0.5)
    raise BackbeatError(f"song {song_id} is still {last} after {timeout:g} s")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backbeat", description="Backbeat operations.")
    parser.add_argument("--stack", help="a deployed CloudFormation stack (default: the local devstack)")
    groups = parser.add_subparsers(dest="group", required=True)
    users = groups.add_parser("users", help="manage users").add_subparsers(dest="command", required=True)
    set_tier = users.add_parser("set-tier", help="change a user's subscription tier")
    set_tier.add_argument("email")
    set_tier.add_argument("tier", choices=["free", "premium"])
    set_tier.set_defaults(run=_set_tier)
    artists_cli.register_user_roles(users)
    search = groups.add_parser("search", help="manage the search indices").add_subparsers(dest="command", required=True)
    rebuild = search.add_parser("reindex", help="rebuild every search index from the catalog table")
    rebuild.add_argument("--segments", type=int, default=4, help="parallel scan segments (default 4)")
    rebuild.add_argument("--prefix", default="", help="index name prefix (the functions' SEARCH_INDEX_PREFIX)")
    rebuild.set_defaults(run=_reindex)
    ingest = groups.add_parser("ingest", help="upload a master; prints the song id (last line)")
    ingest.add_argument("file", type=Path)
    ingest.add_argument("--title", required=True)
    ingest.add_argument("--artist", required=True)
    ingest.add_argument("--album")
    ingest.add_argument("--wait", action="store_true", help="return when the song is ready (non-zero if it failed)")
    ingest.add_argument("--timeout", type=float, default=900, help="seconds --wait waits (default 900)")
    ingest.set_defaults(run=_ingest)
    register_plays(groups)
    analytics_cli.register(groups)
    artists_cli.register(groups)
    discover_cli.register(groups)

    register_recs(groups)

    register_royalties(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.run(args)
    except BackbeatError as error:
        print(f"backbeat: {error.message}", file=sys.stderr)
        return 1
    if result is not None:
        print(result if isinstance(result, str) else json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
