"""The lake query for a month of one artist's daily figures, over 10 M synthetic events, with DuckDB.

    .venv/bin/python bench/lake_query.py [--events 10000000] [--dir /tmp/backbeat-lake-bench]

Writes the synthetic lake once (kept in --dir for re-runs; --regenerate to write it again): Parquet
under events/dt=YYYY-MM-DD/ with the columns of the Glue table events_raw, over 92 days (September to
November 2026). Its shape: ~1.3 M plays of 20,000 artists (popularity skewed: the first artists get
most plays) by 1 M listeners (skewed too), 30 % of plays skipped before 30 s, a `start`, a
`progress` every 15 s and an `end` or `skip` per play, and 0.1 % of events delivered twice (what
Firehose's at-least-once delivery leaves). Then, each in a fresh process (so its peak RSS is its
own), the month's daily figures of one popular artist: events, plays, listeners and skips per day,
- through the `events` view (deduplicated: what `backbeat analytics sql` and the daily job read),
- over `events_raw` (no deduplication: the floor).
Each query runs three times in its process (the first reads the files cold from the page cache's
point of view of DuckDB); prints wall time per run and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "backbeat"))

import duckdb  # noqa: E402

from backbeat.analytics.queries import with_views  # noqa: E402

DAYS = 92
FIRST_DAY = "2026-09-01"
ARTISTS = 20_000
USERS = 1_000_000
ARTIST = "artist-00042"
MONTH = ("2026-10-01", "2026-10-31")

MONTH_QUERY = f"""
SELECT dt AS day, count(*) AS events, count(DISTINCT playId) AS plays, count(DISTINCT userId) AS listeners,
       sum(CASE WHEN type = 'skip' THEN 1 ELSE 0 END) AS skips
FROM {{table}}
WHERE artistId = '{ARTIST}' AND dt BETWEEN '{MONTH[0]}' AND '{MONTH[1]}'
GROUP BY dt
ORDER BY dt
"""

GENERATE = f"""
CREATE TABLE plays AS
SELECT
  p AS play,
  CAST(DATE '{FIRST_DAY}' + CAST(p % {DAYS} AS INTEGER) AS TIMESTAMP)
    + to_seconds(CAST(floor(random() * 86000) AS BIGINT)) AS started,
  CAST(floor(pow(random(), 3) * {ARTISTS}) AS INTEGER) AS artist,
  CAST(floor(random() * 10) AS INTEGER) AS track,
  CAST(floor(pow(random(), 2) * {USERS}) AS INTEGER) AS listener,
  CASE WHEN random() < 0.3 THEN CAST(random() * 29999 AS BIGINT) ELSE 30000 + CAST(random() * 180000 AS BIGINT) END
    AS played,
  (['SE', 'US', 'GB', 'DE', 'BR', 'MX', 'JP', 'IN'])[1 + CAST(floor(pow(random(), 2) * 8) AS INTEGER)] AS country,
  (['mobile', 'desktop', 'web', 'speaker', 'car', 'tv'])[1 + CAST(floor(pow(random(), 2) * 6) AS INTEGER)] AS device,
  CASE WHEN random() < 0.45 THEN 'premium' ELSE 'free' END AS tier,
  (['playlist', 'album', 'artist', 'search', 'radio'])[1 + CAST(floor(random() * 5) AS INTEGER)] AS context
FROM range(?) t(p);

CREATE TABLE events AS
SELECT * FROM (
  SELECT
    md5(play || '-' || seq) AS eventid,
    md5(CAST(play AS VARCHAR)) AS playid,
    CASE WHEN seq = 0 THEN 'start' WHEN seq = steps - 1 THEN (CASE WHEN played < 30000 THEN 'skip' ELSE 'end' END)
         ELSE 'progress' END AS type,
    'song-' || lpad(CAST(artist * 10 + track AS VARCHAR), 17, '0') AS songid,
    'artist-' || lpad(CAST(artist AS VARCHAR), 5, '0') AS artistid,
    ['genre-' || CAST(artist % 40 AS VARCHAR)] AS genres,
    'user-' || CAST(listener AS VARCHAR) AS userid,
    tier, country,
    'device-' || CAST(listener AS VARCHAR) AS deviceid,
    device AS devicetype,
    {{'type': context, 'id': 'ctx-' || CAST(artist AS VARCHAR)}} AS context,
    CAST(least(seq * 15000, played) AS BIGINT) AS positionms,
    CAST(least(seq * 15000, played) AS BIGINT) AS playedms,
    CAST(240000 AS BIGINT) AS durationms,
    160 AS bitratekbps,
    started + to_seconds(least(seq * 15, played // 1000)) AS occurredat,
    started + to_seconds(least(seq * 15, played // 1000)) + to_milliseconds(250) AS receivedat,
    strftime(started, '%Y-%m-%d') AS dt
  FROM (SELECT *, 2 + played // 15000 AS steps FROM plays), range(steps) s(seq)
) LIMIT ?;
"""


def generate(directory: Path, events: int) -> None:
    started = time.perf_counter()
    connection = duckdb.connect()
    plays = events // 7 + 1000  # ~7.7 events a play: enough plays, then cut to exactly `events`
    for statement in GENERATE.split(";"):
        if statement.strip():
            parameters = [plays] if "FROM range(?)" in statement else [events] if "LIMIT ?" in statement else []
            connection.execute(statement, parameters)
    count = connection.execute("SELECT count(*) FROM events").fetchone()
    target = directory / "events"
    target.parent.mkdir(parents=True, exist_ok=True)
    connection.execute(
        f"COPY events TO '{target}' (FORMAT PARQUET, COMPRESSION SNAPPY, PARTITION_BY (dt), "
        "FILENAME_PATTERN 'firehose_{i}', OVERWRITE_OR_IGNORE)"
    )
    # Firehose delivered 0.1 % of the events a second time, in files of their own.
    connection.execute(
        f"COPY (SELECT * FROM events USING SAMPLE 0.1 PERCENT (bernoulli, 7)) TO '{target}' "
        "(FORMAT PARQUET, COMPRESSION SNAPPY, PARTITION_BY (dt), FILENAME_PATTERN 'redelivered_{i}', "
        "OVERWRITE_OR_IGNORE)"
    )
    size = sum(path.stat().st_size for path in target.rglob("*.parquet"))
    print(
        f"wrote {count[0] if count else 0:,} events (+0.1 % redelivered) in {DAYS} day partitions, "
        f"{size / 2**20:,.0f} MiB of Parquet, in {time.perf_counter() - started:.0f} s",
        flush=True,
    )


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM: getrusage's ru_maxrss would count the parent's
    resident set at the fork, as it survives exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_query(directory: Path, deduplicated: bool) -> None:
    """In its own process: register the lake as the engine does, run the query three times."""
    connection = duckdb.connect()
    files = str(directory / "events" / "*" / "*.parquet")
    connection.execute(
        f"CREATE VIEW events_raw AS SELECT * FROM read_parquet('{files}', hive_partitioning = true, "
        "union_by_name = true, hive_types = {'dt': 'VARCHAR'})"
    )
    connection.execute("CREATE TABLE plays_raw (playid VARCHAR, version BIGINT, lasteventat TIMESTAMP)")
    sql = with_views(MONTH_QUERY.format(table="events")) if deduplicated else MONTH_QUERY.format(table="events_raw")
    seconds = []
    rows: list[tuple[object, ...]] = []
    for _ in range(3):
        started = time.perf_counter()
        rows = connection.execute(sql).fetchall()
        seconds.append(time.perf_counter() - started)
    peak_mib = peak_rss_mib()
    first = rows[0] if rows else None
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_mib, "days": len(rows), "first": first}, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/backbeat-lake-bench"))
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--query", choices=["view", "raw"], help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    directory = args.dir / f"{args.events}"
    if args.query:
        run_query(directory, deduplicated=args.query == "view")
        return
    if args.regenerate or not (directory / "events").is_dir():
        generate(directory, args.events)
    print(f"duckdb {duckdb.__version__}; {ARTIST}'s daily figures, {MONTH[0]}..{MONTH[1]}, {args.events:,} events")
    for kind, label in (("view", "through the events view (deduplicated)"), ("raw", "over events_raw (no dedup)")):
        child = subprocess.run(
            [sys.executable, __file__, "--events", str(args.events), "--dir", str(args.dir), "--query", kind],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        runs = ", ".join(f"{seconds:.2f}" for seconds in result["seconds"])
        print(
            f"{label:42} runs {runs} s; peak RSS {result['peak_rss_mib']:,.0f} MiB; "
            f"{result['days']} days, first {result['first']}"
        )


if __name__ == "__main__":
    main()
