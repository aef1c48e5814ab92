"""Capacity and cost at the seed's scale, from per-request figures measured on the devstack.

    .venv/bin/python bench/capacity.py [--catalog-limits 4056,0] [--seconds 60] [--save inputs.json]
    .venv/bin/python bench/capacity.py --inputs inputs.json      # the model again from saved measurements

Measures (for each catalog size; 0 is the whole demo catalog): a metered devstack
(`bench/load/metered_devstack.py --meter-units`) runs the load test's mix (`bench/load/locustfile.py`)
at a low rate (4 listeners), plus artist pages, song pages and charts, then waits for the stream
consumers. Per route it reads the handler's wall and CPU milliseconds, its configured memory, its
AWS calls, the DynamoDB read and write units computed from the items it read and wrote, and the
Kinesis records and bytes it put; per event and per playlist edit, what the consumers downstream
spent. The search engine's own time per query comes from `Server-Timing`, its bytes per document
from the engine's `_stats`, and the bytes per second of each rung from the encoded demo renditions.

Then prints the model: the seed's scale (`SCALE`), a play's requests (`PER_PLAY`, the assumptions),
us-east-1 list prices (`PRICES`, each with its page) -> a monthly bill and a cost per 1,000 plays;
the quotas and hot keys that break first; each hot path as the catalog grows to 100 M songs.
Every figure in the output is either measured here (the inputs table), a price, or an assumption
named in `SCALE` / `PER_PLAY`.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.foundation import percentile  # noqa: E402
from bench.load import LiveListeners, prepare, run_locust, start_stack  # noqa: E402
from tests.support import http  # noqa: E402

# ---------------------------------------------------------------- the seed's scale and a play's requests

SCALE = {
    "monthly_users": 500e6,
    "concurrent_listeners": 100e6,
    "plays_per_day": 10e9,
    "peak_to_average": 2.0,  # assumption: the evening peak is twice the day's average rate
    "song_seconds": 210,  # assumption: an average song of 3.5 minutes
    "premium_share_of_plays": 0.5,  # assumption: half the plays at 320 kbps (premium), half at 160 (free cap)
    "cdn_hit_ratio": 0.95,  # assumption: segments served from CloudFront's cache, 5% fetched from S3
    "socket_share": 0.02,  # assumption: 2% of concurrent listeners hold a WebSocket (collaborative playlists)
    "listeners_per_edited_playlist": 3,  # assumption: live listeners an average edit fans out to
    "catalog_songs": 100e6,
    "search_cpu_utilisation": 0.5,  # assumption: OCUs kept half busy at peak
}

# Milliseconds a Lambda waits for one AWS call in-region (assumptions: DynamoDB's single-digit ms, the
# others a little more). The devstack's moto answers on the same 2 cores, so its wall time is no guide.
AWS_CALL_MS = {"dynamodb": 6.0, "kinesis": 20.0, "s3": 20.0, "apigatewaymanagementapi": 15.0}
AWS_CALL_MS_OTHER = 15.0
FULL_VCPU_MB = 1769  # Lambda gives a function one full vCPU at 1,769 MB, proportionally less below

# Requests a play causes, by route (assumptions, except the events: the client SDK reports a start, a
# progress every 15 s and an end, and flushes every 10 s, so each event goes in a request of its own).
PER_PLAY = {
    "StreamFunction POST /stream/{songId}": 1.0,
    "EventsFunction POST /events/playback": 16.0,
    "SearchFunction GET /search": 0.2,
    "SearchFunction GET /search/suggest": 0.6,
    "RecommendationsFunction GET /me/recommendations": 0.1,
    "CatalogFunction GET /artists/{artistId}": 0.1,
    "CatalogFunction GET /songs/{songId}": 0.1,
    "PlaylistsFunction GET /playlists/{playlistId}": 0.2,
    "PlaylistsFunction POST /playlists/{playlistId}/tracks": 0.05,
}
EVENTS_PER_PLAY = 16
SEGMENTS_PER_PLAY = SCALE["song_seconds"] / 10 + 2  # 10 s segments, the init segment, the media playlist

# us-east-1 list prices (USD), each with the page it is from.
PRICES = {
    "http_api_per_million": (0.90, "aws.amazon.com/api-gateway/pricing: HTTP APIs, over 300 M requests a month"),
    "ws_message_per_million": (0.80, "aws.amazon.com/api-gateway/pricing: WebSocket messages, over 1 B a month"),
    "ws_connection_minute_per_million": (0.25, "aws.amazon.com/api-gateway/pricing: WebSocket connection minutes"),
    "lambda_request_per_million": (0.20, "aws.amazon.com/lambda/pricing: requests"),
    "lambda_gb_second_arm": (0.0000133334, "aws.amazon.com/lambda/pricing: Arm, first 7.5 B GB-s a month"),
    "dynamodb_wru_per_million": (0.625, "aws.amazon.com/dynamodb/pricing/on-demand: write request units"),
    "dynamodb_rru_per_million": (0.125, "aws.amazon.com/dynamodb/pricing/on-demand: read request units"),
    "kinesis_shard_hour": (0.015, "aws.amazon.com/kinesis/data-streams/pricing: provisioned shard hour"),
    "kinesis_put_unit_per_million": (0.014, "aws.amazon.com/kinesis/data-streams/pricing: PUT payload units (25 KB)"),
    "firehose_gb": (0.020, "aws.amazon.com/firehose/pricing: ingestion, the tier past 2 PB a month (5 KB per record)"),
    "cloudfront_gb_over_5pb": (0.020, "aws.amazon.com/cloudfront/pricing: United States, over 5 PB a month"),
    "cloudfront_https_per_10k": (0.010, "aws.amazon.com/cloudfront/pricing: HTTPS requests, United States"),
    "s3_get_per_1000": (0.0004, "aws.amazon.com/s3/pricing: S3 Standard GET"),
    "s3_gb_month": (0.021, "aws.amazon.com/s3/pricing: S3 Standard, over 500 TB"),
    "opensearch_ocu_hour": (0.24, "aws.amazon.com/opensearch-service/pricing: Serverless OCU hour"),
    "opensearch_gb_month": (0.024, "aws.amazon.com/opensearch-service/pricing: Serverless managed storage"),
    "cognito_mau_over_10m": (0.0025, "aws.amazon.com/cognito/pricing: Lite tier, MAUs over 10 M"),
}

# Service quotas (defaults; most can be raised), from the services' quota pages.
QUOTAS = {
    "api_gateway_account_rps": 10_000,  # docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
    "lambda_concurrency": 1_000,  # docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
    "dynamodb_partition_wcu": 1_000,  # docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
    "dynamodb_partition_rcu": 3_000,
    # docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html
    "kinesis_on_demand_records_per_second": 200_000,
    "kinesis_shard_records_per_second": 1_000,
    "kinesis_shard_bytes_per_second": 1_048_576,
}

HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600

# ---------------------------------------------------------------- measuring


def stream_bytes_per_second(cache: Path) -> dict[int, float]:
    """Bytes per second of audio at each rung, from the encoded demo renditions' segment sizes."""
    totals: dict[int, list[float]] = {}
    for song in sorted(cache.glob("*/*/files.json")):
        sizes = json.loads(song.read_text())
        seconds = int(json.loads((song.parent / "song.json").read_text())["durationMs"]["N"]) / 1000
        rungs: dict[int, int] = {}
        for name, size in sizes.items():
            match = re.match(r"master_(\d+)k_\d+\.m4s$", name)
            if match:
                rungs[int(match.group(1))] = rungs.get(int(match.group(1)), 0) + size
        for kbps, total in rungs.items():
            totals.setdefault(kbps, []).append(total / seconds)
    return {kbps: statistics.mean(values) for kbps, values in sorted(totals.items())}


def engine_stats(search_endpoint: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{search_endpoint}/_stats/store,docs", timeout=30) as answer:
        stats = json.load(answer)["indices"]
    songs = next(value for name, value in stats.items() if name.startswith("songs"))["primaries"]
    everything = sum(value["primaries"]["store"]["size_in_bytes"] for value in stats.values())
    documents = sum(value["primaries"]["docs"]["count"] for value in stats.values())
    return {
        "songDocuments": songs["docs"]["count"],
        "bytesPerSongDocument": songs["store"]["size_in_bytes"] / max(1, songs["docs"]["count"]),
        "bytesPerDocument": everything / max(1, documents),
    }


def server_timing(url: str, path: str, queries: list[str], token: str) -> list[float]:
    engine = []
    for query in queries:
        _, _, headers = http("GET", f"{url}{path}?{urllib.parse.urlencode({'q': query})}", token=token)
        match = re.search(r"engine;dur=([\d.]+)", headers.get("Server-Timing", ""))
        if match:
            engine.append(float(match.group(1)))
    return engine


def route_figures(meter: dict[str, Any]) -> dict[str, dict[str, float]]:
    figures = {}
    for key, route in meter["routes"].items():
        count = route["invocations"]
        if not count:
            continue
        function = key.split(" ", 1)[0]
        figures[key] = {
            "invocations": count,
            "wallMsP50": percentile(route["wallMs"], 50),
            "wallMsMean": statistics.mean(route["wallMs"]),
            "cpuMsP50": percentile(route["cpuMs"], 50),
            "cpuMsMean": statistics.mean(route["cpuMs"]),
            "memoryMb": meter["memoryMb"].get(function, 512),
            "readUnits": route["readUnits"] / count,
            "writeUnits": route["writeUnits"] / count,
            "awsCalls": sum(route["calls"].values()) / count,
            "kinesisRecords": route["kinesisRecords"] / count,
            "kinesisBytesPerRecord": route["kinesisBytes"] / max(1, route["kinesisRecords"]),
            "calls": {name: n / count for name, n in sorted(route["calls"].items())},
        }
    return figures


def measure(args: argparse.Namespace, limit: int) -> dict[str, Any]:
    from backbeat_ops.dataset import load_catalog
    from tests.support import CATALOG_DIR

    run_args = argparse.Namespace(**{**vars(args), "catalog_limit": limit or None, "state": None})
    work = Path(tempfile.mkdtemp(prefix="capacity-"))
    stack = start_stack(run_args, units=True)
    live: LiveListeners | None = None
    try:
        fixture, accounts, playlists = prepare(stack.url, run_args, work)
        live = LiveListeners(stack.url.replace("http://", "ws://") + "/ws")
        for index, playlist in enumerate(playlists):
            live.start([a["token"] for a in accounts[index * args.editors : (index + 1) * args.editors]], playlist)
        time.sleep(3)
        token = accounts[0]["token"]
        catalog = load_catalog(CATALOG_DIR)
        if limit:
            catalog = catalog.first(limit)
        songs = catalog.songs[:: max(1, len(catalog.songs) // 20)][:20]
        stack.meter(reset=True)
        run_locust(stack.url, fixture, 4, args.seconds, work, stack.pid)
        for song in songs:  # pages the mix does not visit: a song's and its artist's, the charts
            http("GET", f"{stack.url}/songs/{song.id}", token=token)
            http("GET", f"{stack.url}/artists/{song.artist_id}", token=token)
        http("GET", f"{stack.url}/charts/trending", token=token)
        time.sleep(15)  # the consumers downstream of the events and edits catch up
        meter = stack.meter()
        queries = [f"{s.title} {s.artist_name}" for s in songs] + [s.title for s in songs]
        search_ms = server_timing(stack.url, "/search", queries, token)
        suggest_ms = server_timing(stack.url, "/search/suggest", [s.title[:4] + "x" for s in songs], token)
        assert stack.state_file is not None
        search_endpoint = json.loads(stack.state_file.read_text())["outputs"]["SearchEndpoint"]
        messages, _ = live.take()
        return {
            "catalogSongs": len(catalog.songs),
            "seconds": meter["seconds"],
            "routes": route_figures(meter),
            "searchEngineMsP50": percentile(search_ms, 50),
            "suggestEngineMsP50": percentile(suggest_ms, 50),
            "engine": engine_stats(search_endpoint),
            "webSocketMessages": messages,
        }
    finally:
        if live is not None:
            live.stop()
        stack.stop()


# ---------------------------------------------------------------- the model


def price(name: str) -> float:
    return PRICES[name][0]


def money(value: float) -> str:
    return f"${value:,.0f}" if value >= 100 else f"${value:,.2f}"


def billed_ms(key: str, f: dict[str, Any], measured: dict[str, Any]) -> float:
    """A request's Lambda duration in AWS, from what was measured: the handler's CPU milliseconds
    (stretched when the function's memory gives it less than a full vCPU), plus each AWS call's wait
    (`AWS_CALL_MS`), plus the search engine's own time for search routes."""
    cpu = f["cpuMsMean"] * max(1.0, FULL_VCPU_MB / f["memoryMb"])
    waits = sum(n * AWS_CALL_MS.get(call.split(".")[0], AWS_CALL_MS_OTHER) for call, n in f["calls"].items())
    engine = 0.0
    if key.endswith("GET /search/suggest"):
        engine = measured["suggestEngineMsP50"] + 2.0
    elif key.endswith("GET /search"):
        engine = measured["searchEngineMsP50"] + 2.0
    return cpu + waits + engine


def is_edit(key: str) -> bool:
    return key.startswith("PlaylistsFunction ") and key.split(" ")[1] in ("POST", "DELETE", "PUT", "PATCH")


def downstream(measured: dict[str, Any]) -> tuple[dict[str, float], dict[str, float], float, float]:
    """What the stream consumers spent per playback event and per playlist edit (GB-s, invocations,
    read and write units), with the events and edits of the window."""
    routes = measured["routes"]
    events = sum(f["kinesisRecords"] * f["invocations"] for f in routes.values())
    edits = sum(f["invocations"] for key, f in routes.items() if is_edit(key))
    per_event = {"gbSeconds": 0.0, "invocations": 0.0, "readUnits": 0.0, "writeUnits": 0.0, "billedMs": 0.0}
    per_edit = dict(per_event)
    for key, f in routes.items():
        if " " in key or key.startswith("("):
            continue  # an HTTP or WebSocket route, or the devstack's own calls
        if key.startswith("SearchIndexer") or key.startswith("Encode") or key.startswith("Transcode"):
            continue  # catalog changes, not plays
        target, count = (per_edit, edits) if key.startswith(("Fanout", "Playlist")) else (per_event, events)
        if not count:
            continue
        n = f["invocations"]
        duration = billed_ms(key, f, measured)
        target["gbSeconds"] += n * duration / 1000 * f["memoryMb"] / 1024 / count
        target["billedMs"] += n * duration / count
        target["invocations"] += n / count
        target["readUnits"] += n * f["readUnits"] / count
        target["writeUnits"] += n * f["writeUnits"] / count
    return per_event, per_edit, events, edits


def tiered_cloudfront(gigabytes: float) -> float:
    """CloudFront US data transfer out for a month, by its published tiers."""
    tiers = [(10e3, 0.085), (40e3, 0.080), (100e3, 0.060), (350e3, 0.040), (524e3, 0.030), (4e6, 0.025)]
    cost, left = 0.0, gigabytes
    for size, rate in tiers:
        used = min(left, size)
        cost += used * rate
        left -= used
    return cost + left * price("cloudfront_gb_over_5pb")


def model(inputs: dict[str, Any], bill_catalog: int | None) -> None:
    """Print the model; the bill from the measurement of `bill_catalog` songs (the largest by default)."""
    chosen = [m for m in inputs["measurements"] if bill_catalog in (None, m["catalogSongs"])]
    if not chosen:
        raise SystemExit(f"no measurement of {bill_catalog} songs in the inputs")
    measured = chosen[-1]
    routes = measured["routes"]
    rungs = {int(k): v for k, v in inputs["bytesPerSecond"].items()}
    plays_month = SCALE["plays_per_day"] * 30
    plays_peak = SCALE["plays_per_day"] / 86400 * SCALE["peak_to_average"]
    per_event, per_edit, events_seen, edits_seen = downstream(measured)
    billed = {key: billed_ms(key, f, measured) for key, f in routes.items()}

    print("## Measured inputs (per request, at 4 listeners on the devstack)\n")
    print(
        f"Catalog: {measured['catalogSongs']:,} songs; window {measured['seconds']:.0f} s; "
        f"{events_seen:.0f} playback events and {edits_seen:.0f} playlist edits in it.\n"
    )
    print(
        "| route | requests | CPU ms (mean) | wall ms (mean, loaded devstack) | memory MB | AWS calls | "
        "billed ms in AWS (model) | DynamoDB RRU | WRU | Kinesis records |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key, f in sorted(routes.items(), key=lambda item: -item[1]["invocations"]):
        if key.startswith("("):
            continue
        print(
            f"| {key} | {f['invocations']} | {f['cpuMsMean']:.1f} | {f['wallMsMean']:.0f} | {f['memoryMb']} | "
            f"{f['awsCalls']:.1f} | {billed[key]:.1f} | {f['readUnits']:.1f} | {f['writeUnits']:.1f} | "
            f"{f['kinesisRecords']:.1f} |"
        )
    record_bytes = max((f["kinesisBytesPerRecord"] for f in routes.values() if f["kinesisRecords"]), default=0.0)
    print(
        f"\nDownstream of one playback event (consumers of the events stream and the plays table): "
        f"{per_event['invocations']:.2f} invocations, {per_event['billedMs']:.1f} billed ms, "
        f"{per_event['readUnits']:.2f} RRU, {per_event['writeUnits']:.2f} WRU; a Kinesis record is "
        f"{record_bytes:.0f} bytes."
    )
    print(
        f"Downstream of one playlist edit (fan-out): {per_edit['invocations']:.2f} invocations, "
        f"{per_edit['billedMs']:.1f} billed ms."
    )
    print(
        "Audio bytes per second by rung (encoded demo renditions): "
        + ", ".join(f"{k} kbps {v / 1000:.1f} kB/s" for k, v in rungs.items())
    )
    engine = measured["engine"]
    print(
        f"Search engine: {measured['searchEngineMsP50']:.1f} ms a search, {measured['suggestEngineMsP50']:.1f} ms a "
        f"suggest (engine's own time, p50); {engine['bytesPerSongDocument']:.0f} bytes a song document."
    )

    # ------------------------------------------------------------ the bill
    lines: list[tuple[str, float, str]] = []
    requests_month = {key: plays_month * ratio for key, ratio in PER_PLAY.items() if key in routes}
    missing = [key for key in PER_PLAY if key not in routes]
    total_requests = sum(requests_month.values())
    lines.append(
        (
            "API Gateway HTTP API",
            total_requests / 1e6 * price("http_api_per_million"),
            f"{total_requests / plays_month:.1f} requests a play",
        )
    )
    gb_seconds = sum(n * billed[k] / 1000 * routes[k]["memoryMb"] / 1024 for k, n in requests_month.items())
    invocations = total_requests
    events_month = plays_month * EVENTS_PER_PLAY
    edits_month = plays_month * PER_PLAY["PlaylistsFunction POST /playlists/{playlistId}/tracks"]
    gb_seconds += events_month * per_event["gbSeconds"] + edits_month * per_edit["gbSeconds"]
    invocations += events_month * per_event["invocations"] + edits_month * per_edit["invocations"]
    lines.append(
        (
            "Lambda (API routes and stream consumers)",
            gb_seconds * price("lambda_gb_second_arm") + invocations / 1e6 * price("lambda_request_per_million"),
            f"{gb_seconds / plays_month * 1000:.2f} GB-ms and {invocations / plays_month:.1f} invocations a play",
        )
    )
    rru = sum(n * routes[k]["readUnits"] for k, n in requests_month.items())
    wru = sum(n * routes[k]["writeUnits"] for k, n in requests_month.items())
    rru += events_month * per_event["readUnits"] + edits_month * per_edit["readUnits"]
    wru += events_month * per_event["writeUnits"] + edits_month * per_edit["writeUnits"]
    lines.append(
        (
            "DynamoDB on-demand reads",
            rru / 1e6 * price("dynamodb_rru_per_million"),
            f"{rru / plays_month:.1f} RRU a play",
        )
    )
    lines.append(
        (
            "DynamoDB on-demand writes",
            wru / 1e6 * price("dynamodb_wru_per_million"),
            f"{wru / plays_month:.1f} WRU a play",
        )
    )
    records_peak = plays_peak * EVENTS_PER_PLAY
    shards = math.ceil(
        max(
            records_peak / QUOTAS["kinesis_shard_records_per_second"],
            records_peak * record_bytes / QUOTAS["kinesis_shard_bytes_per_second"],
        )
    )
    lines.append(
        (
            "Kinesis Data Streams (provisioned for the peak)",
            shards * HOURS_PER_MONTH * price("kinesis_shard_hour")
            + events_month / 1e6 * price("kinesis_put_unit_per_million"),
            f"{shards:,} shards for {records_peak:,.0f} records/s of {record_bytes:.0f} bytes",
        )
    )
    firehose_gb = events_month * max(5120, record_bytes) / 1e9
    lines.append(
        (
            "Firehose to the event lake",
            firehose_gb * price("firehose_gb"),
            f"{firehose_gb / 1e6:,.1f} PB billed (each record rounded up to 5 KB)",
        )
    )
    premium = SCALE["premium_share_of_plays"]
    bytes_per_play = SCALE["song_seconds"] * (premium * rungs[max(rungs)] + (1 - premium) * rungs.get(160, 0))
    egress_gb = plays_month * bytes_per_play / 1e9
    lines.append(
        (
            "CloudFront data transfer out",
            tiered_cloudfront(egress_gb),
            f"{bytes_per_play / 1e6:.2f} MB a play, {egress_gb / 1e6:,.0f} PB a month",
        )
    )
    lines.append(
        (
            "CloudFront HTTPS requests",
            plays_month * SEGMENTS_PER_PLAY / 1e4 * price("cloudfront_https_per_10k"),
            f"{SEGMENTS_PER_PLAY:.0f} requests a play",
        )
    )
    origin_gets = plays_month * SEGMENTS_PER_PLAY * (1 - SCALE["cdn_hit_ratio"])
    lines.append(
        (
            "S3 GETs (CloudFront misses)",
            origin_gets / 1e3 * price("s3_get_per_1000"),
            f"{1 - SCALE['cdn_hit_ratio']:.0%} of segment requests",
        )
    )
    song_bytes = SCALE["song_seconds"] * sum(rungs.values())
    storage_gb = SCALE["catalog_songs"] * song_bytes / 1e9
    lines.append(
        (
            "S3 storage (every rung of every song)",
            storage_gb * price("s3_gb_month"),
            f"{song_bytes / 1e6:.1f} MB a song x {SCALE['catalog_songs'] / 1e6:.0f} M songs",
        )
    )
    searches_peak = plays_peak * (
        PER_PLAY["SearchFunction GET /search"] + PER_PLAY["SearchFunction GET /search/suggest"]
    )
    engine_ms = (
        PER_PLAY["SearchFunction GET /search"] * measured["searchEngineMsP50"]
        + PER_PLAY["SearchFunction GET /search/suggest"] * measured["suggestEngineMsP50"]
    ) / (PER_PLAY["SearchFunction GET /search"] + PER_PLAY["SearchFunction GET /search/suggest"])
    ocus = math.ceil(searches_peak * engine_ms / 1000 / SCALE["search_cpu_utilisation"])
    index_gb = SCALE["catalog_songs"] * engine["bytesPerSongDocument"] * 1.5 / 1e9  # + albums and artists
    lines.append(
        (
            "OpenSearch Serverless (search OCUs at the peak, and storage)",
            ocus * HOURS_PER_MONTH * price("opensearch_ocu_hour") + index_gb * price("opensearch_gb_month"),
            f"{searches_peak:,.0f} queries/s x {engine_ms:.1f} ms -> {ocus:,} OCUs; index {index_gb:,.0f} GB",
        )
    )
    sockets = SCALE["concurrent_listeners"] * SCALE["socket_share"]
    messages = edits_month * SCALE["listeners_per_edited_playlist"]
    lines.append(
        (
            "API Gateway WebSocket (connection minutes, fan-out messages)",
            sockets * 60 * HOURS_PER_MONTH / 1e6 * price("ws_connection_minute_per_million")
            + messages / 1e6 * price("ws_message_per_million"),
            f"{sockets / 1e6:.0f} M sockets held, {messages / plays_month:.2f} messages a play",
        )
    )
    lines.append(
        (
            "Cognito (monthly active users)",
            SCALE["monthly_users"] * price("cognito_mau_over_10m"),
            f"{SCALE['monthly_users'] / 1e6:.0f} M MAU",
        )
    )

    total = sum(cost for _, cost, _ in lines)
    print(
        f"\n## The monthly bill at {SCALE['plays_per_day'] / 1e9:.0f} B plays a day "
        f"({plays_month / 1e9:,.0f} B a month; peak {plays_peak:,.0f} plays/s)\n"
    )
    print("| line | per month | share | per 1,000 plays | from |")
    print("|---|---|---|---|---|")
    for name, cost, basis in sorted(lines, key=lambda line: -line[1]):
        print(f"| {name} | {money(cost)} | {100 * cost / total:.1f}% | ${cost / plays_month * 1000:.4f} | {basis} |")
    print(f"| **total** | **{money(total)}** | 100% | **${total / plays_month * 1000:.4f}** | |")
    if missing:
        print(f"\n(not measured in this run, so left out: {', '.join(missing)})")

    # ------------------------------------------------------------ what breaks first
    rps_peak = plays_peak * total_requests / plays_month
    busy_seconds = sum(n * billed[k] / 1000 for k, n in requests_month.items()) / plays_month
    busy_seconds += EVENTS_PER_PLAY * per_event["billedMs"] / 1000
    concurrency = plays_peak * busy_seconds
    song_wru_per_play = 2.0  # a billable play ADDs to its song's hour item inside a transaction (2 WRU a 1 KB item)
    print("\n## Account quotas, in the order they break as plays grow\n")
    print("| limit (default) | reached at | at the seed's peak | the design that absorbs it |")
    print("|---|---|---|---|")
    quota_rows = [
        (
            QUOTAS["lambda_concurrency"] / busy_seconds,
            f"Lambda: {QUOTAS['lambda_concurrency']:,} concurrent executions per account and region",
            f"{concurrency:,.0f} concurrent",
            "quota increases (tens of thousands per region are granted) and regional cells: one stack per region "
            "and account, listeners routed to their region's cell",
        ),
        (
            QUOTAS["api_gateway_account_rps"] / (rps_peak / plays_peak),
            f"API Gateway: {QUOTAS['api_gateway_account_rps']:,} requests/s per account and region",
            f"{rps_peak:,.0f} requests/s",
            "batch playback events (one request per 30-60 s of listening, not per event: 16 requests a play "
            "become 4-7), a quota increase, and the cells above",
        ),
        (
            QUOTAS["kinesis_on_demand_records_per_second"] / EVENTS_PER_PLAY,
            f"Kinesis on-demand: {QUOTAS['kinesis_on_demand_records_per_second']:,} records/s per stream",
            f"{records_peak:,.0f} records/s",
            f"provisioned mode with {shards:,} shards (the line in the bill), or one record per batch of events",
        ),
    ]
    for reached, limit, peak, design in sorted(quota_rows):
        print(f"| {limit} | {reached:,.0f} plays/s | {peak} | {design} |")
    print("\n## Hot keys\n")
    print("| limit | reached at | at the seed's scale | the design that absorbs it |")
    print("|---|---|---|---|")
    viral = QUOTAS["dynamodb_partition_wcu"] / song_wru_per_play
    print(
        f"| DynamoDB: {QUOTAS['dynamodb_partition_wcu']:,} WCU/s per partition key (a song's or an artist's hour "
        f"counter item) | {viral:,.0f} billable plays/s of one song or one artist | a celebrity artist with 1% of "
        f"plays: {plays_peak * 0.01:,.0f} plays/s | write sharding: N items per song-hour "
        f"(`SONG#id#k`, k = hash(playId) % N, summed on read), as the day index already does with "
        f"`COUNTER_SHARDS` |"
    )
    big = 10_000
    print(
        f"| API Gateway: the same {QUOTAS['api_gateway_account_rps']:,} requests/s cover `@connections` posts | "
        f"a playlist with {big:,} live listeners at 1 edit/s | 50 edits/s x {big:,} = {50 * big:,} posts/s; "
        f"{money(50 * big * SECONDS_PER_MONTH / 1e6 * price('ws_message_per_million'))} a month in messages for "
        f"that one playlist | a broadcast tier: coalesce a playlist's changes into one message per 250 ms (at most "
        f"4 messages/s a listener whatever the edit rate), and past ~1,000 listeners publish once to a topic "
        f"(AWS IoT Core or AppSync Events) that fans out, instead of one post per socket |"
    )
    artist = routes.get("CatalogFunction GET /artists/{artistId}")
    if artist:
        reads = QUOTAS["dynamodb_partition_rcu"] / max(0.5, artist["readUnits"])
        print(
            f"| DynamoDB: {QUOTAS['dynamodb_partition_rcu']:,} RCU/s per partition key (a celebrity's artist page) | "
            f"{reads:,.0f} page views/s ({artist['readUnits']:.1f} RRU a view) | a release-day spike of "
            f"50,000 views/s | the page is public and the same for everyone: CloudFront caches it for 30 s "
            f"(one origin read per edge per 30 s), or DAX in front of the table |"
        )

    # ------------------------------------------------------------ the catalog grows
    print("\n## Hot paths as the catalog grows\n")
    sizes = inputs["measurements"]
    header = " | ".join(f"{m['catalogSongs']:,} songs" for m in sizes)
    print(f"| path: CPU ms p50 / RRU a request | {header} | what it reads, so its cost at 100 M songs in AWS |")
    print("|---|" + "---|" * (len(sizes) + 1))
    for key in PER_PLAY:
        cells = []
        for m in sizes:
            f = m["routes"].get(key)
            cells.append(f"{f['cpuMsP50']:.1f} / {f['readUnits']:.1f}" if f else "-")
        print(f"| {key} | {' | '.join(cells)} | {ACCESS.get(key, '-')} |")
    cells = [f"{m['engine']['bytesPerSongDocument']:.0f} B" for m in sizes]
    print(
        f"| search index: bytes a song document | {' | '.join(cells)} | linear: ~"
        f"{SCALE['catalog_songs'] * sizes[-1]['engine']['bytesPerSongDocument'] / 1e9:,.0f} GB of song documents "
        f"(the OCUs above hold it in memory, ~6 GiB an OCU) |"
    )
    for name in ("searchEngineMsP50", "suggestEngineMsP50"):
        cells = [f"{m[name]:.1f} ms" for m in sizes]
        print(
            f"| search engine's own time ({name.removesuffix('EngineMsP50')}) | {' | '.join(cells)} | "
            "term lookups grow with the log of the index; the matches to score grow with how common the words are |"
        )


# How each hot path reads its data, so how its cost follows the catalog in AWS. The devstack's CPU per
# request also moves with the size of its one process (moto holds every table in the same heap, so a
# bigger catalog means longer garbage-collector pauses in any thread): a key lookup that costs more at
# 40,560 songs there costs the same in DynamoDB.
ACCESS = {
    "StreamFunction POST /stream/{songId}": "two GetItems by key and a signature: flat",
    "EventsFunction POST /events/playback": "PutRecords: flat in songs (grows with plays)",
    "SearchFunction GET /search": "one query per index (4) with a fixed candidate count: flat in songs but "
    "for the engine's own time (below)",
    "SearchFunction GET /search/suggest": "an edge n-gram prefix lookup with a fixed result count: flat but for "
    "the engine",
    "RecommendationsFunction GET /me/recommendations": "an ANN query over the served model: ~log n per query, "
    "but the model (factors, neighbour lists, index: ~1 KiB a song) lives in the function's memory: ~100 GB at "
    "100 M songs, past Lambda's 10 GB; serve the most played ~5 M songs from the ANN index and the tail by "
    "content and tags, or move the vectors to OpenSearch k-NN",
    "CatalogFunction GET /artists/{artistId}": "GetItem and a Query of the artist's songs: grows with the "
    "artist's discography, not the catalog",
    "CatalogFunction GET /songs/{songId}": "one GetItem: flat",
    "PlaylistsFunction GET /playlists/{playlistId}": "a Query of one playlist: grows with the playlist, flat in songs",
    "PlaylistsFunction POST /playlists/{playlistId}/tracks": "conditional writes by key: flat",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog-limits", default="4056,0", help="catalog sizes to measure (0: the whole catalog)")
    parser.add_argument("--seconds", type=int, default=60, help="how long the mix runs at each size")
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--editors", type=int, default=5)
    parser.add_argument("--audio-cache", type=Path, default=ROOT / ".devstack" / "demo-media")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--save", type=Path, help="write the measured inputs here (JSON)")
    parser.add_argument("--inputs", type=Path, help="print the model from saved inputs instead of measuring")
    parser.add_argument("--bill-catalog", type=int, help="cost the measurement of this many songs (default: largest)")
    args = parser.parse_args()
    if args.inputs:
        inputs = json.loads(args.inputs.read_text())
    else:
        limits = [int(n) for n in args.catalog_limits.split(",")]
        inputs = {
            "bytesPerSecond": stream_bytes_per_second(args.audio_cache),
            "measurements": [measure(args, limit) for limit in limits],
        }
        if args.save:
            args.save.write_text(json.dumps(inputs, indent=1))
    model(inputs, args.bill_catalog)
    print("\nPrices (us-east-1 list):")
    for name, (value, page) in PRICES.items():
        print(f"- {name} = {value:g}: {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
